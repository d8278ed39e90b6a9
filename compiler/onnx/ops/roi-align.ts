// RoiAlign (opsets 10 and 16; Mask R-CNN's RoI Align) built from IR gathers
// and elementwise ops, as onnx/reference/ops/op_roi_align.py computes it:
// X [N, C, H, W], rois [R, 4] ((x1, y1, x2, y2) in input-image units),
// batch_indices [R] → Y [R, C, output_height, output_width].
//
// Per roi: start = coord · spatial_scale − offset (offset 0.5 for
// coordinate_transformation_mode 'half_pixel', opset 16's default; 0 for
// 'output_half_pixel', which is also opset 10's only behaviour, where the
// roi's extent is then raised to at least 1); bin = extent / output size; a bin
// holds gh × gw samples at start + p·bin + (i + 0.5)·bin/g. The samples are
// computed in the IR (f32) from the rois, which are run-time values: a sample's
// y and x are separable (y depends on the roi, the output row and the sample
// row only), so each axis gets its own [R, out·g·2] tensors of neighbour
// indices (low, high) and weights, and X is read with two gather_elements
// (rows, then columns) instead of one over H·W (whose gradient would build
// one-hot masks of H·W per read).
//
// Bilinear sampling, per axis, exactly as the reference: a sample with y < −1
// or y > H (x likewise) contributes 0 (its weights are masked to 0; the
// reference reads X[0] with weight 0); otherwise y clamps to [0, H−1] (the
// reference's y ≤ 0 → 0 and y_low ≥ H−1 → y_low = y_high = H−1, y = y_low),
// low = floor(y), high = min(low + 1, H−1), weights (1 − (y − low), y − low).
// This is built from gathers rather than on grid_sample (align_corners, border
// padding, times a validity mask), which would match 'avg' but cannot give
// 'max', which (opset 16 and the reference) takes the max over the four
// bilinear-weighted terms w_k · X[pos_k] of every sample, zero-weight terms
// included, and over the bin's samples. 'avg' sums the terms of every sample
// and divides by gh · gw.
//
// Samples per bin: sampling_ratio > 0 gives gh = gw = sampling_ratio for every
// roi. sampling_ratio = 0 makes them ceil(extent / output size) per roi, which
// depends on the rois' values: refused with E0901 unless rois are import-time
// constants, in which case the counts are computed here (in f64, as the
// reference's numpy scalars do) and runs of consecutive rois with one count
// are built separately and concatenated (a count ≤ 0 gives a bin of zeros, as
// the reference's empty loops do).
//
// batch_indices pick each roi's image with a gather on X's axis 0 (a slice and
// a broadcast when they are constants naming one image); constants outside
// [0, N) are refused with E0902 (run-time ones out of range read zeros).
// Float X only (float16 is sampled in f32 and cast back); X must be 4-D.

import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { asDtype, rankOf, reshapeTo, val } from './types.ts';

interface Params {
  oh: number;
  ow: number;
  scale: number;
  halfPixel: boolean;
  mode: 'avg' | 'max';
}

