// Row kernels (reductions, softmax, layer_norm, batch_norm statistics) in
// both row schemes on this adapter: an invocation per row, which loops over
// it, against a workgroup per row, which strides over it and combines by a
// tree in workgroup memory. Each case is compiled twice, once as for a CPU
// adapter and once as for a GPU (threadsForRow in compiler/wgsl/workgroup.ts
// picks the scheme per adapter kind), and the two are timed interleaved in
// one process. The figures behind threadsForRow's cpu rule.
//
//   npx tsx bench/rows.ts [--rounds 6] [--runs 5] [--json]

import { Command } from 'commander';
import { compileGraph, targetOf } from '../compiler/compile.ts';
import type { AdapterKind } from '../compiler/kernels/context.ts';
import { threadsForRow } from '../compiler/wgsl/workgroup.ts';
import { parseModule } from '../ir/text/parser.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import { Session } from '../runtime/session.ts';

const o = new Command().option('--rounds <n>', 'timed rounds', '6').option('--runs <n>', 'runs per round', '5').option('--json', 'JSON lines').parse().opts<{ rounds: string; runs: string; json?: boolean }>();

interface Case {
  readonly what: string;
  /** Rows and row length, as the kernel sees them. */
  readonly rows: number;
  readonly extent: number;
  readonly ir: string;
}

const t = (dt: string, s: number[]) => `${dt}[${s.join(',')}]`;
function reduce(dt: string, shape: number[], axis: number): Case {
  const out = shape.filter((_, k) => k !== axis);
  return {
    what: `reduce_sum ${t(dt, shape)} axis ${axis}`,
    rows: out.reduce((a, b) => a * b, 1),
    extent: shape[axis]!,
    ir: `graph @r(%x: ${t(dt, shape)}) -> (${t(dt, out)}) {\n  %y = reduce_sum %x {axes = [${axis}]} : ${t(dt, out)}\n  return %y\n}`,
  };
}
function softmax(shape: number[]): Case {
  return {
    what: `softmax ${t('f32', shape)} axis -1`,
    rows: shape.slice(0, -1).reduce((a, b) => a * b, 1),
    extent: shape.at(-1)!,
    ir: `graph @s(%x: ${t('f32', shape)}) -> (${t('f32', shape)}) {\n  %y = softmax %x {axis = -1} : ${t('f32', shape)}\n  return %y\n}`,
  };
}
function layerNorm(shape: number[]): Case {
  const n = shape.at(-1)!;
  return {
    what: `layer_norm ${t('f32', shape)} axis -1`,
    rows: shape.slice(0, -1).reduce((a, b) => a * b, 1),
    extent: n,
    ir: `graph @l(%x: ${t('f32', shape)}, %g: f32[${n}], %b: f32[${n}]) -> (${t('f32', shape)}) {\n  %y = layer_norm %x, %g, %b {axis = -1, epsilon = 1e-5} : ${t('f32', shape)}\n  return %y\n}`,
  };
}
function batchNorm(shape: number[]): Case {
  const c = shape[1]!;
  const v = `f32[${c}]`;
  return {
    what: `batch_norm ${t('f32', shape)} (training)`,
    rows: c,
    extent: shape.reduce((a, b) => a * b, 1) / c,
    ir: `graph @b(%x: ${t('f32', shape)}, %g: ${v}, %b: ${v}, %m: ${v}, %v: ${v}) -> (${t('f32', shape)}, ${v}, ${v}) {\n` +
      `  %y, %nm, %nv = batch_norm %x, %g, %b, %m, %v {momentum = 0.1, training = true} : ${t('f32', shape)}, ${v}, ${v}\n  return %y, %nm, %nv\n}`,
  };
}

const CASES: Case[] = [
  reduce('f16', [32, 16384], 0), // the weight gradient of Linear on [32, T, E] before it became one matmul
  reduce('f32', [512, 256], 0), // a bias gradient
  reduce('f32', [4096, 256], 0),
  reduce('f32', [16384, 64], 1),
  reduce('f32', [64, 4096], 1),
  reduce('f32', [8, 12000], 1),
  reduce('f32', [256, 12000], 1),
  softmax([4, 8, 64, 64]), // attention probabilities
  softmax([64, 10]),
  layerNorm([512, 64]),
  batchNorm([64, 16, 28, 28]),
  batchNorm([64, 32, 14, 14]),
  batchNorm([256, 64, 8, 8]),
];

const KINDS: readonly AdapterKind[] = ['cpu', 'gpu'];
const ctx = await acquireDevice();
const here = targetOf(ctx);
try {
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const results: { what: string; rows: number; extent: number; threads: Record<AdapterKind, number>; ms: Record<AdapterKind, number> }[] = [];
  for (const c of CASES) {
    const g = parseModule(c.ir, 'bench.ir').main;
    const runs = await Promise.all(KINDS.map(async (kind) => {
      const session = await Session.create(ctx, compileGraph(g, { ...here, adapter: kind }).plan);
      session.run();
      await session.readOutputs();
      return { kind, session, ms: [] as number[] };
    }));
    for (let r = 0; r < Number(o.rounds); r++) {
      for (const e of r % 2 ? [...runs].reverse() : runs) {
        const start = performance.now();
        for (let i = 0; i < Number(o.runs); i++) e.session.run();
        await e.session.readOutputs();
        e.ms.push((performance.now() - start) / Number(o.runs));
      }
    }
    for (const e of runs) e.session.destroy();
    const by = <T>(f: (k: AdapterKind) => T) => Object.fromEntries(KINDS.map((k) => [k, f(k)])) as Record<AdapterKind, T>;
    results.push({
      what: c.what,
      rows: c.rows,
      extent: c.extent,
      threads: by((k) => threadsForRow(k, c.rows, c.extent)),
      ms: by((k) => +median(runs.find((e) => e.kind === k)!.ms).toFixed(2)),
    });
  }
  const scheme = (threads: number) => (threads === 1 ? 'invocation per row' : `workgroup of ${threads} per row`);
  if (o.json) for (const r of results) console.log(JSON.stringify({ device: describeDevice(ctx), adapter: here.adapter, ...r }));
  else {
    console.log(`device: ${describeDevice(ctx)} (adapter kind: ${here.adapter}); median of ${o.rounds} rounds of ${o.runs} runs, ms per run\n`);
    console.log('| kernel | rows × extent | cpu rule | ms | gpu rule | ms |\n| --- | --- | --- | --- | --- | --- |');
    for (const r of results) console.log(`| ${r.what} | ${r.rows} × ${r.extent} | ${scheme(r.threads.cpu)} | ${r.ms.cpu} | ${scheme(r.threads.gpu)} | ${r.ms.gpu} |`);
  }
} finally {
  ctx.destroy();
}
