// Fused against unfused on the adapter: every golden and example graph (as
// written and under AMP) and the train steps of the MNIST MLP and CNN and of
// an attention block (f32 and AMP, Adam), run once with fusion and once
// without on the same inputs, in native f16 and in packed f16 (with the
// adapter's cast prologues, the weights' only on lavapipe, and, where a
// matmul reads a cast, with every cast operand converted, as GPUs compile). Fusion keeps
// every op, dtype and f16 rounding of the graph, so each element must agree
// to one f16 ulp at its magnitude (for f32 values too). Most are bitwise
// equal; the rest differ by a few f32 ulps, because once a multiply and an
// add (or an exp and a divide) sit in one kernel the shader compiler may
// contract them (SPIR-V allows it; Dawn marks nothing NoContraction). The
// log gives the bitwise share and the largest f32 distance. NaN must meet
// NaN, infinities the same infinity. (The storage f16 mode computes fused
// f16 ops with excess precision, so it is held to accuracy against an exact
// evaluation instead: test/f16-storage.test.ts.)

import type { ExecutionContext } from 'ava';
import type { Graph } from '../ir/graph.ts';
import { randomInputs } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import type { GpuContext } from '../runtime/device.ts';
import type { F16Mode } from '../runtime/plan.ts';
import { gpuF16Test } from './helpers/gpu.ts';
import { pipelineCases, trainStepCases } from './helpers/fusion-cases.ts';

/** The spacing of representable values of `dtype` at |x| (subnormal spacing near zero). */
function ulp(dtype: string, x: number): number {
  const [bits, minExp] = dtype === 'f16' ? [10, -14] : [23, -126];
  const e = x === 0 ? minExp : Math.max(minExp, Math.floor(Math.log2(Math.abs(x))));
  return 2 ** (e - bits);
}

/** Elements further apart than one f16 ulp (or differing in NaN / infinity), how many are bitwise equal, the largest distance in ulps of the dtype. */
function compare(a: HostTensor, b: HostTensor): { bad: string[]; exact: number; maxUlps: number } {
  const bad: string[] = [];
  let exact = 0, maxUlps = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!, y = b.data[i]!;
    if (Object.is(x, y) || (x === 0 && y === 0)) {
      exact++;
      continue;
    }
    const float = a.dtype === 'f32' || a.dtype === 'f16';
    const m = Math.max(Math.abs(x), Math.abs(y));
    const ok = float && Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= ulp('f16', m);
    if (ok) maxUlps = Math.max(maxUlps, Math.abs(x - y) / ulp(a.dtype, m));
    else bad.push(`[${i}] fused ${x} vs unfused ${y}`);
  }
  return { bad, exact, maxUlps };
}

/** Plausible state for train-step inputs random values would make odd. */
function stepInputs(g: Graph, seed: number): Record<string, HostTensor> {
  const inputs = randomInputs(g, seed);
  const set = (name: string, value: number) => {
    const t = inputs[name];
    if (t) inputs[name] = { ...t, data: t.data.map(() => value) as typeof t.data };
  };
  set('amp.scale', 256);
  set('amp.good_steps', 3);
  set('amp.skipped', 0);
  set('opt.step', 4);
  set('opt.lr', 1e-3);
  return inputs;
}

async function fusedMatchesUnfused(t: ExecutionContext, ctx: GpuContext, g: Graph, f16Mode: F16Mode, castPrologues?: boolean): Promise<void> {
  const inputs = stepInputs(g, 5);
  const fused = await runGraphOnGpu(g, inputs, ctx, { f16Mode, ...(castPrologues !== undefined ? { castPrologues } : {}) });
  const unfused = await runGraphOnGpu(g, inputs, ctx, { f16Mode, fusion: false });
  let exact = 0, total = 0, maxUlps = 0;
  fused.forEach((a, k) => {
    const b = unfused[k]!;
    t.deepEqual([a.dtype, a.shape], [b.dtype, b.shape]);
    const r = compare(a, b);
    exact += r.exact;
    maxUlps = Math.max(maxUlps, r.maxUlps);
    total += a.data.length;
    t.is(r.bad.length, 0, `output ${k} (${a.dtype}, ${f16Mode}): ${r.bad.length} of ${a.data.length} off by more than 1 f16 ulp: ${r.bad.slice(0, 4).join(', ')}`);
  });
  t.is(fused.length, unfused.length);
  t.log(`${f16Mode}${castPrologues ? ', cast prologues' : ''}: ${exact} of ${total} elements bitwise equal; the others within ${maxUlps.toFixed(1)} ulps of their dtype`);
}

for (const c of [...trainStepCases(), ...pipelineCases()]) {
  gpuF16Test(`fused = unfused on the GPU (native and packed f16): ${c.name}`, async (t, ctx) => {
    for (const mode of ['native', 'packed'] as const) await fusedMatchesUnfused(t, ctx, c.graph, mode);
    // Matmuls converting every cast operand as they load them (what GPUs compile; CPU adapters, above, convert the weights only).
    if (c.graph.nodes.some((n) => n.op === 'matmul' && n.operands.some((v) => v.def?.op === 'cast'))) {
      for (const mode of ['native', 'packed'] as const) await fusedMatchesUnfused(t, ctx, c.graph, mode, true);
    }
  });
}
