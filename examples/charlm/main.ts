// A tiny transformer: a character-level language model (token and learned
// positional embeddings, pre-norm blocks of causal multi-head attention and a
// GELU MLP with dropout, a final LayerNorm and a linear head; model.ts)
// trained with ampc under AMP, AdamW, gradient clipping and a cosine
// schedule, on a text every Debian machine has.
//
//   npm run charlm -- [--text FILE] [--precision amp|f32] [--steps N] [--batch-size N] [--lr X] [--seed N]
//                     [--context N] [--embed N] [--heads N] [--layers N] [--dropout X] [--stride N]
//                     [--optimizer adamw|adam] [--clip-grad-norm X] [--warmup N] [--eval-every N] [--log-every N]
//                     [--log FILE] [--plot FILE.svg] [--prompt TEXT] [--sample-length N] [--temperature X] [--no-fusion]
//
// The text is /usr/share/common-licenses/GPL-3 unless --text names another
// (text.ts); its distinct characters are the vocabulary and its last 10% is
// held out. The run prints the validation loss (evaluated every --eval-every
// steps and at the end), the training loss, skipped steps, the final loss
// scale, dispatches per step, ms per step and GPU buffer bytes, and a sample
// generated from --prompt (default: the text's first --context characters).
// `--log FILE` writes the Trainer's metrics log (JSONL, CSV for .csv);
// `--plot FILE.svg` draws the loss curves, the gradient norm and the
// learning rate (plot.ts). Bad flags or text: a message on stderr and exit
// code 1, no stack trace.

import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, probability } from '../shared/flags.ts';
import { exitCodeOf } from '../shared/exit.ts';
import { AmpcError } from '../../ir/errors.ts';
import { writeFileAtomic } from '../../compiler/train/index.ts';
import type { OptimizerSpec } from '../../compiler/train/index.ts';
import { resolve as resolveOptimizer } from '../../passes/optimizer.ts';
import { acquireDevice, describeDevice } from '../../runtime/device.ts';
import { lossCurveSvg } from './plot.ts';
import { DEFAULT_TEXT, encode, loadCorpus, oneLine, VALIDATION_SHARE, windows } from './text.ts';
import { train } from './train.ts';

interface Flags {
  text: string;
  precision: 'amp' | 'f32';
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  context: number;
  embed: number;
  heads: number;
  layers: number;
  dropout: number;
  stride: number;
  optimizer: 'adamw' | 'adam';
  clipGradNorm: number;
  warmup?: number;
  evalEvery?: number;
  logEvery: number;
  log?: string;
  plot?: string;
  prompt?: string;
  sampleLength: number;
  temperature: number;
  fusion: boolean;
}

