// The matmul's vector loads (compiler/kernels/matmul.ts, vectorPlan) off and
// on, interleaved in one process: the MLP's matmul shapes alone (f32 and f16
// storage with acc = f32), then whole MNIST MLP train steps (784-H-10, Adam,
// batch B; f32 and AMP as the Trainer compiles them, weight copies kept).
//
//   npx tsx bench/vector-loads.ts [--batch 64] [--hidden 256] [--rounds 15] [--json FILE]
//
// Each round times every case once (a block of back-to-back runs ended by
// one wait), the cases in a rotating order; the table gives the median and
// minimum ms over rounds. Results are bitwise the same with and without
// vector loads (test/matmul-vector.test.ts), so only the time can differ.
// Vector loads apply to register-blocked configurations, which the table
// gives CPU adapters; on a GPU adapter both columns time the same kernels.

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Command } from 'commander';
import { compileGraph } from '../compiler/compile.ts';
import { compileForDevice } from '../compiler/execute.ts';
import { setMatmulVectorLoads } from '../compiler/kernels/matmul.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { crossEntropy, f32, i32, nn, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { numel } from '../ir/types.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import { encodeTensor } from '../runtime/host-data.ts';
import { Session } from '../runtime/session.ts';

const o = new Command()
  .option('--batch <n>', 'batch size', '64')
  .option('--hidden <n>', 'hidden width', '256')
  .option('--rounds <n>', 'timed rounds', '15')
  .option('--json <file>', 'also write the results as JSON')
  .parse()
  .opts<{ batch: string; hidden: string; rounds: string; json?: string }>();
const B = Number(o.batch), H = Number(o.hidden), R = Number(o.rounds);

interface Case {
  readonly group: string;
  readonly name: string;
  readonly vector: boolean;
  /** Runs per timed block. */
  readonly runs: number;
  readonly session: Session;
  readonly ms: number[];
  /** The kernel header of the matmul (which operands load as vectors). */
  readonly note: string;
}

const ctx = await acquireDevice();
const cases: Case[] = [];
const load0 = loadavg()[0]!;

/** Compiles `build` with vector loads off and on; lowering is synchronous, so the switch covers exactly this compile. */
function both<T>(build: () => T): [T, T] {
  try {
    setMatmulVectorLoads(false);
    const off = build();
    setMatmulVectorLoads(true);
    return [off, build()];
  } finally {
    setMatmulVectorLoads(true);
  }
}

const header = (code: string) => code.split('\n').find((l) => l.startsWith('// matmul'))?.replace(/^\/\/ /, '') ?? '';

// The MLP's matmuls: forward (x W), the weight gradient (x^T dY), the input gradient (dY W^T).
const shapes: { name: string; a: number[]; b: number[]; ta?: boolean; tb?: boolean }[] = [
  { name: `x W ${B}x784 · 784x${H}`, a: [B, 784], b: [784, H] },
  { name: `xᵀ dY 784x${B} · ${B}x${H}`, a: [B, 784], b: [B, H], ta: true },
  { name: `dY Wᵀ ${B}x${H} · ${H}x784`, a: [B, H], b: [784, H], tb: true },
];
for (const s of shapes) {
  for (const dtype of ['f32', 'f16'] as DType[]) {
    const g = new Graph('mm');
    const a = g.addInput('a', { dtype, shape: s.a });
    const b = g.addInput('b', { dtype, shape: s.b });
    g.setOutputs([g.add('matmul', [a, b], { transpose_a: s.ta ?? false, transpose_b: s.tb ?? false, acc: 'f32' })]);
    const plans = both(() => compileForDevice(g, ctx, { f16Mode: dtype === 'f16' ? 'storage' : 'native' }));
    for (const [k, plan] of plans.entries()) {
      const session = await Session.create(ctx, plan);
      session.write('a', encodeTensor(dtype, Float32Array.from({ length: numel(s.a) }, (_, i) => Math.sin(i))));
      session.write('b', encodeTensor(dtype, Float32Array.from({ length: numel(s.b) }, (_, i) => Math.cos(i))));
      cases.push({ group: 'matmul', name: `${s.name} ${dtype}`, vector: k === 1, runs: 10, session, ms: [], note: header(plan.kernels[0]!.code) });
    }
  }
}

