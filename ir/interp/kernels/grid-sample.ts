// Reference rules of grid_sample and its gradient ops (ir/grid-sample.ts
// defines the taps): f64 arithmetic, every result rounded to the dtype once.
// - grid_sample: y[n, c, i, j] = sum over the row taps a and column taps b of
//   the grid point (n, i, j) of wy_a · wx_b · x[n, c, ya, xb] (0 outside).
// - grid_sample_grad_input: the adjoint: each dy element adds dy · wy_a · wx_b
//   to x's element (ya, xb) (a scatter-add; taps padded onto one element add up).
// - grid_sample_grad_grid: dgrid[n, i, j, 0] = sum over c of dy · sum of
//   wy_a · dwx_b · x (the column coordinate), [.., 1] with dwy_a · wx_b.

import type { Attrs } from '../../attrs.ts';
import { axisTaps, gridSampleSettings } from '../../grid-sample.ts';
import type { AxisTaps, GridSampleSettings } from '../../grid-sample.ts';
import { allocData, storeAs } from '../tensor.ts';
import type { HostTensor } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';

/** Calls f(flat offset within one [H, W] plane, wy · wx, wy · dwx, dwy · wx) for every in-range tap pair of grid point p. */
function forEachTap(grid: HostTensor, p: number, h: number, w: number, s: GridSampleSettings,
  f: (at: number, ww: number, dgx: number, dgy: number) => void): void {
  const tx: AxisTaps = axisTaps(grid.data[2 * p]!, w, s);
  const ty: AxisTaps = axisTaps(grid.data[2 * p + 1]!, h, s);
  for (let a = 0; a < ty.idx.length; a++) {
    const ya = ty.idx[a]!;
    if (ya < 0 || ya >= h) continue;
    for (let b = 0; b < tx.idx.length; b++) {
      const xb = tx.idx[b]!;
      if (xb < 0 || xb >= w) continue;
      f(ya * w + xb, ty.w[a]! * tx.w[b]!, ty.w[a]! * tx.dw[b]!, ty.dw[a]! * tx.w[b]!);
    }
  }
}

/** x [N, C, H, W], output positions per batch (Ho · Wo). */
function dims(xShape: readonly number[], gridShape: readonly number[]) {
  const [n, c, h, w] = xShape as [number, number, number, number];
  return { n, c, h, w, hw: h * w, m: gridShape[1]! * gridShape[2]! };
}

export const gridSample: Kernel = ([x, grid], a, [out]) => {
  const s = gridSampleSettings(a);
  const { n, c, h, w, hw, m } = dims(x!.shape, grid!.shape);
  const d = out!.dtype;
  const data = allocData(d, n * c * m);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < m; q++) {
      const acc = new Float64Array(c);
      forEachTap(grid!, b * m + q, h, w, s, (at, ww) => {
        for (let k = 0; k < c; k++) acc[k] = acc[k]! + ww * x!.data[(b * c + k) * hw + at]!;
      });
      for (let k = 0; k < c; k++) data[(b * c + k) * m + q] = storeAs(d, acc[k]!);
    }
  }
  return [{ dtype: d, shape: [...out!.shape], data }];
};

export const gridSampleGradInput: Kernel = ([dy, grid], a, [out]) => {
  const s = gridSampleSettings(a);
  const { n, c, h, w, hw, m } = dims(out!.shape, grid!.shape);
  const acc = new Float64Array(n * c * hw);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < m; q++) {
      forEachTap(grid!, b * m + q, h, w, s, (at, ww) => {
        for (let k = 0; k < c; k++) acc[(b * c + k) * hw + at] = acc[(b * c + k) * hw + at]! + ww * dy!.data[(b * c + k) * m + q]!;
      });
    }
  }
  const d = out!.dtype;
  const data = allocData(d, acc.length);
  for (let i = 0; i < acc.length; i++) data[i] = storeAs(d, acc[i]!);
  return [{ dtype: d, shape: [...out!.shape], data }];
};

export const gridSampleGradGrid: Kernel = ([x, grid, dy], a, [out]) => {
  const s = gridSampleSettings(a);
  const { n, c, h, w, hw, m } = dims(x!.shape, grid!.shape);
  const d = out!.dtype;
  const data = allocData(d, 2 * n * m);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < m; q++) {
      let gx = 0, gy = 0;
      forEachTap(grid!, b * m + q, h, w, s, (at, _ww, dgx, dgy) => {
        for (let k = 0; k < c; k++) {
          const v = dy!.data[(b * c + k) * m + q]! * x!.data[(b * c + k) * hw + at]!;
          gx += dgx * v;
          gy += dgy * v;
        }
      });
      data[2 * (b * m + q)] = storeAs(d, gx);
      data[2 * (b * m + q) + 1] = storeAs(d, gy);
    }
  }
  return [{ dtype: d, shape: [...out!.shape], data }];
};
