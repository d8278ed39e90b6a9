// The element loop of map kernels (compiler/kernels/map.ts): how many
// elements an invocation computes per adapter kind, and that every element
// is computed once whatever that count and the remainder: elementwise and
// fused graphs over sizes around the rule's steps run on the adapter with
// the CPU's and a GPU's choices and match the reference interpreter.

import test from 'ava';
import { interpret } from '../ir/interp/interpret.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { parseModule } from '../ir/text/parser.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { compileGraph } from '../compiler/compile.ts';
import { elementsPerInvocation, MAP_WORKGROUP, MIN_CPU_WORKGROUPS } from '../compiler/kernels/map.ts';
import { asAdapterKind, gpuTest } from './helpers/gpu.ts';

test('a GPU computes one element per invocation; a CPU 4 to 64, keeping MIN_CPU_WORKGROUPS workgroups where it can', (t) => {
  for (const n of [1, 100, 5000, 1 << 20]) t.is(elementsPerInvocation('gpu', n), 1);
  t.is(elementsPerInvocation('cpu', MAP_WORKGROUP * 4), 1);
  t.is(elementsPerInvocation('cpu', MAP_WORKGROUP * 4 + 1), 4);
  t.is(elementsPerInvocation('cpu', 16384), 4);
  t.is(elementsPerInvocation('cpu', 200704), 49);
  t.is(elementsPerInvocation('cpu', 1 << 22), 64);
  for (const n of [300, 5000, 16385, 83584, 200704, 262145, 1 << 20]) {
    const per = elementsPerInvocation('cpu', n);
    const groups = Math.ceil(Math.ceil(n / per) / MAP_WORKGROUP);
    t.true(per >= 4 && per <= 64, `${n}: ${per}`);
    // More elements per invocation only while at least MIN_CPU_WORKGROUPS workgroups remain.
    if (per > 4) t.true(groups >= MIN_CPU_WORKGROUPS, `${n}: ${per} per invocation leaves ${groups} workgroups`);
  }
});

const SIZES = [257, 16385, 83584, 262145 + 7];

for (const n of SIZES) {
  for (const kind of ['cpu', 'gpu'] as const) {
    gpuTest(`${n} elements (${kind} choices): an elementwise chain and a cast compute every element once`, async (t, device) => {
      const ctx = asAdapterKind(device, kind);
      const g = parseModule(`graph @m(%a: f32[${n}], %b: f32[${n}]) -> (f32[${n}], f16[${n}]) {
  %c = mul %a, %b : f32[${n}]
  %d = add %c, %a : f32[${n}]
  %e = cast %d {to = f16} : f16[${n}]
  return %d, %e
}`, 'map.ir').main;
      const plan = compileGraph(g, ctx).plan;
      const per = elementsPerInvocation(kind, n);
      if (per > 1) t.true(plan.kernels.some((k) => k.code.includes(`ampc_k < ${per}u`)), `a loop of ${per}`);
      const inputs = randomInputs(g, 3);
      const want = interpret(g, inputs);
      const got = await runGraphOnGpu(g, inputs, ctx);
      for (const k of [0, 1]) {
        const w = want[k]!.data, v = got[k]!.data;
        let bad = -1;
        for (let i = 0; i < n; i++) {
          const x = Number(w[i]), y = Number(v[i]);
          if (Math.abs(x - y) > 1e-6 * Math.max(1, Math.abs(x)) + (k === 1 ? Math.abs(x) * 2 ** -10 : 0)) {
            bad = i;
            break;
          }
        }
        t.is(bad, -1, `output ${k}: element ${bad}: ${v[bad]} vs ${w[bad]}`);
      }
    });
  }
}
