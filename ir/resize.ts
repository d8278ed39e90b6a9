// resize (ONNX Resize, resolved to its static form): the attributes, the type
// rule and the per-axis coordinate map that the reference interpreter, the
// vjp and the WGSL kernels (compiler/kernels/resize.ts, which mirrors
// `axisCoord` and `axisTaps` in f32) share.
//
//   %y = resize %x {sizes, scales, mode, coordinate_transformation_mode,
//                   nearest_mode, cubic_coeff_a, exclude_outside,
//                   extrapolation_value, roi}
//
// `sizes` is the output shape (one extent per axis); `scales` (one per axis,
// or [] for sizes[k] / x.shape[k]) is the scale the coordinate transformation
// divides by — ONNX uses the given scales, which may differ from size / in
// (4 · 0.6 gives 2 elements, but coordinates step by 1 / 0.6). Output
// element o of axis k reads input coordinate x(o) (ONNX's
// coordinate_transformation_mode formulas), then:
// - nearest: one tap, x rounded per nearest_mode, clamped to [0, n);
// - linear: taps floor(x), floor(x)+1 weighted 1-r, r (r = x - floor(x));
// - cubic: taps floor(x)-1 .. floor(x)+2 with Keys' kernel (cubic_coeff_a);
//   exclude_outside zeroes taps outside [0, n) and renormalizes;
// taps outside [0, n) read the edge element. An n-d output element is the sum
// over all tap combinations of the product of the per-axis weights (n-linear,
// n-cubic). tf_crop_and_resize maps through `roi` (starts then ends, in
// normalized coordinates, one pair per axis) and gives extrapolation_value
// where a coordinate falls outside [0, n-1]. tf_half_pixel_for_nn (ONNX
// opsets 11-12) is (o + 0.5) / scale. Axes with the same size, scale 1
// and no roi are copied. The interpolation is computed in f32 (f64 in the
// reference) and rounded to the dtype once.

import type { AttrSpec, Attrs } from './attrs.ts';
import { isFloat } from './dtype.ts';
import { AmpcError } from './errors.ts';
import type { TensorType } from './types.ts';
import { typeToString } from './types.ts';

export const RESIZE_MODES = ['nearest', 'linear', 'cubic'] as const;
export const COORDINATE_MODES = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize', 'tf_half_pixel_for_nn'] as const;
export const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;

export const RESIZE_ATTRS = {
  sizes: { kind: 'ints' },
  scales: { kind: 'floats', default: [] },
  mode: { kind: 'string', default: 'nearest', oneOf: RESIZE_MODES },
  coordinate_transformation_mode: { kind: 'string', default: 'half_pixel', oneOf: COORDINATE_MODES },
  nearest_mode: { kind: 'string', default: 'round_prefer_floor', oneOf: NEAREST_MODES },
  cubic_coeff_a: { kind: 'float', default: -0.75 },
  exclude_outside: { kind: 'bool', default: false },
  extrapolation_value: { kind: 'float', default: 0 },
  roi: { kind: 'floats', default: [] },
} as const satisfies Record<string, AttrSpec>;

export function resizeInfer([x]: readonly TensorType[], a: Attrs): TensorType[] {
  if (!isFloat(x!.dtype)) throw new AmpcError('E0206', `resize: expects float operands, got ${typeToString(x!)}`);
  const r = x!.shape.length;
  const sizes = a.sizes as readonly number[], scales = a.scales as readonly number[], roi = a.roi as readonly number[];
  if (sizes.length !== r) throw new AmpcError('E0104', `resize: sizes [${sizes.join(', ')}] needs one extent per axis of ${typeToString(x!)}`);
  if (sizes.some((d) => d < 0)) throw new AmpcError('E0104', `resize: sizes [${sizes.join(', ')}] has a negative extent`);
  if (scales.length !== 0 && scales.length !== r) throw new AmpcError('E0104', `resize: scales needs one entry per axis (${r}) or none, got ${scales.length}`);
  if (scales.some((s) => !(s > 0) || !Number.isFinite(s))) throw new AmpcError('E0104', `resize: scales must be positive and finite, got [${scales.join(', ')}]`);
  if (a.coordinate_transformation_mode === 'tf_crop_and_resize' && roi.length !== 2 * r) {
    throw new AmpcError('E0104', `resize: tf_crop_and_resize needs roi with ${2 * r} entries (starts, then ends), got ${roi.length}`);
  }
  sizes.forEach((d, k) => {
    if (d > 0 && x!.shape[k] === 0) throw new AmpcError('E0201', `resize: axis ${k} of ${typeToString(x!)} is empty but sizes asks for ${d}`);
  });
  return [{ dtype: x!.dtype, shape: [...sizes] }];
}

