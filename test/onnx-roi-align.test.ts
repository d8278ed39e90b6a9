// ONNX RoiAlign (compiler/onnx/ops/roi-align.ts): models built here with
// onnx-proto, imported, run on the reference interpreter and compared with a
// direct f64 implementation of onnx/reference/ops/op_roi_align.py written in
// this file (loops over rois, channels, bins and samples, the four weighted
// neighbour terms per sample); the shipped ONNX node tests; the E0901 / E0902
// refusals; gradients w.r.t. X against finite differences; one model on the
// device, in f32 and under the amp pipeline.
//
// Rois here have fractional coordinates, so no sample lies within f32 noise of
// an integer (where 'max' of the weighted terms jumps) or of the −1 / H bounds.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { pipelineByName } from '../passes/pipeline.ts';
import { runPipeline } from '../passes/runner.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR, TOLERANCE } from './helpers/onnx-conformance.ts';
import { ai, af, as, i64, f32i, vi, modelAt, ft, numel, vals, nearWithin, refused as refusedAs } from './helpers/onnx-build.ts';

/** Models here are opset 16 unless a test says otherwise. */
const model = modelAt(16);
const near = nearWithin(1e-5, 1e-6);
const refused = (t: ExecutionContext, bytes: Uint8Array, code: 'E0901' | 'E0902', pattern: RegExp): void => refusedAs(t, bytes, pattern, code);

// ------------------------------------------------------------- the reference, in f64

interface RefParams { oh: number; ow: number; ratio: number; scale: number; half: boolean; mode: 'avg' | 'max' }

/** op_roi_align.py's roi_align_forward, directly: per roi, channel, bin and sample. */
function roiAlignRef(X: ArrayLike<number>, xs: readonly number[], rois: readonly number[], bidx: readonly number[], p: RefParams): number[] {
  const [, C, H, W] = xs as [number, number, number, number];
  const out: number[] = [];
  for (let r = 0; r < bidx.length; r++) {
    const off = p.half ? 0.5 : 0;
    const sw = rois[r * 4]! * p.scale - off, sh = rois[r * 4 + 1]! * p.scale - off;
    let rw = rois[r * 4 + 2]! * p.scale - off - sw, rh = rois[r * 4 + 3]! * p.scale - off - sh;
    if (!p.half) [rw, rh] = [Math.max(rw, 1), Math.max(rh, 1)];
    const bh = rh / p.oh, bw = rw / p.ow;
    const gh = p.ratio > 0 ? p.ratio : Math.ceil(rh / p.oh), gw = p.ratio > 0 ? p.ratio : Math.ceil(rw / p.ow);
    const count = Math.max(gh * gw, 1);
    for (let c = 0; c < C; c++) for (let ph = 0; ph < p.oh; ph++) for (let pw = 0; pw < p.ow; pw++) {
      let acc = 0, first = true;
      for (let iy = 0; iy < gh; iy++) for (let ix = 0; ix < gw; ix++) {
        let y = sh + ph * bh + ((iy + 0.5) * bh) / gh, x = sw + pw * bw + ((ix + 0.5) * bw) / gw;
        let terms = [0, 0, 0, 0];
        if (!(y < -1 || y > H || x < -1 || x > W)) {
          y = Math.max(y, 0);
          x = Math.max(x, 0);
          let yl = Math.trunc(y), xl = Math.trunc(x), yh: number, xh: number;
          if (yl >= H - 1) { yh = yl = H - 1; y = yl; } else yh = yl + 1;
          if (xl >= W - 1) { xh = xl = W - 1; x = xl; } else xh = xl + 1;
          const ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
          const at = (i: number, j: number) => X[((bidx[r]! * C + c) * H + i) * W + j]!;
          terms = [hy * hx * at(yl, xl), hy * lx * at(yl, xh), ly * hx * at(yh, xl), ly * lx * at(yh, xh)];
        }
        if (p.mode === 'avg') acc += terms[0]! + terms[1]! + terms[2]! + terms[3]!;
        else {
          const m = Math.max(...terms);
          acc = first ? m : Math.max(acc, m);
          first = false;
        }
      }
      out.push(p.mode === 'avg' ? acc / count : acc);
    }
  }
  return out;
}

// ------------------------------------------------------------- building and running one RoiAlign

