// What the training API accepts as a tensor: a HostTensor (dtype and shape
// checked against the graph input), or the flat row-major data itself as a
// typed array of the input's dtype (Float32Array for f32, Int32Array for i32,
// Uint32Array for u32), which is uploaded without a conversion. A typed array
// takes its shape from the declared input, with the batch (first) dimension
// read off its length, so one array type serves any batch size.

import type { DType } from '../../ir/dtype.ts';
import { AmpcError } from '../../ir/errors.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel, shapesEqual, shapeToString, typeToString } from '../../ir/types.ts';
import { encodeTensor } from '../../runtime/host-data.ts';

export type TensorInput = HostTensor | Float32Array | Int32Array | Uint32Array;

function isHostTensor(x: TensorInput): x is HostTensor {
  return !ArrayBuffer.isView(x) && typeof x === 'object' && x !== null && 'dtype' in x && 'shape' in x && 'data' in x;
}

const ARRAY_OF: Partial<Record<DType, { name: string; is: (x: unknown) => boolean }>> = {
  f32: { name: 'Float32Array', is: (x) => x instanceof Float32Array },
  i32: { name: 'Int32Array', is: (x) => x instanceof Int32Array },
  u32: { name: 'Uint32Array', is: (x) => x instanceof Uint32Array },
};

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of ${(x as unknown as ArrayLike<number>).length}`;
  if (isHostTensor(x as TensorInput)) return `a ${(x as HostTensor).dtype}${shapeToString((x as HostTensor).shape)} tensor`;
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : typeof x;
}

/**
 * The type `x` has as input `what` declared `declared`; the first dimension
 * may differ (a batch of another size) when `anyBatch` is set.
 */
export function inputType(what: string, declared: TensorType, x: TensorInput, anyBatch: boolean): TensorType {
  const want = `${typeToString(declared)}${anyBatch && declared.shape.length > 0 ? ' (any batch size)' : ''}`;
  if (isHostTensor(x)) {
    const ok = x.dtype === declared.dtype && x.shape.length === declared.shape.length &&
      x.shape.every((d, i) => d === declared.shape[i] || (anyBatch && i === 0));
    if (!ok) throw new AmpcError('E0603', `${what}: expected ${want}, got ${describe(x)}`);
    return { dtype: x.dtype, shape: [...x.shape] };
  }
  const kind = ARRAY_OF[declared.dtype];
  if (!kind) {
    if (ArrayBuffer.isView(x)) throw new AmpcError('E0603', `${what}: a ${declared.dtype} input takes a HostTensor, got ${describe(x)}`);
    throw new AmpcError('E0603', `${what}: expected ${want} (a HostTensor), got ${describe(x)}`);
  }
  if (!kind.is(x)) throw new AmpcError('E0603', `${what}: expected ${want} (a HostTensor or a ${kind.name}), got ${describe(x)}`);
  const n = (x as ArrayLike<number>).length;
  if (declared.shape.length === 0 || !anyBatch) {
    if (n !== numel(declared.shape)) throw new AmpcError('E0603', `${what}: expected ${want} (${numel(declared.shape)} values), got ${describe(x)}`);
    return declared;
  }
  const per = numel(declared.shape.slice(1));
  if (per === 0 ? n !== 0 : n % per !== 0 || n === 0) {
    throw new AmpcError('E0603', `${what}: expected ${want}: a whole number of samples of ${per} values, got ${describe(x)}`);
  }
  return { dtype: declared.dtype, shape: [per === 0 ? declared.shape[0]! : n / per, ...declared.shape.slice(1)] };
}

/** Device bytes of `x` (a typed array is viewed, not copied). */
export function inputBytes(x: TensorInput): Uint8Array {
  if (isHostTensor(x)) return encodeTensor(x.dtype, x.data);
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/** True when two lists of types are equal. */
export function typeListsEqual(a: readonly TensorType[], b: readonly TensorType[]): boolean {
  return a.length === b.length && a.every((t, i) => t.dtype === b[i]!.dtype && shapesEqual(t.shape, b[i]!.shape));
}