/** What one axis of a resize does. */
export interface ResizeAxis {
  /** Input and output extents. */
  readonly n: number;
  readonly m: number;
  readonly scale: number;
  readonly mode: string;
  readonly coord: string;
  readonly nearest: string;
  readonly a: number;
  readonly excludeOutside: boolean;
  readonly roiStart: number;
  readonly roiEnd: number;
}

/** The axes of a resize node, with whether each one is a plain copy. */
export function resizeAxes(inShape: readonly number[], a: Attrs): { axes: ResizeAxis[]; copied: boolean[] } {
  const sizes = a.sizes as readonly number[], scales = a.scales as readonly number[], roi = a.roi as readonly number[];
  const r = inShape.length;
  const coord = a.coordinate_transformation_mode as string;
  const axes = inShape.map((n, k): ResizeAxis => ({
    n, m: sizes[k]!, scale: scales.length ? scales[k]! : (n === 0 ? 1 : sizes[k]! / n),
    mode: a.mode as string, coord, nearest: a.nearest_mode as string, a: a.cubic_coeff_a as number,
    excludeOutside: a.exclude_outside as boolean,
    roiStart: coord === 'tf_crop_and_resize' ? roi[k]! : 0, roiEnd: coord === 'tf_crop_and_resize' ? roi[k + r]! : 1,
  }));
  const copied = axes.map((ax) => ax.n === ax.m && ax.scale === 1 && coord !== 'tf_crop_and_resize');
  return { axes, copied };
}

/** The input coordinate output element `o` of an axis reads (ONNX's coordinate_transformation_mode). */
export function axisCoord(ax: ResizeAxis, o: number): number {
  const { n, m, scale: s } = ax;
  switch (ax.coord) {
    case 'half_pixel_symmetric': {
      const adjustment = m / (s * n);
      const offset = (n / 2) * (1 - adjustment);
      return offset + (o + 0.5) / s - 0.5;
    }
    case 'pytorch_half_pixel': return m > 1 ? (o + 0.5) / s - 0.5 : 0;
    // ONNX's reference divides by the unrounded output length scale · n (m when sizes were given).
    case 'align_corners': return s * n === 1 ? 0 : (o * (n - 1)) / (s * n - 1);
    case 'asymmetric': return o / s;
    case 'tf_half_pixel_for_nn': return (o + 0.5) / s;
    case 'tf_crop_and_resize':
      return m > 1
        ? ax.roiStart * (n - 1) + (o * (ax.roiEnd - ax.roiStart) * (n - 1)) / (m - 1)
        : 0.5 * (ax.roiStart + ax.roiEnd) * (n - 1);
    default: return (o + 0.5) / s - 0.5; // half_pixel
  }
}

/** Keys' cubic convolution kernel with parameter A at distance |s|. */
export function cubicWeight(s: number, A: number): number {
  const x = Math.abs(s);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/** The nearest input index of coordinate x under a nearest_mode (before clamping). */
export function nearestIndex(x: number, mode: string): number {
  switch (mode) {
    case 'round_prefer_ceil': return Math.floor(x + 0.5);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: return Math.ceil(x - 0.5); // round_prefer_floor
  }
}

/** The taps (clamped input indices and weights) output element `o` of an axis reads; undefined: extrapolated (tf_crop_and_resize). */
export function axisTaps(ax: ResizeAxis, o: number): { idx: number[]; w: number[] } | undefined {
  const x = axisCoord(ax, o);
  const n = ax.n;
  if (ax.coord === 'tf_crop_and_resize' && (x < 0 || x > n - 1)) return undefined;
  const clamp = (i: number) => Math.min(Math.max(i, 0), n - 1);
  if (ax.mode === 'nearest') return { idx: [clamp(nearestIndex(x, ax.nearest))], w: [1] };
  const x0 = Math.floor(x), r = x - x0;
  let raw: number[], w: number[];
  if (ax.mode === 'linear') {
    raw = [x0, x0 + 1];
    w = [1 - r, r];
  } else {
    raw = [x0 - 1, x0, x0 + 1, x0 + 2];
    w = [cubicWeight(r + 1, ax.a), cubicWeight(r, ax.a), cubicWeight(1 - r, ax.a), cubicWeight(2 - r, ax.a)];
  }
  if (ax.excludeOutside) {
    w = w.map((v, j) => (raw[j]! < 0 || raw[j]! >= n ? 0 : v));
    const sum = w.reduce((p, q) => p + q, 0);
    w = w.map((v) => v / sum);
  }
  return { idx: raw.map(clamp), w };
}

/** Input-index reach of an axis's taps around x: taps of x lie in [x - reach, x + reach]. */
export function tapReach(mode: string): number {
  return mode === 'cubic' ? 2 : 1;
}
