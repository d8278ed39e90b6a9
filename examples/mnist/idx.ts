// IDX files, the format of MNIST and Fashion-MNIST: two zero bytes, a type
// code, the number of dimensions, each dimension as a big-endian u32, then
// the elements in row-major order, big-endian. Files may be gzipped (detected
// by the gzip magic bytes, not the name). Every problem is an AmpcError that
// names the file: E0601 when it cannot be read, E0602 when it is malformed.
// `encodeIdx` writes the format (the sample script and the tests use it).

import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { AmpcError } from '../../ir/errors.ts';

/** IDX element types by their type code. */
export const IDX_TYPES = {
  0x08: 'u8',
  0x09: 'i8',
  0x0b: 'i16',
  0x0c: 'i32',
  0x0d: 'f32',
  0x0e: 'f64',
} as const;

export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES];
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly type: IdxType;
  readonly dims: readonly number[];
  /** Row-major elements (host byte order). */
  readonly data: IdxData;
}

const BYTES: Readonly<Record<IdxType, number>> = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 };
const CODE_OF: Readonly<Record<IdxType, number>> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };
/** Refuse headers that promise more than this many elements (a corrupt header, not a data set). */
const MAX_ELEMENTS = 2 ** 31;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads and decodes an IDX file (gzipped or not). */
export function readIdx(file: string): IdxArray {
  let raw: Uint8Array;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new AmpcError('E0601', `cannot read ${file}: ${why}`);
  }
  return decodeIdx(raw, file);
}

/** Decodes IDX bytes (gzipped or not); `file` names the source in errors. */
export function decodeIdx(raw: Uint8Array, file: string): IdxArray {
  let bytes = raw;
  if (isGzip(raw)) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new AmpcError('E0602', `${file}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  const fail = (what: string): never => {
    throw new AmpcError('E0602', `${file}: ${what}`);
  };
  if (bytes.length < 4) fail(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an IDX file: the magic number must start with two zero bytes, got 0x${hex(bytes[0]!)}${hex(bytes[1]!)}`);
  }
  const code = bytes[2]!;
  const type = (IDX_TYPES as Record<number, IdxType | undefined>)[code];
  if (!type) fail(`unknown IDX element type 0x${hex(code)} (known: ${Object.keys(IDX_TYPES).map((k) => '0x' + hex(Number(k))).join(', ')})`);
  const rank = bytes[3]!;
  if (rank === 0) fail('the IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`truncated header: ${rank} dimensions need ${headerBytes} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (count > MAX_ELEMENTS) fail(`dimensions [${dims.join(', ')}] promise ${count} elements, more than this reader accepts`);
  const size = BYTES[type!];
  const expected = headerBytes + count * size;
  if (bytes.length < expected) {
    fail(`truncated data: dimensions [${dims.join(', ')}] of ${type} need ${count * size} bytes after the header, the file has ${bytes.length - headerBytes}`);
  }
  if (bytes.length > expected) {
    fail(`${bytes.length - expected} unexpected byte(s) after the data of dimensions [${dims.join(', ')}] (${type})`);
  }
  return { type: type!, dims, data: readElements(type!, view, headerBytes, count) };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function readElements(type: IdxType, view: DataView, at: number, n: number): IdxData {
  switch (type) {
    case 'u8':
      return new Uint8Array(view.buffer, view.byteOffset + at, n).slice();
    case 'i8':
      return new Int8Array(view.buffer, view.byteOffset + at, n).slice();
    case 'i16': {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(at + 2 * i, false);
      return out;
    }
    case 'i32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(at + 4 * i, false);
      return out;
    }
    case 'f32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(at + 4 * i, false);
      return out;
    }
    case 'f64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(at + 8 * i, false);
      return out;
    }
  }
}

/** The IDX bytes of an array (gzipped when `gzip` is set, at level 9). */
export function encodeIdx(arr: IdxArray, opts: { readonly gzip?: boolean } = {}): Uint8Array {
  const count = arr.dims.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) throw new Error(`encodeIdx: dimensions [${arr.dims.join(', ')}] need ${count} elements, got ${arr.data.length}`);
  const size = BYTES[arr.type];
  const headerBytes = 4 + 4 * arr.dims.length;
  const out = new Uint8Array(headerBytes + count * size);
  const view = new DataView(out.buffer);
  out[2] = CODE_OF[arr.type];
  out[3] = arr.dims.length;
  arr.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = arr.data[i]!;
    const at = headerBytes + i * size;
    switch (arr.type) {
      case 'u8': view.setUint8(at, v); break;
      case 'i8': view.setInt8(at, v); break;
      case 'i16': view.setInt16(at, v, false); break;
      case 'i32': view.setInt32(at, v, false); break;
      case 'f32': view.setFloat32(at, v, false); break;
      case 'f64': view.setFloat64(at, v, false); break;
    }
  }
  return opts.gzip ? gzipSync(out, { level: 9 }) : out;
}
