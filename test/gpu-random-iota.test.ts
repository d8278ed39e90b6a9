// random_uniform and iota on the adapter: bitwise equal to the reference
// interpreter in every f16 mode, over odd shapes and a dispatch grid forced
// onto y and z (70001 elements, 16 workgroups per dimension); the dropout
// chain fused (one kernel, also as a matmul's epilogue) equal to unfused;
// iota fused into a causal mask; u32 seed arithmetic. Inputs are exact in
// their dtype and the chains scale by powers of 2, so every value is exact.
// (The grid limit is chosen per adapter kind so that 70001 elements need a
// z extent of 2: the elements per invocation differ by kind.)

import type { ExecutionContext } from 'ava';
import { compileForDevice, runGraphOnGpu } from '../compiler/execute.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { hostTensor, scalar } from '../ir/interp/tensor.ts';
import type { GpuContext } from '../runtime/device.ts';
import { elementsPerInvocation, MAP_WORKGROUP } from '../compiler/kernels/map.ts';
import { adapterKindOf } from '../compiler/kernels/matmul-config.ts';
import type { F16Mode } from '../runtime/plan.ts';
import { checkAgainstReference, MODES, seededValues } from './helpers/compare.ts';
import { checkU32, dropoutChain, u32Graph, uniformRef } from './helpers/generated.ts';
import { gpuTest, modeTest, withMaxWorkgroups } from './helpers/gpu.ts';

const SHAPES: readonly number[][] = [[], [1], [7], [3, 5], [2, 3, 33], [257]];
const BIG = 70001;

/** A limit of workgroups per dimension under which BIG elements need a grid of [s, s, 2] on this adapter. */
function smallGrid(ctx: GpuContext): number {
  const groups = Math.ceil(Math.ceil(BIG / elementsPerInvocation(adapterKindOf(ctx.adapterInfo), BIG)) / MAP_WORKGROUP);
  return Math.ceil(Math.sqrt(groups / 2));
}

/** Values exact in `dtype`: the reference holds f32 data in f64 as given, the GPU rounds it to f32. */
const values = (dtype: DType, seed: number, n: number, lo = -1, hi = 1): number[] => seededValues(seed, n, lo, hi).map((v) => (dtype === 'f32' ? Math.fround(v) : v));

/** Every output of `g` on the GPU is bitwise the reference's (floats compared as numbers: -0 = 0, NaN = NaN). */
async function bitwise(t: ExecutionContext, ctx: GpuContext, g: Graph, inputs: Record<string, HostTensor>, f16Mode: F16Mode, what: string): Promise<HostTensor[]> {
  const expected = interpret(g, inputs);
  const actual = await runGraphOnGpu(g, inputs, ctx, { f16Mode });
  expected.forEach((e, k) => {
    const a = actual[k]!;
    t.deepEqual([a.dtype, a.shape], [e.dtype, e.shape], `${what}: output ${k}`);
    const bad = [...e.data].flatMap((x, i) => (Object.is(x, a.data[i]) || x === a.data[i] || (Number.isNaN(x) && Number.isNaN(a.data[i]!)) ? [] : [`[${i}] gpu ${a.data[i]} vs ref ${x}`]));
    t.is(bad.length, 0, `${what}: output ${k} (${e.dtype}${JSON.stringify(e.shape)}, ${f16Mode}): ${bad.length} of ${e.data.length} differ: ${bad.slice(0, 4).join(', ')}`);
  });
  return actual;
}

function randomGraph(shapes: readonly number[][], salts: readonly number[] = [0]): Graph {
  const g = new Graph('random');
  const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
  g.setOutputs(shapes.flatMap((shape) => salts.map((salt) => g.add('random_uniform', [seed], { shape: [...shape], salt }))));
  return g;
}

