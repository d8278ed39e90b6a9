// f16 arithmetic against f32 registers over f16 storage on this adapter: a
// fused chain of seven f16 elementwise ops (mul, add, tanh, mul, exp, sub,
// relu) over 2^20 elements, compiled in the native f16 mode (f16 math) and
// in the storage mode (f32 math, excess precision inside the kernel), timed
// interleaved in one process. The figures behind F16_ARITHMETIC in
// compiler/compile.ts.
//
//   npx tsx bench/f16-modes.ts [--rounds 8] [--runs 10] [--json]

import { Command } from 'commander';
import { compileGraph } from '../compiler/compile.ts';
import { parseModule } from '../ir/text/parser.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import { encodeTensor } from '../runtime/host-data.ts';
import type { F16Mode } from '../runtime/plan.ts';
import { Session } from '../runtime/session.ts';

const o = new Command().option('--rounds <n>', 'timed rounds', '8').option('--runs <n>', 'runs per round', '10').option('--json', 'JSON lines').parse().opts<{ rounds: string; runs: string; json?: boolean }>();
const N = 1 << 20;
const t = `f16[${N}]`;
const src = `graph @chain(%x: ${t}, %y: ${t}) -> (${t}) {
  %a = mul %x, %y : ${t}
  %b = add %a, %x : ${t}
  %c = tanh %b : ${t}
  %d = mul %c, %y : ${t}
  %e = exp %d : ${t}
  %f = sub %e, %c : ${t}
  %g = relu %f : ${t}
  return %g
}`;
const g = parseModule(src, 'chain.ir').main;
const ctx = await acquireDevice();
try {
  const runs: { mode: F16Mode; session: Session; ms: number[]; dispatches: number }[] = [];
  for (const mode of ['native', 'storage'] as const) {
    const plan = compileGraph(g, ctx, { f16Mode: mode }).plan;
    const session = await Session.create(ctx, plan);
    const v = Float64Array.from({ length: N }, (_, i) => Math.sin(i) * 0.5);
    session.write('x', encodeTensor('f16', v));
    session.write('y', encodeTensor('f16', v));
    session.run();
    await session.readOutputs();
    runs.push({ mode, session, ms: [], dispatches: plan.dispatches.length });
  }
  for (let r = 0; r < Number(o.rounds); r++) {
    for (const e of r % 2 ? [...runs].reverse() : runs) {
      const start = performance.now();
      for (let i = 0; i < Number(o.runs); i++) e.session.run();
      await e.session.readOutputs();
      e.ms.push((performance.now() - start) / Number(o.runs));
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const rows = runs.map((e) => ({ mode: e.mode, dispatches: e.dispatches, msMedian: +median(e.ms).toFixed(2), msMin: +Math.min(...e.ms).toFixed(2) }));
  if (o.json) for (const r of rows) console.log(JSON.stringify({ device: describeDevice(ctx), ...r }));
  else {
    console.log(`device: ${describeDevice(ctx)}\n7 fused f16 elementwise ops over 2^20 elements; ${o.rounds} rounds of ${o.runs} runs\n`);
    console.log('| f16 mode | arithmetic | dispatches | ms (median) | ms (min) |\n| --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${r.mode} | ${r.mode === 'native' ? 'f16' : 'f32 over f16 storage'} | ${r.dispatches} | ${r.msMedian} | ${r.msMin} |`);
  }
  for (const e of runs) e.session.destroy();
} finally {
  ctx.destroy();
}
