// resize (ONNX Resize / Upsample): the reference against values computed
// here (ONNX's documented examples, a direct bilinear loop written as
// PyTorch's interpolate does it, nearest as a repeat), ONNX's own node tests
// on the reference, type errors, the gradient (resize_grad is the adjoint:
// <resize(x), y> = <x, resize_grad(y)>), the tracing API, the ONNX mapping
// (opsets 10-19, keep_aspect_ratio_policy, axes, refusals), and the adapter
// against the reference in every f16 mode, forward and backward.

import test from 'ava';
import { f16round } from '@petamoriken/float16';
import { existsSync, readdirSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { importOnnx } from '../compiler/onnx/import.ts';
import type { AttrValue } from '../ir/attrs.ts';
import { Graph } from '../ir/graph.ts';
import { isAmpcError } from '../ir/errors.ts';
import { evalOp, interpret } from '../ir/interp/interpret.ts';
import { fromNested, hostTensor, toNested } from '../ir/interp/tensor.ts';
import type { Nested } from '../ir/interp/tensor.ts';
import { resize, trace } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { MODES, seededValues, checkAgainstReference } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR } from './helpers/onnx-conformance.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const { onnx } = onnxProto;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const rs = (x: Nested, attrs: Record<string, AttrValue>) => toNested(evalOp('resize', [fromNested('f32', x)], attrs)[0]!);

test('reference: ONNX examples (nearest upsample, bilinear half_pixel and align_corners, downsample by scales)', (t) => {
  const x = [[[[1, 2], [3, 4]]]];
  t.deepEqual(rs(x, { sizes: [1, 1, 2, 6], scales: [1, 1, 1, 3], coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }),
    [[[[1, 1, 1, 2, 2, 2], [3, 3, 3, 4, 4, 4]]]]);
  t.deepEqual(rs(x, { sizes: [1, 1, 4, 4], mode: 'linear' }),
    [[[[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]]]);
  // ONNX's align_corners divides by scale · n - 1 (here 4 - 1).
  const ac = rs(x, { sizes: [1, 1, 4, 4], mode: 'linear', coordinate_transformation_mode: 'align_corners' }) as number[][][][];
  t.deepEqual(ac[0]![0]![0]!.map((v) => Math.round(v * 1e6) / 1e6), [1, 1.333333, 1.666667, 2]);
  // 2x4 by 0.6: 1x2 (floor); coordinates step by 1 / 0.6: rows at 1/3, columns at 1/3 and 2 (half_pixel).
  const lin = rs([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], { sizes: [1, 1, 1, 2], scales: [1, 1, 0.6, 0.6], mode: 'linear' }) as number[][][][];
  t.deepEqual(lin[0]![0]![0]!.map((v) => Math.round(v * 1e5) / 1e5), [2.66667, 4.33333]);
});

/** PyTorch's bilinear interpolate (align_corners = False) over the last two axes, written directly. */
function bilinear(xs: number[], shape: number[], oh: number, ow: number): number[] {
  const [b, c, h, w] = shape as [number, number, number, number];
  const out: number[] = [];
  const src = (o: number, n: number, m: number) => Math.max((o + 0.5) * (n / m) - 0.5, 0);
  for (let p = 0; p < b * c; p++) {
    for (let i = 0; i < oh; i++) {
      const y = src(i, h, oh), y0 = Math.floor(y), y1 = Math.min(y0 + 1, h - 1), ly = y - y0;
      for (let j = 0; j < ow; j++) {
        const x = src(j, w, ow), x0 = Math.floor(x), x1 = Math.min(x0 + 1, w - 1), lx = x - x0;
        const at = (r: number, q: number) => xs[p * h * w + r * w + q]!;
        out.push((1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1)));
      }
    }
  }
  return out;
}

