// Reference kernels of the gradient ops (ir/ops-gradient.ts): the input and
// weight gradients of conv2d, the input gradients of max / average pooling,
// and gelu's derivative. f64 inside, results stored through `storeAs`; the
// conv gradients accumulate as their `acc` attribute says, the pooling
// gradients sum in f64 (they have no `acc`; their few terms per element are
// defined to be summed in f32, as the forward pooling statistics are).
//
// Summation orders are part of the definition where acc = f16 rounds every
// addition, and are the ones the WGSL kernels use:
// - conv2d_grad_input: dx[n, c, ih, iw] gathers over (kh, kw, o) in that
//   order (o the output channels of c's group), taking the taps whose output
//   position oh = (ih + pt - kh·dh) / sh (and likewise ow) is an integer in
//   range;
// - conv2d_grad_weight: dw[o, c, kh, kw] sums x · dy over (n, oh, ow)
//   row-major, skipping taps that fall on padding.

import type { DType } from '../../dtype.ts';
import { erf, erfc, sigmoid } from '../math.ts';
import type { Kernel } from './elementwise.ts';
import { mapBroadcast } from './elementwise.ts';
import { accumulator, makeTensor } from './util.ts';

type Dims4 = [number, number, number, number];

interface ConvAttrs {
  sh: number; sw: number;
  pt: number; pl: number;
  dh: number; dw: number;
  groups: number;
  acc: DType;
}

function convAttrs(a: Record<string, unknown>): ConvAttrs {
  const [sh, sw] = a.stride as [number, number];
  const [pt, pl] = a.padding as [number, number, number, number];
  const [dh, dw] = a.dilation as [number, number];
  return { sh, sw, pt, pl, dh, dw, groups: a.groups as number, acc: a.acc as DType };
}

/**
 * The output position `(i + pad - k·dil) / stride` that input position `i`
 * meets through tap `k`, or -1 when it is not an integer in [0, size).
 */
function outPos(i: number, pad: number, k: number, dil: number, stride: number, size: number): number {
  const t = i + pad - k * dil;
  if (t < 0 || t % stride !== 0) return -1;
  const o = t / stride;
  return o < size ? o : -1;
}

