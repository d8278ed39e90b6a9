// The training example: Fashion-MNIST with an MLP (default) or a small CNN.
//
//   npm run mnist -- [--model mlp|cnn] [--precision amp|f32] [--epochs N] [--batch-size N]
//                    [--optimizer adam|adamw|sgd] [--lr X] [--seed N] [--data DIR] [--max-steps N]
//                    [--loss-scale dynamic|off|N] [--init-scale X] [--plot FILE.svg] [--no-fusion]
//                    [--graph FILE.svg|FILE.dot|FILE.html] [--clip-grad-norm X] [--clip-grad-value X]
//                    [--lr-schedule constant|step|cosine|linear] [--warmup N] [--accumulate K] [--log FILE.jsonl|FILE.csv]
//
// Defaults: the 784-256-10 MLP, Adam lr 1e-3, batch 64, 2 epochs, seed 0,
// precision amp (f16 matmuls, f32 master weights and optimizer) with dynamic
// loss scaling inside the train step (init 2^16, or `--init-scale X`);
// `--loss-scale N` fixes the scale, `--loss-scale off` turns scaling off (the
// default under `--precision f32`). SGD defaults to lr 0.01 with momentum
// 0.9, AdamW to lr 1e-3 with weight decay 0.01, as in PyTorch. It ends with
// the lines `test accuracy: 0.8712`, `skipped steps: K`, `final loss scale:
// S` and `dispatches per step: N` (of one train step, from the compiled
// plan; `--no-fusion` shows the unfused count). `--graph FILE` draws the
// compiled train step (as `ampc dump --format` does; the extension chooses
// svg, dot or html) before training. `--clip-grad-norm X` / `--clip-grad-value
// X` clip the unscaled gradients inside the train step (passes/clip.ts);
// `--lr-schedule` and `--warmup N` schedule the rate there (passes/schedule.ts,
// over the run's updates); `--accumulate K` updates once per K batches with
// their mean gradient (passes/accumulate.ts); --max-steps counts batches.
// Bad flags or data: a message on stderr
// and exit code 1, no stack trace.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { nonNegativeInt, positiveInt, positiveNumber } from '../shared/flags.ts';
import { exitCodeOf } from '../shared/exit.ts';
import { AmpcError } from '../../ir/errors.ts';
import { drawGraphs, pictureFormatOfPath } from '../../compiler/picture/render.ts';
import { Trainer, writeFileAtomic } from '../../compiler/train/index.ts';
import type { LossScaleSpec, OptimizerSpec } from '../../compiler/train/index.ts';
import type { LrSchedule } from '../../passes/schedule.ts';
import { resolve as resolveOptimizer } from '../../passes/optimizer.ts';
import { acquireDevice, describeDevice } from '../../runtime/device.ts';
import type { GpuContext } from '../../runtime/device.ts';
import { resolveLossScale } from '../../passes/loss-scaling.ts';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, loadFashionMnist } from '../../compiler/train/data/index.ts';
import { SAMPLE_DIR } from './data.ts';
import { batchSpecs, buildModel, classificationLoss } from './models.ts';
import type { ModelName } from './models.ts';
import { curveOfLog, lossCurveSvg, train } from './train.ts';
import { parseMetricsLog } from '../../compiler/train/metrics.ts';
import type { TrainConfig } from './train.ts';

interface Flags {
  model: ModelName;
  precision: 'amp' | 'f32';
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'adamw' | 'sgd';
  lr?: number;
  seed: number;
  data?: string;
  maxSteps?: number;
  lossScale?: string;
  initScale?: number;
  plot?: string;
  log?: string;
  graph?: string;
  fusion: boolean;
  clipGradNorm?: number;
  clipGradValue?: number;
  lrSchedule: 'constant' | 'step' | 'cosine' | 'linear';
  accumulate: number;
  warmup?: number;
}

function lossScale(v: string): string {
  const n = Number(v);
  if (v !== 'dynamic' && v !== 'off' && (v.trim() === '' || !Number.isFinite(n) || n <= 0)) {
    throw new InvalidArgumentError("expected 'dynamic', 'off' or a positive number.");
  }
  return v;
}

