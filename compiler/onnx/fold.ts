// Import-time evaluation on ConstTensors: the integer shape arithmetic ONNX
// exporters emit (Shape → Gather → Concat → Reshape, ConstantOfShape, Range)
// and data movement on constants (slice, gather, concat, transpose, cast,
// broadcast). Values are kept as f64 numbers; a cast rounds to the target
// type (f32 by Math.fround, f16 to nearest even, integers truncated).

import { f16round } from '@petamoriken/float16';
import { AmpcError } from '../../ir/errors.ts';
import { numel, stridesOf } from '../../ir/types.ts';
import type { ConstTensor, ElemType } from './proto.ts';

export { numel } from '../../ir/types.ts';

export function ct(type: ElemType, shape: readonly number[], data: ArrayLike<number>): ConstTensor {
  return { type, shape: [...shape], data: Float64Array.from(data) };
}

/** The numpy broadcast of shapes (E0902 when they do not broadcast). */
export function broadcastShape(shapes: readonly (readonly number[])[]): number[] {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = r - s.length + i, d = s[i]!;
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) throw new AmpcError('E0902', `shapes ${shapes.map((x) => `[${x.join(',')}]`).join(', ')} do not broadcast`);
    }
  }
  return out;
}

/** Flat index into `shape` (broadcast into `out`) of each output element. */
function broadcastIndex(shape: readonly number[], out: readonly number[]): Int32Array {
  const n = numel(out), idx = new Int32Array(n);
  const os = stridesOf(out), is = stridesOf(shape), off = out.length - shape.length;
  for (let f = 0; f < n; f++) {
    let rem = f, src = 0;
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(rem / os[d]!);
      rem -= c * os[d]!;
      const k = d - off;
      if (k >= 0 && shape[k] !== 1) src += c * is[k]!;
    }
    idx[f] = src;
  }
  return idx;
}

export function broadcastTo(t: ConstTensor, shape: readonly number[]): ConstTensor {
  const idx = broadcastIndex(t.shape, shape);
  return ct(t.type, shape, Array.from(idx, (i) => t.data[i]!));
}

/** Elementwise n-ary op with numpy broadcasting. */
export function elementwise(ins: readonly ConstTensor[], type: ElemType, fn: (...xs: number[]) => number): ConstTensor {
  const shape = broadcastShape(ins.map((t) => t.shape));
  const idx = ins.map((t) => broadcastIndex(t.shape, shape));
  const n = numel(shape), data = new Float64Array(n);
  const args = new Array<number>(ins.length);
  for (let f = 0; f < n; f++) {
    for (let k = 0; k < ins.length; k++) args[k] = ins[k]!.data[idx[k]![f]!]!;
    data[f] = storeElem(type, fn(...args));
  }
  return { type, shape, data };
}

/** The value an element of `type` holds for `x`. */
export function storeElem(type: ElemType, x: number): number {
  switch (type) {
    case 'float': return Math.fround(x);
    case 'float16': return f16round(x);
    case 'double': return x;
    case 'bool': return x !== 0 ? 1 : 0;
    default: return Number.isNaN(x) ? 0 : Math.trunc(x);
  }
}

export function castTo(t: ConstTensor, type: ElemType): ConstTensor {
  return ct(type, t.shape, Array.from(t.data, (x) => storeElem(type, x)));
}

export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new AmpcError('E0902', `${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Slice with ONNX semantics per listed axis (clamped starts/ends, negative
 * indices counted from the end, any non-zero step): the selected indices of each axis.
 */
export function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  if (step === 0) throw new AmpcError('E0902', 'Slice: a step of 0');
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  const out: number[] = [];
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    for (let i = start; i < end; i += step) out.push(i);
  } else {
    start = Math.min(Math.max(start, -1), dim - 1);
    end = Math.min(Math.max(end, -1), dim - 1);
    for (let i = start; i > end; i += step) out.push(i);
  }
  return out;
}

/** Picks indices per axis (a list per dimension): the general gather-by-axis-lists. */
export function pick(t: ConstTensor, perAxis: readonly (readonly number[])[]): ConstTensor {
  const shape = perAxis.map((l) => l.length);
  const n = numel(shape), data = new Float64Array(n);
  const os = stridesOf(shape), is = stridesOf(t.shape);
  for (let f = 0; f < n; f++) {
    let rem = f, src = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(rem / os[d]!);
      rem -= c * os[d]!;
      src += perAxis[d]![c]! * is[d]!;
    }
    data[f] = t.data[src]!;
  }
  return { type: t.type, shape, data };
}

/** Gather along `axis` by an index tensor (negative indices count from the end). */
export function gather(t: ConstTensor, indices: ConstTensor, axis: number): ConstTensor {
  const a = normAxis(axis, t.shape.length);
  const dim = t.shape[a]!;
  const outer = numel(t.shape.slice(0, a)), inner = numel(t.shape.slice(a + 1));
  const shape = [...t.shape.slice(0, a), ...indices.shape, ...t.shape.slice(a + 1)];
  const data = new Float64Array(numel(shape));
  let f = 0;
  for (let o = 0; o < outer; o++) {
    for (const raw of indices.data) {
      const i = raw < 0 ? raw + dim : raw;
      if (i < 0 || i >= dim) throw new AmpcError('E0902', `Gather: index ${raw} is out of range for an axis of ${dim}`);
      for (let k = 0; k < inner; k++) data[f++] = t.data[(o * dim + i) * inner + k]!;
    }
  }
  return { type: t.type, shape, data };
}

export function concat(ts: readonly ConstTensor[], axis: number): ConstTensor {
  const first = ts[0]!;
  const a = normAxis(axis, first.shape.length);
  const outer = numel(first.shape.slice(0, a));
  const shape = [...first.shape];
  shape[a] = ts.reduce((n, t) => n + t.shape[a]!, 0);
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const block = numel(t.shape.slice(a));
      for (let k = 0; k < block; k++) data.push(t.data[o * block + k]!);
    }
  }
  return ct(first.type, shape, data);
}

export function transpose(t: ConstTensor, perm: readonly number[]): ConstTensor {
  const shape = perm.map((p) => t.shape[p]!);
  const is = stridesOf(t.shape), os = stridesOf(shape);
  const n = numel(shape), data = new Float64Array(n);
  for (let f = 0; f < n; f++) {
    let rem = f, src = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(rem / os[d]!);
      rem -= c * os[d]!;
      src += c * is[perm[d]!]!;
    }
    data[f] = t.data[src]!;
  }
  return { type: t.type, shape, data };
}

export function reshaped(t: ConstTensor, shape: readonly number[]): ConstTensor {
  return { type: t.type, shape: [...shape], data: t.data };
}

/** True when every element is the same (a splat). */
export function isSplat(t: ConstTensor): boolean {
  const d = t.data;
  for (let i = 1; i < d.length; i++) if (!Object.is(d[i], d[0]) && d[i] !== d[0]) return false;
  return true;
}
