// cumsum (ONNX CumSum): the reference against running sums computed here by
// plain loops (all four exclusive / reverse combinations, negative axes,
// ranks 1 to 3, integers), the type rule, the gradients against finite
// differences (and the reversed-cumsum form of the VJP), the tracing API, the
// ONNX mapping (opsets 11 and 14, an axis input that must be constant), and
// the adapter against the reference in f32 and packed f16, forward and
// backward.

import test from 'ava';
import { importOnnx } from '../compiler/onnx/import.ts';
import { writeOnnx, attr } from '../compiler/onnx/write.ts';
import type { OnnxNodeSpec } from '../compiler/onnx/write.ts';
import { isAmpcError } from '../ir/errors.ts';
import { Graph } from '../ir/graph.ts';
import { evalOp, interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { cumsum, trace } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { PRECISION_CLASSES } from '../passes/precision/policy.ts';
import { checkAgainstReference, seededValues } from './helpers/compare.ts';
import type { Mode } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const COMBOS = [false, true].flatMap((exclusive) => [false, true].map((reverse) => ({ exclusive, reverse })));

/** The running sums of x [shape] along `axis`, by a plain loop over row-major coordinates. */
function expected(xs: readonly number[], shape: readonly number[], axis: number, exclusive: boolean, reverse: boolean): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const n = shape[a]!, inner = numel(shape.slice(a + 1));
  return xs.map((_, p) => {
    const j = Math.floor(p / inner) % n;
    let s = 0;
    for (let k = 0; k < n; k++) {
      const before = reverse ? (exclusive ? k > j : k >= j) : (exclusive ? k < j : k <= j);
      if (before) s += xs[p + (k - j) * inner]!;
    }
    return s;
  });
}

const run = (dtype: 'f32' | 'i32', shape: number[], xs: number[], attrs: Record<string, number | boolean>) =>
  [...evalOp('cumsum', [hostTensor(dtype, shape, xs)], attrs)[0]!.data];

test('cumsum: the ONNX examples, by hand', (t) => {
  const x = [1, 2, 3, 4, 5];
  t.deepEqual(run('f32', [5], x, { axis: 0 }), [1, 3, 6, 10, 15]);
  t.deepEqual(run('f32', [5], x, { axis: 0, exclusive: true }), [0, 1, 3, 6, 10]);
  t.deepEqual(run('f32', [5], x, { axis: 0, reverse: true }), [15, 14, 12, 9, 5]);
  t.deepEqual(run('f32', [5], x, { axis: 0, exclusive: true, reverse: true }), [14, 12, 9, 5, 0]);
  const m = [1, 2, 3, 4, 5, 6];
  t.deepEqual(run('f32', [2, 3], m, { axis: 0 }), [1, 2, 3, 5, 7, 9]);
  t.deepEqual(run('f32', [2, 3], m, { axis: -1 }), [1, 3, 6, 4, 9, 15]);
  t.deepEqual(run('f32', [2, 3], m, { axis: 1, exclusive: true, reverse: true }), [5, 3, 0, 11, 6, 0]);
});

test('cumsum: all four exclusive / reverse combinations on ranks 1 to 3, every axis, negative ones too', (t) => {
  const shapes = [[7], [3, 5], [2, 4, 3]];
  shapes.forEach((shape, s) => {
    const xs = seededValues(s + 1, numel(shape), -3, 3).map((v) => Math.round(v * 64) / 64); // exact sums in f32
    for (let axis = -shape.length; axis < shape.length; axis++) {
      for (const { exclusive, reverse } of COMBOS) {
        t.deepEqual(run('f32', shape, xs, { axis, exclusive, reverse }), expected(xs, shape, axis, exclusive, reverse),
          `[${shape}] axis ${axis} exclusive ${exclusive} reverse ${reverse}`);
      }
    }
  });
});

test('cumsum: integers wrap in their own type; f16 sums are rounded once', (t) => {
  t.deepEqual(run('i32', [3], [2 ** 31 - 1, 1, 5], { axis: 0 }), [2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 5]);
  // 2048 + 1 + 1: an f16 running sum rounded at every step would stay at 2048.
  t.deepEqual([...evalOp('cumsum', [hostTensor('f16', [3], [2048, 1, 1])], { axis: 0 })[0]!.data], [2048, 2048, 2050]);
});

