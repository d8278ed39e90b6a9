// Reading ONNX protobufs: a ModelProto (model.onnx) or a TensorProto (a test's
// input_N.pb) through onnx-proto (the ONNX schema compiled for protobufjs),
// and the values of a TensorProto as a ConstTensor, whatever field holds them
// (raw_data little-endian, float_data, int32_data — which also holds f16 bit
// patterns and bools —, int64_data, double_data). Tensors stored outside the
// file (data_location EXTERNAL) and element types the IR cannot hold as
// values (strings, complex, bfloat16) are refused with E0901; a file that is
// not a model is E0902.

import onnxProto from 'onnx-proto';
import { AmpcError } from '../../ir/errors.ts';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** ONNX element types (TensorProto.DataType) by number, as names. */
export const ELEM_TYPES: Readonly<Record<number, string>> = {
  0: 'undefined', 1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

export type ElemType = 'float' | 'float16' | 'double' | 'bool' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64';

/** A tensor whose values are known at import: ONNX element type, shape, values as numbers (bools 0/1). */
export interface ConstTensor {
  readonly type: ElemType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export const isFloatElem = (t: ElemType): boolean => t === 'float' || t === 'float16' || t === 'double';
export const isIntElem = (t: ElemType): boolean => !isFloatElem(t) && t !== 'bool';

/** An int64 as protobufjs gives it (a number, or a Long when the `long` package is there) as a number. */
export function toNumber(x: number | { toNumber(): number } | null | undefined): number {
  if (x === null || x === undefined) return 0;
  return typeof x === 'number' ? x : x.toNumber();
}

export function decodeModel(bytes: Uint8Array, file = 'model.onnx'): ModelProto {
  let m: ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new AmpcError('E0902', `${file}: not an ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!m.graph) throw new AmpcError('E0902', `${file}: the ModelProto has no graph`);
  return m;
}

export function decodeTensorProto(bytes: Uint8Array, file = 'tensor.pb'): TensorProto {
  try {
    return onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new AmpcError('E0902', `${file}: not an ONNX TensorProto (protobuf decoding failed: ${(e as Error).message})`);
  }
}

/** The ElemType of a numbered ONNX element type, or E0901 naming it (`where` says what holds it). */
export function elemType(n: number, where: string): ElemType {
  const name = ELEM_TYPES[n] ?? `type ${n}`;
  if (name === 'string' || name === 'complex64' || name === 'complex128' || name === 'bfloat16' || name === 'undefined' || name.startsWith('type ')) {
    throw new AmpcError('E0901', `${where}: element type ${name} is not supported (the IR holds f32, f16, i32, u32 and bool)`);
  }
  return name as ElemType;
}

/** f16 bits → number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The values of a TensorProto; `where` names it in errors. */
export function tensorValues(t: TensorProto, where: string): ConstTensor {
  if (t.dataLocation === 1 || (t.externalData && t.externalData.length > 0)) {
    throw new AmpcError('E0901', `${where}: tensor '${t.name ?? ''}' keeps its data in an external file; external data is not supported (save the model with its data inside)`);
  }
  if (t.segment) throw new AmpcError('E0901', `${where}: tensor '${t.name ?? ''}' is segmented; segments are not supported`);
  const type = elemType(t.dataType ?? 0, `${where}: tensor '${t.name ?? ''}'`);
  const shape = (t.dims ?? []).map(toNumber);
  const count = shape.reduce((n, d) => n * d, 1);
  const data = new Float64Array(count);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = ({ float: 4, float16: 2, double: 8, bool: 1, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8 } as const)[type];
    if (raw.length !== count * size) {
      throw new AmpcError('E0902', `${where}: tensor '${t.name ?? ''}' has ${raw.length} bytes of raw_data, its shape [${shape.join(',')}] of ${type} needs ${count * size}`);
    }
    if (type === 'float' && LITTLE_ENDIAN) {
      // Weights: one typed-array conversion (the copy aligns the bytes; a Buffer's slice() would not copy), not a DataView read per value.
      data.set(new Float32Array(new Uint8Array(raw).buffer, 0, count));
      return { type, shape, data };
    }
    for (let i = 0; i < count; i++) {
      const o = i * size;
      switch (type) {
        case 'float': data[i] = view.getFloat32(o, true); break;
        case 'float16': data[i] = halfToNumber(view.getUint16(o, true)); break;
        case 'double': data[i] = view.getFloat64(o, true); break;
        case 'bool': data[i] = view.getUint8(o) ? 1 : 0; break;
        case 'int8': data[i] = view.getInt8(o); break;
        case 'int16': data[i] = view.getInt16(o, true); break;
        case 'int32': data[i] = view.getInt32(o, true); break;
        case 'int64': data[i] = Number(view.getBigInt64(o, true)); break;
        case 'uint8': data[i] = view.getUint8(o); break;
        case 'uint16': data[i] = view.getUint16(o, true); break;
        case 'uint32': data[i] = view.getUint32(o, true); break;
        case 'uint64': data[i] = Number(view.getBigUint64(o, true)); break;
      }
    }
    return { type, shape, data };
  }
  // Typed fields: float_data (float), int32_data (int32 and narrower, bool, f16 bits),
  // int64_data, double_data, uint64_data (uint32, uint64).
  let src: readonly number[];
  switch (type) {
    case 'float': src = t.floatData ?? []; break;
    case 'double': src = t.doubleData ?? []; break;
    case 'int64': src = (t.int64Data ?? []).map(toNumber); break;
    case 'uint32': case 'uint64': src = (t.uint64Data ?? []).map(toNumber); break;
    default: src = t.int32Data ?? [];
  }
  if (src.length !== count) {
    throw new AmpcError('E0902', `${where}: tensor '${t.name ?? ''}' holds ${src.length} value(s), its shape [${shape.join(',')}] has ${count}`);
  }
  for (let i = 0; i < count; i++) {
    const v = src[i]!;
    data[i] = type === 'float16' ? halfToNumber(v & 0xffff) : type === 'bool' ? (v ? 1 : 0) : type === 'float' ? Math.fround(v) : v;
  }
  return { type, shape, data };
}
