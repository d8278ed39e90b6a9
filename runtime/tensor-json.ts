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

/** `data` nested like the shape: innermost lists on one line, outer levels one item per line. */
function formatData(t: HostTensor, indent: string): string {
  const el = (i: number) => formatElement(t.dtype, t.data[i]!);
  if (t.shape.length === 0) return `[${el(0)}]`;
  const strides: number[] = [];
  let acc = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= t.shape[i]!;
  }
  const level = (depth: number, base: number, ind: string): string => {
    const n = t.shape[depth]!;
    if (depth === t.shape.length - 1) {
      const items: string[] = [];
      for (let i = 0; i < n; i++) items.push(el(base + i));
      return `[${items.join(', ')}]`;
    }
    if (n === 0) return '[]';
    const inner = ind + '  ';
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(inner + level(depth + 1, base + i * strides[depth]!, inner));
    return `[\n${items.join(',\n')}\n${ind}]`;
  };
  return level(0, 0, indent);
}

function formatTensor(t: HostTensor, indent: string): string {
  const inner = indent + '  ';
  return [
    '{',
    `${inner}"dtype": "${t.dtype}",`,
    `${inner}"shape": [${t.shape.join(', ')}],`,
    `${inner}"data": ${formatData(t, inner)}`,
    `${indent}}`,
  ].join('\n');
}

/** A JSON list of tensors (outputs in `return` order), ending with a newline. */
export function tensorsToJson(list: readonly HostTensor[]): string {
  if (list.length === 0) return '[]\n';
  return `[\n${list.map((t) => '  ' + formatTensor(t, '  ')).join(',\n')}\n]\n`;
}

/** A JSON object of named tensors (the input format; also `ampc grad`'s output), ending with a newline. */
export function tensorRecordToJson(record: Readonly<Record<string, HostTensor>>): string {
  const entries = Object.entries(record);
  if (entries.length === 0) return '{}\n';
  return `{\n${entries.map(([k, t]) => `  ${JSON.stringify(k)}: ${formatTensor(t, '  ')}`).join(',\n')}\n}\n`;
}
