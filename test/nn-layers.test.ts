// nn.Embedding, nn.Tanh, nn.Sigmoid and the normal initializer: lookups and
// their gradient (the scatter-add of the output gradient into the rows
// used) on the reference interpreter against host computations; errors at
// the user's line.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import { f32, i32, initialValues, nn, sum, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { seededValues } from './helpers/compare.ts';

const IDX = [3, 0, 3, 4, 1, 1, 0, 2];

test('nn.Embedding looks rows up, and its gradient adds the output gradient into the rows used', (t) => {
  const emb = new nn.Embedding(5, 3);
  const c = seededValues(51, 2 * 4 * 3);
  const traced = traceModule(emb, [i32([2, 4]), f32([2, 4, 3])], { call: (m, idx, w) => sum(m.forward(idx).mul(w)) });
  const weight = initialValues(traced.params[0]!, 9);
  const inputs = {
    weight: hostTensor('f32', [5, 3], weight),
    [traced.graph.inputs[0]!.name!]: hostTensor('i32', [2, 4], IDX),
    [traced.graph.inputs[1]!.name!]: hostTensor('f32', [2, 4, 3], c),
  };
  const [value, dw] = interpret(gradientGraph(traced.graph), inputs);
  let want = 0;
  const grad = new Array<number>(15).fill(0);
  IDX.forEach((row, i) => {
    for (let j = 0; j < 3; j++) {
      want += weight[row * 3 + j]! * c[i * 3 + j]!;
      grad[row * 3 + j]! += c[i * 3 + j]!;
    }
  });
  t.true(Math.abs(Number(value!.data[0]) - want) < 1e-9);
  [...dw!.data].forEach((v, i) => t.true(Math.abs(Number(v) - grad[i]!) < 1e-12, `dW[${i}]`));
  t.deepEqual(traced.graph.nodes.filter((n) => n.op === 'gather' || n.op === 'one_hot' || n.op === 'matmul').map((n) => n.op), ['gather']);
});

test('nn.Embedding: an index outside [0, num) (negative ones too) gives a zero vector', (t) => {
  const emb = new nn.Embedding(4, 2);
  const traced = traceModule(emb, [i32([5])]);
  const weight = initialValues(traced.params[0]!, 3);
  const [y] = interpret(traced.graph, { weight: hostTensor('f32', [4, 2], weight), [traced.graph.inputs[0]!.name!]: hostTensor('i32', [5], [-1, 4, 2, -4, 0]) });
  t.deepEqual([...y!.data], [0, 0, 0, 0, weight[4]!, weight[5]!, 0, 0, weight[0]!, weight[1]!]);
});

test('nn.Embedding weights start N(0, 1), deterministic in the seed', (t) => {
  const emb = new nn.Embedding(100, 100);
  const traced = traceModule(emb, [i32([1])]);
  const v = initialValues(traced.params[0]!, 1);
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
  t.true(Math.abs(mean) < 0.03 && Math.abs(std - 1) < 0.03, `mean ${mean}, std ${std}`);
  t.deepEqual([...initialValues(traced.params[0]!, 1)], [...v]);
  t.notDeepEqual([...initialValues(traced.params[0]!, 2)], [...v]);
});

test('nn.Tanh and nn.Sigmoid are their ops; f32 indices and bad sizes are refused at the user\'s line', (t) => {
  const g = traceModule(new nn.Sequential(new nn.Linear(4, 4), new nn.Tanh(), new nn.Sigmoid()), [f32([2, 4])]).graph;
  t.deepEqual(g.nodes.map((n) => n.op).filter((op) => op === 'tanh' || op === 'sigmoid'), ['tanh', 'sigmoid']);
  const emb = new nn.Embedding(5, 3);
  const e = t.throws(() => traceModule(emb, [f32([2])], { call: (m, x: Tensor) => m.forward(x) }), { instanceOf: AmpcError });
  t.is(e?.code, 'E0206');
  t.regex(e?.message ?? '', /nn-layers\.test\.ts:\d+:\d+: error E0206: nn\.Embedding: indices must be i32, got f32/);
  t.is(t.throws(() => new nn.Embedding(0, 3), { instanceOf: AmpcError })?.code, 'E0104');
});
