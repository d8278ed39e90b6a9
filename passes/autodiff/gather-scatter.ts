// Vjp rules of gather and scatter_elements (indices get no gradient).
//
// gather: dx is the cotangent scatter-added into zeros of x's shape, written
// as a matmul with a one-hot matrix: with x seen as [outer, n, inner] and the
// cotangent as [outer, m, inner] (m = numel(indices)),
//   dx = one_hot(indices, n)ᵀ [n, m] · g [outer, m, inner]
// (a plain matmul when outer = 1, as for an embedding table). Exact and
// deterministic (no atomics: each element of dx sums its m terms in order);
// out-of-range indices get no gradient (their one-hot row is zero). Its cost,
// outer·n·m·inner multiply-adds, is that of the one_hot · weight form an
// embedding used before gather existed, and it runs as a register-blocked
// matmul (allow class under AMP), which beats a per-element loop over the
// indices (a scatter_elements add would do the same number of steps, with a
// compare and a branch each).
//
// scatter_elements:
// - add: dx = g; dupdates = gather_elements(g, indices) (0 where out of range);
// - none: dx = g with every element some in-range index writes zeroed
//   (scatter_elements of zeros into g); dupdates = gather_elements(g, indices)
//   masked to the updates that won: the winner of each element is found by
//   scattering the update positions along `axis` (iota) with `none` (the last
//   one wins there too) and comparing them with each update's own position;
// - mul, max, min: not differentiable (E0405 when the loss depends on x or
//   updates through them).

import { AmpcError } from '../../ir/errors.ts';
import type { Value } from '../../ir/graph.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import { numel } from '../../ir/types.ts';
import type { VjpRule } from './builder.ts';

export const gather: VjpRule = ({ b, g, x, attrs }) => {
  const [xv, idx] = x as [Value, Value];
  const xs = xv.type.shape;
  const axis = normalizeAxis('gather', attrs.axis as number, xs.length);
  const n = xs[axis]!, m = numel(idx.type.shape);
  if (m === 0 || n === 0) return [b.zerosLike(xv), undefined];
  const outer = numel(xs.slice(0, axis)), inner = numel(xs.slice(axis + 1));
  const d = g.type.dtype;
  const flat = b.reshape(idx, [m]);
  const wrapped = b.op('select', [b.op('less', [flat, b.constant(0, 'i32')]), b.op('add', [flat, b.constant(n, 'i32')]), flat]);
  const onehot = b.op('one_hot', [wrapped], { classes: n, dtype: d });
  const gm = b.reshape(g, outer === 1 ? [m, inner] : [outer, m, inner]);
  const dx = b.op('matmul', [onehot, gm], { transpose_a: true });
  return [b.reshape(dx, xs), undefined];
};

export const scatterElements: VjpRule = ({ b, g, x, attrs, needs, node }) => {
  const [xv, idx, upd] = x as [Value, Value, Value];
  const reduction = attrs.reduction as string;
  const axis = normalizeAxis('scatter_elements', attrs.axis as number, xv.type.shape.length);
  const picked = () => b.op('gather_elements', [g, idx], { axis });
  if (reduction === 'add') return [needs[0] ? g : undefined, undefined, needs[2] ? picked() : undefined];
  if (reduction !== 'none') {
    throw new AmpcError('E0405', `autodiff: scatter_elements with reduction '${reduction}' is not differentiable (only 'none' and 'add' are), but the loss depends on its data or updates`, node.loc);
  }
  const dx = needs[0] ? b.op('scatter_elements', [g, idx, b.zerosLike(upd)], { axis, reduction: 'none' }) : undefined;
  let du: Value | undefined;
  if (needs[2]) {
    const us = upd.type.shape;
    const position = b.op('iota', [], { shape: [...us], axis, dtype: 'i32' });
    const winner = b.op('scatter_elements', [b.constant(-1, 'i32', xv.type.shape), idx, position], { axis, reduction: 'none' });
    const won = b.op('equal', [b.op('gather_elements', [winner, idx], { axis }), position]);
    du = b.mul(picked(), b.maskAs(won, g.type.dtype));
  }
  return [dx, undefined, du];
};
