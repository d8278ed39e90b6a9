// The example's training loop: epochs of seeded shuffled mini-batches from
// the library's DataLoader (compiler/train/data/loader.ts; drop_last, the
// next batch prefetched while a step waits on the device), one Trainer step
// per batch, a progress bar (on stderr when it is a terminal) with the loss,
// the loss scale, the skipped steps and images/s, a loss line every 200 steps
// on stdout, and at the end the test accuracy over every test image, the
// skipped steps, the final loss scale and the bytes of GPU buffers the run
// held.
//
// The loss and the loss-scale state are read back only every READ_EVERY
// steps (and at the end of an epoch), so the host does not wait for the
// device on every step; the steps in between are queued. A printed loss is
// the mean of the losses read since the previous line.

import cliProgress from 'cli-progress';
import { accuracy } from '../../compiler/train/index.ts';
import { Trainer } from '../../compiler/train/index.ts';
import type { LossScaleSpec, LossScaleStatus, OptimizerSpec } from '../../compiler/train/index.ts';
import type { GpuContext } from '../../runtime/device.ts';
import { resolveLossScale } from '../../passes/loss-scaling.ts';
import type { LossScaling } from '../../passes/loss-scaling.ts';
import { DataLoader, FASHION_MNIST_PIXELS } from '../../compiler/train/data/index.ts';
import type { FashionMnist } from '../../compiler/train/data/index.ts';
import { chartsSvg, smooth } from './plot.ts';
import type { Chart } from './plot.ts';
import { batchSpecs, buildModel, classificationLoss, parameterCount } from './models.ts';
import type { ModelName } from './models.ts';

export const READ_EVERY = 20;
export const LINE_EVERY = 200;
export const EVAL_BATCH = 500;

export interface TrainConfig {
  readonly model: ModelName;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerSpec;
  readonly seed: number;
  /** Stop after this many steps in all (undefined: run every epoch). */
  readonly maxSteps: number | undefined;
  /** 'f32' (default) or 'amp' (mixed precision). */
  readonly precision?: 'f32' | 'amp';
  /** Loss scaling (default: dynamic under amp, off under f32). */
  readonly lossScale?: LossScaleSpec;
  /** Fuse kernels (default true). */
  readonly fusion?: boolean;
}

export interface TrainResult {
  /** Kernel launches of one train step, from the compiled plan. */
  readonly dispatchesPerStep: number;
  /** Milliseconds to trace and compile the train step (passes, WGSL, plan). */
  readonly compileMs: number;
  readonly accuracy: number;
  readonly lossScale: LossScaleStatus;
  /** Bytes of the GPU buffers the trainer's sessions held: all, the train step's, the evaluation's (batches of EVAL_BATCH). */
  readonly gpuBufferBytes: number;
  readonly trainStepBufferBytes: number;
  readonly evalBufferBytes: number;
  /** Seconds per epoch (full epochs only). */
  readonly epochSeconds: number[];
  /** Every loss read (each READ_EVERY steps): the step (counted over epochs), the loss, the scale the next step uses, skips so far. */
  readonly curve: { step: number; loss: number; scale: number; skipped: number }[];
}

export interface Output {
  /** A line for stdout (without its newline). */
  line(text: string): void;
}

/**
 * A progress bar on stderr (only when it is a terminal) that printed lines
 * do not break: the bar is cleared, the line printed, and the bar drawn again
 * below it (cli-progress restores the cursor to where a bar started).
 */
class Progress {
  readonly #bar: cliProgress.SingleBar | undefined;
  #active = false;
  #total = 0;
  #value = 0;
  #payload: Record<string, string | number> = {};

