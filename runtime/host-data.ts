// Host <-> device bytes of a tensor: f32, i32, u32 as themselves, f16 as IEEE
// halves (via @petamoriken/float16), bool as one u32 per element. The same
// layout serves the native and the packed f16 modes.

import { Float16Array } from '@petamoriken/float16';
import type { DType } from '../ir/dtype.ts';

export type HostArray = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;

/** Device bytes of `values` stored as `dtype` (length padded to a multiple of 4). */
export function encodeTensor(dtype: DType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  let bytes: Uint8Array;
  switch (dtype) {
    case 'f32': bytes = new Uint8Array(Float32Array.from(values).buffer); break;
    case 'f16': {
      const h = new Float16Array(n + (n % 2));
      for (let i = 0; i < n; i++) h[i] = values[i]!;
      bytes = new Uint8Array(h.buffer);
      break;
    }
    case 'i32': bytes = new Uint8Array(Int32Array.from(values).buffer); break;
    case 'u32': bytes = new Uint8Array(Uint32Array.from(values).buffer); break;
    case 'bool': bytes = new Uint8Array(Uint32Array.from(values, (v) => (v ? 1 : 0)).buffer); break;
  }
  return bytes.byteLength === 0 ? new Uint8Array(4) : bytes;
}

/** Decodes `count` elements of `dtype` from device bytes (floats widen to f64). */
export function decodeTensor(dtype: DType, bytes: ArrayBuffer, count: number): Float64Array | Int32Array | Uint32Array | Uint8Array {
  switch (dtype) {
    case 'f32': return Float64Array.from(new Float32Array(bytes, 0, count));
    case 'f16': return Float64Array.from(new Float16Array(bytes, 0, count));
    case 'i32': return new Int32Array(bytes.slice(0, count * 4));
    case 'u32': return new Uint32Array(bytes.slice(0, count * 4));
    case 'bool': return Uint8Array.from(new Uint32Array(bytes, 0, count), (v) => (v ? 1 : 0));
  }
}
