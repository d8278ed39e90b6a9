// Reference rules of resize and resize_grad (ir/resize.ts defines the taps):
// f64 arithmetic, every output rounded to the dtype once.
// - resize: each output element sums x at every combination of its per-axis
//   taps times the product of their weights (extrapolation_value where a
//   tf_crop_and_resize coordinate falls outside the input).
// - resize_grad: the adjoint: every dy element adds dy · (product of weights)
//   to each input element its taps read (taps clamped onto one element add up).

import type { Attrs } from '../../attrs.ts';
import { axisTaps, resizeAxes } from '../../resize.ts';
import type { ResizeAxis } from '../../resize.ts';
import { numel, stridesOf } from '../../types.ts';
import { allocData, storeAs } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';

type Taps = { idx: number[]; w: number[] } | undefined;

/** Per axis, the taps of every output index (a copied axis: the identity). */
function tapTables(inShape: readonly number[], attrs: Attrs): Taps[][] {
  const { axes, copied } = resizeAxes(inShape, attrs);
  return axes.map((ax: ResizeAxis, k) =>
    Array.from({ length: ax.m }, (_, o) => (copied[k] ? { idx: [o], w: [1] } : axisTaps(ax, o))));
}

/** Calls f(input flat index, weight) for every tap combination of output coordinates `oc`; false when extrapolated. */
function forEachTap(tables: Taps[][], inStrides: readonly number[], oc: readonly number[], f: (at: number, w: number) => void): boolean {
  const taps = oc.map((o, k) => tables[k]![o]);
  if (taps.some((t) => t === undefined)) return false;
  const r = oc.length;
  const walk = (k: number, at: number, w: number): void => {
    if (k === r) {
      f(at, w);
      return;
    }
    const t = taps[k]!;
    for (let j = 0; j < t.idx.length; j++) walk(k + 1, at + t.idx[j]! * inStrides[k]!, w * t.w[j]!);
  };
  walk(0, 0, 1);
  return true;
}

function coordsOf(flat: number, shape: readonly number[], strides: readonly number[]): number[] {
  return shape.map((d, k) => Math.floor(flat / strides[k]!) % d);
}

export const resize: Kernel = ([x], a, [out]) => {
  const xs = x!.shape, ys = out!.shape;
  const tables = tapTables(xs, a);
  const inStrides = stridesOf(xs), outStrides = stridesOf(ys);
  const d = out!.dtype;
  const data = allocData(d, numel(ys));
  for (let p = 0; p < data.length; p++) {
    let acc = 0;
    const inside = forEachTap(tables, inStrides, coordsOf(p, ys, outStrides), (at, w) => {
      acc += w * x!.data[at]!;
    });
    data[p] = storeAs(d, inside ? acc : (a.extrapolation_value as number));
  }
  return [{ dtype: d, shape: [...ys], data }];
};

export const resizeGrad: Kernel = ([dy], a, [out]) => {
  const xs = out!.shape, ys = dy!.shape;
  const tables = tapTables(xs, a);
  const inStrides = stridesOf(xs), outStrides = stridesOf(ys);
  const acc = new Float64Array(numel(xs));
  for (let p = 0; p < numel(ys); p++) {
    const g = dy!.data[p]!;
    forEachTap(tables, inStrides, coordsOf(p, ys, outStrides), (at, w) => {
      acc[at] = acc[at]! + g * w;
    });
  }
  const d = out!.dtype;
  const data = allocData(d, acc.length);
  for (let i = 0; i < acc.length; i++) data[i] = storeAs(d, acc[i]!);
  return [{ dtype: d, shape: [...xs], data }];
};