for (const precision of ['f32', 'amp'] as const) {
  const model = new nn.Sequential(new nn.Linear(784, H), new nn.ReLU(), new nn.Linear(H, 10));
  const traced = traceModule(model, [f32([B, 784]), i32([B])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
  const step = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 }, { precision });
  const compiled = both(() => compileGraph(step.graph, ctx, { updates: step.updates, weightCopies: precision === 'amp' }));
  for (const [k, c] of compiled.entries()) {
    const session = await Session.create(ctx, c.plan);
    const vectorized = c.plan.kernels.filter((kernel) => /vector loads/.test(kernel.code)).length;
    cases.push({ group: 'step', name: `MLP train step ${precision === 'amp' ? 'AMP' : 'f32'}`, vector: k === 1, runs: 20, session, ms: [], note: `${c.dispatches} dispatches, ${vectorized} matmuls with vector loads` });
  }
}

for (const c of cases) c.session.run();
await ctx.device.queue.onSubmittedWorkDone();
for (let r = 0; r < R; r++) {
  for (let q = 0; q < cases.length; q++) {
    const c = cases[(q + r) % cases.length]!;
    const t0 = performance.now();
    for (let i = 0; i < c.runs; i++) c.session.run();
    await ctx.device.queue.onSubmittedWorkDone();
    c.ms.push((performance.now() - t0) / c.runs);
  }
}
const load1 = loadavg()[0]!;

const median = (xs: readonly number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
const fmt = (x: number) => x.toFixed(2);
console.log(`${describeDevice(ctx)}\nbatch ${B}, hidden ${H}; ${R} rounds, interleaved; load average ${load0.toFixed(1)}-${load1.toFixed(1)}\n`);
console.log('| case | one load per element: ms median (min) | vector loads: ms median (min) | × | vector loads of |');
console.log('| --- | --- | --- | --- | --- |');
const rows: object[] = [];
for (let i = 0; i < cases.length; i += 2) {
  const off = cases[i]!, on = cases[i + 1]!;
  const ratio = median(on.ms) / median(off.ms);
  const what = off.group === 'matmul' ? (/vector loads of (.*)$/.exec(on.note)?.[1] ?? 'none') : on.note;
  console.log(`| ${off.name} | ${fmt(median(off.ms))} (${fmt(Math.min(...off.ms))}) | ${fmt(median(on.ms))} (${fmt(Math.min(...on.ms))}) | ${ratio.toFixed(2)} | ${what} |`);
  rows.push({ group: off.group, name: off.name, offMedianMs: median(off.ms), offMinMs: Math.min(...off.ms), onMedianMs: median(on.ms), onMinMs: Math.min(...on.ms), ratio, vectorLoadsOf: what });
}
const f32Step = rows.find((r) => (r as { name: string }).name === 'MLP train step f32') as { onMedianMs: number; offMedianMs: number } | undefined;
const ampStep = rows.find((r) => (r as { name: string }).name === 'MLP train step AMP') as { onMedianMs: number; offMedianMs: number } | undefined;
if (f32Step && ampStep) {
  console.log(`\nAMP / f32 train step: ${(ampStep.offMedianMs / f32Step.offMedianMs).toFixed(2)} with one load per element, ${(ampStep.onMedianMs / f32Step.onMedianMs).toFixed(2)} with vector loads`);
}
if (o.json) writeFileSync(o.json, JSON.stringify({ device: ctx.adapterInfo, batch: B, hidden: H, rounds: R, load: [load0, load1], rows }, null, 2) + '\n');
for (const c of cases) c.session.destroy();
ctx.destroy();