function buildProgram(): Command {
  return new Command('mnist')
    .description('Train an MLP or a small CNN on Fashion-MNIST with ampc on WebGPU')
    .addOption(new Option('--model <name>', 'the model').choices(['mlp', 'cnn']).default('mlp'))
    .addOption(new Option('--precision <p>', 'precision policy (amp: f16 matmuls, f32 master weights)').choices(['amp', 'f32']).default('amp'))
    .option('--epochs <n>', 'passes over the training set', positiveInt, 2)
    .option('--batch-size <n>', 'images per step (the last incomplete batch of an epoch is dropped)', positiveInt, 64)
    .addOption(new Option('--optimizer <name>', 'the optimizer').choices(['adam', 'adamw', 'sgd']).default('adam'))
    .option('--lr <x>', 'learning rate (default: 1e-3 for adam and adamw, 0.01 for sgd)', positiveNumber)
    .option('--seed <n>', 'seed of the initialization and the shuffling', nonNegativeInt, 0)
    .option('--data <dir>', 'directory with the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist, else the committed sample)')
    .option('--max-steps <n>', 'stop training after this many steps in all', positiveInt)
    .option('--loss-scale <s>', 'loss scaling: dynamic (default under amp), off (default under f32), or a fixed scale N', lossScale)
    .option('--init-scale <x>', 'initial scale of dynamic loss scaling (default 65536)', positiveNumber)
    .option('--plot <file.svg>', 'write the loss curve, the loss scale, the learning rate (and the gradient norm with --log) as an SVG picture, from the metrics log')
    .option('--log <file>', 'write the metrics log every 20 steps (step, loss, scale, skipped, updates, lr, grad norm, samples/s): JSON Lines, or CSV for a .csv name')
    .option('--no-fusion', 'one kernel per op (for comparisons): do not fuse elementwise ops, optimizer updates and matmul epilogues')
    .addOption(new Option('--lr-schedule <kind>', 'learning-rate schedule, computed in the train step from its step counter (cosine and linear decay to 0 over all the steps; step halves the rate every epoch)').choices(['constant', 'step', 'cosine', 'linear']).default('constant'))
    .option('--warmup <n>', 'linear warmup steps of the schedule (the rate rises from 0)', nonNegativeInt)
    .option('--accumulate <k>', 'accumulate the gradients of k batches and update once with their mean (as one batch k times larger)', positiveInt, 1)
    .option('--clip-grad-norm <x>', 'clip the unscaled gradients to this global L2 norm (in the train step, after the finite check)', positiveNumber)
    .option('--clip-grad-value <x>', 'clip each unscaled gradient element to [-x, x]', positiveNumber)
    .option('--graph <file>', 'draw the compiled train step (ops coloured by dtype, fused kernels as clusters); .svg, .dot or .html chooses the format')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`mnist: ${text}`) })
    .exitOverride();
}

/** The schedule of --lr-schedule over `total` steps of `perEpoch` each (E0609 from the optimizer when it does not fit). */
function scheduleOf(f: Flags, total: number, perEpoch: number): LrSchedule | undefined {
  const warmup = f.warmup ?? 0;
  switch (f.lrSchedule) {
    case 'constant': return warmup ? { kind: 'constant', warmup } : undefined;
    case 'step': return { kind: 'step', stepSize: perEpoch, gamma: 0.5, warmup };
    case 'cosine': return { kind: 'cosine', totalSteps: total, warmup };
    case 'linear': return { kind: 'linear', totalSteps: total, warmup };
  }
}

function optimizerSpec(f: Flags, schedule?: LrSchedule): OptimizerSpec {
  const clip = { ...(schedule ? { schedule } : {}), ...(f.accumulate > 1 ? { accumulate: f.accumulate } : {}), ...(f.clipGradNorm !== undefined ? { clipGradNorm: f.clipGradNorm } : {}), ...(f.clipGradValue !== undefined ? { clipGradValue: f.clipGradValue } : {}) };
  switch (f.optimizer) {
    case 'adam':
      return { kind: 'adam', lr: f.lr ?? 1e-3, ...clip };
    case 'adamw':
      return { kind: 'adamw', lr: f.lr ?? 1e-3, weightDecay: 0.01, ...clip };
    case 'sgd':
      return { kind: 'sgd', lr: f.lr ?? 0.01, momentum: 0.9, ...clip };
  }
}

/**
 * Writes the picture of the compiled train step: a Trainer made with the
 * options train() gives its own (train.ts), on the same device, is compiled,
 * its `compiledGraph` drawn, and dropped (the training does not use it).
 */
async function writeTrainStepPicture(path: string, cfg: TrainConfig, ctx: GpuContext): Promise<void> {
  const format = pictureFormatOfPath(path);
  const trainer = await Trainer.create({
    model: buildModel(cfg.model), loss: classificationLoss, inputs: batchSpecs(cfg.model, cfg.batchSize), optimizer: cfg.optimizer,
    seed: cfg.seed, device: ctx, precision: cfg.precision ?? 'f32', lossScale: cfg.lossScale, fusion: cfg.fusion !== false,
  });
  try {
    const graph = trainer.compiledGraph;
    if (!graph) throw new Error('Trainer.create compiled no train step');
    const picture = await drawGraphs([graph], format, {
      title: `mnist ${cfg.model}: one train step`,
      details: [`precision ${cfg.precision ?? 'f32'}`, `optimizer ${cfg.optimizer.kind}`, `batch ${cfg.batchSize}`, cfg.fusion === false ? 'not fused (--no-fusion)' : 'fused (as compiled)'],
    });
    writeFileAtomic(path, picture);
    console.log(`train step graph: ${path} (${graph.nodes.length} ops, ${graph.nodes.filter((n) => n.op === 'fused').length} of them fused kernels)`);
  } finally {
    trainer.destroy();
  }
}

