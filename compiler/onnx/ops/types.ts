// The shape of an ONNX op mapping and small helpers the op files share.
// `map` turns one node into IR nodes (or import-time constants) and returns
// one Entry per ONNX output; `fold`, when present, evaluates the node at
// import time if all its inputs are constants and returns undefined when it
// does not fold them (float arithmetic is left to the device).

import type { DType } from '../../../ir/dtype.ts';
import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { ConstTensor } from '../proto.ts';
import { isIntElem } from '../proto.ts';

export interface OpMapping {
  map(c: NodeCtx): Entry[];
  fold?(c: NodeCtx, ins: readonly (ConstTensor | undefined)[]): ConstTensor[] | undefined;
}

export const val = (v: Value): Entry[] => [{ kind: 'value', v }];
export const konst = (...ts: ConstTensor[]): Entry[] => ts.map((t) => ({ kind: 'const', t }));

/** True when every present constant input holds integers or bools (shape arithmetic, folded at import). */
export function allIntegral(ins: readonly (ConstTensor | undefined)[]): boolean {
  return ins.every((t) => !t || isIntElem(t.type) || t.type === 'bool');
}

/** A scalar constant of x's dtype. */
export function lit(c: NodeCtx, x: Value, value: number): Value {
  return c.scalar(value, x.type.dtype);
}

export function rankOf(v: Value): number {
  return v.type.shape.length;
}

/** v as `dtype` (no node when it already is). */
export function asDtype(c: NodeCtx, v: Value, dtype: DType): Value {
  return v.type.dtype === dtype ? v : c.add('cast', [v], { to: dtype });
}

/** Reshape unless the shape is already `shape`. */
export function reshapeTo(c: NodeCtx, v: Value, shape: readonly number[]): Value {
  const same = shape.length === v.type.shape.length && shape.every((d, i) => d === v.type.shape[i]);
  return same ? v : c.add('reshape', [v], { shape: [...shape] });
}

/** Axis in 0..rank-1 from an ONNX axis (negative from the end); E0902 when out of range. */
export function axisOf(c: NodeCtx, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) c.bad(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * The axis of an Elements op (GatherElements, ScatterElements) on data `x`,
 * after its checks: indices of x's rank, and constant indices within the axis.
 */
export function elementsAxis(c: NodeCtx, x: Value): number {
  const axis = axisOf(c, c.int('axis', 0), rankOf(x));
  if (c.shape(1).length !== rankOf(x)) c.bad(`indices of rank ${c.shape(1).length} for data of rank ${rankOf(x)}`);
  const e = c.entry(1);
  if (e.kind === 'const') {
    const dim = x.type.shape[axis]!;
    if ([...e.t.data].some((i) => i < -dim || i >= dim)) c.bad(`an index is out of range for an axis of ${dim}`);
  }
  return axis;
}

/** Explicit pads (all begins, then all ends; [top, left, bottom, right] in 2-D) from ONNX's pads / auto_pad for a window op. */
export function windowPads(c: NodeCtx, inSize: readonly number[], kernel: readonly number[], strides: readonly number[], dil: readonly number[]): number[] {
  const autoPad = c.string('auto_pad', 'NOTSET');
  const n = kernel.length;
  if (autoPad === 'NOTSET') {
    const p = c.intList('pads') ?? new Array<number>(2 * n).fill(0);
    if (p.length !== 2 * n) c.bad(`pads has ${p.length} entries, expected ${2 * n}`);
    return p;
  }
  if (autoPad === 'VALID') {
    c.intList('pads');
    return new Array<number>(2 * n).fill(0);
  }
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') c.unsupported(`auto_pad '${autoPad}' is not supported`);
  const begin: number[] = [], end: number[] = [];
  for (let i = 0; i < n; i++) {
    const out = Math.ceil(inSize[i]! / strides[i]!);
    const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dil[i]! + 1 - inSize[i]!);
    const small = Math.floor(total / 2);
    begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
    end.push(autoPad === 'SAME_UPPER' ? total - small : small);
  }
  return [...begin, ...end];
}
