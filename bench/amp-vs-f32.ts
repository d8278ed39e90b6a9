// The AMP promise, measured: the example's models trained on Fashion-MNIST in
// f32 and in AMP (dynamic loss scaling) with the same seed, data order and
// epochs, one after another in one process on one device.
//
//   npx tsx bench/amp-vs-f32.ts [--models mlp,cnn] [--epochs 2] [--cnn-epochs N] [--data DIR] [--seed 0]
//                               [--json FILE] [--svg FILE]
//
// Per run: test accuracy, seconds per full epoch (mean), images/s, skipped
// steps, final loss scale, and the bytes of GPU buffers the trainer's
// sessions held — the train step's, and the evaluation's (batches of 500) —
// every buffer lives as long as its session, so these are their peaks. Prints a markdown table (the README's) and, with --json, writes the
// figures as JSON and, with --svg, draws the loss curves of both precisions
// and the AMP loss scale. Runs are sequential; the machine's load average is printed
// beside them, since a busy machine slows both precisions.

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Command, Option } from 'commander';
import { loadFashionMnist } from '../compiler/train/data/index.ts';
import { SAMPLE_DIR } from '../examples/mnist/data.ts';
import type { ModelName } from '../examples/mnist/models.ts';
import { chartsSvg, smooth } from '../compiler/picture/charts.ts';
import type { Chart } from '../compiler/picture/charts.ts';
import { train } from '../examples/mnist/train.ts';
import type { TrainResult } from '../examples/mnist/train.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';

interface Row {
  model: ModelName;
  precision: 'f32' | 'amp';
  epochs: number;
  accuracy: number;
  secondsPerEpoch: number;
  imagesPerSecond: number;
  skippedSteps: number;
  finalLossScale: number;
  trainStepBufferBytes: number;
  evalBufferBytes: number;
  load: number;
}

const program = new Command('amp-vs-f32')
  .option('--models <list>', 'models to train', 'mlp,cnn')
  .option('--epochs <n>', 'epochs per run', (v) => Number(v), 2)
  .option('--cnn-epochs <n>', 'epochs of the CNN runs (default: --epochs)', (v) => Number(v))
  .option('--data <dir>', 'Fashion-MNIST directory (default: the Debian package, else the sample)')
  .option('--seed <n>', 'seed of the initialization and the shuffling', (v) => Number(v), 0)
  .addOption(new Option('--json <file>', 'write the figures as JSON here'))
  .addOption(new Option('--svg <file>', 'draw the loss curves of both precisions (and the AMP loss scale) here'))
  .parse();
const o = program.opts<{ models: string; epochs: number; cnnEpochs?: number; data?: string; seed: number; json?: string; svg?: string }>();

const data = loadFashionMnist(o.data, { sampleDir: SAMPLE_DIR });
const ctx = await acquireDevice();
console.log(`device: ${describeDevice(ctx)}`);
console.log(`data: ${data.source} (${data.train.count} train, ${data.test.count} test images), seed ${o.seed}`);
const rows: Row[] = [];
const curves = new Map<string, TrainResult['curve']>();
const batchSize = 64;
try {
  for (const model of o.models.split(',') as ModelName[]) {
    const epochs = model === 'cnn' ? (o.cnnEpochs ?? o.epochs) : o.epochs;
    for (const precision of ['f32', 'amp'] as const) {
      console.log(`\n== ${model} ${precision}, ${epochs} epoch(s)`);
      const r = await train(
        { model, epochs, batchSize, optimizer: { kind: 'adam', lr: 1e-3 }, seed: o.seed, maxSteps: undefined, precision },
        data, ctx, { line: (t) => console.log(`  ${t}`) },
      );
      curves.set(`${model} ${precision}`, r.curve);
      const s = r.epochSeconds.reduce((a, b) => a + b, 0) / r.epochSeconds.length;
      rows.push({
        model, precision, epochs, accuracy: r.accuracy, secondsPerEpoch: s,
        imagesPerSecond: Math.round((Math.floor(data.train.count / batchSize) * batchSize) / s),
        skippedSteps: r.lossScale.skippedSteps, finalLossScale: r.lossScale.scale,
        trainStepBufferBytes: r.trainStepBufferBytes, evalBufferBytes: r.evalBufferBytes, load: loadavg()[0]!,
      });
    }
  }
} finally {
  ctx.destroy();
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);
console.log('\n| model | precision | epochs | test accuracy | s / epoch (images/s) | GPU buffers, train step (MiB) | GPU buffers, eval batch 500 (MiB) | skipped steps | final loss scale | load |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.precision} | ${r.epochs} | ${r.accuracy.toFixed(4)} | ${r.secondsPerEpoch.toFixed(1)} (${r.imagesPerSecond}) | ${mib(r.trainStepBufferBytes)} | ${mib(r.evalBufferBytes)} | ${r.precision === 'amp' ? r.skippedSteps : '-'} | ${r.precision === 'amp' ? r.finalLossScale : '-'} | ${r.load.toFixed(1)} |`);
}
for (const m of new Set(rows.map((r) => r.model))) {
  const f = rows.find((r) => r.model === m && r.precision === 'f32'), a = rows.find((r) => r.model === m && r.precision === 'amp');
  if (!f || !a) continue;
  console.log(`${m}: AMP - f32 accuracy ${((a.accuracy - f.accuracy) * 100).toFixed(2)} points, time x${(a.secondsPerEpoch / f.secondsPerEpoch).toFixed(2)}, ` +
    `train-step GPU buffers x${(a.trainStepBufferBytes / f.trainStepBufferBytes).toFixed(2)}, eval x${(a.evalBufferBytes / f.evalBufferBytes).toFixed(2)}`);
}
if (o.svg) {
  const pts = (key: string, pick: (c: TrainResult['curve'][number]) => number) => (curves.get(key) ?? []).map((c) => [c.step, pick(c)] as const);
  const charts: Chart[] = [...new Set(rows.map((r) => r.model))].map((m) => ({
    title: `${m}: training loss, f32 vs AMP (moving average of 10 reads, one every 20 steps)`,
    xLabel: 'step', yLabel: 'loss',
    series: [
      { name: 'f32', color: '#08519c', points: smooth(pts(`${m} f32`, (c) => c.loss), 9) },
      { name: 'AMP', color: '#d94801', points: smooth(pts(`${m} amp`, (c) => c.loss), 9), dashed: true },
    ],
  }));
  charts.push({
    title: 'AMP: dynamic loss scale', xLabel: 'step', yLabel: 'scale', log2: true,
    series: [...new Set(rows.map((r) => r.model))].map((m, i) => ({ name: m, color: ['#d94801', '#31a354'][i % 2]!, points: pts(`${m} amp`, (c) => c.scale), steps: true })),
  });
  writeFileSync(o.svg, chartsSvg(charts));
}
if (o.json) writeFileSync(o.json, JSON.stringify({ device: describeDevice(ctx), data: data.source, seed: o.seed, rows }, null, 2) + '\n');
