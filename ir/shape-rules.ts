// Shape arithmetic shared by the op table, the tracer and the interpreter:
// numpy broadcasting, axis normalization, matmul and convolution shapes.

import { AmpcError } from './errors.ts';
import type { Shape } from './types.ts';
import { shapeToString } from './types.ts';

/** numpy broadcasting of any number of shapes. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new AmpcError('E0202', `${op}: shapes ${shapes.map(shapeToString).join(' and ')} do not broadcast`);
      }
    }
  }
  return out;
}

/** True if `from` broadcasts to exactly `to` (one-directional, as broadcast_to). */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[off + i]);
}

/** Turns a possibly negative axis into 0..rank-1. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new AmpcError('E0204', `${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Normalizes and sorts a list of axes; rejects repeats. */
export function normalizeAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normalizeAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new AmpcError('E0204', `${op}: axes [${axes.join(', ')}] repeat an axis`);
  return out.sort((a, b) => a - b);
}

export interface MatmulDims {
  batch: number[];
  m: number;
  k: number;
  n: number;
}

/** Shapes of a (batched) matmul: a[..., M, K] x b[..., K, N] (before transposes). */
export function matmulDims(a: Shape, b: Shape, transposeA: boolean, transposeB: boolean): MatmulDims {
  if (a.length < 2 || b.length < 2) {
    throw new AmpcError('E0203', `matmul: operands need rank >= 2, got ${shapeToString(a)} and ${shapeToString(b)}`);
  }
  const [am, ak] = transposeA ? [a.at(-1)!, a.at(-2)!] : [a.at(-2)!, a.at(-1)!];
  const [bk, bn] = transposeB ? [b.at(-1)!, b.at(-2)!] : [b.at(-2)!, b.at(-1)!];
  if (ak !== bk) throw new AmpcError('E0201', `matmul: inner dimensions differ (${ak} vs ${bk})`);
  const batch = broadcastShapes('matmul', [a.slice(0, -2), b.slice(0, -2)]);
  return { batch, m: am, k: ak, n: bn };
}

/** Output extent of a convolution or pooling window along one axis. */
export function windowOutSize(op: string, size: number, kernel: number, stride: number, padBefore: number, padAfter: number, dilation: number): number {
  const span = dilation * (kernel - 1) + 1;
  const padded = size + padBefore + padAfter;
  if (padded < span) {
    throw new AmpcError('E0201', `${op}: window of extent ${span} does not fit the padded input extent ${padded}`);
  }
  return Math.floor((padded - span) / stride) + 1;
}

export function checkPositive(op: string, name: string, values: readonly number[], length: number): void {
  if (values.length !== length) throw new AmpcError('E0104', `${op}: '${name}' needs ${length} entries, got ${values.length}`);
  if (values.some((v) => v <= 0)) throw new AmpcError('E0104', `${op}: '${name}' entries must be positive, got [${values.join(', ')}]`);
}

export function checkNonNegative(op: string, name: string, values: readonly number[], length: number): void {
  if (values.length !== length) throw new AmpcError('E0104', `${op}: '${name}' needs ${length} entries, got ${values.length}`);
  if (values.some((v) => v < 0)) throw new AmpcError('E0104', `${op}: '${name}' entries must be >= 0, got [${values.join(', ')}]`);
}

/** Largest extent of one dimension (what a u32 index and the text format hold). */
export const MAX_EXTENT = 2 ** 31 - 1;

/** Rejects shapes with negative, fractional or huge extents (E0006). */
export function checkShape(what: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_EXTENT) {
      throw new AmpcError('E0006', `${what}: bad extent ${d} in ${shapeToString(shape)} (extents are integers from 0 to ${MAX_EXTENT})`);
    }
  }
}