/** The loss scaling from the flags: dynamic (default under amp, `--init-scale` sets its start), off (default under f32), or a fixed N. */
function lossScaleSpec(f: Flags): LossScaleSpec {
  const mode = f.lossScale ?? (f.precision === 'amp' ? 'dynamic' : 'off');
  if (f.initScale !== undefined && mode !== 'dynamic') {
    throw new AmpcError('E0604', `--init-scale applies to dynamic loss scaling, but the loss scale is ${mode === 'off' ? 'off' : `fixed (${mode})`}${f.lossScale === undefined ? ' under --precision f32; add --loss-scale dynamic' : ''}`);
  }
  if (mode === 'off') return 'off';
  if (mode === 'dynamic') return f.initScale === undefined ? 'dynamic' : { init: f.initScale };
  return Number(mode);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse([...argv], { from: 'user' });
    const f = program.opts<Flags>();
    const lossScale = lossScaleSpec(f);
    resolveLossScale(lossScale, f.precision); // bad options fail here, before the data loads
    if (f.plot !== undefined && !existsSync(dirname(resolve(f.plot)))) {
      throw new AmpcError('E0601', `--plot ${f.plot}: directory ${dirname(resolve(f.plot))} does not exist`);
    }
    if (f.log !== undefined && !existsSync(dirname(resolve(f.log)))) {
      throw new AmpcError('E0601', `--log ${f.log}: directory ${dirname(resolve(f.log))} does not exist`);
    }
    if (f.graph !== undefined) {
      pictureFormatOfPath(f.graph); // E0604 unless it ends in .svg, .dot or .html
      if (!existsSync(dirname(resolve(f.graph)))) throw new AmpcError('E0601', `--graph ${f.graph}: directory ${dirname(resolve(f.graph))} does not exist`);
    }

    const data = loadFashionMnist(f.data, { sampleDir: SAMPLE_DIR });
    const what = data.source === 'full' ? 'full Fashion-MNIST' : data.source === 'sample' ? 'the committed Fashion-MNIST sample' : 'Fashion-MNIST';
    console.log(`data: ${what} from ${data.dir} (${data.train.count} train, ${data.test.count} test images; pixels scaled to [0,1], normalized (x - ${FASHION_MNIST_MEAN.toFixed(4)}) / ${FASHION_MNIST_STD.toFixed(4)})`);
    if (f.batchSize > data.train.count) {
      throw new AmpcError('E0604', `--batch-size ${f.batchSize} is larger than the training set (${data.train.count} images)`);
    }
    // The schedule counts updates: one per --accumulate batches.
    const perEpoch = Math.max(1, Math.floor(Math.floor(data.train.count / f.batchSize) / f.accumulate));
    const totalSteps = Math.max(1, Math.floor(Math.min(f.maxSteps ?? Infinity, Math.floor(data.train.count / f.batchSize) * f.epochs) / f.accumulate));
    resolveOptimizer(optimizerSpec(f, scheduleOf(f, totalSteps, perEpoch))); // a schedule that does not fit fails before the device starts
    const ctx = await acquireDevice();
    try {
      console.log(`device: ${describeDevice(ctx)}`);
      const cfg: TrainConfig = {
        model: f.model, epochs: f.epochs, batchSize: f.batchSize, optimizer: optimizerSpec(f, scheduleOf(f, totalSteps, perEpoch)), seed: f.seed, maxSteps: f.maxSteps,
        precision: f.precision, lossScale, fusion: f.fusion, ...(f.log !== undefined ? { log: f.log } : {}),
      };
      if (f.graph !== undefined) await writeTrainStepPicture(f.graph, cfg, ctx);
      const result = await train(cfg, data, ctx, { line: (t) => console.log(t) });
      if (f.log) console.log(`metrics log: ${f.log}`);
      if (f.plot) {
        // With --log the picture is drawn from the file, as any later reader would draw it.
        const curve = f.log ? curveOfLog(parseMetricsLog(readFileSync(f.log, 'utf8'), f.log)) : result.curve;
        writeFileAtomic(f.plot, lossCurveSvg(cfg, result, curve));
        console.log(`loss curve: ${f.plot}`);
      }
    } finally {
      ctx.destroy();
    }
    return 0;
  } catch (e) {
    return exitCodeOf('mnist', e);
  }
}

process.exitCode = await main(process.argv.slice(2));