/** Neighbour indices (i32) and weights along one axis: [n, out·g·2], ordered (bin, sample, low/high). */
function axisSamples(c: NodeCtx, p: Params, c0: Value, c1: Value, out: number, g: number, size: number): { idx: Value; w: Value } {
  const n = c0.type.shape[0]!;
  const f = (v: number) => c.scalar(v, 'f32');
  const off = p.halfPixel ? 0.5 : 0;
  const start = c.add('sub', [c.add('mul', [c0, f(p.scale)]), f(off)]);
  const end = c.add('sub', [c.add('mul', [c1, f(p.scale)]), f(off)]);
  let extent = c.add('sub', [end, start]);
  if (!p.halfPixel) extent = c.add('maximum', [extent, f(1)]);
  const bin = c.add('div', [extent, f(out)]); // [n, 1]
  const binIdx = c.add('reshape', [c.add('iota', [], { shape: [1, out, g], axis: 1, dtype: 'f32' })], { shape: [1, out * g] });
  const sub = c.add('reshape', [c.add('iota', [], { shape: [1, out, g], axis: 2, dtype: 'f32' })], { shape: [1, out * g] });
  const subOff = c.add('add', [sub, f(0.5)]);
  // start + p·bin + (i + 0.5)·bin/g, as the reference orders it.
  const pos = c.add('add', [c.add('add', [start, c.add('mul', [binIdx, bin])]), c.add('mul', [subOff, c.add('div', [bin, f(g)])])]);
  const valid = c.add('mul', [
    asDtype(c, c.add('greater_equal', [pos, f(-1)]), 'f32'),
    asDtype(c, c.add('less_equal', [pos, f(size)]), 'f32'),
  ]);
  const cl = c.add('minimum', [c.add('maximum', [pos, f(0)]), f(size - 1)]);
  const lo = c.add('floor', [cl]);
  const hi = c.add('minimum', [c.add('add', [lo, f(1)]), f(size - 1)]);
  const l = c.add('sub', [cl, lo]);
  const h = c.add('sub', [f(1), l]);
  const pair = (a: Value, b: Value) => reshapeTo(c, c.add('concat', [reshapeTo(c, a, [n, out * g, 1]), reshapeTo(c, b, [n, out * g, 1])], { axis: 2 }), [n, out * g * 2]);
  return {
    idx: asDtype(c, pair(lo, hi), 'i32'),
    w: pair(c.add('mul', [h, valid]), c.add('mul', [l, valid])),
  };
}

/** RoiAlign of n rois (rois [n, 4] f32) on their images xb [n, C, H, W] (f32) with gh × gw samples per bin. */
function alignGroup(c: NodeCtx, p: Params, xb: Value, rois: Value, gh: number, gw: number): Value {
  const [n, C, H, W] = xb.type.shape as [number, number, number, number];
  if (gh <= 0 || gw <= 0) return c.scalar(0, 'f32', [n, C, p.oh, p.ow]);
  const col = (k: number) => c.add('slice', [rois], { starts: [0, k], ends: [n, k + 1] });
  const ys = axisSamples(c, p, col(1), col(3), p.oh, gh, H);
  const xs = axisSamples(c, p, col(0), col(2), p.ow, gw, W);
  const sy = p.oh * gh * 2, sx = p.ow * gw * 2;
  const rowIdx = c.add('broadcast_to', [reshapeTo(c, ys.idx, [n, 1, sy, 1])], { shape: [n, C, sy, W] });
  const rows = c.add('gather_elements', [xb, rowIdx], { axis: 2 }); // [n, C, sy, W]
  const colIdx = c.add('broadcast_to', [reshapeTo(c, xs.idx, [n, 1, 1, sx])], { shape: [n, C, sy, sx] });
  const vals = reshapeTo(c, c.add('gather_elements', [rows, colIdx], { axis: 3 }), [n, C, p.oh, gh * 2, p.ow, gw * 2]);
  const w = c.add('mul', [reshapeTo(c, ys.w, [n, 1, p.oh, gh * 2, 1, 1]), reshapeTo(c, xs.w, [n, 1, 1, 1, p.ow, gw * 2])]);
  const terms = c.add('mul', [w, vals]);
  if (p.mode === 'max') return c.add('reduce_max', [terms], { axes: [3, 5] });
  return c.add('mul', [c.add('reduce_sum', [terms], { axes: [3, 5] }), c.scalar(1 / (gh * gw), 'f32')]);
}

/** Samples per bin (gh, gw) of each roi of constant rois with sampling_ratio 0: ceil(extent / output size), in f64. */
function adaptiveCounts(p: Params, rois: Float64Array, r: number): [number, number][] {
  const off = p.halfPixel ? 0.5 : 0;
  return Array.from({ length: r }, (_, k) => {
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((j) => rois[k * 4 + j]! * p.scale - off) as [number, number, number, number];
    let eh = y2 - y1, ew = x2 - x1;
    if (!p.halfPixel) [eh, ew] = [Math.max(eh, 1), Math.max(ew, 1)];
    return [Math.ceil(eh / p.oh), Math.ceil(ew / p.ow)];
  });
}