test('reference: n-linear matches a direct bilinear loop; nearest by integer scales is a repeat; unchanged axes are copied', (t) => {
  const xs = seededValues(3, 2 * 3 * 5 * 4, -2, 2);
  for (const [oh, ow] of [[9, 7], [3, 2], [5, 11]] as const) {
    const got = evalOp('resize', [hostTensor('f32', [2, 3, 5, 4], xs)], { sizes: [2, 3, oh, ow], mode: 'linear' })[0]!;
    const want = bilinear(xs, [2, 3, 5, 4], oh, ow);
    t.true([...got.data].every((v, k) => Math.abs(v - want[k]!) < 1e-5), `${oh}x${ow}`);
  }
  const y = evalOp('resize', [hostTensor('f32', [2, 3], [1, 2, 3, 4, 5, 6])], { sizes: [4, 9], nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' })[0]!;
  const want: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 9; j++) want.push(1 + Math.floor(i / 2) * 3 + Math.floor(j / 3));
  t.deepEqual([...y.data], want);
  t.deepEqual([...evalOp('resize', [hostTensor('f32', [2, 2], [1, 2, 3, 4])], { sizes: [2, 2], mode: 'cubic' })[0]!.data], [1, 2, 3, 4]);
});

test('reference: tf_crop_and_resize extrapolates outside the crop; f16 results are rounded once', (t) => {
  const x = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]];
  const y = rs(x, { sizes: [2, 3], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0.5, 1, 1.5], extrapolation_value: -7 });
  // rows: 0 and 3; columns: 1.5, 3, 4.5 (outside).
  t.deepEqual(y, [[2.5, 4, -7], [14.5, 16, -7]]);
  const h = evalOp('resize', [hostTensor('f16', [1, 2], [1, 2])], { sizes: [1, 7], mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0]!;
  t.deepEqual([...h.data], [0, 1, 2, 3, 4, 5, 6].map((k) => f16round(1 + k / 6)));
});

test('type rules and the tracing API', (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
  const code = (f: () => unknown) => {
    const e = t.throws(f);
    return isAmpcError(e) ? e.code : String(e);
  };
  t.is(code(() => g.add('resize', [g.addInput('i', { dtype: 'i32', shape: [2] })], { sizes: [4] })), 'E0206');
  t.is(code(() => g.add('resize', [x], { sizes: [4] })), 'E0104');
  t.is(code(() => g.add('resize', [x], { sizes: [4, 6], scales: [2] })), 'E0104');
  t.is(code(() => g.add('resize', [x], { sizes: [4, 6], coordinate_transformation_mode: 'tf_crop_and_resize' })), 'E0104');
  t.is(code(() => g.add('resize', [x], { sizes: [4, 6], mode: 'area' })), 'E0104');
  t.deepEqual(g.add('resize', [x], { sizes: [1, 7], mode: 'cubic' }).type.shape, [1, 7]);
  const tr = trace((a) => [a.resize([4, 6], { mode: 'linear' }), resize(a, [1, 2], { nearestMode: 'ceil' })], [{ dtype: 'f32', shape: [2, 3] }]);
  t.deepEqual(tr.nodes.filter((n) => n.op === 'resize').map((n) => n.attrs.mode), ['linear', 'nearest']);
});

test('resize_grad is the adjoint of resize: <resize(x), y> = <x, resize_grad(y)> in every mode', (t) => {
  const cases: Record<string, AttrValue>[] = [
    { sizes: [2, 7, 3], mode: 'nearest', nearest_mode: 'round_prefer_ceil' },
    { sizes: [2, 9, 2], mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' },
    { sizes: [2, 3, 8], mode: 'cubic', exclude_outside: true },
    { sizes: [2, 4, 4], scales: [1, 0.9, 1.2], mode: 'cubic', coordinate_transformation_mode: 'half_pixel_symmetric' },
    { sizes: [2, 5, 6], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, -0.2, 0.1, 1, 1.3, 0.8] },
  ];
  const xs = seededValues(5, 2 * 5 * 5);
  for (const a of cases) {
    const sizes = a.sizes as number[];
    const ys = seededValues(6, numel(sizes));
    const y = evalOp('resize', [hostTensor('f32', [2, 5, 5], xs)], a)[0]!;
    const dx = evalOp('resize_grad', [hostTensor('f32', sizes, ys)], { input_shape: [2, 5, 5], ...a })[0]!;
    // f32 storage of both sides: compare with a relative tolerance.
    const lhs = [...y.data].reduce((s, v, k) => s + v * ys[k]!, 0);
    const rhs = [...dx.data].reduce((s, v, k) => s + v * xs[k]!, 0);
    t.true(Math.abs(lhs - rhs) < 1e-4 * (1 + Math.abs(lhs)), `${JSON.stringify(a)}: ${lhs} vs ${rhs}`);
  }
});

// ---------------------------------------------------------------- ONNX

