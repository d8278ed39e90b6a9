// ONNX reductions. Axes come from the `axes` attribute before the opset that
// made them an input (ReduceSum: 13, the others: 18); keepdims defaults to 1;
// no axes means all axes unless noop_with_empty_axes. ReduceSum, ReduceMean,
// ReduceMax, ReduceProd map to the IR's reductions; the rest are exact compositions
// (ReduceMin = -max(-x), ReduceL1 = sum |x|, ReduceL2 = sqrt(sum x²),
// ReduceSumSquare, ReduceLogSum = log(sum), ReduceLogSumExp = log(sum exp)).
// ArgMax / ArgMin (axis, keepdims, select_last_index) map to argmax / argmin.
// CumSum (opsets 11, 14: the same semantics, 14 adds element types) maps to
// cumsum with its exclusive / reverse attributes; its axis is an input that
// must be known at import time (E0901 otherwise): a scalar or one element.

import type { Value } from '../../../ir/graph.ts';
import type { OpName } from '../../../ir/ops.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { axisOf, rankOf, val } from './types.ts';

/** The axes to reduce, or undefined for "no reduction" (noop_with_empty_axes). */
function reduceAxes(c: NodeCtx, x: Value, inputFrom: number): number[] | undefined {
  const r = rankOf(x);
  let axes: number[] | undefined;
  if (c.opset >= inputFrom) axes = c.has(1) ? c.ints(1, 'axes') : undefined;
  else axes = c.intList('axes');
  const noop = c.int('noop_with_empty_axes', 0) === 1;
  if (!axes || axes.length === 0) return noop ? undefined : x.type.shape.map((_, i) => i);
  return [...new Set(axes.map((a) => axisOf(c, a, r, 'axis')))].sort((p, q) => p - q);
}

type Pre = (c: NodeCtx, x: Value) => Value;
type Post = (c: NodeCtx, y: Value) => Value;

function reduce(op: OpName, inputFrom: number, pre?: Pre, post?: Post): OpMapping {
  return {
    map: (c) => {
      const x = c.value(0);
      const axes = reduceAxes(c, x, inputFrom);
      const keepdims = c.int('keepdims', 1) === 1;
      if (!axes) return val(x);
      const src = pre ? pre(c, x) : x;
      if (rankOf(x) === 0) return val(post ? post(c, src) : src);
      const y = c.add(op, [src], { axes, keepdims });
      return val(post ? post(c, y) : y);
    },
  };
}

const square: Pre = (c, x) => c.add('mul', [x, x]);

function argReduce(op: 'argmax' | 'argmin'): OpMapping {
  return {
    map: (c) => {
      const x = c.value(0);
      const axis = axisOf(c, c.int('axis', 0), rankOf(x));
      return val(c.add(op, [x], { axis, keepdims: c.int('keepdims', 1) === 1, select_last_index: c.int('select_last_index', 0) === 1 }));
    },
  };
}

function cumsum(c: NodeCtx): Entry[] {
  const x = c.value(0);
  const axes = c.ints(1, 'axis');
  if (axes.length !== 1) c.bad(`axis must hold one value, got ${axes.length}`);
  const axis = axisOf(c, axes[0]!, rankOf(x));
  const exclusive = c.int('exclusive', 0) === 1, reverse = c.int('reverse', 0) === 1;
  return val(c.add('cumsum', [x], { axis, exclusive, reverse }));
}

export const REDUCE_OPS: Record<string, OpMapping> = {
  ArgMax: argReduce('argmax'),
  ArgMin: argReduce('argmin'),
  CumSum: { map: cumsum },
  ReduceSum: reduce('reduce_sum', 13),
  ReduceMean: reduce('reduce_mean', 18),
  ReduceMax: reduce('reduce_max', 18),
  ReduceProd: reduce('reduce_prod', 18),
  ReduceMin: reduce('reduce_max', 18, (c, x) => c.add('neg', [x]), (c, y) => c.add('neg', [y])),
  ReduceL1: reduce('reduce_sum', 18, (c, x) => c.add('abs', [x])),
  ReduceL2: reduce('reduce_sum', 18, square, (c, y) => c.add('sqrt', [y])),
  ReduceSumSquare: reduce('reduce_sum', 18, square),
  ReduceLogSum: reduce('reduce_sum', 18, undefined, (c, y) => c.add('log', [y])),
  ReduceLogSumExp: reduce('reduce_sum', 18, (c, x) => c.add('exp', [x]), (c, y) => c.add('log', [y])),
};
