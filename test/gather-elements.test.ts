// gather_elements (ONNX GatherElements, torch.gather): the reference on
// ONNX's own examples, negative and out-of-range indices, type errors, the
// gradient (a scatter-add, checked against an explicit one), and the adapter
// against the reference in every f16 mode.

import test from 'ava';
import { Graph } from '../ir/graph.ts';
import { isAmpcError } from '../ir/errors.ts';
import { evalOp } from '../ir/interp/interpret.ts';
import { fromNested, hostTensor, toNested } from '../ir/interp/tensor.ts';
import type { Nested } from '../ir/interp/tensor.ts';
import { interpret } from '../ir/interp/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { MODES, seededValues } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const gather = (x: Nested, idx: Nested, axis: number) => toNested(evalOp('gather_elements', [fromNested('f32', x), fromNested('i32', idx)], { axis })[0]!);

test('ONNX examples: axis 0 and 1, negative indices', (t) => {
  t.deepEqual(gather([[1, 2], [3, 4]], [[0, 0], [1, 0]], 1), [[1, 1], [4, 3]]);
  t.deepEqual(gather([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 2, 0], [2, 0, 0]], 0), [[4, 8, 3], [7, 2, 3]]);
  t.deepEqual(gather([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[-1, -2, 0], [-2, 0, 0]], 0), [[7, 5, 3], [4, 2, 3]]);
  // Indices smaller than the data on the other axis; axis -1.
  t.deepEqual(gather([[1, 2, 3], [4, 5, 6]], [[2], [0]], -1), [[3], [4]]);
});

test('an index outside [-n, n) gives 0; integer data', (t) => {
  t.deepEqual(gather([[1, 2], [3, 4]], [[2, -3], [1, -2]], 1), [[0, 0], [4, 3]]);
  t.deepEqual(toNested(evalOp('gather_elements', [fromNested('i32', [5, 6, 7]), fromNested('i32', [2, 2, -3])], {})[0]!), [7, 7, 5]);
});

test('shape and type errors', (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
  const bad = (idx: { dtype: 'i32' | 'f32'; shape: number[] }, code: string, re: RegExp, axis = 0) => {
    const i = g.addInput(`i${g.inputs.length}`, idx);
    const e = t.throws(() => g.add('gather_elements', [x, i], { axis }));
    t.true(isAmpcError(e));
    t.is((e as unknown as { code: string }).code, code);
    t.regex(e!.message, re);
  };
  bad({ dtype: 'f32', shape: [2, 3] }, 'E0206', /indices must be i32/);
  bad({ dtype: 'i32', shape: [6] }, 'E0203', /rank of the data/);
  bad({ dtype: 'i32', shape: [2, 4] }, 'E0201', /exceed the data/);
  t.deepEqual(g.add('gather_elements', [x, g.addInput('ok', { dtype: 'i32', shape: [5, 2] })], { axis: 0 }).type.shape, [5, 2]);
});

test('the gradient scatter-adds the cotangent into zeros (repeated and out-of-range indices)', (t) => {
  for (const axis of [0, 1]) {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [3, 4] }, { param: true });
    const idx = g.addInput('idx', { dtype: 'i32', shape: [2, 3] });
    const w = g.addInput('w', { dtype: 'f32', shape: [2, 3] });
    const y = g.add('gather_elements', [x, idx], { axis });
    g.setOutputs([g.add('reduce_sum', [g.add('mul', [y, w])], { axes: [0, 1] })]);
    const gg = gradientGraph(g);
    const idxv = axis === 0 ? [0, 2, -1, 0, 0, 5] : [3, 3, -4, 1, -1, 4];
    const wv = [1, 2, 3, 4, 5, 6];
    const xv = seededValues(1, 12, -1, 1);
    const res = interpret(gg, { x: hostTensor('f32', [3, 4], xv), idx: hostTensor('i32', [2, 3], idxv), w: hostTensor('f32', [2, 3], wv) });
    const want = new Array(12).fill(0);
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 3; c++) {
        let j = idxv[r * 3 + c]!;
        const n = axis === 0 ? 3 : 4;
        if (j < 0) j += n;
        if (j < 0 || j >= n) continue;
        want[axis === 0 ? j * 4 + c : r * 4 + j] += wv[r * 3 + c]!;
      }
    }
    t.deepEqual([...res[1]!.data], want, `axis ${axis}`);
  }
});

for (const mode of MODES) {
  modeTest(mode, 'gather_elements on the adapter: axes, negative and out-of-range indices, smaller indices', async (t, ctx, dtype, f16Mode) => {
    const cases: { xs: number[]; is: number[]; axis: number }[] = [
      { xs: [7], is: [12], axis: 0 },
      { xs: [3, 5], is: [3, 5], axis: 1 },
      { xs: [4, 6], is: [9, 2], axis: 0 },
      { xs: [2, 3, 33], is: [2, 2, 40], axis: -1 },
      { xs: [5, 4, 3], is: [3, 7, 2], axis: 1 },
    ];
    await checkPieces(t, ctx, f16Mode, cases.map((c, k) => ({
      what: `gather_elements ${dtype}[${c.xs}] by [${c.is}] axis ${c.axis}`,
      build: (g, prefix, inputs) => {
        const nx = c.xs.reduce((p, d) => p * d, 1), ni = c.is.reduce((p, d) => p * d, 1);
        const n = c.xs[(c.axis + c.xs.length) % c.xs.length]!;
        const x = input(g, inputs, `${prefix}x`, dtype, c.xs, seededValues(10 + k, nx, -4, 4));
        const idx = input(g, inputs, `${prefix}i`, 'i32', c.is, seededValues(20 + k, ni, -n - 1.99, n + 1).map(Math.floor));
        return [g.add('gather_elements', [x, idx], { axis: c.axis })];
      },
    })));
  });
}
