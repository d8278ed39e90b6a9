// argmax / argmin: the reference (axes, keepdims, ties first or last, NaN),
// type rules, no gradient, and the adapter against the reference in every
// f16 mode (ties and NaN included).

import test from 'ava';
import { Graph } from '../ir/graph.ts';
import { isAmpcError } from '../ir/errors.ts';
import { evalOp } from '../ir/interp/interpret.ts';
import { fromNested, toNested } from '../ir/interp/tensor.ts';
import type { Nested } from '../ir/interp/tensor.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { MODES, seededValues } from './helpers/compare.ts';
import { gpuTest, modeTest } from './helpers/gpu.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const arg = (op: 'argmax' | 'argmin', x: Nested, attrs: Record<string, number | boolean>, dtype: 'f32' | 'i32' = 'f32') =>
  toNested(evalOp(op, [fromNested(dtype, x)], attrs)[0]!);

test('argmax / argmin along an axis, keepdims, negative axis; i32 results', (t) => {
  const x = [[2, 1], [3, 10], [-1, 10]];
  t.deepEqual(arg('argmax', x, { axis: 0 }), [1, 1]);
  t.deepEqual(arg('argmax', x, { axis: 1, keepdims: true }), [[0], [1], [1]]);
  t.deepEqual(arg('argmin', x, { axis: -1 }), [1, 0, 0]);
  t.deepEqual(arg('argmin', x, { axis: 0, keepdims: true }), [[2, 0]]);
  t.is(evalOp('argmax', [fromNested('f32', x)], { axis: 0 })[0]!.dtype, 'i32');
  t.deepEqual(arg('argmax', [[-5, 7, 7]], { axis: 1 }, 'i32'), [1]);
});

test('ties: the first position, or the last with select_last_index; NaN is the extreme', (t) => {
  t.deepEqual(arg('argmax', [[2, 2], [3, 10], [3, 10]], { axis: 0 }), [1, 1]);
  t.deepEqual(arg('argmax', [[2, 2], [3, 10], [3, 10]], { axis: 0, select_last_index: true }), [2, 2]);
  t.deepEqual(arg('argmin', [1, 0, 5, 0], { axis: 0, select_last_index: true }), 3);
  t.deepEqual(arg('argmax', [1, NaN, 5, NaN], { axis: 0 }), 1);
  t.deepEqual(arg('argmax', [1, NaN, 5, NaN, 2], { axis: 0, select_last_index: true }), 3);
  t.deepEqual(arg('argmin', [NaN, -1], { axis: 0 }), 0);
});

test("type rules: an empty axis is E0201; argmax's i32 result carries no gradient", (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [3, 0] });
  const e = t.throws(() => g.add('argmax', [x], { axis: 1 }));
  t.true(isAmpcError(e));
  t.regex(e!.message, /E0201/);
  t.deepEqual(g.add('argmax', [x], { axis: 0 }).type, { dtype: 'i32', shape: [0] });
  const h = new Graph('h');
  const p = h.addInput('p', { dtype: 'f32', shape: [4] }, { param: true });
  const at = h.add('cast', [h.add('argmax', [p], { keepdims: true })], { to: 'f32' });
  h.setOutputs([h.add('reduce_sum', [h.add('mul', [p, at])], { axes: [0] })]);
  t.notThrows(() => gradientGraph(h)); // the i32 result carries no gradient; p's other path does
});

for (const mode of MODES) {
  modeTest(mode, 'argmax / argmin on the adapter: axes, keepdims, ties first and last, NaN', async (t, ctx, dtype, f16Mode) => {
    const cases: { shape: number[]; axis: number; keepdims?: boolean }[] = [
      { shape: [7], axis: 0 }, { shape: [3, 33], axis: 1, keepdims: true }, { shape: [4, 5, 6], axis: -2 }, { shape: [257, 3], axis: 0 },
    ];
    await checkPieces(t, ctx, f16Mode, cases.flatMap((c, k) => {
      const n = c.shape.reduce((p, d) => p * d, 1);
      // Values from a small set: many ties; a few NaN.
      const xs = seededValues(50 + k, n, 0, 5).map((v, i) => (i % 17 === 5 ? NaN : Math.floor(v) - 2));
      return (['argmax', 'argmin'] as const).flatMap((op) => [false, true].map((last) => ({
        what: `${op} ${dtype}[${c.shape}] axis ${c.axis}${last ? ' last' : ''}`,
        build: (g: Graph, prefix: string, inputs: Parameters<typeof input>[1]) => {
          const x = input(g, inputs, `${prefix}x`, dtype, c.shape, xs);
          return [g.add(op, [x], { axis: c.axis, keepdims: c.keepdims ?? false, select_last_index: last })];
        },
      })));
    }));
  });
}

gpuTest('argmax / argmin of i32', async (t, ctx) => {
  await checkPieces(t, ctx, 'native', (['argmax', 'argmin'] as const).map((op) => ({
    what: op,
    build: (g, prefix, inputs) => [g.add(op, [input(g, inputs, `${prefix}x`, 'i32', [6, 9], seededValues(3, 54, -4, 4).map(Math.floor))], { axis: 1 })],
  })));
});