interface Case {
  xs: number[];
  rois: number[];
  bidx: number[];
  oh: number;
  ow: number;
  ratio: number;
  scale: number;
  mode?: 'avg' | 'max';
  /** undefined: attribute absent (opset 16's default half_pixel; opset 10's only behaviour, output_half_pixel). */
  ctm?: 'half_pixel' | 'output_half_pixel';
  opset?: number;
  constRois?: boolean;
  runtimeBatch?: boolean;
}

function roiModel(k: Case): Uint8Array {
  const r = k.bidx.length;
  const attrs = [ai('output_height', k.oh), ai('output_width', k.ow), ai('sampling_ratio', k.ratio), af('spatial_scale', k.scale),
    ...(k.mode ? [as('mode', k.mode)] : []), ...(k.ctm ? [as('coordinate_transformation_mode', k.ctm)] : [])];
  return model([{ opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['y'], attribute: attrs }],
    [vi('x', k.xs), ...(k.constRois ? [] : [vi('rois', [r, 4])]), ...(k.runtimeBatch ? [vi('b', [r], 7)] : [])],
    [...(k.constRois ? [f32i('rois', [r, 4], k.rois)] : []), ...(k.runtimeBatch ? [] : [i64('b', [r], k.bidx)])], k.opset ?? 16);
}

function check(t: ExecutionContext, k: Case, what: string): ReturnType<typeof importOnnx> {
  const imp = importOnnx(roiModel(k), { file: 'm.onnx' });
  const x = vals(numel(k.xs), 3);
  const feeds: Record<string, HostTensor> = { ...imp.values, x: ft(k.xs, x) };
  if (!k.constRois) feeds.rois = ft([k.bidx.length, 4], k.rois);
  if (k.runtimeBatch) feeds.b = { dtype: 'i32', shape: [k.bidx.length], data: Int32Array.from(k.bidx) };
  const y = interpret(imp.graph, feeds)[0]!;
  const half = k.ctm ? k.ctm === 'half_pixel' : (k.opset ?? 16) >= 16;
  const want = roiAlignRef(x, k.xs, k.rois.map(Math.fround), k.bidx, { oh: k.oh, ow: k.ow, ratio: k.ratio, scale: Math.fround(k.scale), half, mode: k.mode ?? 'avg' });
  near(t, y, [k.bidx.length, k.xs[1]!, k.oh, k.ow], want, 1e-5, 1e-6, what);
  return imp;
}

// Rois (x1, y1, x2, y2) for a [·, ·, 7, 9] X at spatial_scale 0.5: inside; partly above and left of the image
// (samples below −1 give 0); reaching below and right of it (samples in (H−1, H] clamp, beyond H give 0);
// malformed (x2 < x1, y2 < y1); tiny.
const ROIS = [
  1.3, 2.1, 15.7, 11.9,
  -4.3, -3.1, 6.2, 5.3,
  12.1, 9.7, 21.9, 17.3,
  6.6, 4.4, 5.9, 3.3,
  0.2, 0.9, 2.3, 1.7,
];

test('RoiAlign avg and max, half_pixel and output_half_pixel, opsets 10 and 16, several images: the direct f64 reference', (t) => {
  const base = { xs: [2, 3, 7, 9], rois: ROIS, bidx: [1, 0, 1, 1, 0], oh: 3, ow: 4, scale: 0.5 };
  for (const mode of ['avg', 'max'] as const) {
    for (const ratio of [2, 3]) {
      check(t, { ...base, ratio, mode, ctm: 'half_pixel' }, `${mode} ratio ${ratio} half_pixel`);
      check(t, { ...base, ratio, mode, ctm: 'output_half_pixel' }, `${mode} ratio ${ratio} output_half_pixel`);
      check(t, { ...base, ratio, mode }, `${mode} ratio ${ratio} opset-16 default`);
      check(t, { ...base, ratio, mode, opset: 10 }, `${mode} ratio ${ratio} opset 10`);
    }
  }
  // One image named by every roi: a slice and a broadcast instead of a gather; batch indices at run time: a gather.
  const one = check(t, { ...base, bidx: [1, 1, 1, 1, 1], ratio: 2, mode: 'max' }, 'one image');
  t.false(one.graph.nodes.some((n) => n.op === 'gather'));
  const rt = check(t, { ...base, ratio: 1, mode: 'avg', runtimeBatch: true, scale: 0.75 }, 'run-time batch_indices');
  t.true(rt.graph.nodes.some((n) => n.op === 'gather'));
  // Defaults: output 1 x 1, avg, spatial_scale 1 (sampling_ratio 2 given: its default 0 needs constant rois).
  const imp = importOnnx(model([{ opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['y'], attribute: [ai('sampling_ratio', 2)] }],
    [vi('x', [1, 2, 5, 6]), vi('rois', [2, 4])], [i64('b', [2], [0, 0])]));
  const x = vals(60, 4), rois = [0.7, 0.4, 4.9, 3.6, 2.2, 1.1, 5.3, 4.8];
  near(t, interpret(imp.graph, { ...imp.values, x: ft([1, 2, 5, 6], x), rois: ft([2, 4], rois) })[0]!, [2, 2, 1, 1],
    roiAlignRef(x, [1, 2, 5, 6], rois.map(Math.fround), [0, 0], { oh: 1, ow: 1, ratio: 2, scale: 1, half: true, mode: 'avg' }));
});

