// IDX files, the format of MNIST and Fashion-MNIST: two zero bytes, a type
// code, the number of dimensions, each dimension as a big-endian u32, then
// the elements in row-major order, big-endian. Files may be gzipped (detected
// by the gzip magic bytes, not the name). Every problem is an AmpcError that
// names the file: E0601 when it cannot be read, E0602 when it is malformed.
// A gzipped file is decompressed in two bounded steps (issue #12: a gzip bomb
// given as `--data` used to decompress fully): first only as much as the
// header needs, then at most the size that header declares (plus a little, to
// count unexpected trailing bytes), so more data than declared is refused
// without decompressing the rest.
// `encodeIdx` writes the format (scripts/make-mnist-sample.ts and the tests
// use it). Node only (it reads files and uses node:zlib): package.json's
// `browser` field maps it away.

import { readFileSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { AmpcError } from '../../../ir/errors.ts';

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
  const bytes = isGzip(raw) ? gunzipIdx(raw, file) : raw;
  const fail = (what: string): never => {
    throw new AmpcError('E0602', `${file}: ${what}`);
  };
  const { type, dims, count, headerBytes } = parseHeader(bytes, fail);
  const size = BYTES[type];
  const expected = headerBytes + count * size;
  if (bytes.length < expected) {
    fail(`truncated data: dimensions [${dims.join(', ')}] of ${type} need ${count * size} bytes after the header, the file has ${bytes.length - headerBytes}`);
  }
  if (bytes.length > expected) {
    fail(`${bytes.length - expected} unexpected byte(s) after the data of dimensions [${dims.join(', ')}] (${type})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { type, dims, data: readElements(type, view, headerBytes, count) };
}

interface IdxHeader {
  readonly type: IdxType;
  readonly dims: number[];
  /** Elements the dimensions declare (at most MAX_ELEMENTS). */
  readonly count: number;
  readonly headerBytes: number;
}

/** The header at the start of `bytes` (which may hold only the header); problems go to `fail`. */
function parseHeader(bytes: Uint8Array, fail: (what: string) => never): IdxHeader {
  if (bytes.length < 4) fail(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an IDX file: the magic number must start with two zero bytes, got 0x${hex(bytes[0]!)}${hex(bytes[1]!)}`);
  }
  const code = bytes[2]!;
  const type = (IDX_TYPES as Record<number, IdxType | undefined>)[code];
  if (!type) return fail(`unknown IDX element type 0x${hex(code)} (known: ${Object.keys(IDX_TYPES).map((k) => '0x' + hex(Number(k))).join(', ')})`);
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
  return { type, dims, count, headerBytes };
}

/** Decompressed bytes beyond the declared size that are still read, so that a few trailing bytes are counted exactly. */
const TRAILING_SLACK = 64 * 1024;
/** Output cap of each header probe: far more than any header (4 + 4 * 255 bytes), far less than a bomb. */
const HEADER_PROBE_CAP = 1024 * 1024;

/** Why a zlib call failed, as E0602 naming the file. */
function gzipError(file: string, e: unknown): AmpcError {
  return new AmpcError('E0602', `${file}: not a valid gzip file (${(e as Error)?.message ?? String(e)})`);
}

function tooLarge(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * Decompresses a gzipped IDX file without ever producing much more than its
 * header declares: the header first (header probes), then the whole stream
 * with `maxOutputLength` at the declared size plus TRAILING_SLACK. Errors are
 * E0602 naming the file; a stream that is corrupt anywhere is 'not a valid
 * gzip file', as when it was decompressed in one go.
 */
function gunzipIdx(raw: Uint8Array, file: string): Uint8Array {
  let head: Uint8Array;
  try {
    head = gunzipHead(raw, 4);
    if (head.length >= 4 && head[3]! > 0) head = gunzipHead(raw, 4 + 4 * head[3]!);
  } catch (e) {
    throw e instanceof AmpcError ? e : gzipError(file, e);
  }
  // The size the header declares, if it is a header this reader accepts.
  let declared: IdxHeader | undefined;
  try {
    declared = parseHeader(head, (what) => {
      throw new AmpcError('E0602', `${file}: ${what}`);
    });
  } catch {
    declared = undefined;
  }
  const expected = declared ? declared.headerBytes + declared.count * BYTES[declared.type] : 0;
  const limit = Math.min(expected + TRAILING_SLACK, bufferConstants.MAX_LENGTH);
  try {
    return gunzipSync(raw, { maxOutputLength: limit });
  } catch (e) {
    if (!tooLarge(e)) throw gzipError(file, e);
    // A bad header: decodeIdx reports it from the header bytes (the stream goes on past them).
    if (!declared) return head;
    if (expected + TRAILING_SLACK > limit) throw gzipError(file, e);
    const { type, dims, count } = declared;
    throw new AmpcError(
      'E0602',
      `${file}: more data than the header declares: more than ${TRAILING_SLACK} unexpected byte(s) after the ${count * BYTES[type]} bytes of data of dimensions [${dims.join(', ')}] (${type}); stopped decompressing there`,
    );
  }
}

/**
 * The start of the decompressed stream: at least `need` bytes (and at most
 * about HEADER_PROBE_CAP), or all of it when it is shorter. Decompresses
 * growing prefixes of the compressed bytes, flushing what each prefix yields,
 * each probe capped at HEADER_PROBE_CAP; a prefix whose output passes the cap
 * is narrowed down by bisection (one more compressed byte yields at most a
 * few KiB). Throws zlib's error for a stream corrupt within the prefix read.
 */
function gunzipHead(raw: Uint8Array, need: number): Uint8Array {
  const probe = (n: number): Uint8Array | undefined => {
    try {
      return gunzipSync(raw.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: HEADER_PROBE_CAP });
    } catch (e) {
      if (tooLarge(e)) return undefined;
      throw e;
    }
  };
  let lo = 0; // a prefix length known to yield fewer than `need` bytes
  let n = Math.min(raw.length, 256);
  for (;;) {
    const out = probe(n);
    if (out === undefined) break;
    if (out.length >= need || n === raw.length) return out;
    lo = n;
    n = Math.min(raw.length, 2 * n);
  }
  let hi = n; // a prefix length known to yield more than HEADER_PROBE_CAP bytes
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const out = probe(mid);
    if (out === undefined) hi = mid;
    else if (out.length >= need) return out;
    else lo = mid;
  }
  throw new Error(`the header is not within the first ${HEADER_PROBE_CAP} decompressed bytes`);
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