for (const mode of MODES) {
  modeTest(mode, 'random_uniform is bitwise the reference over odd shapes, alone and side by side (fused)', async (t, ctx, dt, f16Mode) => {
    // One salt per shape: a kernel of its own each. Two: shapes of at most 4096 elements merge side by side into one fused kernel.
    const alone = randomGraph(SHAPES), paired = randomGraph(SHAPES, [0, 4294967295]);
    t.true(compileForDevice(alone, ctx, { f16Mode }).kernels.every((k) => k.label.startsWith('random_uniform')));
    t.true(compileForDevice(paired, ctx, { f16Mode }).kernels.every((k) => k.label.startsWith('fused')));
    for (const seed of [0, 12345, 4294967295]) {
      await bitwise(t, ctx, alone, { seed: scalar('u32', seed) }, f16Mode, `alone, seed ${seed}`);
      const out = await bitwise(t, ctx, paired, { seed: scalar('u32', seed) }, f16Mode, `side by side, seed ${seed}`);
      t.is(out[5]!.data[4], uniformRef(seed, 4294967295, 4), 'an element from the BigInt reference');
    }
    // The dropout chain over x of the mode's dtype, with the random values as a second output.
    const chain = dropoutChain(dt, [3, 37], { p: 0.75, salt: 9, withRandom: true });
    const x = hostTensor(dt, [3, 37], values(dt, 3, 111, -4, 4));
    await bitwise(t, ctx, chain, { seed: scalar('u32', 77), x }, f16Mode, 'dropout chain');
  });

  modeTest(mode, `random_uniform of ${BIG} elements on a [s, s, 2] grid`, async (t, ctx, dt, f16Mode) => {
    const s = smallGrid(ctx);
    const small = withMaxWorkgroups(ctx, s);
    const g = randomGraph([[BIG]]);
    t.deepEqual(compileForDevice(g, small, { f16Mode }).dispatches[0]!.workgroups, [s, s, 2]);
    const [r] = await bitwise(t, small, g, { seed: scalar('u32', 2024) }, f16Mode, 'alone');
    t.is(r!.data[BIG - 1], uniformRef(2024, 0, BIG - 1));
    // Fused: the chain over the same grid.
    const chain = dropoutChain(dt, [BIG], { withRandom: true });
    t.is(compileForDevice(chain, small, { f16Mode }).dispatches.length, 1);
    const x = hostTensor(dt, [BIG], values(dt, 5, BIG, -2, 2));
    await bitwise(t, small, chain, { seed: scalar('u32', 2024), x }, f16Mode, 'fused');
  });

  modeTest(mode, 'dropout chain: fused (one kernel) is bitwise unfused and the reference', async (t, ctx, dt, f16Mode) => {
    for (const shape of [[5, 13], [4099]]) {
      const g = dropoutChain(dt, shape, { p: 0.75 });
      const n = shape.reduce((a, b) => a * b, 1);
      const inputs = { seed: scalar('u32', 5), x: hostTensor(dt, shape, values(dt, n, n, -3, 3)) };
      t.is(compileForDevice(g, ctx, { f16Mode }).dispatches.length, 1, 'fused: one kernel');
      t.true(compileForDevice(g, ctx, { f16Mode, fusion: false }).dispatches.length >= 4, 'unfused: random, compare, select, mul (and constants)');
      const fused = await bitwise(t, ctx, g, inputs, f16Mode, `fused ${shape}`);
      const unfused = await runGraphOnGpu(g, inputs, ctx, { f16Mode, fusion: false });
      t.deepEqual([...fused[0]!.data], [...unfused[0]!.data], `fused = unfused ${shape}`);
    }
  });

  modeTest(mode, 'dropout as a matmul epilogue: the mask of the reference, values within tolerance', async (t, ctx, dt, f16Mode) => {
    const g = new Graph('mm');
    const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
    const a = g.addInput('a', { dtype: dt, shape: [9, 16] });
    const w = g.addInput('w', { dtype: dt, shape: [16, 11] });
    const y = g.add('matmul', [a, w]);
    const keep = g.add('greater_equal', [g.add('random_uniform', [seed], { shape: [9, 11], salt: 1 }), g.add('constant', [], { value: 0.5 }, { declared: [{ dtype: 'f32', shape: [] }] })]);
    g.setOutputs([g.add('select', [keep, y, g.add('constant', [], { value: 0 }, { declared: [{ dtype: dt, shape: [] }] })])]);
    t.is(compileForDevice(g, ctx, { f16Mode }).dispatches.length, 1, 'one kernel: the matmul with the dropout as its epilogue');
    const inputs = { seed: scalar('u32', 3), a: hostTensor(dt, [9, 16], seededValues(1, 144)), w: hostTensor(dt, [16, 11], seededValues(2, 176)) };
    await checkAgainstReference(t, ctx, g, inputs, f16Mode, { scale: 4 });
    const zeros = (o: HostTensor) => [...o.data].map((v) => v === 0);
    t.deepEqual(zeros((await runGraphOnGpu(g, inputs, ctx, { f16Mode }))[0]!), zeros(interpret(g, inputs)[0]!));
  });

  modeTest(mode, 'iota over axes and dtypes, alone and fused into a causal mask', async (t, ctx, dt, f16Mode) => {
    const g = new Graph('iota');
    const cases: [number[], number, DType][] = [
      [[3, 4], 1, 'i32'], [[2, 3, 5], -2, 'u32'], [[2, 3, 5], 0, 'i32'], [[4, 1, 3], 1, 'f32'], [[5, 7], 0, dt], [[6], -1, dt], [[2100], 0, 'f32'],
    ];
    if (dt === 'f16') cases.push([[2100], 0, 'f16']); // indices past 2048 round as a cast to f16 does
    g.setOutputs(cases.map(([shape, axis, dtype]) => g.add('iota', [], { shape, axis, dtype })));
    await bitwise(t, ctx, g, {}, f16Mode, 'alone');
    const m = new Graph('mask');
    const x = m.addInput('x', { dtype: dt, shape: [2, 6, 6] });
    const future = m.add('greater', [m.add('iota', [], { shape: [6, 6], axis: 1 }), m.add('iota', [], { shape: [6, 6], axis: 0 })]);
    m.setOutputs([m.add('select', [future, m.add('constant', [], { value: -Infinity }, { declared: [{ dtype: dt, shape: [] }] }), x])]);
    t.is(compileForDevice(m, ctx, { f16Mode }).dispatches.length, 2, 'the mask fused, then the select over the batch');
    await bitwise(t, ctx, m, { x: hostTensor(dt, [2, 6, 6], values(dt, 8, 72)) }, f16Mode, 'causal mask');
  });

  modeTest(mode, `iota of ${BIG} elements on a [s, s, 2] grid`, async (t, ctx, _dt, f16Mode) => {
    const small = withMaxWorkgroups(ctx, smallGrid(ctx));
    const g = new Graph('iota');
    g.setOutputs([g.add('iota', [], { shape: [BIG], axis: 0, dtype: 'u32' }), g.add('iota', [], { shape: [7, 10001], axis: 1, dtype: 'f32' })]);
    await bitwise(t, small, g, {}, f16Mode, 'big');
  });
}

