// Elementwise ops on the real adapter against the reference interpreter:
// every unary, binary, compare, select, cast and constant op, in f32, f16
// (shader-f16) and packed f16, with equal, broadcast and odd shapes.

import type { ExecutionContext } from 'ava';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import type { GpuContext } from '../runtime/device.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, seededValues, needsShaderF16 } from './helpers/compare.ts';
import type { Mode } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

const modeTest = (mode: Mode) => (needsShaderF16(mode) ? gpuF16Test : gpuTest);

/** Domain of each unary op's test inputs. */
const UNARY: readonly [OpName, number, number][] = [
  ['neg', -3, 3], ['abs', -3, 3], ['exp', -4, 4], ['log', 0.05, 20], ['sqrt', 0, 9], ['rsqrt', 0.1, 9],
  ['reciprocal', 0.2, 5], ['tanh', -12, 12], ['sigmoid', -20, 20], ['relu', -2, 2], ['gelu', -5, 5],
  ['sin', -7, 7], ['cos', -7, 7], ['floor', -3.5, 3.5],
  ['tan', -1.4, 1.4], ['asin', -1, 1], ['acos', -1, 1], ['atan', -10, 10], ['sinh', -10, 10], ['cosh', -10, 10],
  ['asinh', -50, 50], ['acosh', 1, 50], ['atanh', -0.99, 0.99], ['erf', -4, 4], ['round', -3.5, 3.5], ['ceil', -3.5, 3.5],
  ['sign', -2, 2],
];
const BINARY: readonly OpName[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', 'mod', 'equal', 'less', 'greater', 'less_equal', 'greater_equal'];
const SHAPES: readonly [number[], number[]][] = [
  [[7], [7]],
  [[3, 33], [33]],
  [[2, 1, 5], [4, 1]],
  [[257], []],
  [[1], [1]],
];

async function run(t: ExecutionContext, ctx: GpuContext, g: Graph, inputs: Record<string, ReturnType<typeof hostTensor>>, mode: Mode) {
  await checkAgainstReference(t, ctx, g, inputs, f16ModeOf(mode));
}

for (const mode of MODES) {
  const dt = dtypeOf(mode);
  for (const [op, lo, hi] of UNARY) {
    for (const approximate of op === 'gelu' ? ['none', 'tanh'] : [undefined]) {
      modeTest(mode)(`${op}${approximate ? ' ' + approximate : ''} ${mode}`, async (t, ctx) => {
        const g = new Graph('t');
        const x = g.addInput('x', { dtype: dt, shape: [5, 41] });
        g.setOutputs([g.add(op, [x], approximate ? { approximate } : {})]);
        await run(t, ctx, g, { x: hostTensor(dt, [5, 41], seededValues(op.length * 7 + 1, 205, lo, hi)) }, mode);
      });
    }
  }

  for (const op of BINARY) {
    modeTest(mode)(`${op} ${mode} over shapes with broadcasting`, async (t, ctx) => {
      for (const [sa, sb] of SHAPES) {
        const g = new Graph('t');
        const a = g.addInput('a', { dtype: dt, shape: sa });
        const b = g.addInput('b', { dtype: dt, shape: sb });
        g.setOutputs([g.add(op, [a, b])]);
        const na = sa.reduce((p, q) => p * q, 1), nb = sb.reduce((p, q) => p * q, 1);
        // Operands from a small set so compares see ties; divisors and pow bases kept away from 0.
        const pick = (seed: number, n: number, set: number[]) => seededValues(seed, n, 0, set.length).map((r) => set[Math.floor(r)]!);
        const av = op === 'pow' ? seededValues(3, na, 0.1, 3) : pick(1, na, [-2.5, -1, -0.375, 0, 0.5, 1, 3.25]);
        const bv = op === 'div' || op === 'mod' ? pick(2, nb, [-4, -1.5, 0.5, 2, 3]) : op === 'pow' ? pick(2, nb, [-2, -0.5, 0, 1, 2.5]) : pick(2, nb, [-1, 0, 0.5, 1, 3.25]);
        await run(t, ctx, g, { a: hostTensor(dt, sa, av), b: hostTensor(dt, sb, bv) }, mode);
      }
    });
  }

  modeTest(mode)(`round at halves (to even), sign, isinf, isnan and atan at 0, ±inf and NaN; asin, acos at ±1 ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: dt, shape: [12] });
    const s = g.addInput('s', { dtype: dt, shape: [6] });
    const u = g.addInput('u', { dtype: dt, shape: [5] });
    g.setOutputs([g.add('round', [x]), g.add('sign', [s]), g.add('isinf', [s]), g.add('isnan', [s]), g.add('atan', [s]), g.add('asin', [u]), g.add('acos', [u])]);
    await run(t, ctx, g, {
      x: hostTensor(dt, [12], [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -3.5, 0.25, 2.75, -2.25, 1024.5]),
      s: hostTensor(dt, [6], [0, -3, Infinity, -Infinity, NaN, 2]),
      u: hostTensor(dt, [5], [1, -1, 0, 0.5, -0.875]),
    }, mode);
  });

  modeTest(mode)(`mod of exact and large quotients ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: dt, shape: [8] });
    const b = g.addInput('b', { dtype: dt, shape: [8] });
    g.setOutputs([g.add('mod', [a, b])]);
    await run(t, ctx, g, {
      a: hostTensor(dt, [8], [6, -6, 7.5, -7.5, 1000, -1000, 0.75, 2]),
      b: hostTensor(dt, [8], [3, 3, -2.5, 2.5, 0.75, 7, 1000, Infinity]),
    }, mode);
  });

  // Smooth ops chained (f16 rounding stays small); the discontinuous ones on exact values (x · 4 is exact);
  // infinities and NaN come from an input (lavapipe may fold inf - inf in a shader).
  modeTest(mode)(`a fused chain of the inverse, hyperbolic, erf, rounding, sign, fmod and isinf / isnan ops ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: dt, shape: [7, 19] });
    const s = g.addInput('s', { dtype: dt, shape: [19] });
    const k = (v: number) => g.add('constant', [], { value: v }, { declared: [{ dtype: dt, shape: [] }] });
    let v = g.add('mul', [g.add('erf', [x]), k(0.9)]);
    v = g.add('add', [g.add('asin', [v]), g.add('acos', [v])]);
    v = g.add('mul', [g.add('atanh', [g.add('tanh', [x])]), g.add('cosh', [v])]);
    v = g.add('add', [g.add('asinh', [g.add('sinh', [v])]), g.add('acosh', [g.add('add', [g.add('abs', [v]), k(1)])])]);
    v = g.add('add', [v, g.add('tan', [g.add('atan', [x])])]);
    const x4 = g.add('mul', [x, k(4)]);
    const steps = g.add('add', [g.add('round', [x4]), g.add('mul', [g.add('ceil', [x]), g.add('sign', [x])])]);
    const sx = g.add('mul', [s, x]);
    g.setOutputs([v, g.add('add', [steps, g.add('mod', [x4, k(0.75)])]), g.add('isinf', [sx]), g.add('isnan', [sx])]);
    const sv = Array.from({ length: 19 }, (_, i) => [Infinity, NaN, -Infinity, 1.5][i % 4]!);
    await run(t, ctx, g, { x: hostTensor(dt, [7, 19], seededValues(9, 133, -2, 2).map((z) => z || 0.5)), s: hostTensor(dt, [19], sv) }, mode);
  });

  modeTest(mode)(`pow of negative bases with integral exponents ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: dt, shape: [6] });
    const b = g.addInput('b', { dtype: dt, shape: [6] });
    g.setOutputs([g.add('pow', [a, b])]);
    await run(t, ctx, g, { a: hostTensor(dt, [6], [-2, -2, -1.5, -3, 2, -2]), b: hostTensor(dt, [6], [3, 2, 2, 0, 0.5, 0.5]) }, mode);
  });

  modeTest(mode)(`select with broadcast condition ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: dt, shape: [3, 5] });
    const b = g.addInput('b', { dtype: dt, shape: [5] });
    const c = g.add('less', [a, b]);
    const cRow = g.add('slice', [c], { starts: [1, 0], ends: [2, 5] });
    g.setOutputs([g.add('select', [c, a, b]), g.add('select', [cRow, b, a])]);
    await run(t, ctx, g, { a: hostTensor(dt, [3, 5], seededValues(5, 15)), b: hostTensor(dt, [5], seededValues(6, 5)) }, mode);
  });

  modeTest(mode)(`casts between ${dt}, the other float, i32, u32 and bool ${mode}`, async (t, ctx) => {
    const other: DType = dt === 'f32' ? 'f16' : 'f32';
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: dt, shape: [9] });
    const toOther = g.add('cast', [x], { to: other });
    const toI = g.add('cast', [x], { to: 'i32' });
    const toU = g.add('cast', [g.add('abs', [x])], { to: 'u32' });
    const toB = g.add('cast', [x], { to: 'bool' });
    g.setOutputs([toOther, g.add('cast', [toOther], { to: dt }), toI, g.add('cast', [toI], { to: dt }), toU, toB, g.add('cast', [toB], { to: dt })]);
    // Some f32 values are not representable in f16 (rounding, overflow to inf).
    const values = dt === 'f32' ? [0, -0.4, 1.7, -2.5, 100.3, 0.1, 70000, -1e-8, 3] : [0, -0.4, 1.7, -2.5, 100.3, 0.1, 60000, -1e-3, 3];
    await run(t, ctx, g, { x: hostTensor(dt, [9], values) }, mode);
  });

  modeTest(mode)(`constants of every dtype ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: dt, shape: [3] });
    const c = g.add('constant', [], { value: 0.1 }, { declared: [{ dtype: dt, shape: [3] }] });
    const inf = g.add('constant', [], { value: -Infinity }, { declared: [{ dtype: dt, shape: [] }] });
    const big = g.add('constant', [], { value: 1e6 }, { declared: [{ dtype: dt, shape: [2] }] });
    const i = g.add('constant', [], { value: -7 }, { declared: [{ dtype: 'i32', shape: [2, 2] }] });
    const b = g.add('constant', [], { value: 1 }, { declared: [{ dtype: 'bool', shape: [3] }] });
    g.setOutputs([g.add('add', [x, c]), g.add('maximum', [x, inf]), big, i, b]);
    await run(t, ctx, g, { x: hostTensor(dt, [3], [1, -2, 0.5]) }, mode);
  });
}

