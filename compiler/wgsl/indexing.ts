// WGSL index arithmetic for static shapes: flat index -> coordinates, and
// coordinates -> flat index of a (possibly broadcast or permuted) operand.

import { stridesOf } from '../../ir/types.ts';
import type { Shape } from '../../ir/types.ts';

/** Statements `let c0 = ...; let c1 = ...;` decomposing `flat` over `shape`. */
export function coordsOf(shape: Shape, flat: string, prefix = 'c'): string {
  const strides = stridesOf(shape);
  return shape
    .map((d, k) => {
      const q = strides[k] === 1 ? flat : `(${flat} / ${strides[k]}u)`;
      return k === 0 ? `let ${prefix}${k} = ${q};` : `let ${prefix}${k} = ${q} % ${d}u;`;
    })
    .join(' ');
}

/**
 * Flat index into an operand of shape `inShape` broadcast (numpy rules) to an
 * output whose coordinates are `${prefix}k` (output rank `outRank`).
 */
export function broadcastIndex(inShape: Shape, outRank: number, prefix = 'c'): string {
  const strides = stridesOf(inShape);
  const off = outRank - inShape.length;
  const terms: string[] = [];
  inShape.forEach((d, k) => {
    if (d === 1) return;
    const c = `${prefix}${off + k}`;
    terms.push(strides[k] === 1 ? c : `${c} * ${strides[k]}u`);
  });
  return terms.length ? terms.join(' + ') : '0u';
}

/** Flat index from explicit per-dimension coordinate expressions. */
export function flatIndex(shape: Shape, coords: readonly string[]): string {
  const strides = stridesOf(shape);
  const terms = coords.map((c, k) => (strides[k] === 1 ? `(${c})` : `(${c}) * ${strides[k]}u`)).filter((_, k) => shape[k] !== 1);
  return terms.length ? terms.join(' + ') : '0u';
}

/** True when operand and output shapes are equal, so index `i` can be used directly. */
export function sameLayout(inShape: Shape, outShape: Shape): boolean {
  return inShape.length === outShape.length && inShape.every((d, k) => d === outShape[k]);
}

/** Coordinate `k` of flat index `flat` (a u32 expression below numel(shape)) over `shape`, as one expression. */
export function coordOf(shape: Shape, k: number, flat: string): string {
  const stride = stridesOf(shape)[k]!;
  const q = stride === 1 ? flat : `(${flat} / ${stride}u)`;
  return k === 0 ? q : `(${q} % ${shape[k]}u)`;
}

/**
 * Flat index into a value of shape `inShape` broadcast (numpy rules) to
 * `outShape`, from the output's flat index `flat`, as one expression (no
 * coordinate statements needed).
 */
export function broadcastFlat(inShape: Shape, outShape: Shape, flat: string): string {
  if (sameLayout(inShape, outShape)) return flat;
  const strides = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  const terms = inShape.flatMap((d, k) => {
    if (d === 1) return [];
    const c = coordOf(outShape, k + off, flat);
    return [strides[k] === 1 ? c : `${c} * ${strides[k]}u`];
  });
  return terms.length ? terms.join(' + ') : '0u';
}
