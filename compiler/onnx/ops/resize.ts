// Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 7, 9) as the IR's
// `resize` (ir/resize.ts), resolved at import: scales, sizes and roi must be
// constants (initializers, Constant nodes or folded shape arithmetic); a
// run-time one is refused with E0901. The IR op gets the output sizes and the
// per-axis scales the coordinates use, as ONNX computes them:
// - scales given: out = floor(in · scale), coordinates divide by the scale;
// - sizes given: scale = out / in; with keep_aspect_ratio_policy not_larger /
//   not_smaller (opset 18) one scale, the min / max of sizes / in over the
//   axes, and out = round(scale · in) (halves up) on those axes;
// - opset 18 `axes`: scales, sizes and roi name those axes only (others keep
//   their extent, scale 1, roi [0, 1]).
// Resize-10 and Upsample interpolate with asymmetric coordinates and nearest
// taken as floor (Upsample-7's scales are an attribute, Upsample-9's an
// input). antialias = 1 (opset 18) is refused with E0901. Float tensors only.

import type { DType } from '../../../ir/dtype.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { axisOf, rankOf, val } from './types.ts';

interface Resolved {
  sizes: number[];
  scales: number[];
  roi: number[];
}

/** Optional input i if present and not empty. */
function present(c: NodeCtx, i: number): boolean {
  return c.has(i) && c.shape(i).reduce((a, b) => a * b, 1) > 0;
}

function floats(c: NodeCtx, i: number, what: string): number[] {
  return [...c.constant(i, what).data];
}