function roiAlign(c: NodeCtx): Entry[] {
  const x0 = c.value(0);
  const dt = x0.type.dtype;
  if (dt !== 'f32' && dt !== 'f16') c.unsupported(`X of type ${c.elem(0)} (float and float16 only)`);
  if (rankOf(x0) !== 4) c.bad(`X of rank ${rankOf(x0)} (expected [N, C, H, W])`);
  const rs = c.shape(1), bs = c.shape(2);
  if (rs.length !== 2 || rs[1] !== 4) c.bad(`rois of shape [${rs.join(', ')}] (expected [num_rois, 4])`);
  const r = rs[0]!;
  if (bs.length !== 1 || bs[0] !== r) c.bad(`batch_indices of shape [${bs.join(', ')}] for ${r} rois`);
  const mode = c.string('mode', 'avg');
  if (mode !== 'avg' && mode !== 'max') c.bad(`mode '${mode}' (avg or max)`);
  const oh = c.int('output_height', 1), ow = c.int('output_width', 1);
  if (oh < 1 || ow < 1) c.bad(`output_height ${oh} and output_width ${ow} must be positive`);
  const ratio = c.int('sampling_ratio', 0);
  if (ratio < 0) c.bad(`sampling_ratio ${ratio} must be >= 0`);
  const scale = c.float('spatial_scale', 1);
  // Opset 10 has no coordinate_transformation_mode (an attribute of that name is left unread and refused).
  const ctm = c.opset >= 16 ? c.string('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel';
  if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel') c.bad(`coordinate_transformation_mode '${ctm}' (half_pixel or output_half_pixel)`);
  const p: Params = { oh, ow, scale, halfPixel: ctm === 'half_pixel', mode };
  const [N, C] = x0.type.shape as [number, number];

  // Samples per bin for runs of consecutive rois: [first, end, gh, gw].
  const runs: [number, number, number, number][] = [];
  if (ratio > 0) runs.push([0, r, ratio, ratio]);
  else {
    const e = c.entry(1);
    if (e.kind !== 'const') c.unsupported('sampling_ratio = 0 (samples per bin from the rois\' extents) needs rois known at import time');
    adaptiveCounts(p, e.t.data, r).forEach(([gh, gw], k) => {
      const last = runs[runs.length - 1];
      if (last && last[2] === gh && last[3] === gw) last[1] = k + 1;
      else runs.push([k, k + 1, gh, gw]);
    });
  }
  if (r === 0) return val(c.scalar(0, dt, [0, C, oh, ow]));

  const x = asDtype(c, x0, 'f32');
  const [, , H, W] = x.type.shape as [number, number, number, number];
  const be = c.entry(2);
  let xb: Value;
  if (be.kind === 'const') {
    const ids = [...be.t.data];
    if (ids.some((b) => b < 0 || b >= N)) c.bad(`batch_indices [${ids.join(', ')}] outside [0, ${N})`);
    xb = ids.every((b) => b === ids[0])
      ? c.add('broadcast_to', [c.add('slice', [x], { starts: [ids[0]!, 0, 0, 0], ends: [ids[0]! + 1, C, H, W] })], { shape: [r, C, H, W] })
      : c.add('gather', [x, c.value(2)], { axis: 0 });
  } else {
    xb = c.add('gather', [x, asDtype(c, c.value(2), 'i32')], { axis: 0 });
  }
  const rois = asDtype(c, c.value(1), 'f32');
  const pieces = runs.map(([a, b, gh, gw]) => {
    const whole = a === 0 && b === r;
    const part = (v: Value) => (whole ? v : c.add('slice', [v], { starts: [a, ...v.type.shape.slice(1).map(() => 0)], ends: [b, ...v.type.shape.slice(1)] }));
    return alignGroup(c, p, part(xb), part(rois), gh, gw);
  });
  const y = pieces.length === 1 ? pieces[0]! : c.add('concat', pieces, { axis: 0 });
  return val(asDtype(c, y, dt));
}

export const ROI_ALIGN_OPS: Record<string, OpMapping> = {
  RoiAlign: { map: roiAlign },
};
