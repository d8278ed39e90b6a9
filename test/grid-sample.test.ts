// grid_sample (ONNX GridSample, PyTorch's grid_sample): the reference against
// a direct implementation written here after PyTorch's CPU kernel (every mode
// × padding mode × align_corners) and PyTorch's documented corner behaviour,
// ONNX's own node tests on the reference, type errors and the tracing API,
// the gradient ops (grid_sample_grad_input is the adjoint:
// <gs(x), y> = <x, grad_input(y)>; grad_grid against finite differences is in
// test/gradcheck.test.ts), the ONNX mapping (opsets 16 and 20, refusals),
// and the adapter against the reference in every f16 mode, forward and backward.

import test from 'ava';
import { f16round } from '@petamoriken/float16';
import { existsSync, readdirSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { importOnnx } from '../compiler/onnx/import.ts';
import type { AttrValue } from '../ir/attrs.ts';
import { Graph } from '../ir/graph.ts';
import { isAmpcError } from '../ir/errors.ts';
import { evalOp, interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { gridSample, trace } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { MODES, seededValues, checkAgainstReference } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR } from './helpers/onnx-conformance.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const { onnx } = onnxProto;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const MODE_NAMES = ['bilinear', 'nearest', 'bicubic'] as const;
const PADDINGS = ['zeros', 'border', 'reflection'] as const;

/** PyTorch's grid_sampler_2d (CPU, aten/src/ATen/native/GridSampler.h), written out directly. */
function direct(x: number[], xs: number[], grid: number[], gs: number[], mode: string, padding: string, align: boolean): number[] {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [, Ho, Wo] = gs as [number, number, number];
  const unnorm = (g: number, size: number) => (align ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2);
  const clip = (v: number, size: number) => Math.min(size - 1, Math.max(v, 0));
  const reflectCoords = (v: number, twiceLow: number, twiceHigh: number) => {
    if (twiceLow === twiceHigh) return 0;
    const min = twiceLow / 2, span = (twiceHigh - twiceLow) / 2;
    v = Math.abs(v - min);
    const extra = v % span, flips = Math.floor(v / span);
    return flips % 2 === 0 ? extra + min : span - extra + min;
  };
  const computeCoords = (v: number, size: number) => {
    if (padding === 'border') return clip(v, size);
    if (padding === 'reflection') return clip(align ? reflectCoords(v, 0, 2 * (size - 1)) : reflectCoords(v, -1, 2 * size - 1), size);
    return v;
  };
  const nearbyint = (v: number) => (v - Math.floor(v) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  const A = -0.75;
  const cc1 = (t: number) => ((A + 2) * t - (A + 3)) * t * t + 1;
  const cc2 = (t: number) => ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  const coeffs = (t: number) => [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)];
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const at = (yy: number, xx: number) => (yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((n * C + c) * H + yy) * W + xx]! : 0);
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          const gx = grid[((n * Ho + i) * Wo + j) * 2]!, gy = grid[((n * Ho + i) * Wo + j) * 2 + 1]!;
          if (mode === 'bicubic') {
            const ix = unnorm(gx, W), iy = unnorm(gy, H);
            const x0 = Math.floor(ix), y0 = Math.floor(iy);
            const cx = coeffs(ix - x0), cy = coeffs(iy - y0);
            const bounded = (yy: number, xx: number) => at(computeCoords(yy, H), computeCoords(xx, W));
            let v = 0;
            for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) v += cy[a]! * cx[b]! * bounded(y0 - 1 + a, x0 - 1 + b);
            out.push(v);
            continue;
          }
          const ix = computeCoords(unnorm(gx, W), W), iy = computeCoords(unnorm(gy, H), H);
          if (mode === 'nearest') {
            out.push(at(nearbyint(iy), nearbyint(ix)));
            continue;
          }
          const xw = Math.floor(ix), yn = Math.floor(iy), xe = xw + 1, ys = yn + 1;
          out.push(at(yn, xw) * (xe - ix) * (ys - iy) + at(yn, xe) * (ix - xw) * (ys - iy) +
            at(ys, xw) * (xe - ix) * (iy - yn) + at(ys, xe) * (ix - xw) * (iy - yn));
        }
      }
    }
  }
  return out;
}

