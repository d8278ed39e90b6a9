// Shape ops: pure data movement (no arithmetic, values are copied as stored).

import { normalizeAxis } from '../../shape-rules.ts';
import { numel, stridesOf } from '../../types.ts';
import { allocData } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';
import { axisOffsets, broadcastOffsets, gather } from './util.ts';

export const reshape: Kernel = ([x], _a, [out]) => [{ dtype: out!.dtype, shape: [...out!.shape], data: x!.data.slice() }];

export const transpose: Kernel = ([x], a, [out]) => {
  // Output axis i walks input axis perm[i]: the output's row-major order is
  // the input's offsets enumerated over the permuted axes.
  const perm = a.perm as number[];
  return [gather(x!, out!, axisOffsets(x!.shape, perm))];
};

export const broadcastTo: Kernel = ([x], _a, [out]) => [gather(x!, out!, broadcastOffsets(x!.shape, out!.shape))];

export const slice: Kernel = ([x], a, [out]) => {
  const starts = a.starts as number[];
  const strides = stridesOf(x!.shape);
  let base = 0;
  starts.forEach((s, i) => (base += s * strides[i]!));
  // offsets of the output grid inside x: the same strides, extents of the output
  const offsets = axisOffsetsWithExtents(strides, out!.shape);
  for (let i = 0; i < offsets.length; i++) offsets[i] = offsets[i]! + base;
  return [gather(x!, out!, offsets)];
};

/** Row-major offsets of a grid of `extents` laid out with the given strides. */
function axisOffsetsWithExtents(strides: readonly number[], extents: readonly number[]): Int32Array {
  const n = numel(extents);
  const out = new Int32Array(n);
  const idx = new Array<number>(extents.length).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    out[k] = off;
    for (let a = extents.length - 1; a >= 0; a--) {
      idx[a]!++;
      off += strides[a]!;
      if (idx[a]! < extents[a]!) break;
      off -= strides[a]! * idx[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

export const concat: Kernel = (inputs, a, [out]) => {
  const axis = normalizeAxis('concat', a.axis as number, out!.shape.length);
  const outer = numel(out!.shape.slice(0, axis));
  const innerOut = numel(out!.shape.slice(axis));
  const data = allocData(out!.dtype, numel(out!.shape));
  let col = 0; // start of the current input's block within an output row of `innerOut`
  for (const x of inputs) {
    const innerX = numel(x.shape.slice(axis));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < innerX; i++) data[o * innerOut + col + i] = x.data[o * innerX + i]!;
    }
    col += innerX;
  }
  return [{ dtype: out!.dtype, shape: [...out!.shape], data }];
};

/** gather_elements: indices wrap once from the end; one out of range gives 0. */
export const gatherElements: Kernel = ([x, idx], a, [out]) => {
  const xs = x!.shape, is = idx!.shape;
  const axis = normalizeAxis('gather_elements', a.axis as number, xs.length);
  const n = xs[axis]!;
  const xStrides = stridesOf(xs), iStrides = stridesOf(is);
  const data = allocData(out!.dtype, numel(is));
  for (let i = 0; i < data.length; i++) {
    let j = idx!.data[i]!;
    if (j < 0) j += n;
    if (j < 0 || j >= n) continue;
    let off = 0;
    for (let k = 0; k < is.length; k++) {
      const c = Math.floor(i / iStrides[k]!) % is[k]!;
      off += (k === axis ? j : c) * xStrides[k]!;
    }
    data[i] = x!.data[off]!;
  }
  return [{ dtype: out!.dtype, shape: [...is], data }];
};
