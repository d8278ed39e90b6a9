// grid_sample (ONNX GridSample, PyTorch's grid_sample, 4-D): the attributes,
// the type rule and the per-axis taps that the reference interpreter, the
// vjp and the WGSL kernels (compiler/kernels/grid-sample.ts, which mirrors
// `axisTaps` in f32) share.
//
//   %y = grid_sample %x, %grid {mode, padding_mode, align_corners}
//
// x is [N, C, H, W], grid [N, Ho, Wo, 2] holding (x, y) in [-1, 1]; y is
// [N, C, Ho, Wo]. A grid coordinate g of an axis of extent n is unnormalized
// to u = (g + 1) / 2 · (n - 1) (align_corners) or ((g + 1) · n - 1) / 2, then
// (PyTorch's grid_sampler_compute_source_index):
// - nearest:  u through the padding map, rounded half to even: one tap;
// - bilinear: u through the padding map; taps floor(u), floor(u) + 1
//   weighted 1 - t, t (t = u - floor(u));
// - bicubic:  u itself (no padding map); taps floor(u) - 1 .. floor(u) + 2
//   with Keys' kernel (A = -0.75), each tap's index through the padding map.
// The padding map: zeros leaves the coordinate as is, border clamps it to
// [0, n - 1], reflection reflects it about the edges (0 and n - 1 with
// align_corners, -0.5 and n - 0.5 without) and then clamps it. A tap outside
// [0, n) reads 0. An output element is the sum over the (row tap, column
// tap) pairs of the product of their weights times x there. The arithmetic
// is f32 (f64 in the reference), rounded to the dtype once.
//
// Each tap also carries d(weight)/d(g) (through the unnormalization and the
// padding map, whose slope is 0 where it clamps, ±1 elsewhere), which the
// grid gradient sums; nearest taps have none.

import type { AttrSpec, Attrs } from './attrs.ts';
import { isFloat } from './dtype.ts';
import { AmpcError } from './errors.ts';
import type { TensorType } from './types.ts';
import { typeToString } from './types.ts';

export const GRID_SAMPLE_MODES = ['bilinear', 'nearest', 'bicubic'] as const;
export const GRID_SAMPLE_PADDINGS = ['zeros', 'border', 'reflection'] as const;

export const GRID_SAMPLE_ATTRS = {
  mode: { kind: 'string', default: 'bilinear', oneOf: GRID_SAMPLE_MODES },
  padding_mode: { kind: 'string', default: 'zeros', oneOf: GRID_SAMPLE_PADDINGS },
  align_corners: { kind: 'bool', default: false },
} as const satisfies Record<string, AttrSpec>;

/** Keys' cubic coefficient of grid_sample's bicubic mode (PyTorch, ONNX). */
export const GRID_SAMPLE_CUBIC_A = -0.75;

export function gridSampleInfer([x, grid]: readonly TensorType[]): TensorType[] {
  if (!isFloat(x!.dtype)) throw new AmpcError('E0206', `grid_sample: expects float operands, got ${typeToString(x!)}`);
  if (grid!.dtype !== x!.dtype) throw new AmpcError('E0205', `grid_sample: operand dtypes differ (${typeToString(x!)} vs ${typeToString(grid!)})`);
  if (x!.shape.length !== 4) throw new AmpcError('E0201', `grid_sample: x must be 4-D [N, C, H, W], got ${typeToString(x!)}`);
  const [n, c] = x!.shape as [number, number];
  const gs = grid!.shape;
  if (gs.length !== 4 || gs[3] !== 2 || gs[0] !== n) {
    throw new AmpcError('E0201', `grid_sample: grid must be [${n}, Ho, Wo, 2] for x ${typeToString(x!)}, got ${typeToString(grid!)}`);
  }
  return [{ dtype: x!.dtype, shape: [n, c, gs[1]!, gs[2]!] }];
}

/** The static settings of a grid_sample node. */
export interface GridSampleSettings {
  readonly mode: string;
  readonly padding: string;
  readonly align: boolean;
}

export function gridSampleSettings(a: Attrs): GridSampleSettings {
  return { mode: a.mode as string, padding: a.padding_mode as string, align: a.align_corners as boolean };
}

/** Unnormalized coordinate of g on an axis of extent n, and du/dg. */
export function unnormalize(g: number, n: number, align: boolean): [number, number] {
  return align ? [((g + 1) / 2) * (n - 1), (n - 1) / 2] : [((g + 1) * n - 1) / 2, n / 2];
}

/** PyTorch's reflect_coordinates about twiceLow / 2 and twiceHigh / 2, with the slope (±1). */
function reflect(u: number, twiceLow: number, twiceHigh: number): [number, number] {
  if (twiceLow === twiceHigh) return [0, 0];
  const min = twiceLow / 2, span = (twiceHigh - twiceLow) / 2;
  let v = u - min, sign = 1;
  if (v < 0) {
    sign = -1;
    v = -v;
  }
  const extra = v % span, flips = Math.floor(v / span);
  return flips % 2 === 0 ? [extra + min, sign] : [span - extra + min, -sign];
}

/** The padding map (border / reflection; zeros: identity) of coordinate u on an axis of extent n, with its slope. */
export function padCoord(u: number, n: number, padding: string, align: boolean): [number, number] {
  let slope = 1;
  if (padding === 'zeros') return [u, 1];
  if (padding === 'reflection') [u, slope] = align ? reflect(u, 0, 2 * (n - 1)) : reflect(u, -1, 2 * n - 1);
  // clip_coordinates: slope 0 at and beyond the edges.
  if (u <= 0) return [0, 0];
  if (u >= n - 1) return [n - 1, 0];
  return [u, slope];
}

/** Round half to even (nearbyint). */
export function roundHalfEven(u: number): number {
  const f = Math.floor(u), r = u - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const cc1 = (x: number, A: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
const cc2 = (x: number, A: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
const dcc1 = (x: number, A: number) => (3 * (A + 2) * x - 2 * (A + 3)) * x;
const dcc2 = (x: number, A: number) => (3 * A * x - 10 * A) * x + 8 * A;

/** One axis's taps: indices (possibly outside [0, n): they read 0), weights and d(weight)/d(g). */
export interface AxisTaps {
  readonly idx: number[];
  readonly w: number[];
  readonly dw: number[];
}

/** The taps of normalized coordinate g on an axis of extent n. */
export function axisTaps(g: number, n: number, s: GridSampleSettings): AxisTaps {
  const [u0, du] = unnormalize(g, n, s.align);
  if (s.mode === 'bicubic') {
    const x0 = Math.floor(u0), t = u0 - x0, A = GRID_SAMPLE_CUBIC_A;
    const idx = [x0 - 1, x0, x0 + 1, x0 + 2].map((i) => (s.padding === 'zeros' ? i : padCoord(i, n, s.padding, s.align)[0]));
    const w = [cc2(t + 1, A), cc1(t, A), cc1(1 - t, A), cc2(2 - t, A)];
    const dw = [dcc2(t + 1, A), dcc1(t, A), -dcc1(1 - t, A), -dcc2(2 - t, A)].map((v) => v * du);
    return { idx, w, dw };
  }
  const [u, slope] = padCoord(u0, n, s.padding, s.align);
  if (s.mode === 'nearest') return { idx: [roundHalfEven(u)], w: [1], dw: [0] };
  const x0 = Math.floor(u), t = u - x0, d = slope * du;
  return { idx: [x0, x0 + 1], w: [1 - t, t], dw: [-d, d] };
}