const gsRef = (x: number[], xs: number[], grid: number[], gs: number[], attrs: Record<string, AttrValue>) =>
  [...evalOp('grid_sample', [hostTensor('f32', xs, x), hostTensor('f32', gs, grid)], attrs)[0]!.data];

test('reference: PyTorch corners (align_corners: -1 and 1 are the corner pixel centers, else the corner pixel edges)', (t) => {
  const x = [1, 2, 3, 4, 5, 6]; // [1, 1, 2, 3]
  const corners = [-1, -1, 1, -1, -1, 1, 1, 1];
  t.deepEqual(gsRef(x, [1, 1, 2, 3], corners, [1, 2, 2, 2], { align_corners: true }), [1, 3, 4, 6]);
  // Without align_corners a corner lies on the pixel's outer edge: half of each axis reads zeros padding.
  t.deepEqual(gsRef(x, [1, 1, 2, 3], corners, [1, 2, 2, 2], {}), [0.25, 0.75, 1, 1.5]);
  t.deepEqual(gsRef(x, [1, 1, 2, 3], corners, [1, 2, 2, 2], { padding_mode: 'border' }), [1, 3, 4, 6]);
  // Nearest rounds half to even: x = 0.5 (between columns 0 and 1) picks column 0, 1.5 picks column 2.
  t.deepEqual(gsRef(x, [1, 1, 2, 3], [-0.5, -1, 0.5, -1], [1, 1, 2, 2], { mode: 'nearest', align_corners: true }), [1, 3]);
});

test('reference: every mode × padding mode × align_corners matches a direct PyTorch-style loop', (t) => {
  const xs = [2, 3, 4, 5], gs = [2, 3, 6, 2];
  const x = seededValues(1, numel(xs), -2, 2);
  // Coordinates beyond [-1, 1] exercise the padding modes (reflection folds more than once at ±2.5).
  const grid = seededValues(2, numel(gs), -2.5, 2.5);
  for (const mode of MODE_NAMES) {
    for (const padding_mode of PADDINGS) {
      for (const align_corners of [false, true]) {
        const got = gsRef(x, xs, grid, gs, { mode, padding_mode, align_corners });
        const want = direct(x, xs, grid, gs, mode, padding_mode, align_corners);
        const bad = got.findIndex((v, k) => !(Math.abs(v - want[k]!) <= 1e-9 * (1 + Math.abs(want[k]!))));
        t.is(bad, -1, `${mode} ${padding_mode} align_corners ${align_corners}: element ${bad}: ${got[bad]} vs ${want[bad]}`);
      }
    }
  }
  // f16 tensors: f64 arithmetic, rounded once.
  const h = evalOp('grid_sample', [hostTensor('f16', [1, 1, 1, 2], [1, 2]), hostTensor('f16', [1, 1, 1, 2], [-1 / 3, 0])], { align_corners: true })[0]!;
  t.deepEqual([...h.data], [f16round(1 + (f16round(-1 / 3) + 1) / 2)]);
});

test('type rules and the tracing API', (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3, 4, 5] });
  const grid = g.addInput('grid', { dtype: 'f32', shape: [2, 6, 7, 2] });
  const code = (f: () => unknown) => {
    const e = t.throws(f);
    return isAmpcError(e) ? e.code : String(e);
  };
  t.is(code(() => g.add('grid_sample', [g.addInput('i', { dtype: 'i32', shape: [2, 3, 4, 5] }), grid])), 'E0206');
  t.is(code(() => g.add('grid_sample', [x, g.addInput('h', { dtype: 'f16', shape: [2, 6, 7, 2] })])), 'E0205');
  t.is(code(() => g.add('grid_sample', [x, g.addInput('g3', { dtype: 'f32', shape: [2, 6, 7, 3] })])), 'E0201');
  t.is(code(() => g.add('grid_sample', [x, g.addInput('g1', { dtype: 'f32', shape: [1, 6, 7, 2] })])), 'E0201');
  t.is(code(() => g.add('grid_sample', [g.addInput('x5', { dtype: 'f32', shape: [2, 3, 4, 5, 6] }), grid])), 'E0201');
  t.is(code(() => g.add('grid_sample', [x, grid], { mode: 'linear' })), 'E0104');
  t.deepEqual(g.add('grid_sample', [x, grid], { mode: 'bicubic' }).type.shape, [2, 3, 6, 7]);
  const tr = trace((a, b) => [a.gridSample(b, { mode: 'nearest' }), gridSample(a, b, { paddingMode: 'reflection', alignCorners: true })],
    [{ dtype: 'f32', shape: [2, 3, 4, 5] }, { dtype: 'f32', shape: [2, 6, 7, 2] }]);
  t.deepEqual(tr.nodes.filter((n) => n.op === 'grid_sample').map((n) => [n.attrs.mode, n.attrs.padding_mode, n.attrs.align_corners]),
    [['nearest', 'zeros', false], ['bilinear', 'reflection', true]]);
});