test('type rule: numeric data of rank >= 1, an axis in range; the shape and dtype of x; class deny', (t) => {
  const g = new Graph('t');
  const code = (f: () => unknown) => {
    const e = t.throws(f);
    t.true(isAmpcError(e));
    return (e as unknown as { code: string }).code;
  };
  const x = g.addInput('x', { dtype: 'f16', shape: [2, 3] });
  t.deepEqual(g.add('cumsum', [x], { axis: -1 }).type, { dtype: 'f16', shape: [2, 3] });
  t.is(code(() => g.add('cumsum', [x], { axis: 2 })), 'E0204');
  t.is(code(() => g.add('cumsum', [g.addInput('s', { dtype: 'f32', shape: [] })])), 'E0203');
  t.is(code(() => g.add('cumsum', [g.addInput('b', { dtype: 'bool', shape: [2] })])), 'E0206');
  t.is(PRECISION_CLASSES.cumsum, 'deny');
});

/** loss = sum(cumsum(x) · w) over x [2, 4, 3]. */
function lossGraph(axis: number, exclusive: boolean, reverse: boolean): Graph {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 4, 3] }, { param: true });
  const w = g.addInput('w', { dtype: 'f32', shape: [2, 4, 3] });
  g.setOutputs([g.add('reduce_sum', [g.add('mul', [g.add('cumsum', [x], { axis, exclusive, reverse }), w])], { axes: [0, 1, 2] })]);
  return g;
}

test('gradients against finite differences, and equal to the cumsum of the cotangent the other way round', (t) => {
  for (const axis of [0, -2, 2]) {
    for (const { exclusive, reverse } of COMBOS) {
      const what = `axis ${axis} exclusive ${exclusive} reverse ${reverse}`;
      const g = lossGraph(axis, exclusive, reverse);
      const r = gradcheck(g, { seed: 5 });
      t.true(r.ok, `${what}: ${r.text}`);
      const wv = seededValues(7, 24);
      const dx = [...interpret(gradientGraph(g), { x: hostTensor('f32', [2, 4, 3], seededValues(6, 24)), w: hostTensor('f32', [2, 4, 3], wv) })[1]!.data];
      const want = expected(wv, [2, 4, 3], axis, exclusive, !reverse);
      dx.forEach((v, k) => t.true(Math.abs(v - want[k]!) < 1e-12, `${what} [${k}]: ${v} vs ${want[k]}`));
    }
  }
});

test('tracing: cumsum as a function and a method', (t) => {
  const g = trace((x) => [cumsum(x, -1), x.cumsum(0, { exclusive: true, reverse: true })], [{ dtype: 'f32', shape: [2, 3] }]);
  t.deepEqual(g.nodes.filter((n) => n.op === 'cumsum').map((n) => [n.attrs.axis, n.attrs.exclusive, n.attrs.reverse]), [[-1, false, false], [0, true, true]]);
  const y = interpret(g, { x: hostTensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]) });
  t.deepEqual([...y[0]!.data], [1, 3, 6, 4, 9, 15]);
  t.deepEqual([...y[1]!.data], [4, 5, 6, 0, 0, 0]);
});

// ---------------------------------------------------------------- ONNX

/** y = CumSum(x [2, 3, 4], axis) with the axis an int64 (or int32) initializer, or a graph input when `axis` is undefined. */
function cumsumModel(opset: number, axis: number | undefined, attrs: Record<string, number>, axisType: 'int64' | 'int32' = 'int64'): Uint8Array {
  const node: OnnxNodeSpec = {
    op: 'CumSum', inputs: ['x', 'axis'], outputs: ['y'],
    attributes: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, attr.int(v)])),
  };
  return writeOnnx({
    name: 'cumsum', opset,
    inputs: [{ name: 'x', shape: [2, 3, 4] }, ...(axis === undefined ? [{ name: 'axis', type: 'int64' as const, shape: [] }] : [])],
    outputs: [{ name: 'y', shape: [2, 3, 4] }],
    initializers: axis === undefined ? [] : [{ name: 'axis', shape: [], values: axisType === 'int64' ? BigInt64Array.of(BigInt(axis)) : Int32Array.of(axis) }],
    nodes: [node],
  });
}

