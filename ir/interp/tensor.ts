// Host tensors of the reference interpreter: a dtype, a shape and flat
// row-major data (the HostTensor of ir/dtype.ts, re-exported here with its
// value rules), and the helpers to make, reshape and index them.

import type { DType, HostTensor, TensorData } from '../dtype.ts';
import { allocData, floatToI32, floatToU32, storeAs } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Shape, TensorType } from '../types.ts';
import { numel, shapeToString, stridesOf } from '../types.ts';

export type { HostTensor, TensorData } from '../dtype.ts';
export { allocData, floatToI32, floatToU32, storeAs } from '../dtype.ts';

/** A nested array of values as written in JSON or by hand: numbers, or booleans for bool. */
export type Nested = number | boolean | readonly Nested[];

/** i32 arithmetic wraps (two's complement), as in WGSL. Exact for |x| < 2^53. */
export function wrapI32(x: number): number {
  return x | 0;
}

/** u32 arithmetic wraps modulo 2^32, as in WGSL. Exact for |x| < 2^53. */
export function wrapU32(x: number): number {
  return x >>> 0;
}

/** True if `data` is the array kind `dtype` uses. */
export function dataFits(dtype: DType, data: TensorData): boolean {
  switch (dtype) {
    case 'f32':
    case 'f16':
      return data instanceof Float64Array;
    case 'i32':
      return data instanceof Int32Array;
    case 'u32':
      return data instanceof Uint32Array;
    case 'bool':
      return data instanceof Uint8Array;
  }
}

function checkShape(shape: Shape): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new AmpcError('E0006', `bad tensor shape ${shapeToString(shape)}`);
  }
}

/** A tensor from flat row-major values; every value goes through `storeAs(dtype, ·)`. */
export function hostTensor(dtype: DType, shape: Shape, values: ArrayLike<number | boolean>): HostTensor {
  checkShape(shape);
  const n = numel(shape);
  if (values.length !== n) {
    throw new AmpcError('E0201', `tensor of shape ${shapeToString(shape)} needs ${n} values, got ${values.length}`);
  }
  const data = allocData(dtype, n);
  for (let i = 0; i < n; i++) data[i] = storeAs(dtype, Number(values[i]));
  return { dtype, shape: [...shape], data };
}

/** A tensor of type `t` from flat values (see `hostTensor`). */
export function tensorOfType(t: TensorType, values: ArrayLike<number | boolean>): HostTensor {
  return hostTensor(t.dtype, t.shape, values);
}

export function zeros(dtype: DType, shape: Shape): HostTensor {
  checkShape(shape);
  return { dtype, shape: [...shape], data: allocData(dtype, numel(shape)) };
}

/** Every element set to `storeAs(dtype, value)`. */
export function full(dtype: DType, shape: Shape, value: number): HostTensor {
  const t = zeros(dtype, shape);
  t.data.fill(storeAs(dtype, value));
  return t;
}

export function scalar(dtype: DType, value: number): HostTensor {
  return hostTensor(dtype, [], [value]);
}

/** The shape of a nested array (checked to be rectangular) and its values in row-major order. */
export function flattenNested(nested: Nested): { shape: number[]; values: (number | boolean)[] } {
  const shape: number[] = [];
  let probe: Nested = nested;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0]!;
  }
  const values: (number | boolean)[] = [];
  const walk = (v: Nested, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new AmpcError('E0201', `nested array is ragged at ${path || 'top'}: expected a value, got a list`);
      values.push(v as number | boolean);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new AmpcError('E0201', `nested array is ragged at ${path || 'top'}: expected a list of ${shape[depth]}`);
    }
    v.forEach((item: Nested, i: number) => walk(item, depth + 1, `${path}[${i}]`));
  };
  walk(nested, 0, '');
  return { shape, values };
}

/** A tensor from a nested array; the nesting gives the shape (a bare number is a scalar). */
export function fromNested(dtype: DType, nested: Nested): HostTensor {
  const { shape, values } = flattenNested(nested);
  return hostTensor(dtype, shape, values);
}

/** Flat offset of a multi-index, bounds-checked. */
export function offsetOf(t: { readonly shape: Shape }, index: readonly number[]): number {
  if (index.length !== t.shape.length) {
    throw new AmpcError('E0203', `index [${index.join(', ')}] has ${index.length} entries; the tensor has rank ${t.shape.length}`);
  }
  const strides = stridesOf(t.shape);
  let off = 0;
  index.forEach((i, k) => {
    if (!Number.isInteger(i) || i < 0 || i >= t.shape[k]!) {
      throw new AmpcError('E0204', `index [${index.join(', ')}] is out of range for shape ${shapeToString(t.shape)}`);
    }
    off += i * strides[k]!;
  });
  return off;
}

/** The element at a multi-index (bool as 0/1). */
export function get(t: HostTensor, index: readonly number[]): number {
  return t.data[offsetOf(t, index)]!;
}

/** The values as nested arrays (bool as true/false; a scalar is a bare value). */
export function toNested(t: HostTensor): Nested {
  const strides = stridesOf(t.shape);
  const value = (i: number): number | boolean => (t.dtype === 'bool' ? t.data[i] !== 0 : t.data[i]!);
  const build = (depth: number, base: number): Nested => {
    if (depth === t.shape.length) return value(base);
    const out: Nested[] = [];
    for (let i = 0; i < t.shape[depth]!; i++) out.push(build(depth + 1, base + i * strides[depth]!));
    return out;
  };
  return build(0, 0);
}

/** The values as a plain array of numbers (bool as 0/1). */
export function toArray(t: HostTensor): number[] {
  return Array.from(t.data);
}

export function typeOf(t: HostTensor): TensorType {
  return { dtype: t.dtype, shape: t.shape };
}
