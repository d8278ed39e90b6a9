// The example's training run: a Trainer for the character model (AMP by
// default: f16 matmuls, f32 master weights, dynamic loss scaling in the step),
// AdamW with gradient clipping and a cosine schedule computed in the train
// step, and random windows of the training text from the library's
// DataLoader (windows at a stride, a seeded shuffle per epoch, the last
// short batch dropped), for a given number of steps.
//
// The Trainer's metrics log (compiler/train/metrics.ts) does the reading:
// every `logEvery` steps it reads the loss, the loss scale, the skipped
// steps, the learning rate and the gradient norm once, writes a line to the
// --log file (or to memory), and hands the same values to `onMetrics`,
// which moves the progress bar (examples/shared/progress.ts). No other step
// waits for the device. Every `evalEvery` steps (and at the end) the
// validation loss is computed (evaluate.ts) and printed with the mean
// logged training loss since the previous line.
//
// The end of the run prints the validation loss, the training loss (the
// mean of the logged losses of the last 10% of the steps), the skipped steps
// and final loss scale, the dispatches of one train step, the GPU buffer
// bytes and a generated sample, and returns the log's rows (read back with
// parseMetricsLog) for the plot.

import { readFileSync } from 'node:fs';
import { DataLoader, Trainer } from '../../compiler/train/index.ts';
import type { OptimizerSpec } from '../../compiler/train/index.ts';
import { parseMetricsLog } from '../../compiler/train/metrics.ts';
import type { StepMetrics } from '../../compiler/train/metrics.ts';
import type { GpuContext } from '../../runtime/device.ts';
import { Progress } from '../shared/progress.ts';
import { generate, validationLoss } from './evaluate.ts';
import { CharTransformer, batchSpecs, lmLoss, parameterCount } from './model.ts';
import type { ModelConfig } from './model.ts';
import { windows } from './text.ts';
import type { Corpus } from './text.ts';

export interface TrainConfig {
  readonly model: ModelConfig;
  readonly batchSize: number;
  readonly steps: number;
  readonly optimizer: OptimizerSpec;
  readonly precision: 'amp' | 'f32';
  readonly seed: number;
  readonly fusion: boolean;
  /** Characters between the starts of two training windows. */
  readonly stride: number;
  /** Steps between two lines of the metrics log. */
  readonly logEvery: number;
  /** Steps between two validation losses (0: only at the end). */
  readonly evalEvery: number;
  /** The metrics log file (JSONL, or CSV for .csv); undefined: kept in memory. */
  readonly log: string | undefined;
  /** The sample: prompt ids, characters to generate, temperature (0: greedy). */
  readonly sample: { readonly prompt: readonly number[]; readonly length: number; readonly temperature: number };
}

