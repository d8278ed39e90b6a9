// Building graphs through the op table: inferred types, attribute defaults,
// and the errors a malformed node gets.
import test from 'ava';
import { Graph, AmpcError, printGraph, verifyGraph } from '../ir/index.ts';

test('mlp graph builds, verifies and prints in the design format', (t) => {
  const g = new Graph('mlp');
  const x = g.addInput('x', { dtype: 'f32', shape: [64, 784] });
  const w1 = g.addInput('w1', { dtype: 'f32', shape: [784, 256] }, { param: true });
  const b1 = g.addInput('b1', { dtype: 'f32', shape: [256] }, { param: true });
  const h = g.add('matmul', [x, w1]);
  const y = g.add('relu', [g.add('add', [h, b1])]);
  g.setOutputs([y]);
  verifyGraph(g);
  t.deepEqual(y.type, { dtype: 'f32', shape: [64, 256] });
  t.is(
    printGraph(g),
    [
      'graph @mlp(%x: f32[64,784], %w1: f32[784,256] {param}, %b1: f32[256] {param}) -> (f32[64,256]) {',
      '  %0 = matmul %x, %w1 {acc = f32} : f32[64,256]',
      '  %1 = add %0, %b1 : f32[64,256]',
      '  %2 = relu %1 : f32[64,256]',
      '  return %2',
      '}',
      '',
    ].join('\n'),
  );
});

test('matmul with mismatched inner dimensions reports E0201 at its place', (t) => {
  const g = new Graph('bad');
  const a = g.addInput('a', { dtype: 'f32', shape: [64, 784] });
  const b = g.addInput('b', { dtype: 'f32', shape: [256, 10] });
  const e = t.throws(() => g.add('matmul', [a, b], {}, { loc: { file: 'model.ir', line: 12, col: 7 } }), { instanceOf: AmpcError });
  t.is(e?.message, 'model.ir:12:7: error E0201: matmul: inner dimensions differ (784 vs 256)');
});