/** Output sizes and coordinate scales from scales or sizes (listed for `axes`), per ONNX. */
function resolve(c: NodeCtx, inShape: readonly number[], scalesIn: number[] | undefined, sizesIn: number[] | undefined, axes: number[], policy: string): Resolved {
  const r = inShape.length;
  const sizes = [...inShape], scales = inShape.map(() => 1);
  if (scalesIn && sizesIn) c.bad('scales and sizes are both given (only one may be)');
  if (scalesIn) {
    if (scalesIn.length !== axes.length) c.bad(`scales has ${scalesIn.length} entries for ${axes.length} axes`);
    axes.forEach((k, j) => {
      const s = scalesIn[j]!;
      if (!(s > 0) || !Number.isFinite(s)) c.bad(`scale ${s} on axis ${k} must be positive`);
      scales[k] = s;
      sizes[k] = Math.floor(inShape[k]! * s);
    });
  } else if (sizesIn) {
    if (sizesIn.length !== axes.length) c.bad(`sizes has ${sizesIn.length} entries for ${axes.length} axes`);
    if (sizesIn.some((d) => d < 0 || !Number.isInteger(d))) c.bad(`sizes [${sizesIn.join(', ')}] must be non-negative integers`);
    if (policy === 'stretch') {
      axes.forEach((k, j) => {
        sizes[k] = sizesIn[j]!;
        scales[k] = inShape[k] === 0 ? 1 : sizesIn[j]! / inShape[k]!;
      });
    } else {
      const ratios = axes.map((k, j) => sizesIn[j]! / inShape[k]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      for (const k of axes) {
        scales[k] = s;
        sizes[k] = Math.floor(s * inShape[k]! + 0.5);
      }
    }
  } else {
    c.bad('neither scales nor sizes is given');
  }
  if (sizes.length !== r) c.bad('internal: sizes of the wrong rank');
  return { sizes, scales, roi: [] };
}

function dtypeCheck(c: NodeCtx): DType {
  const d = c.value(0).type.dtype;
  if (d !== 'f32' && d !== 'f16') c.unsupported(`input of type ${c.elem(0)} (float and float16 only)`);
  return d;
}

function resizeOp(c: NodeCtx): Entry[] {
  dtypeCheck(c);
  const x = c.value(0);
  const inShape = x.type.shape;
  const r = rankOf(x);
  if (c.opset < 11) {
    // Resize-10: X, scales; asymmetric, nearest as floor (Upsample-9's behaviour).
    return upsampleWith(c, floats(c, 1, 'scales'));
  }
  const mode = c.string('mode', 'nearest');
  if (!['nearest', 'linear', 'cubic'].includes(mode)) c.bad(`mode '${mode}'`);
  const coord = c.string('coordinate_transformation_mode', 'half_pixel');
  if (coord === 'tf_half_pixel_for_nn' && c.opset >= 13) c.bad(`coordinate_transformation_mode '${coord}' was removed in opset 13`);
  if (coord === 'half_pixel_symmetric' && c.opset < 19) c.bad(`coordinate_transformation_mode '${coord}' needs opset 19`);
  const nearest = c.string('nearest_mode', 'round_prefer_floor');
  const a = c.float('cubic_coeff_a', -0.75);
  const exclude = c.int('exclude_outside', 0) !== 0;
  const extrapolation = c.float('extrapolation_value', 0);
  let axes = inShape.map((_, k) => k);
  let policy = 'stretch';
  if (c.opset >= 18) {
    if (c.int('antialias', 0) !== 0) c.unsupported('antialias = 1 (only 0)');
    const given = c.intList('axes');
    if (given) axes = given.map((k) => axisOf(c, k, r, 'axes entry'));
    if (new Set(axes).size !== axes.length) c.bad(`axes [${axes.join(', ')}] repeats an axis`);
    policy = c.string('keep_aspect_ratio_policy', 'stretch');
    if (!['stretch', 'not_larger', 'not_smaller'].includes(policy)) c.bad(`keep_aspect_ratio_policy '${policy}'`);
  }
  const scales = present(c, 2) ? floats(c, 2, 'scales') : undefined;
  const sizes = present(c, 3) ? c.ints(3, 'sizes') : undefined;
  const res = resolve(c, inShape, scales, sizes, axes, scales ? 'stretch' : policy);
  if (coord === 'tf_crop_and_resize') {
    if (!present(c, 1)) c.bad('tf_crop_and_resize needs roi');
    const given = floats(c, 1, 'roi');
    if (given.length !== 2 * axes.length) c.bad(`roi has ${given.length} entries for ${axes.length} axes (starts, then ends)`);
    const starts = inShape.map(() => 0), ends = inShape.map(() => 1);
    axes.forEach((k, j) => {
      starts[k] = given[j]!;
      ends[k] = given[j + axes.length]!;
    });
    res.roi = [...starts, ...ends];
  }
  return val(c.add('resize', [x], {
    sizes: res.sizes, scales: res.scales, mode, coordinate_transformation_mode: coord, nearest_mode: nearest,
    cubic_coeff_a: a, exclude_outside: exclude, extrapolation_value: extrapolation, roi: res.roi,
  }));
}

/** Upsample (and Resize-10): out = floor(in · scale), asymmetric coordinates, nearest as floor. */
function upsampleWith(c: NodeCtx, scales: number[]): Entry[] {
  const x = c.value(0);
  const mode = c.string('mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && !(mode === 'bilinear' && c.op === 'Upsample' && c.opset < 9)) c.bad(`mode '${mode}'`);
  if (scales.length !== rankOf(x)) c.bad(`scales has ${scales.length} entries for rank ${rankOf(x)}`);
  const res = resolve(c, x.type.shape, scales, undefined, x.type.shape.map((_, k) => k), 'stretch');
  return val(c.add('resize', [x], {
    sizes: res.sizes, scales: res.scales, mode: mode === 'nearest' ? 'nearest' : 'linear',
    coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
  }));
}

function upsample(c: NodeCtx): Entry[] {
  dtypeCheck(c);
  if (c.opset < 9) {
    const s = c.floatList('scales');
    if (!s) c.bad('the scales attribute is missing');
    return upsampleWith(c, s);
  }
  return upsampleWith(c, floats(c, 1, 'scales'));
}

export const RESIZE_OPS: Record<string, OpMapping> = {
  Resize: { map: resizeOp },
  Upsample: { map: upsample },
};