const vi = (name: string, shape: number[], elemType = 1): onnxProto.onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
const A = onnx.AttributeProto.AttributeType;
const str = (name: string, s: string) => ({ name, type: A.STRING, s: new TextEncoder().encode(s) });
const int = (name: string, i: number) => ({ name, type: A.INT, i });

/** A Resize / Upsample model over x [1, 1, 2, 4] with the given initializers (scales f32, sizes i64) and graph inputs. */
function model(opType: string, opset: number, input: string[], attrs: onnxProto.onnx.IAttributeProto[], init: onnxProto.onnx.ITensorProto[], extraInputs: onnxProto.onnx.IValueInfoProto[] = []): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: [{ opType, input, output: ['y'], name: 'r', attribute: attrs }], initializer: init, input: [vi('x', [1, 1, 2, 4]), ...extraInputs], output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }] },
  });
  return onnx.ModelProto.encode(m).finish();
}
const floats = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: 1, floatData: v });
const int64s = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: 7, int64Data: v });
const X = hostTensor('f32', [1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
const resizeNode = (bytes: Uint8Array) => importOnnx(bytes, { file: 'r.onnx' }).graph.nodes.find((n) => n.op === 'resize')!;

test('ONNX: Resize by opset (scales, sizes, axes, keep_aspect_ratio_policy) and Upsample map onto resize', (t) => {
  let n = resizeNode(model('Resize', 13, ['x', '', 's'], [str('mode', 'linear')], [floats('s', [1, 1, 0.6, 0.6])]));
  t.deepEqual([n.attrs.sizes, n.attrs.mode, n.attrs.coordinate_transformation_mode], [[1, 1, 1, 2], 'linear', 'half_pixel']);
  t.is((n.attrs.scales as number[])[2], Math.fround(0.6));
  n = resizeNode(model('Resize', 11, ['x', 'roi', 's', 'z'], [], [floats('roi', []), floats('s', []), int64s('z', [1, 1, 3, 3])]));
  t.deepEqual([n.attrs.sizes, n.attrs.scales], [[1, 1, 3, 3], [1, 1, 1.5, 0.75]]);
  // opset 18: sizes for axes [2, 3] with not_larger: one scale min(7/2, 6/4) = 1.5, sizes round(1.5 · [2, 4]).
  n = resizeNode(model('Resize', 18, ['x', '', '', 'z'], [{ name: 'axes', type: A.INTS, ints: [2, -1] }, str('keep_aspect_ratio_policy', 'not_larger')], [int64s('z', [7, 6])]));
  t.deepEqual([n.attrs.sizes, n.attrs.scales], [[1, 1, 3, 6], [1, 1, 1.5, 1.5]]);
  n = resizeNode(model('Resize', 18, ['x', '', '', 'z'], [{ name: 'axes', type: A.INTS, ints: [2, 3] }, str('keep_aspect_ratio_policy', 'not_smaller')], [int64s('z', [7, 6])]));
  t.deepEqual(n.attrs.sizes, [1, 1, 7, 14]);
  n = resizeNode(model('Resize', 10, ['x', 's'], [], [floats('s', [1, 1, 2, 1.5])]));
  t.deepEqual([n.attrs.sizes, n.attrs.coordinate_transformation_mode, n.attrs.nearest_mode], [[1, 1, 4, 6], 'asymmetric', 'floor']);
  const up7 = importOnnx(model('Upsample', 7, ['x'], [{ name: 'scales', type: A.FLOATS, floats: [1, 1, 2, 2] }], []), { file: 'u.onnx' }).graph;
  t.deepEqual([...interpret(up7, { x: X })[0]!.data].slice(0, 8), [1, 1, 2, 2, 3, 3, 4, 4]);
  const up9 = importOnnx(model('Upsample', 9, ['x', 's'], [str('mode', 'linear')], [floats('s', [1, 1, 1, 2])]), { file: 'u.onnx' }).graph;
  t.deepEqual([...interpret(up9, { x: X })[0]!.data].slice(0, 8), [1, 1.5, 2, 2.5, 3, 3.5, 4, 4]);
});

test('ONNX: antialias and run-time scales or roi are refused with E0901', (t) => {
  const code = (bytes: Uint8Array) => {
    const e = t.throws(() => importOnnx(bytes, { file: 'r.onnx' }));
    return isAmpcError(e) ? e.code : String(e);
  };
  t.is(code(model('Resize', 18, ['x', '', 's'], [int('antialias', 1), str('mode', 'linear')], [floats('s', [1, 1, 0.5, 0.5])])), 'E0901');
  t.is(code(model('Resize', 13, ['x', '', 's'], [], [], [vi('s', [4])])), 'E0901');
  t.is(code(model('Resize', 13, ['x', 'r', 's'], [str('coordinate_transformation_mode', 'tf_crop_and_resize')], [floats('s', [1, 1, 2, 2])], [vi('r', [8])])), 'E0901');
});

test('ONNX node tests of Resize and Upsample import and match on the reference', (t) => {
  const names = existsSync(ONNX_NODE_DIR) ? readdirSync(ONNX_NODE_DIR).filter((n) => /^test_(resize_|upsample_)/.test(n)) : [];
  if (names.length === 0) return t.pass('no ONNX test data');
  for (const name of names) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, { rtol: 1e-5, atol: 1e-6 }), undefined, name);
  }
  t.is(names.length, 24);
});