test('RoiAlign sampling_ratio 0: samples per bin from constant rois (runs of rois built apart, empty bins give 0); run-time rois refused', (t) => {
  const rois = [
    0.4, 1.1, 17.3, 12.9, // 5 x 5 samples per bin
    0.9, 1.3, 17.8, 12.9, // the same counts as the first: one run
    3.1, 2.2, 6.3, 4.6,
    6.6, 4.4, 5.9, 3.3, // malformed: no samples under half_pixel, one under output_half_pixel
    -8.2, -6.1, 26.3, 19.7,
  ];
  const base = { xs: [2, 2, 7, 9], rois, bidx: [0, 1, 1, 0, 1], oh: 2, ow: 3, ratio: 0, scale: 0.75, constRois: true };
  for (const mode of ['avg', 'max'] as const) {
    for (const ctm of ['half_pixel', 'output_half_pixel'] as const) {
      const imp = check(t, { ...base, mode, ctm }, `${mode} ${ctm}`);
      t.true(imp.graph.nodes.some((n) => n.op === 'concat'), 'runs concatenated');
    }
  }
  refused(t, roiModel({ ...base, constRois: false }), 'E0901', /sampling_ratio = 0 .* needs rois known at import time/);
});

test('RoiAlign refusals: opset 10 has no coordinate_transformation_mode; bad modes, shapes and batch indices', (t) => {
  const base: Case = { xs: [2, 1, 5, 5], rois: [0.5, 0.5, 3.5, 3.5], bidx: [0], oh: 2, ow: 2, ratio: 2, scale: 1 };
  refused(t, roiModel({ ...base, opset: 10, ctm: 'half_pixel' }), 'E0901', /attribute 'coordinate_transformation_mode' is not supported/);
  refused(t, roiModel({ ...base, mode: 'sum' as 'avg' }), 'E0902', /mode 'sum'/);
  refused(t, roiModel({ ...base, ctm: 'asymmetric' as 'half_pixel' }), 'E0902', /coordinate_transformation_mode 'asymmetric'/);
  refused(t, roiModel({ ...base, bidx: [2] }), 'E0902', /batch_indices \[2\] outside \[0, 2\)/);
  refused(t, roiModel({ ...base, xs: [2, 1, 5, 5, 1] }), 'E0902', /X of rank 5/);
  refused(t, model([{ opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['y'] }], [vi('x', [1, 1, 4, 4]), vi('rois', [2, 5])], [i64('b', [2], [0, 0])]),
    'E0902', /rois of shape \[2, 5\]/);
  refused(t, model([{ opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['y'], attribute: [ai('sampling_ratio', 1)] }], [vi('x', [1, 1, 4, 4], 11), vi('rois', [1, 4], 11)],
    [i64('b', [1], [0])]), 'E0901', /element type double/);
});

// ------------------------------------------------------------- the shipped node tests

