// Compress (opset 9, 11) with a condition known at import: the positions
// where the condition is true, taken along `axis` (or from the flattened
// input when there is no axis) by the IR's gather with those constant
// indices. Condition entries past the axis are discarded when false (a true
// one there is E0902). A run-time condition gives an output whose shape
// depends on its values: E0901.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { ct, gather, numel, reshaped } from '../fold.ts';
import type { ConstTensor } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { axisOf, val } from './types.ts';

/** The axis (undefined: the flattened input) and the kept positions along it. */
function kept(c: NodeCtx, shape: readonly number[], cond: ConstTensor): { axis: number | undefined; idx: number[] } {
  if (c.opset < 9) c.unsupported('Compress exists from opset 9');
  if (cond.shape.length !== 1) c.bad(`condition of rank ${cond.shape.length} (rank 1)`);
  const a = c.int('axis');
  const axis = a === undefined ? undefined : axisOf(c, a, shape.length);
  const dim = axis === undefined ? numel(shape) : shape[axis]!;
  const idx: number[] = [];
  cond.data.forEach((v, i) => {
    if (!v) return;
    if (i >= dim) c.bad(`condition is true at ${i}, past the ${dim} positions it selects from`);
    idx.push(i);
  });
  return { axis, idx };
}

function condition(c: NodeCtx): ConstTensor {
  const e = c.entry(1);
  if (e.kind !== 'const') c.unsupported('a run-time condition (the output\'s shape depends on its values; an initializer or Constant is mapped)');
  return e.t;
}

export const COMPRESS_OPS: Record<string, OpMapping> = {
  Compress: {
    map: (c) => {
      const x0 = c.value(0);
      const { axis, idx } = kept(c, x0.type.shape, condition(c));
      const x: Value = axis === undefined ? c.add('reshape', [x0], { shape: [numel(x0.type.shape)] }) : x0;
      if (idx.length === 0) c.unsupported('a condition that selects nothing (an empty output)');
      const indices = c.materialize(ct('int64', [idx.length], idx), `${c.name}_indices`);
      return val(c.add('gather', [x, indices], { axis: axis ?? 0 }));
    },
    fold: (c, [x, cond]) => {
      const { axis, idx } = kept(c, x!.shape, cond!);
      const flat = axis === undefined ? reshaped(x!, [numel(x!.shape)]) : x!;
      return [gather(flat, ct('int64', [idx.length], idx), axis ?? 0)];
    },
  },
};