export interface TrainResult {
  /** The metrics log, read back: step, loss, scale, skipped, updates, lr, grad_norm, samples_per_s, elapsed_s. */
  readonly rows: Record<string, number>[];
  /** [step, validation loss] at every evaluation (the last at the final step). */
  readonly validation: [number, number][];
  readonly valLoss: number;
  readonly trainLoss: number;
  readonly skippedSteps: number;
  readonly lossScale: number;
  readonly dispatchesPerStep: number;
  readonly gpuBufferBytes: { readonly all: number; readonly train: number; readonly predict: number };
  /** Seconds of the first step (the driver compiles the shaders then), and ms per step after it (evaluations not counted). */
  readonly firstStepSeconds: number;
  readonly msPerStep: number;
  /** Seconds of the whole run: compile, training, evaluations and the sample. */
  readonly seconds: number;
  readonly sample: string;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export async function train(cfg: TrainConfig, corpus: Corpus, ctx: GpuContext, line: (text: string) => void): Promise<TrainResult> {
  const runStart = performance.now();
  const { context } = cfg.model;
  const model = new CharTransformer(cfg.model);
  const data = windows(corpus.train, context, cfg.stride);
  line(`model: ${cfg.model.layers} block(s), embed ${cfg.model.embed}, ${cfg.model.heads} heads, context ${context}, dropout ${cfg.model.dropout}, vocabulary ${cfg.model.vocab} (${parameterCount(model)} parameters)`);
  line(`training: ${cfg.steps} steps of ${cfg.batchSize} windows (${data.count} windows at stride ${cfg.stride}), ${describeOptimizer(cfg.optimizer)}, precision ${cfg.precision}, seed ${cfg.seed}`);

  const progress = new Progress('|{bar}| {value}/{total} steps | loss {loss} | lr {lr} | grad norm {gnorm} | scale {scale} | skipped {skipped} | {speed} char/s | eta {eta_formatted}', line);
  const logLines: string[] = [];
  let sinceLine: number[] = [];
  const onMetrics = (m: StepMetrics) => {
    sinceLine.push(m.loss);
    progress.update(m.step, {
      loss: m.loss.toFixed(4), lr: m.lr.toExponential(2), gnorm: (m.gradNorm ?? NaN).toFixed(3), scale: m.scale, skipped: m.skipped,
      speed: Math.round(m.samplesPerSecond * context),
    });
  };
  const compileStart = performance.now();
  const trainer = await Trainer.create({
    model, loss: lmLoss, inputs: batchSpecs(cfg.batchSize, context), optimizer: cfg.optimizer, seed: cfg.seed, device: ctx,
    precision: cfg.precision, fusion: cfg.fusion, report: { gradNorm: true },
    metrics: { to: cfg.log ?? ((l: string) => logLines.push(l)), every: cfg.logEvery, onMetrics },
  });
  try {
    const stats = trainer.compileStats;
    line(`compiled the train step in ${((performance.now() - compileStart) / 1000).toFixed(1)} s (trace, passes and WGSL ${stats.trainCompileMs.toFixed(0)} ms; ${stats.trainDispatches} dispatches per step${cfg.fusion ? '' : ', fusion off'})`);
    const loader = new DataLoader([{ data: data.inputs, shape: [data.count, context] }, { data: data.targets, shape: [data.count, context] }], {
      batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, dropLast: true, reuseBuffers: true,
    });
    const validation: [number, number][] = [];
    let step = 0;
    let firstStepSeconds = 0;
    let trainMs = 0;
    let mark = performance.now();
    progress.start(cfg.steps, { loss: '-', lr: '-', gnorm: '-', scale: '-', skipped: 0, speed: '-' });
    for (let epoch = 1; step < cfg.steps; epoch++) {
      for await (const batch of loader.epoch(epoch)) {
        step++;
        const last = step === cfg.steps;
        const evaluate = last || (cfg.evalEvery > 0 && step % cfg.evalEvery === 0);
        // Reading the loss waits for the queued steps: the first (its time is mostly the driver compiling
        // the shaders), and the one before an evaluation, so that the training time ends there.
        await trainer.step(batch, { readLoss: step === 1 || evaluate });
        if (step === 1) {
          firstStepSeconds = (performance.now() - mark) / 1000;
          mark = performance.now();
        }
        if (evaluate) {
          if (step > 1) trainMs += performance.now() - mark;
          const val = await validationLoss(trainer, cfg.model, corpus.validation, cfg.batchSize);
          validation.push([step, val]);
          const mean = sinceLine.length ? (sinceLine.reduce((a, b) => a + b, 0) / sinceLine.length).toFixed(4) : '-';
          progress.print(`step ${step}: train loss ${mean} (mean of ${sinceLine.length} logged), validation loss ${val.toFixed(4)}`);
          sinceLine = [];
          mark = performance.now();
        }
        if (last) break;
      }
    }
    progress.stop();
    const msPerStep = cfg.steps > 1 ? trainMs / (cfg.steps - 1) : firstStepSeconds * 1000;
    line(`trained ${cfg.steps} steps: first step ${firstStepSeconds.toFixed(1)} s (the driver compiles the shaders), then ${msPerStep.toFixed(1)} ms/step`);

    const rows = parseMetricsLog(cfg.log ? readFileSync(cfg.log, 'utf8') : logLines.join('\n'), cfg.log ?? 'metrics log');
    // The logged losses of the last 10% of the steps (at least the last one logged).
    const late = rows.filter((r) => r.step! > cfg.steps * 0.9);
    const tail = late.length ? late : rows.slice(-1);
    const trainLoss = tail.length ? tail.reduce((a, r) => a + r.loss!, 0) / tail.length : NaN;
    const status = await trainer.lossScaleStatus();

    const t0 = performance.now();
    const ids = await generate(trainer, cfg.model, cfg.sample.prompt, cfg.sample.length, cfg.sample.temperature, cfg.seed);
    const sample = ids.map((i) => corpus.vocab[i]).join('');
    const genSeconds = (performance.now() - t0) / 1000;

    const byKind = trainer.gpuBufferBytesByKind;
    const gpu = { all: trainer.gpuBufferBytes, train: byKind.train, predict: byKind.predict };
    const valLoss = validation.at(-1)![1];
    line(`validation loss: ${valLoss.toFixed(4)}`);
    line(tail.length
      ? `train loss: ${trainLoss.toFixed(4)} (mean of the ${tail.length} logged losses of the last 10% of the steps)`
      : `train loss: - (no step was logged: --log-every is more than --steps)`);
    line(`skipped steps: ${status.skippedSteps}`);
    line(`final loss scale: ${status.scale}`);
    line(`dispatches per step: ${stats.trainDispatches}`);
    line(`ms per step: ${msPerStep.toFixed(1)}`);
    line(`GPU buffers: ${mib(gpu.all)} (train step ${mib(gpu.train)}, predictions ${mib(gpu.predict)})`);
    const seconds = (performance.now() - runStart) / 1000;
    line(`time: ${seconds.toFixed(1)} s (compile, ${cfg.steps} steps, ${validation.length} validation(s), the sample)`);
    line(`sample (${cfg.sample.length} characters, ${cfg.sample.temperature === 0 ? 'greedy' : `temperature ${cfg.sample.temperature}`}, ${genSeconds.toFixed(1)} s):`);
    line(`${cfg.sample.prompt.map((i) => corpus.vocab[i]).join('')}${sample}`);
    return {
      rows, validation, valLoss, trainLoss, skippedSteps: status.skippedSteps, lossScale: status.scale, dispatchesPerStep: stats.trainDispatches,
      gpuBufferBytes: gpu, firstStepSeconds, msPerStep, seconds, sample,
    };
  } finally {
    progress.stop();
    trainer.destroy();
  }
}

export function describeOptimizer(o: OptimizerSpec): string {
  const s = o.schedule;
  const sched = s === undefined ? '' : `, ${s.kind} schedule${'totalSteps' in s ? ` over ${s.totalSteps} steps` : ''}${s.warmup ? ` (warmup ${s.warmup})` : ''}`;
  const wd = 'weightDecay' in o && o.weightDecay !== undefined ? `, weight decay ${o.weightDecay}` : '';
  return `${o.kind} lr ${o.lr}${wd}${o.clipGradNorm !== undefined ? `, clip grad norm ${o.clipGradNorm}` : ''}${sched}`;
}