test('the shipped RoiAlign node tests: the mapping equals the f64 reference; both are within the data\'s 4 decimals of the shipped outputs', (t) => {
  if (!existsSync(join(ONNX_NODE_DIR, 'test_roialign_aligned_true'))) return t.pass('no ONNX test data');
  for (const [name, half] of [['test_roialign_aligned_false', false], ['test_roialign_aligned_true', true]] as const) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    const got = interpret(imported.graph, feeds)[0]!;
    const xName = imported.inputNames.X!, roisName = imported.inputNames.rois!;
    const want = roiAlignRef(feeds[xName]!.data, feeds[xName]!.shape, [...feeds[roisName]!.data], [0, 0, 0], { oh: 5, ow: 5, ratio: 2, scale: 1, half, mode: 'avg' });
    near(t, got, [3, 1, 5, 5], want, 1e-6, 1e-7, name);
    // onnx/backend/test/case/node/roialign.py writes Y with 4 decimals (from unrounded X): the exact reference
    // differs from it by up to 8.4e-5, beyond the conformance harness's f32 tolerance (ORT's runner uses rtol 1e-3).
    t.is(compareOutputs([got], expected, { rtol: 0, atol: 1e-4 }), undefined, name);
    t.is(compareOutputs([got], expected, { rtol: 1e-3, atol: 1e-5 }), undefined, name);
    t.log(`${name}: vs the shipped Y at the harness's f32 tolerance: ${compareOutputs([got], expected, TOLERANCE.f32) ?? 'within'}`);
  }
});

// ------------------------------------------------------------- gradients

test('an imported RoiAlign trains: gradients w.r.t. X (avg and max, a gather over two images) match finite differences', (t) => {
  for (const mode of ['avg', 'max'] as const) {
    const r = importOnnx(model([
      { opType: 'RoiAlign', input: ['X', 'rois', 'b'], output: ['a'], attribute: [ai('output_height', 2), ai('output_width', 3), ai('sampling_ratio', 2), af('spatial_scale', 0.5), as('mode', mode)] },
      { opType: 'Mul', input: ['a', 'a'], output: ['sq'] },
      { opType: 'ReduceSum', input: ['sq'], output: ['y'], attribute: [ai('keepdims', 0)] },
    ], [vi('rois', [3, 4])], [f32i('X', [2, 2, 5, 6], vals(120, 8).map((v) => 1 + v / 4)), i64('b', [3], [1, 0, 1])]));
    const report = gradcheck(r.graph, { inputs: { ...r.values, rois: ft([3, 4], [1.3, 0.7, 9.1, 8.3, -1.9, 2.6, 6.2, 11.3, 4.4, 0.3, 12.9, 10.7]) }, wrt: ['X'] });
    t.true(report.ok, `${mode}: ${report.text}`);
    t.true(report.params[0]!.maxAbsErr >= 0);
  }
});

// ------------------------------------------------------------- on the device

gpuTest('RoiAlign avg + max (gathered images, clamped and dropped samples) matches the reference on the device, in f32 and under amp', async (t, ctx) => {
  const attrs = (mode: string) => [ai('output_height', 3), ai('output_width', 4), ai('sampling_ratio', 2), af('spatial_scale', 0.5), as('mode', mode),
    as('coordinate_transformation_mode', 'output_half_pixel')];
  const bytes = model([
    { opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['a'], attribute: attrs('avg') },
    { opType: 'RoiAlign', input: ['x', 'rois', 'b'], output: ['m'], attribute: attrs('max') },
    { opType: 'Add', input: ['a', 'm'], output: ['y'] },
  ], [vi('x', [2, 3, 7, 9]), vi('rois', [5, 4])], [i64('b', [5], [1, 0, 1, 1, 0])]);
  const r = importOnnx(bytes);
  const feeds = { ...r.values, x: ft([2, 3, 7, 9], vals(378, 5)), rois: ft([5, 4], ROIS) };
  const want = interpret(r.graph, feeds)[0]!;
  t.deepEqual(want.shape, [5, 3, 3, 4]);
  const [got] = await runGraphOnGpu(r.graph, feeds, ctx);
  t.is(compareOutputs([got!], [want], TOLERANCE.f32), undefined, 'f32');
  const [amp] = await runGraphOnGpu(runPipeline(r.graph, pipelineByName('amp'), { options: {} }), feeds, ctx);
  t.is(compareOutputs([amp!], [want], TOLERANCE.amp), undefined, 'amp');
});
