// Input specs for tracing: the dtype and shape of each traced argument, with an
// optional name and the {param} mark. `f32([64, 784])`, `i32([64], 'labels')`,
// `f32([784, 256], { name: 'w', param: true })`.

import type { DType } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';
import type { Shape, TensorType } from '../types.ts';

export interface InputSpec extends TensorType {
  /** Graph input name; default: the traced function's parameter name, else `argN`. */
  readonly name?: string;
  /** Marks the input as a trainable parameter (`{param}` in the IR). */
  readonly param?: boolean;
}

export interface InputSpecOptions {
  readonly name?: string;
  readonly param?: boolean;
}

function spec(dtype: DType, shape: Shape, opts?: string | InputSpecOptions): InputSpec {
  const o: InputSpecOptions = typeof opts === 'string' ? { name: opts } : (opts ?? {});
  const s: { dtype: DType; shape: number[]; name?: string; param?: boolean } = { dtype, shape: [...shape] };
  if (o.name !== undefined) s.name = o.name;
  if (o.param) s.param = true;
  return s;
}

export const f32 = (shape: Shape, opts?: string | InputSpecOptions): InputSpec => spec('f32', shape, opts);
export const f16 = (shape: Shape, opts?: string | InputSpecOptions): InputSpec => spec('f16', shape, opts);
export const i32 = (shape: Shape, opts?: string | InputSpecOptions): InputSpec => spec('i32', shape, opts);
export const u32 = (shape: Shape, opts?: string | InputSpecOptions): InputSpec => spec('u32', shape, opts);
export const bool = (shape: Shape, opts?: string | InputSpecOptions): InputSpec => spec('bool', shape, opts);

/** Rejects shapes that are not lists of non-negative integers. */
export function checkShape(what: string, shape: unknown, loc?: Loc): void {
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new AmpcError('E0006', `${what}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`, loc);
  }
}