  constructor() {
    if (process.stderr.isTTY) {
      this.#bar = new cliProgress.SingleBar(
        {
          format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | scale {scale} | skipped {skipped} | {speed} img/s | eta {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  start(total: number, payload: Record<string, string | number>): void {
    this.#total = total;
    this.#value = 0;
    this.#payload = payload;
    this.#bar?.start(total, 0, payload);
    this.#active = this.#bar !== undefined;
  }

  update(value: number, payload: Record<string, string | number>): void {
    this.#value = value;
    this.#payload = payload;
    this.#bar?.update(value, payload);
  }

  /** Prints a line to stdout above the bar. */
  print(out: Output, text: string): void {
    if (!this.#active) return out.line(text);
    this.#bar!.stop();
    out.line(text);
    this.#bar!.start(this.#total, this.#value, this.#payload);
  }

  /** Clears the bar. */
  stop(): void {
    if (this.#active) this.#bar!.stop();
    this.#active = false;
  }
}

/** Trains, evaluates and returns the test accuracy, the loss-scale state and the GPU buffer bytes. */
export async function train(cfg: TrainConfig, data: FashionMnist, ctx: GpuContext, out: Output): Promise<TrainResult> {
  const model = buildModel(cfg.model);
  out.line(`model: ${cfg.model} (${parameterCount(model)} parameters), optimizer ${describeOptimizer(cfg.optimizer)}, batch ${cfg.batchSize}, ${cfg.epochs} epoch(s), precision ${describePrecision(cfg, resolveLossScale(cfg.lossScale, cfg.precision ?? 'f32'))}, seed ${cfg.seed}`);
  const compileStart = performance.now();
  const trainer = await Trainer.create({
    model,
    loss: classificationLoss,
    inputs: batchSpecs(cfg.model, cfg.batchSize),
    optimizer: cfg.optimizer,
    seed: cfg.seed,
    device: ctx,
    precision: cfg.precision ?? 'f32',
    lossScale: cfg.lossScale,
    fusion: cfg.fusion !== false,
  });
  const stats = trainer.compileStats;
  out.line(`compiled the train step in ${((performance.now() - compileStart) / 1000).toFixed(1)} s (trace, passes and WGSL ${stats.trainCompileMs.toFixed(0)} ms; ${stats.trainDispatches} dispatches per step${cfg.fusion === false ? ', fusion off' : ''})`);
  const progress = new Progress();
  const epochSeconds: number[] = [];
  const curve: TrainResult['curve'] = [];
  try {
    let total = 0;
    let status = await trainer.lossScaleStatus();
    const budget = cfg.maxSteps ?? Infinity;
    // Epoch e's order is a seeded shuffle of (seed, e); the last short batch is dropped; each batch is
    // gathered into one images and one labels array (two sets taking turns: each step is awaited).
    const loader = new DataLoader([{ data: data.train.images, shape: [data.train.count, FASHION_MNIST_PIXELS] }, data.train.labels], {
      batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, dropLast: true, reuseBuffers: true,
    });
    for (let epoch = 1; epoch <= cfg.epochs && total < budget; epoch++) {
      const steps = Math.min(loader.batchesPerEpoch, budget - total);
      const start = performance.now();
      let sum = 0;
      let reads = 0;
      let lastLoss = NaN;
      let s = 0;
      progress.start(steps, { epoch, loss: '-', speed: '-', scale: status.scale, skipped: status.skippedSteps });
      for await (const batch of loader.epoch(epoch)) {
        s++;
        const read = s % READ_EVERY === 0 || s % LINE_EVERY === 0 || s === steps;
        const loss = await trainer.step(batch, { readLoss: read });
        total++;
        if (loss !== undefined) {
          lastLoss = loss;
          sum += loss;
          reads++;
          status = await trainer.lossScaleStatus();
          curve.push({ step: total, loss, scale: status.scale, skipped: status.skippedSteps });
          const speed = Math.round((s * cfg.batchSize) / ((performance.now() - start) / 1000));
          progress.update(s, { epoch, loss: loss.toFixed(4), speed, scale: status.scale, skipped: status.skippedSteps });
          if (s % LINE_EVERY === 0) {
            progress.print(out, `epoch ${epoch} step ${s} loss ${(sum / reads).toFixed(4)} scale ${status.scale} skipped ${status.skippedSteps}`);
            sum = 0;
            reads = 0;
          }
        }
        if (s === steps) break;
      }
      progress.stop();
      const seconds = (performance.now() - start) / 1000;
      if (steps === loader.batchesPerEpoch) epochSeconds.push(seconds);
      out.line(
        `epoch ${epoch}: ${steps} steps in ${seconds.toFixed(1)} s (${Math.round((steps * cfg.batchSize) / seconds)} images/s, ` +
          `${((seconds * 1000) / Math.max(steps, 1)).toFixed(1)} ms/step), last loss ${lastLoss.toFixed(4)}`,
      );
    }
    const evalStart = performance.now();
    const acc = await accuracy(trainer, data.test.images, data.test.labels, EVAL_BATCH);
    out.line(`evaluated ${data.test.count} test images in ${((performance.now() - evalStart) / 1000).toFixed(1)} s`);
    status = await trainer.lossScaleStatus();
    const gpuBufferBytes = trainer.gpuBufferBytes;
    const byKind = trainer.gpuBufferBytesByKind;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
    out.line(`GPU buffers: ${mib(gpuBufferBytes)} (train step ${mib(byKind.train)}, evaluation in batches of ${EVAL_BATCH} ${mib(byKind.predict)})`);
    out.line(`test accuracy: ${acc.toFixed(4)}`);
    out.line(`skipped steps: ${status.skippedSteps}`);
    out.line(`final loss scale: ${status.scale}`);
    out.line(`dispatches per step: ${stats.trainDispatches}`);
    return { dispatchesPerStep: stats.trainDispatches, compileMs: stats.trainCompileMs, accuracy: acc, lossScale: status, gpuBufferBytes, trainStepBufferBytes: byKind.train, evalBufferBytes: byKind.predict, epochSeconds, curve };
  } finally {
    progress.stop();
    trainer.destroy();
  }
}

/** The loss curve (read losses and their moving average) and, unless scaling is off, the loss scale, as an SVG. */
export function lossCurveSvg(cfg: TrainConfig, r: TrainResult): string {
  const pts = r.curve.map((c) => [c.step, c.loss] as const);
  const charts: Chart[] = [{
    title: `${cfg.model}, ${cfg.precision ?? 'f32'}: training loss (test accuracy ${r.accuracy.toFixed(4)})`,
    xLabel: 'step', yLabel: 'loss',
    series: [
      { name: `loss every ${READ_EVERY} steps`, color: '#9ecae1', points: pts },
      { name: 'moving average (10 reads)', color: '#08519c', points: smooth(pts, 9) },
    ],
  }];
  if (r.lossScale.mode !== 'off') {
    charts.push({
      title: `loss scale (${r.lossScale.skippedSteps} skipped step${r.lossScale.skippedSteps === 1 ? '' : 's'})`,
      xLabel: 'step', yLabel: 'scale', log2: true,
      series: [{ name: 'loss scale', color: '#d94801', points: r.curve.map((c) => [c.step, c.scale] as const), steps: true }],
    });
  }
  return chartsSvg(charts);
}

function describePrecision(cfg: TrainConfig, ls: LossScaling): string {
  const p = cfg.precision ?? 'f32';
  if (ls.mode === 'off') return p === 'amp' ? 'amp (no loss scaling)' : p;
  if (ls.mode === 'static') return `${p} (static loss scale ${ls.scale})`;
  return `${p} (dynamic loss scale: init ${ls.init}, growth ${ls.growth}, backoff ${ls.backoff}, interval ${ls.interval}, min ${ls.min}, max ${ls.max})`;
}

function describeOptimizer(o: OptimizerSpec): string {
  const show = (v: unknown): string => (typeof v === 'object' && v !== null
    ? `${(v as { kind?: string }).kind ?? ''}(${Object.entries(v).filter(([k]) => k !== 'kind').map(([k, x]) => `${k} ${String(x)}`).join(', ')})`
    : String(v));
  const extra = Object.entries(o).filter(([k, v]) => k !== 'kind' && k !== 'lr' && v !== undefined).map(([k, v]) => `${k} ${show(v)}`);
  return [`${o.kind} lr ${o.lr}`, ...extra].join(', ');
}