gpuTest('a fused body whose random_uniform and iota broadcast to its shape reads them at their own index', async (t, ctx) => {
  // Fusion groups ops of one shape; a body may still hold smaller values that broadcast (ir/verify.ts).
  const body = new Graph('body');
  const bs = body.addInput('seed', { dtype: 'u32', shape: [] });
  const bx = body.addInput('x', { dtype: 'f32', shape: [3, 4, 5] });
  const r = body.add('random_uniform', [bs], { shape: [4, 1], salt: 2 });
  const i = body.add('iota', [], { shape: [1, 5], axis: -1, dtype: 'f32' });
  const j = body.add('iota', [], { shape: [4, 5], axis: 0, dtype: 'f32' });
  body.setOutputs([body.add('mul', [bx, r]), body.add('add', [bx, body.add('mul', [i, j])])]);
  const g = new Graph('g');
  const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
  const x = g.addInput('x', { dtype: 'f32', shape: [3, 4, 5] });
  g.setOutputs(g.addNode('fused', [seed, x], {}, { body }).results);
  // Powers of 2: every product and sum is exact in f32.
  const inputs = { seed: scalar('u32', 8), x: hostTensor('f32', [3, 4, 5], Array.from({ length: 60 }, (_, k) => 2 ** ((k % 7) - 3))) };
  const [p, q] = await bitwise(t, ctx, g, inputs, 'native', 'broadcast body');
  // Element [2, 3, 4] (flat 59): x * r[3] and x + 4 * 3.
  t.is(p!.data[59], 2 ** (59 % 7 - 3) * uniformRef(8, 2, 3));
  t.is(q!.data[59], 2 ** (59 % 7 - 3) + 12);
});

gpuTest('u32 seed arithmetic on the GPU: add wraps mod 2^32, casts to f32 and back', async (t, ctx) => {
  const { g, values } = u32Graph();
  for (const seed of [0, 41, 4294967295]) {
    const inputs = { seed: scalar('u32', seed), v: hostTensor('u32', [6], values) };
    checkU32(t, await bitwise(t, ctx, g, inputs, 'native', `seed ${seed}`), seed, values);
  }
});