// ---------------------------------------------------------------- adapter

const CASES: { what: string; xs: number[]; attrs: Record<string, AttrValue> }[] = [
  { what: 'nearest up x2 half_pixel', xs: [2, 3, 4, 5], attrs: { sizes: [2, 3, 8, 10] } },
  { what: 'nearest down round_prefer_ceil asymmetric', xs: [2, 9, 7], attrs: { sizes: [2, 4, 3], nearest_mode: 'round_prefer_ceil', coordinate_transformation_mode: 'asymmetric' } },
  { what: 'nearest ceil align_corners rank 5', xs: [1, 2, 3, 4, 5], attrs: { sizes: [1, 2, 6, 4, 3], nearest_mode: 'ceil', coordinate_transformation_mode: 'align_corners' } },
  { what: 'linear up and down', xs: [2, 3, 5, 6], attrs: { sizes: [2, 3, 11, 4], mode: 'linear' } },
  { what: 'linear pytorch_half_pixel to 1', xs: [3, 6], attrs: { sizes: [1, 13], mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' } },
  { what: 'linear tf_crop_and_resize', xs: [2, 6, 6], attrs: { sizes: [2, 4, 5], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', roi: [0, 0.1, -0.2, 1, 0.8, 1.1], extrapolation_value: 3 } },
  { what: 'cubic scales', xs: [2, 7, 5], attrs: { sizes: [2, 10, 3], scales: [1, 1.5, 0.6], mode: 'cubic' } },
  { what: 'cubic exclude_outside A -0.5', xs: [4, 5], attrs: { sizes: [9, 8], mode: 'cubic', cubic_coeff_a: -0.5, exclude_outside: true } },
  { what: 'cubic half_pixel_symmetric', xs: [3, 5], attrs: { sizes: [3, 7], scales: [1, 1.5], mode: 'cubic', coordinate_transformation_mode: 'half_pixel_symmetric' } },
];

for (const mode of MODES) {
  modeTest(mode, 'resize on the adapter: every mode, coordinate modes, ranks 2-5', async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, CASES.map((c, k) => ({
      what: `resize ${c.what} ${dtype}`,
      build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
        const x = input(g, inputs, `${prefix}x`, dtype, c.xs, seededValues(10 + k, numel(c.xs), -2, 2));
        return [g.add('resize', [x], c.attrs)];
      },
    })));
  });

  modeTest(mode, 'resize gradients on the adapter (resize_grad in every mode)', async (t, ctx, dtype, f16Mode) => {
    const g = new Graph('t');
    const inputs: Record<string, ReturnType<typeof hostTensor>> = {};
    const losses = CASES.map((c, k) => {
      const x = g.addInput(`x${k}`, { dtype, shape: c.xs }, { param: true });
      inputs[`x${k}`] = hostTensor(dtype, c.xs, seededValues(20 + k, numel(c.xs), -1, 1));
      const y = g.add('resize', [x], c.attrs);
      const w = input(g, inputs, `w${k}`, dtype, c.attrs.sizes as number[], seededValues(40 + k, numel(c.attrs.sizes as number[]), -1, 1));
      return g.add('reduce_sum', [g.add('mul', [y, w])], { axes: y.type.shape.map((_, a) => a) });
    });
    g.setOutputs([losses.reduce((a, b) => g.add('add', [a, b]))]);
    await checkAgainstReference(t, ctx, gradientGraph(g), inputs, f16Mode, { scale: 8 });
  });
}
