// Reductions over a list of axes (negative allowed) with keepdims. Sums
// accumulate in row-major order over the reduced axes, as the `acc`
// attribute says (f16: the running sum is rounded after every addition);
// integer sums wrap.

import type { Attrs } from '../../attrs.ts';
import type { DType } from '../../dtype.ts';
import { normalizeAxes } from '../../shape-rules.ts';
import type { HostTensor } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';
import { accumulator, makeTensor, splitAxes } from './util.ts';

function reducedAxes(op: string, x: HostTensor, a: Attrs): number[] {
  return normalizeAxes(op, a.axes as number[], x.shape.length);
}

/** Sum over the reduced positions of each kept position, in f64 or as the accumulator says. */
function sums(x: HostTensor, axes: number[], acc: DType): { values: Float64Array; count: number } {
  const { outer, inner } = splitAxes(x.shape, axes);
  const add = accumulator(x.dtype, acc);
  const values = new Float64Array(outer.length);
  for (let o = 0; o < outer.length; o++) {
    const base = outer[o]!;
    let s = 0;
    for (let r = 0; r < inner.length; r++) s = add(s, x.data[base + inner[r]!]!);
    values[o] = s;
  }
  return { values, count: inner.length };
}

export const reduceSum: Kernel = ([x], a, [out]) => {
  const { values } = sums(x!, reducedAxes('reduce_sum', x!, a), a.acc as DType);
  return [makeTensor(out!, values)];
};

/** The sum (accumulated as `acc` says) divided by the count, in f64; an empty reduction is NaN. */
export const reduceMean: Kernel = ([x], a, [out]) => {
  const { values, count } = sums(x!, reducedAxes('reduce_mean', x!, a), a.acc as DType);
  for (let i = 0; i < values.length; i++) values[i] = values[i]! / count;
  return [makeTensor(out!, values)];
};

/** NaN propagates; an empty reduction gives -inf (stored as the dtype's lowest value for integers). */
export const reduceMax: Kernel = ([x], a, [out]) => {
  const { outer, inner } = splitAxes(x!.shape, reducedAxes('reduce_max', x!, a));
  const values = new Float64Array(outer.length);
  for (let o = 0; o < outer.length; o++) {
    const base = outer[o]!;
    let m = -Infinity;
    for (let r = 0; r < inner.length; r++) {
      const v = x!.data[base + inner[r]!]!;
      if (v > m || Number.isNaN(v)) m = v;
      if (Number.isNaN(m)) break;
    }
    values[o] = m;
  }
  return [makeTensor(out!, values)];
};
