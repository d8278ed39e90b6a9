// Shape ops on the real adapter against the reference: transpose,
// broadcast_to, slice, concat, one_hot, and reshape (a view, or a copy when
// it is a graph output), in f32, f16 and packed f16, with odd shapes.

import { Graph } from '../ir/graph.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { lowerGraph } from '../compiler/lower.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, seededValues, needsShaderF16 } from './helpers/compare.ts';
import type { Mode } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';
import test from 'ava';

const modeTest = (mode: Mode) => (needsShaderF16(mode) ? gpuF16Test : gpuTest);
const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

for (const mode of MODES) {
  const dt = dtypeOf(mode);
  const f16Mode = f16ModeOf(mode);

  modeTest(mode)(`transpose ${mode}`, async (t, ctx) => {
    for (const [shape, perm] of [[[3, 5], [1, 0]], [[2, 3, 7], [2, 0, 1]], [[2, 1, 3, 5], [3, 1, 0, 2]], [[9], [0]]] as [number[], number[]][]) {
      const g = new Graph('t');
      const x = g.addInput('x', { dtype: dt, shape });
      g.setOutputs([g.add('transpose', [x], { perm })]);
      await checkAgainstReference(t, ctx, g, { x: hostTensor(dt, shape, seededValues(1, count(shape))) }, f16Mode);
    }
  });

  modeTest(mode)(`broadcast_to ${mode}`, async (t, ctx) => {
    for (const [from, to] of [[[3], [4, 3]], [[2, 1], [2, 5]], [[1, 3, 1], [2, 3, 7]], [[], [3, 3]]] as [number[], number[]][]) {
      const g = new Graph('t');
      const x = g.addInput('x', { dtype: dt, shape: from });
      g.setOutputs([g.add('broadcast_to', [x], { shape: to })]);
      await checkAgainstReference(t, ctx, g, { x: hostTensor(dt, from, seededValues(2, count(from))) }, f16Mode);
    }
  });

  modeTest(mode)(`slice ${mode}`, async (t, ctx) => {
    for (const [shape, starts, ends] of [[[10], [3], [8]], [[5, 7], [1, 2], [4, 7]], [[3, 4, 5], [0, 1, 2], [3, 2, 3]], [[4, 4], [2, 2], [2, 2]]] as [number[], number[], number[]][]) {
      const g = new Graph('t');
      const x = g.addInput('x', { dtype: dt, shape });
      g.setOutputs([g.add('slice', [x], { starts, ends })]);
      await checkAgainstReference(t, ctx, g, { x: hostTensor(dt, shape, seededValues(3, count(shape))) }, f16Mode);
    }
  });

  modeTest(mode)(`concat ${mode}`, async (t, ctx) => {
    for (const [shapes, axis] of [[[[2, 3], [5, 3]], 0], [[[2, 3], [2, 1], [2, 4]], 1], [[[3, 2, 5], [3, 2, 5]], -1], [[[7]], 0]] as [number[][], number][]) {
      const g = new Graph('t');
      const xs = shapes.map((s, k) => g.addInput(`x${k}`, { dtype: dt, shape: s }));
      g.setOutputs([g.add('concat', xs, { axis })]);
      const inputs = Object.fromEntries(shapes.map((s, k) => [`x${k}`, hostTensor(dt, s, seededValues(10 + k, count(s)))]));
      await checkAgainstReference(t, ctx, g, inputs, f16Mode);
    }
  });

  modeTest(mode)(`one_hot and reshape ${mode}`, async (t, ctx) => {
    const g = new Graph('t');
    const labels = g.addInput('labels', { dtype: 'i32', shape: [7] });
    const x = g.addInput('x', { dtype: dt, shape: [2, 3, 5] });
    const oh = g.add('one_hot', [labels], { classes: 5, dtype: dt });
    const viewed = g.add('reshape', [x], { shape: [6, 5] });
    const summed = g.add('add', [viewed, g.add('slice', [oh], { starts: [0, 0], ends: [6, 5] })]);
    g.setOutputs([oh, summed, g.add('reshape', [summed], { shape: [30] })]);
    await checkAgainstReference(t, ctx, g, { labels: hostTensor('i32', [7], [0, 4, 2, 9, -1, 3, 3]), x: hostTensor(dt, [2, 3, 5], seededValues(4, 30)) }, f16Mode);
  });
}

test('reshape lowers to a view unless it is a graph output', (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
  const r = g.add('reshape', [x], { shape: [3, 2] });
  const y = g.add('relu', [r]);
  g.setOutputs([y, g.add('reshape', [y], { shape: [6] })]);
  const plan = lowerGraph(g, { f16Mode: 'native' });
  // relu and the output reshape's copy: the inner reshape emits nothing.
  t.is(plan.dispatches.length, 2);
  t.is(plan.dispatches[0]!.bindings[0], plan.inputs[0]!.buffer);
});