gpuTest('i32 arithmetic wraps and divides as WGSL does', async (t, ctx) => {
  const g = new Graph('t');
  const a = g.addInput('a', { dtype: 'i32', shape: [8] });
  const b = g.addInput('b', { dtype: 'i32', shape: [8] });
  g.setOutputs(['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'less', 'equal'].map((op) => g.add(op as OpName, [a, b])));
  g.outputs.push(g.add('neg', [a]), g.add('abs', [a]), g.add('relu', [a]), g.add('sign', [a]));
  const A = [7, -7, 2147483647, -2147483648, 5, 0, 100000, -3];
  const B = [2, 2, 1, -1, 0, 3, 100000, -3];
  await checkAgainstReference(t, ctx, g, { a: hostTensor('i32', [8], A), b: hostTensor('i32', [8], B) }, 'native');
});

gpuTest('u32 and bool elementwise', async (t, ctx) => {
  const g = new Graph('t');
  const a = g.addInput('a', { dtype: 'u32', shape: [5] });
  const b = g.addInput('b', { dtype: 'u32', shape: [5] });
  const lt = g.add('less', [a, b]);
  g.setOutputs([g.add('add', [a, b]), g.add('sub', [a, b]), g.add('div', [a, b]), lt, g.add('select', [lt, a, b]), g.add('select', [lt, g.add('greater', [a, b]), lt])]);
  await checkAgainstReference(t, ctx, g, { a: hostTensor('u32', [5], [1, 4294967295, 7, 0, 9]), b: hostTensor('u32', [5], [2, 1, 2, 5, 0]) }, 'native');
});

for (const mode of MODES) {
  const dt = dtypeOf(mode);
  modeTest(mode)(`NaN and inf propagate through maximum, minimum, relu, abs and casts ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: dt, shape: [6] });
    const b = g.addInput('b', { dtype: dt, shape: [6] });
    g.setOutputs([
      g.add('maximum', [a, b]), g.add('minimum', [a, b]), g.add('relu', [a]), g.add('abs', [a]), g.add('neg', [b]),
      g.add('cast', [a], { to: 'bool' }), g.add('cast', [a], { to: dt === 'f32' ? 'f16' : 'f32' }),
    ]);
    await run(t, ctx, g, { a: hostTensor(dt, [6], [NaN, 1, NaN, -Infinity, Infinity, -2]), b: hostTensor(dt, [6], [1, NaN, NaN, 3, -Infinity, Infinity]) }, mode);
  });
}
