// Vjp rules of the losses and the shape ops.
// cross_entropy: dlogits = (softmax(logits) - one_hot(labels)) · g, with g
// divided by N for the mean, per row for reduction none; labels get nothing.
// mse_loss: da = 2 (a - b) · g (/ numel for the mean), db = -da.
// Shape ops move the cotangent back: reshape to the operand's shape, the
// inverse permutation, a sum over broadcast axes, zero padding for slice
// (a concat of zero constants along each sliced axis), slices for concat.

import type { Value } from '../../ir/graph.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import { numel } from '../../ir/types.ts';
import type { GradBuilder, VjpRule } from './builder.ts';

/** The incoming cotangent of a loss, scaled for its reduction and shaped to broadcast over `rank` dims. */
function lossScale(b: GradBuilder, g: Value, reduction: string, count: number, rank: number): Value {
  if (reduction === 'none') return b.reshape(g, [...g.type.shape, ...new Array<number>(rank - g.type.shape.length).fill(1)]);
  return reduction === 'mean' ? b.scale(g, 1 / count) : g;
}

export const crossEntropy: VjpRule = ({ b, g, x, attrs }) => {
  const [logits, labels] = x as [Value, Value];
  const [n, c] = logits.type.shape as [number, number];
  const p = b.op('softmax', [logits], { axis: 1 });
  const onehot = b.op('one_hot', [labels], { classes: c, dtype: logits.type.dtype });
  return [b.mul(b.sub(p, onehot), lossScale(b, g, attrs.reduction as string, n, 2)), undefined];
};

export const mseLoss: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [a, t] = x as [Value, Value];
  const s = lossScale(b, g, attrs.reduction as string, numel(a.type.shape), a.type.shape.length);
  const da = b.mul(b.sub(a, t), b.scale(s, 2));
  return [needs[0] ? da : undefined, needs[1] ? b.neg(da) : undefined];
};

export const reshape: VjpRule = ({ b, g, x }) => [b.reshape(g, x[0]!.type.shape)];

export const transpose: VjpRule = ({ b, g, attrs }) => {
  const perm = attrs.perm as number[];
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [inverse.every((p, i) => p === i) ? g : b.op('transpose', [g], { perm: inverse })];
};

export const broadcastTo: VjpRule = ({ b, g, x }) => [b.sumTo(g, x[0]!.type.shape)];

/** The cotangent padded with zeros back to the operand's shape, one axis at a time. */
export const slice: VjpRule = ({ b, g, x, attrs }) => {
  const xs = x[0]!.type.shape;
  if (numel(g.type.shape) === 0) return [b.zerosLike(x[0]!)];
  const starts = attrs.starts as number[], ends = attrs.ends as number[];
  let cur = g;
  for (let axis = 0; axis < xs.length; axis++) {
    const before = starts[axis]!, after = xs[axis]! - ends[axis]!;
    if (before === 0 && after === 0) continue;
    const zeros = (extent: number) => {
      const shape = [...cur.type.shape];
      shape[axis] = extent;
      return b.constant(0, g.type.dtype, shape);
    };
    const parts = [...(before > 0 ? [zeros(before)] : []), cur, ...(after > 0 ? [zeros(after)] : [])];
    cur = b.op('concat', parts, { axis });
  }
  return [cur];
};

/** Operand i gets the slice of the cotangent it was concatenated at. */
export const concat: VjpRule = ({ b, g, x, attrs, needs }) => {
  const shape = g.type.shape;
  const axis = normalizeAxis('concat', attrs.axis as number, shape.length);
  let offset = 0;
  return x.map((v, i) => {
    const extent = v.type.shape[axis]!;
    const start = offset;
    offset += extent;
    if (!needs[i]) return undefined;
    if (extent === shape[axis]) return g;
    const starts = shape.map((_, k) => (k === axis ? start : 0));
    const ends = shape.map((d, k) => (k === axis ? start + extent : d));
    return b.op('slice', [g], { starts, ends });
  });
};

/**
 * gather_elements: the cotangent scatter-added into zeros of x's shape, as a sum of one-hot masks
 * (exact: every element of g lands where its index points, summed in index order): one_hot(index) · g
 * summed over the gathered axis, that axis moved back in place, zeros appended on the axes where the
 * indices are shorter than x. Out-of-range indices get no gradient (their one-hot row is zero).
 */
export const gatherElements: VjpRule = ({ b, g, x, attrs }) => {
  const [xv, idx] = x as [Value, Value];
  const xs = xv.type.shape, is = idx.type.shape;
  const r = xs.length;
  const axis = normalizeAxis('gather_elements', attrs.axis as number, r);
  const n = xs[axis]!;
  if (numel(is) === 0 || n === 0) return [b.zerosLike(xv), undefined];
  const d = g.type.dtype;
  const wrapped = b.op('select', [b.op('less', [idx, b.constant(0, 'i32')]), b.op('add', [idx, b.constant(n, 'i32')]), idx]);
  const masks = b.op('one_hot', [wrapped], { classes: n, dtype: d });
  const spread = b.mul(masks, b.reshape(g, [...is, 1]));
  const summed = b.sum(spread, [axis]);
  // summed: is without `axis`, then n; move the last axis to `axis`.
  const perm = [...Array(r).keys()].map((k) => (k < axis ? k : k === axis ? r - 1 : k - 1));
  let cur = perm.every((p, k) => p === k) ? summed : b.op('transpose', [summed], { perm });
  for (let k = 0; k < r; k++) {
    const missing = xs[k]! - cur.type.shape[k]!;
    if (missing === 0) continue;
    const shape = [...cur.type.shape];
    shape[k] = missing;
    cur = b.op('concat', [cur, b.constant(0, d, shape)], { axis: k });
  }
  return [cur, undefined];
};