function buildProgram(): Command {
  return new Command('charlm')
    .description('Train a tiny character-level transformer with ampc on WebGPU (AMP, AdamW, clipping, cosine schedule)')
    .option('--text <file>', 'the training text (UTF-8); its last 10% is held out for validation', DEFAULT_TEXT)
    .addOption(new Option('--precision <p>', 'precision policy (amp: f16 matmuls, f32 master weights, dynamic loss scaling)').choices(['amp', 'f32']).default('amp'))
    .option('--steps <n>', 'training steps', positiveInt, 400)
    .option('--batch-size <n>', 'windows per step', positiveInt, 16)
    .option('--lr <x>', 'peak learning rate (after warmup; the cosine schedule decays it to 0)', positiveNumber, 1e-2)
    .option('--seed <n>', 'seed of the initialization, dropout masks, shuffling and sampling', nonNegativeInt, 0)
    .option('--context <n>', 'characters per window (T)', positiveInt, 32)
    .option('--embed <n>', 'embedding width (E)', positiveInt, 64)
    .option('--heads <n>', 'attention heads (must divide --embed)', positiveInt, 4)
    .option('--layers <n>', 'transformer blocks', positiveInt, 1)
    .option('--dropout <p>', 'dropout after attention and after the MLP', probability, 0.1)
    .option('--stride <n>', 'characters between the starts of two training windows', positiveInt, 1)
    .addOption(new Option('--optimizer <name>', 'the optimizer (adamw: weight decay 0.01)').choices(['adamw', 'adam']).default('adamw'))
    .option('--clip-grad-norm <x>', 'clip the unscaled gradients to this global L2 norm', positiveNumber, 1)
    .option('--warmup <n>', 'linear warmup steps of the cosine schedule (default: 10% of --steps)', nonNegativeInt)
    .option('--eval-every <n>', 'steps between validation losses, 0 for only at the end (default: --steps / 10)', nonNegativeInt)
    .option('--log-every <n>', 'steps between two lines of the metrics log (and updates of the progress bar)', positiveInt, 10)
    .option('--log <file>', 'write the metrics log here (JSONL; CSV when the name ends in .csv)')
    .option('--plot <file.svg>', 'draw the loss curves, the gradient norm and the learning rate as an SVG picture')
    .option('--prompt <text>', "the sample's prompt (default: the text's first --context characters)")
    .option('--sample-length <n>', 'characters to generate after the prompt', nonNegativeInt, 200)
    .option('--temperature <x>', 'sampling temperature (0: greedy, the most likely character each time)', nonNegativeNumber, 0.8)
    .option('--no-fusion', 'one kernel per op (for comparisons)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`charlm: ${text}`) })
    .exitOverride();
}

function optimizerSpec(f: Flags): OptimizerSpec {
  const schedule = { kind: 'cosine' as const, totalSteps: f.steps, warmup: f.warmup ?? Math.floor(f.steps / 10) };
  const common = { lr: f.lr, clipGradNorm: f.clipGradNorm, schedule };
  return f.optimizer === 'adamw' ? { kind: 'adamw', weightDecay: 0.01, ...common } : { kind: 'adam', ...common };
}

function checkOutputPath(flag: string, path: string | undefined): void {
  if (path !== undefined && !existsSync(dirname(resolve(path)))) throw new AmpcError('E0601', `${flag} ${path}: directory ${dirname(resolve(path))} does not exist`);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse([...argv], { from: 'user' });
    const f = program.opts<Flags>();
    if (f.embed % f.heads !== 0) throw new AmpcError('E0604', `--heads ${f.heads} does not divide --embed ${f.embed}`);
    if (f.plot !== undefined && !f.plot.toLowerCase().endsWith('.svg')) throw new AmpcError('E0604', `--plot ${f.plot}: the picture is an SVG; give a file name ending in .svg`);
    checkOutputPath('--plot', f.plot);
    checkOutputPath('--log', f.log);
    const optimizer = optimizerSpec(f);
    resolveOptimizer(optimizer); // a schedule that does not fit (warmup >= steps) fails here, before the device starts

    const corpus = loadCorpus(f.text, f.context);
    console.log(`text: ${corpus.path} (${corpus.chars.length} characters, vocabulary of ${corpus.vocab.length}; ${corpus.train.length} for training, the last ${VALIDATION_SHARE * 100}% (${corpus.validation.length}) held out)`);
    const count = windows(corpus.train, f.context, f.stride).count;
    if (f.batchSize > count) throw new AmpcError('E0604', `--batch-size ${f.batchSize} is larger than the ${count} training windows (${f.context + 1} characters at stride ${f.stride})`);
    const promptText = f.prompt ?? corpus.chars.slice(0, f.context).join('');
    if (promptText === '') throw new AmpcError('E0604', '--prompt is empty: give at least one character');
    const prompt = encode(promptText, corpus.vocab, '--prompt');
    console.log(`prompt: "${oneLine(promptText)}"`);

    const ctx = await acquireDevice();
    try {
      console.log(`device: ${describeDevice(ctx)}`);
      const model = { vocab: corpus.vocab.length, context: f.context, embed: f.embed, heads: f.heads, layers: f.layers, dropout: f.dropout };
      const result = await train({
        model, batchSize: f.batchSize, steps: f.steps, optimizer, precision: f.precision, seed: f.seed, fusion: f.fusion, stride: f.stride,
        logEvery: f.logEvery, evalEvery: f.evalEvery ?? Math.max(1, Math.floor(f.steps / 10)), log: f.log,
        sample: { prompt, length: f.sampleLength, temperature: f.temperature },
      }, corpus, ctx, (t) => console.log(t));
      if (f.log) console.log(`metrics log: ${f.log}`);
      if (f.plot) {
        const title = `charlm, ${f.precision}: ${f.layers} block(s), E ${f.embed}, T ${f.context}, batch ${f.batchSize} (validation ${result.valLoss.toFixed(3)})`;
        writeFileAtomic(f.plot, lossCurveSvg({ title, rows: result.rows, validation: result.validation, clipGradNorm: f.clipGradNorm }));
        console.log(`loss curve: ${f.plot}`);
      }
    } finally {
      ctx.destroy();
    }
    return 0;
  } catch (e) {
    return exitCodeOf('charlm', e);
  }
}

process.exitCode = await main(process.argv.slice(2));
