// Reference rule of cumsum (ONNX CumSum): the running sum along `axis`,
// inclusive or exclusive, forward or reversed. Floats (f16 too) accumulate in
// f64 here, in order along the axis, and are rounded to the dtype once, when
// stored (the device accumulates in f32); integers wrap in their own type.

import { normalizeAxis } from '../../shape-rules.ts';
import { numel } from '../../types.ts';
import type { Kernel } from './elementwise.ts';
import { accumulator, makeTensor } from './util.ts';

/** y[o, j, i] = sum of x[o, k, i] over k before j along the axis (k <= j; k < j when exclusive; mirrored when reverse). */
export const cumsum: Kernel = ([x], a, [out]) => {
  const xs = x!.shape;
  const axis = normalizeAxis('cumsum', a.axis as number, xs.length);
  const n = xs[axis]!;
  const outer = numel(xs.slice(0, axis)), inner = numel(xs.slice(axis + 1));
  const exclusive = a.exclusive === true, reverse = a.reverse === true;
  const add = accumulator(x!.dtype, 'f32');
  const values = new Float64Array(numel(xs));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let t = 0; t < n; t++) {
        const off = (o * n + (reverse ? n - 1 - t : t)) * inner + i;
        if (exclusive) { values[off] = s; s = add(s, x!.data[off]!); } else { s = add(s, x!.data[off]!); values[off] = s; }
      }
    }
  }
  return [makeTensor(out!, values)];
};