/** dx of conv2d: `conv2d_grad_input %dy, %w` — the transposed convolution, as a gather. */
export const conv2dGradInput: Kernel = ([dy, w], attrs, [out]) => {
  const [N, C, H, W] = out!.shape as Dims4;
  const [O, CG, KH, KW] = w!.shape as Dims4;
  const [, , OH, OW] = dy!.shape as Dims4;
  const a = convAttrs(attrs);
  const OG = O / a.groups;
  const add = accumulator(dy!.dtype, a.acc);
  const dyd = dy!.data, wd = w!.data;
  const values = new Float64Array(N * C * H * W);
  let idx = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / CG), cc = c - g * CG;
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          let s = 0;
          for (let kh = 0; kh < KH; kh++) {
            const oh = outPos(ih, a.pt, kh, a.dh, a.sh, OH);
            if (oh < 0) continue;
            for (let kw = 0; kw < KW; kw++) {
              const ow = outPos(iw, a.pl, kw, a.dw, a.sw, OW);
              if (ow < 0) continue;
              for (let o = g * OG; o < (g + 1) * OG; o++) {
                s = add(s, dyd[((n * O + o) * OH + oh) * OW + ow]! * wd[((o * CG + cc) * KH + kh) * KW + kw]!);
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

/** dw of conv2d: `conv2d_grad_weight %x, %dy` — x correlated with dy. */
export const conv2dGradWeight: Kernel = ([x, dy], attrs, [out]) => {
  const [N, C, H, W] = x!.shape as Dims4;
  const [O, CG, KH, KW] = out!.shape as Dims4;
  const [, , OH, OW] = dy!.shape as Dims4;
  const a = convAttrs(attrs);
  const OG = O / a.groups;
  const add = accumulator(x!.dtype, a.acc);
  const xd = x!.data, dyd = dy!.data;
  const values = new Float64Array(O * CG * KH * KW);
  let idx = 0;
  for (let o = 0; o < O; o++) {
    const c0 = Math.floor(o / OG) * CG;
    for (let cc = 0; cc < CG; cc++) {
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          let s = 0;
          for (let n = 0; n < N; n++) {
            const xBase = (n * C + c0 + cc) * H * W;
            const dyBase = (n * O + o) * OH * OW;
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * a.sh - a.pt + kh * a.dh;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * a.sw - a.pl + kw * a.dw;
                if (iw < 0 || iw >= W) continue;
                s = add(s, xd[xBase + ih * W + iw]! * dyd[dyBase + oh * OW + ow]!);
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

interface PoolGeometry {
  NC: number; H: number; W: number; OH: number; OW: number;
  KH: number; KW: number; sh: number; sw: number; pt: number; pl: number;
}

function poolGeometry(xShape: readonly number[], dyShape: readonly number[], a: Record<string, unknown>): PoolGeometry {
  const [N, C, H, W] = xShape as Dims4;
  const [, , OH, OW] = dyShape as Dims4;
  const [KH, KW] = a.kernel as [number, number];
  const [sh, sw] = a.stride as [number, number];
  const [pt, pl] = a.padding as [number, number, number, number];
  return { NC: N * C, H, W, OH, OW, KH, KW, sh, sw, pt, pl };
}

/**
 * dx of max_pool2d: each window's dy goes to its winner, and overlapping
 * windows add up. The winner is the window's first in-bounds element in scan
 * order (kh, then kw), replaced by a later element only if that one is
 * greater, or is NaN while the winner is not. So: the first maximum (ties go
 * to the earliest, as PyTorch), the first NaN when there is one (the forward
 * max propagates NaN), and the first element of a window of -inf. Padding
 * never wins.
 */
export const maxPool2dGrad: Kernel = ([x, dy], attrs, [out]) => {
  const p = poolGeometry(x!.shape, dy!.shape, attrs);
  const xd = x!.data, dyd = dy!.data;
  const values = new Float64Array(p.NC * p.H * p.W);
  for (let nc = 0; nc < p.NC; nc++) {
    const base = nc * p.H * p.W;
    for (let oh = 0; oh < p.OH; oh++) {
      for (let ow = 0; ow < p.OW; ow++) {
        let win = -1;
        let best = NaN;
        for (let kh = 0; kh < p.KH; kh++) {
          const ih = oh * p.sh - p.pt + kh;
          if (ih < 0 || ih >= p.H) continue;
          for (let kw = 0; kw < p.KW; kw++) {
            const iw = ow * p.sw - p.pl + kw;
            if (iw < 0 || iw >= p.W) continue;
            const at = base + ih * p.W + iw;
            const v = xd[at]!;
            if (win < 0 || (!Number.isNaN(best) && (Number.isNaN(v) || v > best))) {
              win = at;
              best = v;
            }
          }
        }
        values[win] += dyd[(nc * p.OH + oh) * p.OW + ow]!;
      }
    }
  }
  return [makeTensor(out!, values)];
};

/**
 * dx of avg_pool2d: each window's dy, divided by the window's count (the
 * kernel area with count_include_pad, else its number of in-bounds
 * positions), goes to each of its in-bounds positions.
 */
export const avgPool2dGrad: Kernel = ([dy], attrs, [out]) => {
  const p = poolGeometry(out!.shape, dy!.shape, attrs);
  const includePad = attrs.count_include_pad as boolean;
  const dyd = dy!.data;
  const values = new Float64Array(p.NC * p.H * p.W);
  for (let nc = 0; nc < p.NC; nc++) {
    const base = nc * p.H * p.W;
    for (let oh = 0; oh < p.OH; oh++) {
      const h0 = Math.max(0, oh * p.sh - p.pt), h1 = Math.min(p.H, oh * p.sh - p.pt + p.KH);
      for (let ow = 0; ow < p.OW; ow++) {
        const w0 = Math.max(0, ow * p.sw - p.pl), w1 = Math.min(p.W, ow * p.sw - p.pl + p.KW);
        const count = includePad ? p.KH * p.KW : (h1 - h0) * (w1 - w0);
        const share = dyd[(nc * p.OH + oh) * p.OW + ow]! / count;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) values[base + ih * p.W + iw] += share;
        }
      }
    }
  }
  return [makeTensor(out!, values)];
};

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π)
const SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)
const GELU_C = 0.044715;

/** d/dx of GELU with erf: Φ(x) + x·φ(x) (Φ from erfc for x < 0, so the left tail stays accurate). */
export function geluErfDerivative(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const cdf = x >= 0 ? 0.5 * (1 + erf(x * SQRT1_2)) : 0.5 * erfc(-x * SQRT1_2);
  return cdf + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * d/dx of GELU's tanh form x·s with s = (1 + tanh u)/2 = sigmoid(2u),
 * u = √(2/π)(x + 0.044715x³): s + x·2s(1 - s)·u', written with sigmoids so
 * that neither 1 + tanh nor 1 - tanh² cancels.
 */
export function geluTanhDerivative(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
  const s = sigmoid(2 * u), sm = sigmoid(-2 * u);
  return s + x * 2 * s * sm * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}

/** `gelu_grad %x, %dy`: dy · gelu'(x). */
export const geluGrad: Kernel = ([x, dy], a, [out]) => {
  const d = a.approximate === 'tanh' ? geluTanhDerivative : geluErfDerivative;
  return [mapBroadcast([x!, dy!], out!, (xs) => xs[1]! * d(xs[0]!))];
};
