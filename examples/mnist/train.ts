// The example's training loop: epochs of seeded shuffled mini-batches from
// the library's DataLoader (compiler/train/data/loader.ts; drop_last, the
// next batch prefetched while a step waits on the device), one Trainer step
// per batch, a progress bar (on stderr when it is a terminal) with the loss,
// the loss scale, the skipped steps and images/s, a loss line every 200 steps
// on stdout, and at the end the test accuracy over every test image, the
// skipped steps, the final loss scale and the bytes of GPU buffers the run
// held.
//
// The Trainer's metrics log (compiler/train/metrics.ts) reads the loss, the
// loss-scale state, the learning rate and the gradient norm back every
// READ_EVERY steps, so the host does not wait for the device on every step;
// the steps in between are queued. Each read is a line of the log (JSONL or
// CSV in the file `log` names, else kept in memory) and updates the bar; a
// printed loss is the mean of the losses read since the previous line. The
// loss curve (`--plot`) is drawn from the log.

import cliProgress from 'cli-progress';
import { accuracy } from '../../compiler/train/index.ts';
import { Trainer } from '../../compiler/train/index.ts';
import type { LossScaleSpec, LossScaleStatus, OptimizerSpec } from '../../compiler/train/index.ts';
import type { StepMetrics } from '../../compiler/train/metrics.ts';
import type { GpuContext } from '../../runtime/device.ts';
import { resolveLossScale } from '../../passes/loss-scaling.ts';
import type { LossScaling } from '../../passes/loss-scaling.ts';
import { DataLoader, FASHION_MNIST_PIXELS } from '../../compiler/train/data/index.ts';
import type { FashionMnist } from '../../compiler/train/data/index.ts';
import { chartsSvg, smooth } from '../../compiler/picture/charts.ts';
import type { Chart } from '../../compiler/picture/charts.ts';
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
  /** Where the metrics log goes (a .jsonl or .csv path; default: kept in memory only). */
  readonly log?: string;
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
  /** The metrics log's rows (every READ_EVERY steps): the step (counted over epochs), the loss, the scale the next step uses, skips so far, lr, grad norm. */
  readonly curve: CurvePoint[];
}

export interface CurvePoint {
  readonly step: number;
  readonly loss: number;
  readonly scale: number;
  readonly skipped: number;
  readonly lr: number;
  readonly gradNorm: number;
}

/** The curve from the rows of a metrics log (parseMetricsLog). */
export function curveOfLog(rows: readonly Record<string, number>[]): CurvePoint[] {
  return rows.map((r) => ({ step: r.step!, loss: r.loss!, scale: r.scale!, skipped: r.skipped!, lr: r.lr!, gradNorm: r.grad_norm ?? NaN }));
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
  const progress = new Progress();
  const epochSeconds: number[] = [];
  const curve: CurvePoint[] = [];
  // Where the loop stands, for the metrics callback (it runs inside trainer.step).
  let epoch = 0, s = 0, sum = 0, reads = 0, epochStart = 0;
  const onMetrics = (m: StepMetrics): void => {
    curve.push({ step: m.step, loss: m.loss, scale: m.scale, skipped: m.skipped, lr: m.lr, gradNorm: m.gradNorm ?? NaN });
    sum += m.loss;
    reads++;
    const speed = Math.round((s * cfg.batchSize) / ((performance.now() - epochStart) / 1000));
    progress.update(s, { epoch, loss: m.loss.toFixed(4), speed, scale: m.scale, skipped: m.skipped });
    if (m.step % LINE_EVERY === 0) {
      const norm = m.gradNorm === undefined ? '' : ` grad norm ${m.gradNorm.toFixed(3)}`;
      progress.print(out, `epoch ${epoch} step ${m.step} loss ${(sum / reads).toFixed(4)} scale ${m.scale} skipped ${m.skipped} lr ${m.lr.toPrecision(3)}${norm}`);
      sum = 0;
      reads = 0;
    }
  };
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
    // The gradient norm costs a reduction per parameter, so it is logged only when a log is written or clipping computes it anyway.
    report: { gradNorm: cfg.log !== undefined || cfg.optimizer.clipGradNorm !== undefined },
    metrics: { every: READ_EVERY, ...(cfg.log ? { to: cfg.log } : {}), onMetrics },
  });
  const stats = trainer.compileStats;
  out.line(`compiled the train step in ${((performance.now() - compileStart) / 1000).toFixed(1)} s (trace, passes and WGSL ${stats.trainCompileMs.toFixed(0)} ms; ${stats.trainDispatches} dispatches per step${cfg.fusion === false ? ', fusion off' : ''})`);
  try {
    let total = 0;
    let status = await trainer.lossScaleStatus();
    const budget = cfg.maxSteps ?? Infinity;
    // Epoch e's order is a seeded shuffle of (seed, e); the last short batch is dropped; each batch is
    // gathered into one images and one labels array (two sets taking turns: each step is awaited).
    const loader = new DataLoader([{ data: data.train.images, shape: [data.train.count, FASHION_MNIST_PIXELS] }, data.train.labels], {
      batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, dropLast: true, reuseBuffers: true,
    });
    for (epoch = 1; epoch <= cfg.epochs && total < budget; epoch++) {
      const steps = Math.min(loader.batchesPerEpoch, budget - total);
      epochStart = performance.now();
      let lastLoss = NaN;
      s = 0;
      progress.start(steps, { epoch, loss: '-', speed: '-', scale: status.scale, skipped: status.skippedSteps });
      for await (const batch of loader.epoch(epoch)) {
        s++;
        const loss = await trainer.step(batch, { readLoss: s === steps });
        total++;
        if (loss !== undefined) lastLoss = loss;
        if (s === steps) break;
      }
      progress.stop();
      status = await trainer.lossScaleStatus();
      const seconds = (performance.now() - epochStart) / 1000;
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

/** The loss curve (the logged losses and their moving average), the learning rate and gradient norm, and, unless scaling is off, the loss scale, as an SVG. */
export function lossCurveSvg(cfg: TrainConfig, r: TrainResult, curve: readonly CurvePoint[] = r.curve): string {
  const pts = curve.map((c) => [c.step, c.loss] as const);
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
      series: [{ name: 'loss scale', color: '#d94801', points: curve.map((c) => [c.step, c.scale] as const), steps: true }],
    });
  }
  charts.push({
    title: 'learning rate of the next update', xLabel: 'step', yLabel: 'lr',
    series: [{ name: 'learning rate', color: '#31a354', points: curve.map((c) => [c.step, c.lr] as const), steps: true }],
  });
  if (curve.some((c) => Number.isFinite(c.gradNorm))) {
    charts.push({
      title: 'gradient norm (unscaled, before clipping)', xLabel: 'step', yLabel: 'norm',
      series: [{ name: 'global L2 norm', color: '#756bb1', points: curve.map((c) => [c.step, c.gradNorm] as const) }],
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
