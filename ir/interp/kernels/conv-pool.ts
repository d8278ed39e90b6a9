// conv2d (NCHW input, OIHW weight; stride, padding [top, left, bottom, right],
// dilation, groups; accumulation as `acc` says) and 2-D max / average pooling.

import type { DType } from '../../dtype.ts';
import type { Kernel } from './elementwise.ts';
import { accumulator, makeTensor } from './util.ts';

type Dims4 = [number, number, number, number];

export const conv2d: Kernel = ([x, w], a, [out]) => {
  const [N, C, H, W] = x!.shape as Dims4;
  const [O, CG, KH, KW] = w!.shape as Dims4;
  const [, , OH, OW] = out!.shape as Dims4;
  const [sh, sw] = a.stride as number[] as [number, number];
  const [pt, pl] = a.padding as number[] as [number, number];
  const [dh, dw] = a.dilation as number[] as [number, number];
  const groups = a.groups as number;
  const outPerGroup = O / groups;
  const add = accumulator(x!.dtype, a.acc as DType);
  const xd = x!.data, wd = w!.data;
  const values = new Float64Array(N * O * OH * OW);
  let idx = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const c0 = Math.floor(o / outPerGroup) * CG;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          for (let c = 0; c < CG; c++) {
            const xBase = (n * C + c0 + c) * H * W;
            const wBase = (o * CG + c) * KH * KW;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pl + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s = add(s, xd[xBase + ih * W + iw]! * wd[wBase + kh * KW + kw]!);
              }
            }
          }
          values[idx++] = s;
        }
      }
    }
  }
  return [makeTensor(out!, values)];
};

/**
 * Visits each pooling window: `visit(values, count)` receives the in-bounds
 * input values of the window (padding excluded) and returns the result.
 */
function pool(visit: (window: number[], kh: number, kw: number) => number): Kernel {
  return ([x], a, [out]) => {
    const [N, C, H, W] = x!.shape as Dims4;
    const [, , OH, OW] = out!.shape as Dims4;
    const [KH, KW] = a.kernel as number[] as [number, number];
    const [sh, sw] = a.stride as number[] as [number, number];
    const [pt, pl] = a.padding as number[] as [number, number];
    const xd = x!.data;
    const values = new Float64Array(N * C * OH * OW);
    const window: number[] = [];
    let idx = 0;
    for (let nc = 0; nc < N * C; nc++) {
      const base = nc * H * W;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          window.length = 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sh - pt + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sw - pl + kw;
              if (iw >= 0 && iw < W) window.push(xd[base + ih * W + iw]!);
            }
          }
          values[idx++] = visit(window, KH, KW);
        }
      }
    }
    return [makeTensor(out!, values)];
  };
}

/** Padding never wins (it is -inf); NaN propagates. */
export const maxPool2d: Kernel = pool((win) => {
  let m = -Infinity;
  for (const v of win) {
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
});

/** Mean of the window: over the whole kernel area with count_include_pad, else over the non-pad elements. */
export const avgPool2d: Kernel = (inputs, a, results) => {
  const includePad = a.count_include_pad as boolean;
  return pool((win, kh, kw) => {
    let s = 0;
    for (const v of win) s += v;
    return s / (includePad ? kh * kw : win.length);
  })(inputs, a, results);
};
