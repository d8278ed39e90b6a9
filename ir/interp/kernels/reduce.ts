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

/** The product in f64 (rounded once to the dtype; f32 products on the device round more often), integer products wrap; an empty one is 1. */
export const reduceProd: Kernel = ([x], a, [out]) => {
  const { outer, inner } = splitAxes(x!.shape, reducedAxes('reduce_prod', x!, a));
  const d = x!.dtype;
  const mul = d === 'i32' ? (p: number, v: number) => Math.imul(p, v) : d === 'u32' ? (p: number, v: number) => Math.imul(p, v) >>> 0 : (p: number, v: number) => p * v;
  const values = new Float64Array(outer.length);
  for (let o = 0; o < outer.length; o++) {
    const base = outer[o]!;
    let p = 1;
    for (let r = 0; r < inner.length; r++) p = mul(p, x!.data[base + inner[r]!]!);
    values[o] = p;
  }
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

/** argmax / argmin: the first (or, select_last_index, the last) extreme position; NaN is the extreme. */
function argKernel(better: (v: number, best: number) => boolean): Kernel {
  return ([x], a, [out]) => {
    const axis = normalizeAxes('argmax', [a.axis as number], x!.shape.length)[0]!;
    const { outer, inner } = splitAxes(x!.shape, [axis]);
    const last = a.select_last_index === true;
    const values = new Float64Array(outer.length);
    for (let o = 0; o < outer.length; o++) {
      const base = outer[o]!;
      let best = x!.data[base]!, at = 0;
      for (let r = 1; r < inner.length; r++) {
        const v = x!.data[base + inner[r]!]!;
        const take = last ? Number.isNaN(v) || (!Number.isNaN(best) && (v === best || better(v, best))) : !Number.isNaN(best) && (Number.isNaN(v) || better(v, best));
        if (take) { best = v; at = r; }
      }
      values[o] = at;
    }
    return [makeTensor(out!, values)];
  };
}
export const argmax = argKernel((v, best) => v > best);
export const argmin = argKernel((v, best) => v < best);
