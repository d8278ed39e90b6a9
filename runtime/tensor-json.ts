// Tensor JSON, the host exchange format of `ampc run/check/grad`:
//   {"x": {"dtype": "f32", "shape": [2,3], "data": [...]}}
// `data` is flat (row-major) or nested like the shape; non-finite floats are
// the strings "inf", "-inf", "nan"; bools are true/false or 0/1. Every problem
// is E0602 naming the file and the JSON path. Outputs are written as a list in
// `return` order (or an object keyed by name), nested like the shape, f16
// values as their exact numbers.

import type { DType, HostTensor } from '../ir/dtype.ts';
import { allocData, DTYPES, isDType, storeAs } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import type { JsonValue } from './json-reader.ts';
import { isJsonObject, readJson } from './json-reader.ts';

const numel = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const shapeToString = (shape: readonly number[]): string => `[${shape.join(',')}]`;

const F32_MAX = 3.4028234663852886e38;
const F16_MAX = 65504;

const NON_FINITE: Readonly<Record<string, number>> = {
  inf: Infinity, '+inf': Infinity, infinity: Infinity, '+infinity': Infinity,
  '-inf': -Infinity, '-infinity': -Infinity,
  nan: NaN,
};

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isJsonObject(v)) return 'an object';
  return JSON.stringify(v);
}

/** `x`, or `["odd key"]` for a key that is not a plain identifier. */
function keyPath(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
}

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, what: string): never {
    throw new AmpcError('E0602', `${this.file}: ${path}: ${what}`);
  }

  element(dtype: DType, v: JsonValue, path: string): number {
    switch (dtype) {
      case 'f32':
      case 'f16': {
        if (typeof v === 'number') {
          // A finite number that the dtype cannot hold would silently become an infinity.
          const max = dtype === 'f32' ? F32_MAX : F16_MAX;
          if (Math.abs(v) > max && !Number.isFinite(dtype === 'f32' ? Math.fround(v) : storeAs('f16', v))) {
            this.fail(path, `${v} is outside the ${dtype} range (largest ${max}); write "inf" or "-inf" for infinities`);
          }
          return storeAs(dtype, v);
        }
        if (typeof v === 'string' && v.toLowerCase() in NON_FINITE) return NON_FINITE[v.toLowerCase()]!;
        return this.fail(path, `expected a number (or "inf", "-inf", "nan"), got ${describe(v)}`);
      }
      case 'i32':
      case 'u32': {
        if (typeof v !== 'number' || !Number.isInteger(v)) return this.fail(path, `expected an ${dtype} integer, got ${describe(v)}`);
        const [lo, hi] = dtype === 'i32' ? [-2147483648, 2147483647] : [0, 4294967295];
        if (v < lo || v > hi) this.fail(path, `${v} is outside the ${dtype} range ${lo}..${hi}`);
        return v;
      }
      case 'bool':
        if (v === true || v === 1) return 1;
        if (v === false || v === 0) return 0;
        return this.fail(path, `expected true, false, 0 or 1, got ${describe(v)}`);
    }
  }

  shape(v: JsonValue | undefined, path: string): number[] {
    if (v === undefined) return this.fail(path, 'missing "shape"');
    if (!Array.isArray(v)) return this.fail(`${path}.shape`, `expected a list of non-negative integers, got ${describe(v)}`);
    return v.map((d, i) => {
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
        return this.fail(`${path}.shape[${i}]`, `expected a non-negative integer, got ${describe(d)}`);
      }
      return d;
    });
  }

  data(dtype: DType, shape: number[], v: JsonValue | undefined, path: string): number[] {
    const p = `${path}.data`;
    if (v === undefined) return this.fail(path, 'missing "data"');
    const n = numel(shape);
    if (!Array.isArray(v)) {
      if (shape.length === 0) return [this.element(dtype, v, p)];
      return this.fail(p, `expected a list of values for shape ${shapeToString(shape)}, got ${describe(v)}`);
    }
    if (!v.some((item) => Array.isArray(item))) {
      // flat, row-major
      if (v.length !== n) this.fail(p, `expected ${n} value(s) for shape ${shapeToString(shape)}, got ${v.length}`);
      return v.map((item, i) => this.element(dtype, item, `${p}[${i}]`));
    }
    // nested like the shape
    const out: number[] = [];
    const walk = (item: JsonValue, depth: number, at: string): void => {
      if (depth === shape.length) {
        out.push(this.element(dtype, item, at));
        return;
      }
      if (!Array.isArray(item)) this.fail(at, `expected a list of ${shape[depth]} (shape ${shapeToString(shape)}), got ${describe(item)}`);
      if (item.length !== shape[depth]) {
        this.fail(at, `expected a list of ${shape[depth]} (shape ${shapeToString(shape)}), got a list of ${item.length}`);
      }
      item.forEach((x, i) => walk(x, depth + 1, `${at}[${i}]`));
    };
    walk(v, 0, p);
    return out;
  }

  tensor(v: JsonValue, path: string): HostTensor {
    if (!isJsonObject(v)) return this.fail(path, `expected an object with "dtype", "shape" and "data", got ${describe(v)}`);
    for (const key of v.keys()) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data') {
        this.fail(path, `unknown key ${JSON.stringify(key)} (a tensor has "dtype", "shape" and "data")`);
      }
    }
    const d = v.get('dtype');
    if (d === undefined) this.fail(path, 'missing "dtype"');
    if (typeof d !== 'string' || !isDType(d)) {
      this.fail(`${path}.dtype`, `expected one of ${DTYPES.map((x) => `"${x}"`).join(', ')}, got ${describe(d!)}`);
    }
    const dtype = d as DType;
    const shape = this.shape(v.get('shape'), path);
    const values = this.data(dtype, shape, v.get('data'), path);
    const data = allocData(dtype, values.length);
    values.forEach((x, i) => (data[i] = x));
    return { dtype, shape, data };
  }
}