test('grid_sample_grad_input is the adjoint of grid_sample: <gs(x), y> = <x, grad_input(y)> in every mode', (t) => {
  const xs = [2, 3, 4, 5], gs = [2, 3, 6, 2], ys = [2, 3, 3, 6];
  const x = seededValues(5, numel(xs)), grid = seededValues(6, numel(gs), -1.6, 1.6), dy = seededValues(7, numel(ys));
  for (const mode of MODE_NAMES) {
    for (const padding_mode of PADDINGS) {
      for (const align_corners of [false, true]) {
        const a = { mode, padding_mode, align_corners };
        const y = gsRef(x, xs, grid, gs, a);
        const dx = evalOp('grid_sample_grad_input', [hostTensor('f32', ys, dy), hostTensor('f32', gs, grid)], { input_shape: xs, ...a })[0]!;
        const lhs = y.reduce((s, v, k) => s + v * dy[k]!, 0);
        const rhs = [...dx.data].reduce((s, v, k) => s + v * x[k]!, 0);
        t.true(Math.abs(lhs - rhs) < 1e-4 * (1 + Math.abs(lhs)), `${JSON.stringify(a)}: ${lhs} vs ${rhs}`);
      }
    }
  }
});

test('the vjp: dx from grid_sample_grad_input, dgrid from grid_sample_grad_grid (zeros for nearest)', (t) => {
  for (const mode of MODE_NAMES) {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 3, 3] }, { param: true });
    const grid = g.addInput('grid', { dtype: 'f32', shape: [1, 2, 2, 2] }, { param: true });
    const y = g.add('grid_sample', [x, grid], { mode });
    g.setOutputs([g.add('reduce_sum', [y], { axes: [0, 1, 2, 3] })]);
    const ops = gradientGraph(g).nodes.map((n) => n.op);
    t.true(ops.includes('grid_sample_grad_input'), mode);
    t.is(ops.includes('grid_sample_grad_grid'), mode !== 'nearest', mode);
  }
});

// ---------------------------------------------------------------- ONNX

test('ONNX node tests of GridSample import and match on the reference', (t) => {
  const names = existsSync(ONNX_NODE_DIR) ? readdirSync(ONNX_NODE_DIR).filter((n) => /^test_gridsample/.test(n)) : [];
  if (names.length === 0) return t.pass('no ONNX test data');
  for (const name of names) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    // test_gridsample_bicubic's expected values are PyTorch's printed to 4 decimals (-0.1406 for -0.140625).
    const tol = name === 'test_gridsample_bicubic' ? { rtol: 1e-5, atol: 5e-5 } : { rtol: 1e-5, atol: 1e-6 };
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, tol), undefined, name);
  }
  t.is(names.length, 8);
});

const A = onnx.AttributeProto.AttributeType;
const vi = (name: string, shape: number[], elemType = 1): onnxProto.onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
const str = (name: string, s: string) => ({ name, type: A.STRING, s: new TextEncoder().encode(s) });
const int = (name: string, i: number) => ({ name, type: A.INT, i });

function model(opset: number, attrs: onnxProto.onnx.IAttributeProto[], xShape = [1, 1, 3, 4], gShape = [1, 2, 2, 2], gridType = 1): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: [{ opType: 'GridSample', input: ['x', 'grid'], output: ['y'], name: 'gs', attribute: attrs }],
      input: [vi('x', xShape), vi('grid', gShape, gridType)], output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }] },
  });
  return onnx.ModelProto.encode(m).finish();
}
const gsNode = (bytes: Uint8Array) => importOnnx(bytes, { file: 'gs.onnx' }).graph.nodes.find((n) => n.op === 'grid_sample')!;