test('ONNX: CumSum (opsets 11 and 14) maps onto cumsum with its axis, exclusive and reverse', (t) => {
  const xs = [...Array(24).keys()].map((k) => k - 7);
  for (const opset of [11, 14]) {
    for (const axis of [0, 1, -1]) {
      for (const { exclusive, reverse } of COMBOS) {
        const what = `opset ${opset} axis ${axis} exclusive ${exclusive} reverse ${reverse}`;
        const r = importOnnx(cumsumModel(opset, axis, { exclusive: Number(exclusive), reverse: Number(reverse) }, opset === 11 ? 'int32' : 'int64'), { file: 'c.onnx' });
        const n = r.graph.nodes.filter((k) => k.op === 'cumsum');
        t.is(n.length, 1, what);
        t.deepEqual([n[0]!.attrs.axis, n[0]!.attrs.exclusive, n[0]!.attrs.reverse], [(axis + 3) % 3, exclusive, reverse], what);
        t.deepEqual([...interpret(r.graph, { x: hostTensor('f32', [2, 3, 4], xs) })[0]!.data], expected(xs, [2, 3, 4], axis, exclusive, reverse), what);
      }
    }
  }
});

test('ONNX: a CumSum axis not known at import is E0901; one out of range E0902', (t) => {
  const code = (f: () => unknown) => (t.throws(f) as unknown as { code: string }).code;
  t.is(code(() => importOnnx(cumsumModel(14, undefined, {}), { file: 'c.onnx' })), 'E0901');
  t.is(code(() => importOnnx(cumsumModel(14, 3, {}), { file: 'c.onnx' })), 'E0902');
});

// ---------------------------------------------------------------- adapter

const GPU_MODES: readonly Mode[] = ['f32', 'f16-packed'];
const CASES = [
  { xs: [37], axis: 0 },
  { xs: [5, 70], axis: -1 },
  { xs: [3, 9, 4], axis: 1 },
  { xs: [6, 2, 5], axis: -3 },
];

for (const mode of GPU_MODES) {
  modeTest(mode, 'cumsum on the adapter: ranks 1 to 3, negative axes, all four exclusive / reverse combinations', async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, [
      ...CASES.flatMap((c, k) => COMBOS.map(({ exclusive, reverse }) => ({
        what: `cumsum ${dtype}[${c.xs}] axis ${c.axis} exclusive ${exclusive} reverse ${reverse}`,
        scale: c.xs.at(c.axis)!,
        build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
          const x = input(g, inputs, `${prefix}x`, dtype, c.xs, seededValues(10 + k, numel(c.xs), -2, 2));
          return [g.add('cumsum', [x], { axis: c.axis, exclusive, reverse })];
        },
      }))),
      {
        what: 'cumsum i32 [4, 6] axis 1 (wrapping)',
        build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
          const x = input(g, inputs, `${prefix}x`, 'i32', [4, 6], seededValues(3, 24, -100, 100).map(Math.floor).map((v, k) => (k === 7 ? 2 ** 31 - 1 : v)));
          return [g.add('cumsum', [x], { axis: 1 }), g.add('cumsum', [x], { axis: 0, exclusive: true, reverse: true })];
        },
      },
    ]);
  });

  modeTest(mode, 'cumsum gradients on the adapter', async (t, ctx, dtype, f16Mode) => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype, shape: [3, 8, 4] }, { param: true });
    const ys = COMBOS.map(({ exclusive, reverse }, k) => g.add('cumsum', [x], { axis: k % 2 === 0 ? 1 : -1, exclusive, reverse }));
    const sq = ys.map((v) => g.add('reduce_sum', [g.add('mul', [v, v])], { axes: [0, 1, 2] }));
    g.setOutputs([sq.reduce((a, b) => g.add('add', [a, b]))]);
    await checkAgainstReference(t, ctx, gradientGraph(g), { x: hostTensor(dtype, [3, 8, 4], seededValues(1, 96)) }, f16Mode, { scale: 64 });
  });
}
