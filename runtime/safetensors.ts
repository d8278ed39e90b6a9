// The safetensors format (Hugging Face), read and written without a
// dependency: 8 bytes of little-endian u64 N, N bytes of a JSON header
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2,3], "data_offsets": [0, 24]}, ...}
// padded with spaces to a multiple of 8, then the tensors' bytes,
// little-endian and row-major, at their offsets from the end of the header.
// The writer lays tensors out as the reference implementation (the Rust
// `safetensors` crate, which the Python package wraps) does: by dtype, widest
// first, then by name; metadata first in the header. Given the same tensors
// and metadata it writes the same bytes (test/safetensors.test.ts checks
// files the Python package wrote). The reader checks what the reference
// checks (header size and JSON, known dtypes, offsets that tile the data
// exactly, sizes that match the shapes) and reports E0605 with the file.
//
// ampc's dtypes map to F32, F16, I32, U32 and BOOL (one byte per element;
// on the device a bool takes a u32). Other safetensors dtypes are read as
// far as the header and refused by name.

import { Float16Array } from '@petamoriken/float16';
import type { DType, HostTensor } from '../ir/dtype.ts';
import { allocData } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';

const TO_SAFE: { readonly [D in DType]: string } = { f32: 'F32', f16: 'F16', i32: 'I32', u32: 'U32', bool: 'BOOL' };
const FROM_SAFE: Readonly<Record<string, DType>> = { F32: 'f32', F16: 'f16', I32: 'i32', U32: 'u32', BOOL: 'bool' };

/** Every dtype of the format, in the reference's order (the writer sorts by it, descending), with its bytes per element. */
const SAFE_DTYPES: readonly (readonly [string, number])[] = [
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2],
  ['I32', 4], ['U32', 4], ['F32', 4], ['F64', 8], ['I64', 8], ['U64', 8],
];
const SAFE_RANK = new Map(SAFE_DTYPES.map(([name], i) => [name, i]));
const SAFE_SIZE = new Map(SAFE_DTYPES);

/** Headers past this are refused (the reference's limit), before any parsing. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  /** Tensors by name, in file order. */
  readonly tensors: ReadonlyMap<string, HostTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

const numel = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** The little-endian bytes of a tensor's values as safetensors stores them. */
export function tensorBytes(t: HostTensor): Uint8Array {
  const n = numel(t.shape);
  switch (t.dtype) {
    case 'f32': return new Uint8Array(Float32Array.from(t.data.subarray(0, n)).buffer);
    case 'f16': return new Uint8Array(Float16Array.from(t.data.subarray(0, n)).buffer);
    case 'i32': return new Uint8Array(Int32Array.from(t.data.subarray(0, n)).buffer);
    case 'u32': return new Uint8Array(Uint32Array.from(t.data.subarray(0, n)).buffer);
    case 'bool': return Uint8Array.from(t.data.subarray(0, n), (v) => (v ? 1 : 0));
  }
}

/** A tensor from its safetensors bytes (length already checked). */
function fromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  const copy = bytes.slice().buffer; // aligned, and detached from the file
  const data = allocData(dtype, n);
  switch (dtype) {
    case 'f32': data.set(new Float32Array(copy, 0, n)); break;
    case 'f16': data.set(new Float16Array(copy, 0, n)); break;
    case 'i32': data.set(new Int32Array(copy, 0, n)); break;
    case 'u32': data.set(new Uint32Array(copy, 0, n)); break;
    case 'bool': data.set(new Uint8Array(copy, 0, n).map((v) => (v ? 1 : 0))); break;
  }
  return { dtype, shape: [...shape], data };
}

/** A safetensors file of `tensors` (and string `metadata`), laid out as the reference implementation lays it out. */
export function writeSafetensors(tensors: Readonly<Record<string, HostTensor>> | ReadonlyMap<string, HostTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))] as [string, HostTensor][];
  const rank = (t: HostTensor) => SAFE_RANK.get(TO_SAFE[t.dtype])!;
  entries.sort(([an, a], [bn, b]) => rank(b) - rank(a) || (an < bn ? -1 : an > bn ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new AmpcError('E0605', "a tensor cannot be named '__metadata__'");
    const bytes = tensorBytes(t);
    header[name] = { dtype: TO_SAFE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    datas.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  const out = new Uint8Array(head.byteLength + offset);
  out.set(head, 0);
  let at = head.byteLength;
  for (const d of datas) {
    out.set(d, at);
    at += d.byteLength;
  }
  return out;
}

/** Reads a safetensors file; `where` names it in errors (E0605). Other dtypes than ampc's are refused by name. */
export function readSafetensors(bytes: Uint8Array, where: string): SafetensorsFile {
  const bad = (why: string): never => {
    throw new AmpcError('E0605', `${where}: ${why}`);
  };
  if (bytes.byteLength < 8) bad(`${bytes.byteLength} bytes: too short for a safetensors file (8-byte header size, then the header)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(`header of ${n} bytes (the limit is ${MAX_HEADER_BYTES})`);
  const headerBytes = Number(n);
  if (8 + headerBytes > bytes.byteLength) bad(`the header says ${headerBytes} bytes, but the file has only ${bytes.byteLength - 8} after the size`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (e) {
    bad(`the header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
  const data = bytes.subarray(8 + headerBytes);
  const metadata: Record<string, string> = {};
  const spans: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) bad('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`__metadata__.${k} is not a string`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(`tensor '${name}' is not an object`);
    const safe = e.dtype;
    if (typeof safe !== 'string' || !SAFE_SIZE.has(safe)) bad(`tensor '${name}': unknown dtype ${JSON.stringify(safe)}`);
    const dtype = FROM_SAFE[safe as string];
    if (!dtype) bad(`tensor '${name}' is ${safe}; ampc reads F32, F16, I32, U32 and BOOL`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor '${name}': shape must be a list of non-negative integers`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[0] > off[1]) {
      bad(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = off as [number, number];
    const want = numel(shape as number[]) * SAFE_SIZE.get(safe as string)!;
    if (end - begin !== want) bad(`tensor '${name}' (${safe}[${(shape as number[]).join(',')}]) needs ${want} bytes; its data_offsets span ${end - begin}`);
    spans.push({ name, dtype: dtype!, shape: shape as number[], begin, end });
  }
  // The tensors must tile the data exactly: no gap, no overlap, nothing after.
  let at = 0;
  for (const s of [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (s.begin !== at) bad(`tensor '${s.name}' starts at byte ${s.begin} of the data, expected ${at} (a gap or an overlap)`);
    at = s.end;
  }
  if (at !== data.byteLength) bad(`the tensors cover ${at} bytes of data, the file has ${data.byteLength} (${at > data.byteLength ? 'truncated' : 'trailing bytes'})`);
  const tensors = new Map<string, HostTensor>();
  for (const s of spans) tensors.set(s.name, fromBytes(s.dtype, s.shape, data.subarray(s.begin, s.end)));
  return { tensors, metadata };
}