test('ONNX: GridSample opsets 16 and 20 (renamed modes) map onto grid_sample; N-D and unknown modes are refused', (t) => {
  let n = gsNode(model(16, [str('mode', 'bicubic'), str('padding_mode', 'reflection'), int('align_corners', 1)]));
  t.deepEqual([n.attrs.mode, n.attrs.padding_mode, n.attrs.align_corners], ['bicubic', 'reflection', true]);
  n = gsNode(model(16, []));
  t.deepEqual([n.attrs.mode, n.attrs.padding_mode, n.attrs.align_corners], ['bilinear', 'zeros', false]);
  n = gsNode(model(20, [str('mode', 'cubic')]));
  t.is(n.attrs.mode, 'bicubic');
  t.is(gsNode(model(20, [])).attrs.mode, 'bilinear');
  t.is(gsNode(model(22, [str('mode', 'nearest')])).attrs.mode, 'nearest');
  // A float16 grid beside a float X: sampled in f32.
  const mixed = importOnnx(model(16, [], [1, 1, 3, 4], [1, 2, 2, 2], 10), { file: 'gs.onnx' }).graph;
  t.deepEqual(mixed.nodes.map((x) => x.op), ['cast', 'grid_sample']);
  const code = (bytes: Uint8Array) => {
    const e = t.throws(() => importOnnx(bytes, { file: 'gs.onnx' }));
    return isAmpcError(e) ? e.code : String(e);
  };
  t.is(code(model(20, [], [1, 1, 2, 3, 4], [1, 2, 2, 2, 3])), 'E0901');
  t.is(code(model(20, [str('mode', 'bilinear')])), 'E0902');
  t.is(code(model(16, [str('mode', 'linear')])), 'E0902');
  t.is(code(model(16, [str('padding_mode', 'wrap')])), 'E0902');
});

// ---------------------------------------------------------------- adapter

const XS = [2, 3, 5, 6], GS = [2, 4, 7, 2];
const SETTINGS = MODE_NAMES.flatMap((mode) => PADDINGS.map((padding_mode, k) => ({ mode, padding_mode, align_corners: (k + mode.length) % 2 === 0 })));

for (const mode of MODES) {
  modeTest(mode, 'grid_sample on the adapter: every mode and padding mode', async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, SETTINGS.map((a, k) => ({
      what: `grid_sample ${a.mode} ${a.padding_mode} align_corners ${a.align_corners} ${dtype}`,
      // Bicubic: sum of |weights| up to 1.375² over |x| <= 2.
      scale: 4,
      build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
        const x = input(g, inputs, `${prefix}x`, dtype, XS, seededValues(10 + k, numel(XS), -2, 2));
        const grid = input(g, inputs, `${prefix}grid`, dtype, GS, seededValues(30 + k, numel(GS), -1.4, 1.4));
        return [g.add('grid_sample', [x, grid], a)];
      },
    })));
  });

  modeTest(mode, 'grid_sample gradients on the adapter (dx and dgrid in every mode)', async (t, ctx, dtype, f16Mode) => {
    const g = new Graph('t');
    const inputs: Record<string, ReturnType<typeof hostTensor>> = {};
    const losses = SETTINGS.map((a, k) => {
      const x = g.addInput(`x${k}`, { dtype, shape: XS }, { param: true });
      const grid = g.addInput(`grid${k}`, { dtype, shape: GS }, { param: true });
      inputs[`x${k}`] = hostTensor(dtype, XS, seededValues(50 + k, numel(XS), -1, 1));
      inputs[`grid${k}`] = hostTensor(dtype, GS, seededValues(70 + k, numel(GS), -1.2, 1.2));
      const y = g.add('grid_sample', [x, grid], a);
      const w = input(g, inputs, `w${k}`, dtype, y.type.shape as number[], seededValues(90 + k, numel(y.type.shape), -1, 1));
      return g.add('reduce_sum', [g.add('mul', [y, w])], { axes: [0, 1, 2, 3] });
    });
    g.setOutputs([losses.reduce((a, b) => g.add('add', [a, b]))]);
    // dgrid sums 3 channels × up to 16 tap pairs of |w · x · dweight| (|w|, |x| <= 1; the weights' slopes
    // carry du = W / 2 = 3; bicubic: sum |wy| · sum |dwx| <= 1.4 · 6): at most about 3 · 8.4 = 25.
    await checkAgainstReference(t, ctx, gradientGraph(g), inputs, f16Mode, { scale: 32 });
  });
}
