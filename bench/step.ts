// One train step of the 784-H-10 MLP (ReLU, cross-entropy, Adam lr 1e-3):
// f32 and AMP (dynamic loss scaling), each fused (the default) and unfused
// (--no-fusion), timed interleaved in one process on one device.
//
//   npx tsx bench/step.ts [--batch 64] [--hidden 256] [--rounds 7] [--steps 30] [--json FILE] [--cast-prologues]
//
// Per configuration: dispatches of one step (from the compiled plan), the
// train step's GPU buffer bytes, compile time (trace + passes + WGSL + plan,
// not the driver's shader compilation), and ms per step: every round times
// `steps` back-to-back Trainer.step() calls on host batches (one upload of
// x and y each, the loss read back on the last, which waits for all), the
// configurations in a rotating order; the table gives the median and the
// minimum over rounds, and the load average. Compare ratios, not absolute
// figures: these machines are shared.

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Command, Option } from 'commander';
import { CAST_PROLOGUES } from '../compiler/compile.ts';
import { adapterKindOf } from '../compiler/kernels/matmul-config.ts';
import { Trainer } from '../compiler/train/index.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import type { F16Mode } from '../runtime/plan.ts';
import type { CastPrologues } from '../passes/pass.ts';

interface Config {
  readonly name: string;
  readonly precision: 'f32' | 'amp';
  readonly fusion: boolean;
  /** f16 storage and arithmetic (default: the adapter's, compiler/compile.ts). */
  readonly f16Mode?: F16Mode;
  /** Loss scaling off (AMP without its machinery: what the f16 data alone costs). */
  readonly noLossScaling?: boolean;
  /** Override the adapter kind's cast prologues (which f32 operands matmuls convert as they load them). */
  readonly castPrologues?: CastPrologues;
}

const CONFIGS: readonly Config[] = [
  { name: 'f32, unfused', precision: 'f32', fusion: false },
  { name: 'f32, fused', precision: 'f32', fusion: true },
  { name: 'AMP, unfused', precision: 'amp', fusion: false },
  { name: 'AMP, fused', precision: 'amp', fusion: true },
  { name: 'AMP, fused, f16 math (native)', precision: 'amp', fusion: true, f16Mode: 'native' },
  { name: 'AMP, fused, f32 math on f16 storage', precision: 'amp', fusion: true, f16Mode: 'storage' },
  { name: 'AMP, fused, loss scaling off', precision: 'amp', fusion: true, noLossScaling: true },
];
/** The cast-prologue choices other than the adapter's (`--cast-prologues`). */
const PROLOGUE_CHOICES: readonly CastPrologues[] = [true, 'params', false];
const prologueRow = (castPrologues: CastPrologues): Config => ({
  name: `AMP, fused, cast prologues: ${castPrologues === true ? 'every cast operand' : castPrologues === 'params' ? 'weights only' : 'none (weight copies)'}`,
  precision: 'amp', fusion: true, castPrologues,
});

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};
const o = new Command('step')
  .option('--batch <n>', 'batch size', int, 64)
  .option('--hidden <n>', 'hidden width H', int, 256)
  .option('--rounds <n>', 'timed rounds per configuration', int, 7)
  .option('--steps <n>', 'steps per timed round', int, 30)
  .addOption(new Option('--json <file>', 'write the figures as JSON here'))
  .option('--cast-prologues', 'add AMP rows with the cast-prologue choices other than the adapter kind\'s (compiler/compile.ts, CAST_PROLOGUES)')
  .parse()
  .opts<{ batch: number; hidden: number; rounds: number; steps: number; json?: string; castPrologues?: boolean }>();

/** Four seeded random batches, cycled. */
function batches(b: number): { xs: Float32Array[]; ys: Int32Array[] } {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const xs = [0, 1, 2, 3].map(() => Float32Array.from({ length: b * 784 }, () => rand()));
  const ys = [0, 1, 2, 3].map(() => Int32Array.from({ length: b }, () => Math.floor(rand() * 10)));
  return { xs, ys };
}

const ctx = await acquireDevice();
try {
  const { xs, ys } = batches(o.batch);
  const runs = [];
  const mine = CAST_PROLOGUES[adapterKindOf(ctx.adapterInfo)];
  const configs = o.castPrologues ? [...CONFIGS, ...PROLOGUE_CHOICES.filter((c) => c !== mine).map(prologueRow)] : CONFIGS;
  for (const c of configs) {
    const model = new nn.Sequential(new nn.Linear(784, o.hidden), new nn.ReLU(), new nn.Linear(o.hidden, 10));
    const trainer = await Trainer.create({
      model, loss: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y),
      inputs: [f32([o.batch, 784]), i32([o.batch])], optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0, device: ctx,
      precision: c.precision, fusion: c.fusion, ...(c.f16Mode ? { f16Mode: c.f16Mode } : {}), ...(c.noLossScaling ? { lossScale: 'off' as const } : {}),
      ...(c.castPrologues !== undefined ? { castPrologues: c.castPrologues } : {}),
    });
    for (let i = 0; i < 5; i++) await trainer.step([xs[i % 4]!, ys[i % 4]!], { readLoss: i === 4 });
    runs.push({ c, trainer, ms: [] as number[], k: 0 });
  }
  const loads: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (let j = 0; j < runs.length; j++) {
      const r = runs[(round + j) % runs.length]!;
      const t = performance.now();
      for (let i = 0; i < o.steps; i++, r.k++) await r.trainer.step([xs[r.k % 4]!, ys[r.k % 4]!], { readLoss: i === o.steps - 1 });
      r.ms.push((performance.now() - t) / o.steps);
      loads.push(loadavg()[0]!);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const rows = runs.map((r) => {
    const s = r.trainer.compileStats;
    return {
      config: r.c.name, precision: r.c.precision, fusion: r.c.fusion, batch: o.batch, hidden: o.hidden,
      dispatchesPerStep: s.trainDispatches, trainStepBufferBytes: r.trainer.gpuBufferBytesByKind.train, compileMs: Math.round(s.trainCompileMs),
      msPerStepMedian: +median(r.ms).toFixed(2), msPerStepMin: +Math.min(...r.ms).toFixed(2),
    };
  });
  for (const r of runs) r.trainer.destroy();
  const ampFused = rows.find((r) => r.precision === 'amp' && r.fusion)!;
  const f32Fused = rows.find((r) => r.precision === 'f32' && r.fusion)!;
  console.log(`device: ${describeDevice(ctx)}`);
  console.log(`MLP 784-${o.hidden}-10, Adam, batch ${o.batch}; ${o.rounds} rounds of ${o.steps} steps; load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`);
  console.log('');
  console.log('| configuration | dispatches / step | ms / step (median) | ms / step (min) | × AMP fused | GPU buffers, train step | compile (ms) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.config} | ${r.dispatchesPerStep} | ${r.msPerStepMedian} | ${r.msPerStepMin} | ${(r.msPerStepMedian / ampFused.msPerStepMedian).toFixed(2)} | ${(r.trainStepBufferBytes / 2 ** 20).toFixed(2)} MiB | ${r.compileMs} |`);
  }
  console.log('');
  console.log(`AMP fused / f32 fused: time ×${(ampFused.msPerStepMedian / f32Fused.msPerStepMedian).toFixed(2)}, memory ×${(ampFused.trainStepBufferBytes / f32Fused.trainStepBufferBytes).toFixed(2)}`);
  if (o.json) writeFileSync(o.json, JSON.stringify({ device: ctx.adapterInfo, loads, rows }, null, 2) + '\n');
} finally {
  ctx.destroy();
}
