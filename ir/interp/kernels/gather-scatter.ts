// Reference rules of gather (ONNX Gather, numpy take) and scatter_elements
// (ONNX ScatterElements). Indices are i32; a negative one counts from the end
// (once); one still outside [0, n) reads 0 (gather) or is dropped (scatter),
// as gather_elements does. scatter_elements applies the updates that meet on
// one element in row-major order of the updates (increasing position along
// `axis`): for `none` the last one wins; add / mul / max / min combine them
// one at a time, rounding to the dtype after every step (f16 results are
// f16's at every step, as the WGSL kernels compute them).

import type { DType } from '../../dtype.ts';
import { normalizeAxis } from '../../shape-rules.ts';
import { numel, stridesOf } from '../../types.ts';
import { allocData, storeAs } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';

/** y[a, j, b] = x[a, indices[j], b]: `a` the axes before `axis`, `b` those after. */
export const gather: Kernel = ([x, idx], a, [out]) => {
  const xs = x!.shape;
  const axis = normalizeAxis('gather', a.axis as number, xs.length);
  const n = xs[axis]!;
  const outer = numel(xs.slice(0, axis)), inner = numel(xs.slice(axis + 1));
  const m = idx!.data.length;
  const data = allocData(out!.dtype, numel(out!.shape));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      let k = idx!.data[j]!;
      if (k < 0) k += n;
      if (k < 0 || k >= n) continue;
      const src = (o * n + k) * inner, dst = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) data[dst + i] = x!.data[src + i]!;
    }
  }
  return [{ dtype: out!.dtype, shape: [...out!.shape], data }];
};

type Combine = (old: number, u: number) => number;

/** How a reduction combines the current value with an update, per dtype (integers wrap as in WGSL). */
export function scatterCombine(reduction: string, dtype: DType): Combine {
  const wrap = dtype === 'i32' ? (v: number) => v | 0 : dtype === 'u32' ? (v: number) => v >>> 0 : undefined;
  switch (reduction) {
    case 'add': return wrap ? (p, u) => wrap(p + u) : (p, u) => p + u;
    case 'mul': return wrap ? (p, u) => wrap(Math.imul(p, u)) : (p, u) => p * u;
    // NaN propagates (numpy maximum / minimum).
    case 'max': return Math.max;
    case 'min': return Math.min;
    default: return (_p, u) => u;
  }
}

/** out = x, then out[c with c[axis] = indices[c]] (reduction)= updates[c] for every c, in row-major order. */
export const scatterElements: Kernel = ([x, idx, upd], a, [out]) => {
  const xs = x!.shape, is = idx!.shape;
  const axis = normalizeAxis('scatter_elements', a.axis as number, xs.length);
  const n = xs[axis]!;
  const d = out!.dtype;
  const combine = scatterCombine(a.reduction as string, d);
  const xStrides = stridesOf(xs), iStrides = stridesOf(is);
  const data = allocData(d, numel(xs));
  data.set(x!.data);
  for (let p = 0; p < idx!.data.length; p++) {
    let j = idx!.data[p]!;
    if (j < 0) j += n;
    if (j < 0 || j >= n) continue;
    let off = 0;
    for (let k = 0; k < is.length; k++) {
      const c = Math.floor(p / iStrides[k]!) % is[k]!;
      off += (k === axis ? j : c) * xStrides[k]!;
    }
    data[off] = storeAs(d, combine(data[off]!, upd!.data[p]!));
  }
  return [{ dtype: d, shape: [...xs], data }];
};
