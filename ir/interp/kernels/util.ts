// Indexing helpers shared by the kernels: broadcast offsets, splitting a
// shape into kept and reduced axes, accumulators that follow an `acc` dtype,
// and building result tensors through `storeAs`.

import { f16round } from '@petamoriken/float16';
import type { DType } from '../../dtype.ts';
import type { Shape, TensorType } from '../../types.ts';
import { numel, stridesOf } from '../../types.ts';
import type { HostTensor } from '../tensor.ts';
import { allocData, storeAs } from '../tensor.ts';

/**
 * For each element of `to` (row-major), the flat offset of the element of a
 * tensor of shape `from` that numpy broadcasting reads there.
 */
export function broadcastOffsets(from: Shape, to: Shape): Int32Array {
  const n = numel(to);
  const out = new Int32Array(n);
  const rank = to.length;
  const fromStrides = stridesOf(from);
  // stride in `from` for each axis of `to` (0 where broadcast)
  const strides = new Array<number>(rank).fill(0);
  for (let i = 0; i < from.length; i++) {
    const j = rank - from.length + i;
    strides[j] = from[i] === 1 ? 0 : fromStrides[i]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    out[k] = off;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      off += strides[a]!;
      if (idx[a]! < to[a]!) break;
      off -= strides[a]! * idx[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

/** Flat offsets of every element of the sub-grid spanned by `axes` of `shape` (row-major over those axes). */
export function axisOffsets(shape: Shape, axes: readonly number[]): Int32Array {
  const strides = stridesOf(shape);
  const sub = axes.map((a) => shape[a]!);
  const subStrides = axes.map((a) => strides[a]!);
  const n = numel(sub);
  const out = new Int32Array(n);
  const idx = new Array<number>(sub.length).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    out[k] = off;
    for (let a = sub.length - 1; a >= 0; a--) {
      idx[a]!++;
      off += subStrides[a]!;
      if (idx[a]! < sub[a]!) break;
      off -= subStrides[a]! * idx[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

/**
 * Splits `shape` into the axes in `reduced` and the rest: `outer[o] + inner[r]`
 * is the flat offset of kept position o (row-major over the kept axes) and
 * reduced position r (row-major over the reduced axes).
 */
export function splitAxes(shape: Shape, reduced: readonly number[]): { outer: Int32Array; inner: Int32Array } {
  const kept = shape.map((_, i) => i).filter((i) => !reduced.includes(i));
  return { outer: axisOffsets(shape, kept), inner: axisOffsets(shape, [...reduced].sort((a, b) => a - b)) };
}

/** One addition of a running sum, as an accumulator of `acc` (for floats) or the integer dtype does it. */
export type Accumulate = (sum: number, x: number) => number;

/**
 * The addition a reduction or a dot product performs: i32 and u32 wrap;
 * floats with acc = f16 round the running sum to f16 after every addition;
 * acc = f32 adds in f64.
 */
export function accumulator(inputDtype: DType, acc: DType): Accumulate {
  if (inputDtype === 'i32') return (s, x) => (s + x) | 0;
  if (inputDtype === 'u32') return (s, x) => (s + x) >>> 0;
  if (acc === 'f16') return (s, x) => f16round(s + x);
  return (s, x) => s + x;
}

/** A result tensor of type `t` from computed f64 values, stored through `storeAs`. */
export function makeTensor(t: TensorType, values: ArrayLike<number>): HostTensor {
  const data = allocData(t.dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = storeAs(t.dtype, values[i]!);
  return { dtype: t.dtype, shape: [...t.shape], data };
}

/** A result tensor of type `t` whose element i is `x.data[offsets[i]]` (data movement, no arithmetic). */
export function gather(x: HostTensor, t: TensorType, offsets: ArrayLike<number>): HostTensor {
  const data = allocData(t.dtype, offsets.length);
  for (let i = 0; i < offsets.length; i++) data[i] = x.data[offsets[i]!]!;
  return { dtype: t.dtype, shape: [...t.shape], data };
}
