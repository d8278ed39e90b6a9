// Element types of the IR: the five dtypes of the design and their properties,
// and host values of each: a HostTensor holds floats (f32 and f16) as f64
// (f16 values already rounded to f16), i32 as Int32Array, u32 as Uint32Array,
// bool as Uint8Array of 0/1. `storeAs` is the one rule for turning a computed
// f64 into the value a tensor of a dtype stores. This file and errors.ts are
// the only parts of ir/ the runtime uses (an AOT artifact runs without the
// compiler).

import { f16round } from '@petamoriken/float16';

export const DTYPES = ['f32', 'f16', 'i32', 'u32', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isFloat(d: DType): boolean {
  return d === 'f32' || d === 'f16';
}

export function isInteger(d: DType): boolean {
  return d === 'i32' || d === 'u32';
}

/** Numeric: takes part in arithmetic (everything but bool). */
export function isNumeric(d: DType): boolean {
  return d !== 'bool';
}

/** Bytes one element occupies in a GPU buffer (bool is stored as u32). */
export function byteSize(d: DType): number {
  return d === 'f16' ? 2 : 4;
}

/** The wider of two float dtypes (f32 over f16). */
export function widerFloat(a: DType, b: DType): DType {
  return a === 'f32' || b === 'f32' ? 'f32' : a;
}

export type TensorData = Float64Array | Int32Array | Uint32Array | Uint8Array;

export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const U32_MAX = 4294967295;

/** Float → i32 as WGSL converts: truncate toward zero, saturate, NaN → 0. */
export function floatToI32(x: number): number {
  if (Number.isNaN(x)) return 0;
  if (x <= I32_MIN) return I32_MIN;
  if (x >= I32_MAX) return I32_MAX;
  return Math.trunc(x) | 0;
}

/** Float → u32 as WGSL converts: truncate toward zero, saturate, NaN → 0. */
export function floatToU32(x: number): number {
  if (Number.isNaN(x) || x <= 0) return 0;
  if (x >= U32_MAX) return U32_MAX;
  return Math.trunc(x) >>> 0;
}

/**
 * The value a tensor of `dtype` stores for the computed f64 `x`:
 * f16 rounds to nearest even (overflow to ±inf); f32 keeps the f64 value
 * (the reference computes in f64 and rounds only where a value is stored as
 * f16); i32 and u32 convert like WGSL's float → integer conversion
 * (truncate, saturate, NaN → 0); bool is x != 0 (NaN → true).
 */
export function storeAs(dtype: DType, x: number): number {
  switch (dtype) {
    case 'f32':
      return x;
    case 'f16':
      return f16round(x);
    case 'i32':
      return floatToI32(x);
    case 'u32':
      return floatToU32(x);
    case 'bool':
      return x !== 0 ? 1 : 0;
  }
}

/** A zero-filled data array of the kind `dtype` uses. */
export function allocData(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case 'f32':
    case 'f16':
      return new Float64Array(length);
    case 'i32':
      return new Int32Array(length);
    case 'u32':
      return new Uint32Array(length);
    case 'bool':
      return new Uint8Array(length);
  }
}