/** Reads the input tensors of a tensor JSON file: an object mapping names to tensors. */
export function parseTensorJson(text: string, file: string): Record<string, HostTensor> {
  const json = readJson(text, file);
  if (!isJsonObject(json)) {
    throw new AmpcError('E0602', `${file}: expected an object mapping input names to tensors, got ${describe(json)}`);
  }
  const r = new Reader(file);
  const out: Record<string, HostTensor> = {};
  for (const [name, v] of json) {
    Object.defineProperty(out, name, { value: r.tensor(v, keyPath(name)), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Reads a list of tensors (the format `tensorsToJson` writes). */
export function parseTensorListJson(text: string, file: string): HostTensor[] {
  const json = readJson(text, file);
  if (!Array.isArray(json)) throw new AmpcError('E0602', `${file}: expected a list of tensors, got ${describe(json)}`);
  const r = new Reader(file);
  return json.map((v, i) => r.tensor(v, `[${i}]`));
}

// ---------------------------------------------------------------- writing

/** One element as JSON text: non-finite floats as strings, bools as true/false, -0 kept. */
export function formatElement(dtype: DType, v: number): string {
  if (dtype === 'bool') return v !== 0 ? 'true' : 'false';
  if (Number.isNaN(v)) return '"nan"';
  if (v === Infinity) return '"inf"';
  if (v === -Infinity) return '"-inf"';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

/**
 * Tensor JSON is written through a sink that takes the text piecewise, so a
 * tensor of any size can be streamed to a file (runtime/node-files.ts
 * writeFileAtomicChunks) or stdout without ever being one string: a JS string
 * holds at most 2^29 - 24 UTF-16 units in V8 (a 16384 x 16384 tensor needs
 * more), and building a longer one is a RangeError. Chunks are about
 * CHUNK_CHARS long.
 */
export type TextSink = (chunk: string) => void;

const CHUNK_CHARS = 1 << 16;

/** Gathers small pieces into chunks of about CHUNK_CHARS for the sink; `flush` at the end. */
class ChunkWriter {
  #parts: string[] = [];
  #chars = 0;
  constructor(private readonly sink: TextSink) {}
  put(text: string): void {
    this.#parts.push(text);
    this.#chars += text.length;
    if (this.#chars >= CHUNK_CHARS) this.flush();
  }
  flush(): void {
    if (this.#chars === 0) return;
    const chunk = this.#parts.join('');
    this.#parts = [];
    this.#chars = 0;
    this.sink(chunk);
  }
}

/** `data` nested like the shape: innermost lists on one line, outer levels one item per line. */
function writeData(w: ChunkWriter, t: HostTensor, indent: string): void {
  const el = (i: number) => formatElement(t.dtype, t.data[i]!);
  if (t.shape.length === 0) {
    w.put(`[${el(0)}]`);
    return;
  }
  const strides: number[] = [];
  let acc = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= t.shape[i]!;
  }
  const level = (depth: number, base: number, ind: string): void => {
    const n = t.shape[depth]!;
    if (depth === t.shape.length - 1) {
      w.put('[');
      for (let i = 0; i < n; i++) w.put(i === 0 ? el(base) : ', ' + el(base + i));
      w.put(']');
      return;
    }
    if (n === 0) {
      w.put('[]');
      return;
    }
    const inner = ind + '  ';
    w.put('[\n');
    for (let i = 0; i < n; i++) {
      w.put(i === 0 ? inner : ',\n' + inner);
      level(depth + 1, base + i * strides[depth]!, inner);
    }
    w.put(`\n${ind}]`);
  };
  level(0, 0, indent);
}

function writeTensor(w: ChunkWriter, t: HostTensor, indent: string): void {
  const inner = indent + '  ';
  w.put(`{\n${inner}"dtype": "${t.dtype}",\n${inner}"shape": [${t.shape.join(', ')}],\n${inner}"data": `);
  writeData(w, t, inner);
  w.put(`\n${indent}}`);
}

/** The list text into `w`; `begin(i)` before tensor i. */
function writeList(w: ChunkWriter, list: readonly HostTensor[], begin: (i: number) => void): void {
  if (list.length === 0) w.put('[]\n');
  else {
    w.put('[\n');
    list.forEach((t, i) => {
      begin(i);
      w.put(i === 0 ? '  ' : ',\n  ');
      writeTensor(w, t, '  ');
    });
    w.put('\n]\n');
  }
  w.flush();
}

/** The record text into `w`; `begin(i)` before entry i. */
function writeRecord(w: ChunkWriter, entries: readonly (readonly [string, HostTensor])[], begin: (i: number) => void): void {
  if (entries.length === 0) w.put('{}\n');
  else {
    w.put('{\n');
    entries.forEach(([k, t], i) => {
      begin(i);
      w.put(`${i === 0 ? '' : ',\n'}  ${JSON.stringify(k)}: `);
      writeTensor(w, t, '  ');
    });
    w.put('\n}\n');
  }
  w.flush();
}

/** Writes a JSON list of tensors (outputs in `return` order), ending with a newline, to `sink` piecewise: the text of tensorsToJson. */
export function writeTensorsJson(list: readonly HostTensor[], sink: TextSink): void {
  writeList(new ChunkWriter(sink), list, () => {});
}

/** Writes a JSON object of named tensors, ending with a newline, to `sink` piecewise: the text of tensorRecordToJson. */
export function writeTensorRecordJson(record: Readonly<Record<string, HostTensor>>, sink: TextSink): void {
  writeRecord(new ChunkWriter(sink), Object.entries(record), () => {});
}

/**
 * The longest text tensorsToJson and tensorRecordToJson build: V8's string
 * limit on 64-bit machines (buffer.constants.MAX_STRING_LENGTH; other engines
 * allow at least as much). Longer output must be streamed (writeTensorsJson).
 */
export const MAX_JSON_STRING = 2 ** 29 - 24;

export interface ToJsonOptions {
  /** The longest text to build (default MAX_JSON_STRING); longer output is E0608. */
  readonly maxLength?: number;
}

/**
 * The text `write` produces, as one string; E0608 naming the tensor and its
 * element count when it would be longer than `maxLength` — refused up front
 * when the elements alone cannot fit (each takes at least a digit and a
 * separator, `0, `), else as soon as the text passes the limit. Never a
 * RangeError from an overlong string.
 */
function toJsonString(
  tensors: readonly (readonly [string, HostTensor])[],
  maxLength: number,
  write: (w: ChunkWriter, begin: (i: number) => void) => void,
): string {
  const tooLarge = ([label, t]: readonly [string, HostTensor]) =>
    new AmpcError(
      'E0608',
      `output ${label} (${t.dtype}${shapeToString(t.shape)}, ${numel(t.shape)} elements) is too large for one JSON string ` +
        `of at most ${maxLength} characters; write it to a file instead (ampc run --out FILE, or writeTensorsJson)`,
    );
  let lower = 0;
  for (const entry of tensors) {
    lower += 3 * numel(entry[1].shape);
    if (lower > maxLength) throw tooLarge(entry);
  }
  const chunks: string[] = [];
  let length = 0;
  let current = 0;
  const w = new ChunkWriter((chunk) => {
    length += chunk.length;
    if (length > maxLength) throw tooLarge(tensors[current] ?? tensors[tensors.length - 1]!);
    chunks.push(chunk);
  });
  write(w, (i) => (current = i));
  return chunks.join('');
}

/** A JSON list of tensors (outputs in `return` order), ending with a newline; E0608 if longer than `opts.maxLength`. */
export function tensorsToJson(list: readonly HostTensor[], opts: ToJsonOptions = {}): string {
  const labelled = list.map((t, i) => [`[${i}]`, t] as const);
  return toJsonString(labelled, opts.maxLength ?? MAX_JSON_STRING, (w, begin) => writeList(w, list, begin));
}

/** A JSON object of named tensors (the input format; also `ampc grad`'s output), ending with a newline; E0608 if longer than `opts.maxLength`. */
export function tensorRecordToJson(record: Readonly<Record<string, HostTensor>>, opts: ToJsonOptions = {}): string {
  const entries = Object.entries(record);
  return toJsonString(entries.map(([k, t]) => [keyPath(k), t] as const), opts.maxLength ?? MAX_JSON_STRING, (w, begin) => writeRecord(w, entries, begin));
}
