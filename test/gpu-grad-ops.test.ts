// The gradient ops on the GPU against the reference interpreter, in every
// mode (f32; f16 with shader-f16; f16 packed in u32):
// - conv2d_grad_input and conv2d_grad_weight: stride 2, asymmetric padding,
//   dilation 2, groups 2, depthwise, 1×1, odd sizes with strides larger than
//   the kernel, batch 2–3, a long reduction split into parts, a short one
//   done by one invocation per block, acc = f16, a 3-D dispatch grid;
// - max_pool2d_grad and avg_pool2d_grad: padding, overlapping windows, gaps,
//   count_include_pad both ways, ties (first maximum), all-negative inputs
//   (padding never wins), NaN and -inf;
// - gelu_grad, both forms, with ±inf and NaN.

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { AttrValue } from '../ir/attrs.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import type { GpuContext } from '../runtime/device.ts';
import { compileForDevice } from '../compiler/execute.ts';
import { convGradGeometry, gradWeightPlan } from '../compiler/kernels/conv-grad.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, seededValues, TOLERANCES } from './helpers/compare.ts';
import type { Mode } from './helpers/compare.ts';
import { gpuTest, modeTest, withMaxWorkgroups } from './helpers/gpu.ts';
import type { GpuTestFn } from './helpers/gpu.ts';
import { convAttrs } from './helpers/conv-case.ts';
import type { ConvCase } from './helpers/conv-case.ts';

type Dims = [number, number, number, number];
type Attrs = Record<string, AttrValue | undefined>;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const values = (dtype: DType, shape: readonly number[], seed: number, lo = -1, hi = 1): HostTensor =>
  hostTensor(dtype, shape, seededValues(seed, numel(shape), lo, hi));

// ---------------------------------------------------------------- conv2d gradients

const CONV_CASES: readonly ConvCase[] = [
  { name: '3x3 stride 2, asymmetric padding [1,0,2,1], batch 2', x: [2, 3, 17, 16], w: [5, 3, 3, 3], stride: [2, 2], padding: [1, 0, 2, 1] },
  { name: '3x3 dilation 2, stride [1,2], padding 2', x: [1, 3, 9, 10], w: [4, 3, 3, 3], dilation: [2, 2], stride: [1, 2], padding: [2, 2, 2, 2] },
  { name: 'groups 2, 3 outputs and 2 inputs per group', x: [1, 4, 11, 9], w: [6, 2, 3, 3], groups: 2, padding: [1, 1, 1, 1] },
  { name: 'depthwise (groups = C = 5), stride 2, batch 2', x: [2, 5, 12, 12], w: [5, 1, 3, 3], groups: 5, stride: [2, 2], padding: [1, 1, 1, 1] },
  { name: '1x1 stride [2,1], batch 3, 7 -> 9 channels', x: [3, 7, 5, 5], w: [9, 7, 1, 1], stride: [2, 1] },
  { name: '2x2 stride [3,4] > kernel, odd sizes', x: [1, 3, 10, 11], w: [5, 3, 2, 2], stride: [3, 4] },
  { name: 'long reduction (2x48x48 positions) split into parts', x: [2, 2, 48, 48], w: [3, 2, 3, 3], padding: [1, 1, 1, 1] },
];

function convGradGraphs(c: ConvCase, dtype: DType): { dx: Graph; dw: Graph } {
  const attrs: Attrs = convAttrs(c);
  const probe = new Graph('probe');
  const yShape = probe.add('conv2d', [probe.addInput('x', { dtype, shape: c.x }), probe.addInput('w', { dtype, shape: c.w })], attrs).type.shape;
  const dx = new Graph('dx');
  const dy1 = dx.addInput('dy', { dtype, shape: yShape });
  const w = dx.addInput('w', { dtype, shape: c.w });
  dx.setOutputs([dx.add('conv2d_grad_input', [dy1, w], { ...attrs, input_shape: c.x })]);
  const dw = new Graph('dw');
  const x = dw.addInput('x', { dtype, shape: c.x });
  const dy2 = dw.addInput('dy', { dtype, shape: yShape });
  dw.setOutputs([dw.add('conv2d_grad_weight', [x, dy2], { ...attrs, weight_shape: c.w })]);
  return { dx, dw };
}

/** Expected sum of |a||b| over one element's terms (values uniform in [-1, 1]): the accumulated magnitude. */
function scales(c: ConvCase, yShape: readonly number[]): { dx: number; dw: number } {
  const groups = c.groups ?? 1;
  const [sh, sw] = c.stride ?? [1, 1];
  return {
    dx: Math.max(1, ((c.w[0] / groups) * Math.ceil(c.w[2] / sh) * Math.ceil(c.w[3] / sw)) / 4),
    dw: Math.max(1, (yShape[0]! * yShape[2]! * yShape[3]!) / 4),
  };
}

async function checkConvGrads(t: Parameters<GpuTestFn>[0], ctx: GpuContext, c: ConvCase, dtype: DType, mode: Mode, seed: number, tolerance?: typeof TOLERANCES.f16) {
  const { dx, dw } = convGradGraphs(c, dtype);
  const yShape = dx.inputs[0]!.type.shape;
  const s = scales(c, yShape);
  const dy = values(dtype, yShape, seed);
  await checkAgainstReference(t, ctx, dx, { dy, w: values(dtype, c.w, seed + 1) }, f16ModeOf(mode), { scale: s.dx, tolerance });
  await checkAgainstReference(t, ctx, dw, { x: values(dtype, c.x, seed + 2), dy }, f16ModeOf(mode), { scale: s.dw, tolerance });
}

CONV_CASES.forEach((c, k) => {
  for (const mode of MODES) {
    modeTest(mode, `conv2d_grad_input / conv2d_grad_weight ${c.name}`, async (t, ctx) => {
      await checkConvGrads(t, ctx, c, dtypeOf(mode), mode, 100 + 10 * k);
    });
  }
});

// acc = f16: an f16 accumulator natively; f32 rounded to f16 after every addition when packed.
const ACC16: ConvCase = { name: 'acc = f16, 3x3 stride 2, groups 2', x: [2, 6, 15, 14], w: [4, 3, 3, 3], stride: [2, 2], padding: [1, 1, 0, 1], groups: 2, acc: 'f16' };
for (const mode of ['f16', 'f16-packed'] as const) {
  modeTest(mode, `conv2d gradients ${ACC16.name}`, async (t, ctx) => {
    await checkConvGrads(t, ctx, ACC16, 'f16', mode, 7);
    // f32 tensors with acc = f16: the sums have f16 precision although they are stored as f32.
    await checkConvGrads(t, ctx, ACC16, 'f32', mode, 8, TOLERANCES.f16);
    const code = compileForDevice(convGradGraphs(ACC16, 'f32').dw, ctx, { f16Mode: f16ModeOf(mode) }).kernels[0]!.code;
    if (mode === 'f16') t.regex(code, /var<workgroup> wg: array<f16, /);
    else t.regex(code, /ampc_round_f16\(v \+ wg\[/);
  });
}

gpuTest('conv2d_grad_weight schemes: a workgroup per block, split into parts when few blocks meet a long reduction, one invocation per block for short ones', (t, ctx) => {
  const plans = CONV_CASES.map((c) => gradWeightPlan(convGradGeometry(convGradGraphs(c, 'f32').dw.nodes[0]!)));
  t.deepEqual(plans.map((p) => [p.direct, p.parts]), [[false, 1], [true, 1], [false, 1], [false, 1], [true, 1], [true, 1], [false, 2]]);
  const split = compileForDevice(convGradGraphs(CONV_CASES[6]!, 'f32').dw, ctx, { f16Mode: 'native' });
  t.is(split.dispatches.length, 2);
  // 5 blocks (3 channels x 18 taps in blocks of 3 x 4) x 2 parts, then one reduction of 2 partials per weight element.
  t.deepEqual(split.dispatches[0]!.workgroups, [10, 1, 1]);
  const gi = compileForDevice(convGradGraphs(CONV_CASES[0]!, 'f32').dx, ctx, { f16Mode: 'native' }).kernels[0]!.code;
  t.notRegex(gi, /atomic/);
  t.regex(gi, /block 3 channels x 4 pixels/);
});

// At most 3 workgroups per dimension: grad_input's 18 workgroups and grad_weight's 10 both need z.
for (const mode of ['f32', 'f16-packed'] as const) {
  modeTest(mode, 'conv2d gradients dispatched over a 3-D grid', async (t, ctx) => {
    const small = withMaxWorkgroups(ctx, 3);
    const c = CONV_CASES[6]!;
    const graphs = convGradGraphs(c, dtypeOf(mode));
    for (const g of [graphs.dx, graphs.dw]) {
      t.true(compileForDevice(g, small, { f16Mode: f16ModeOf(mode) }).dispatches[0]!.workgroups[2] > 1);
    }
    await checkConvGrads(t, small, c, dtypeOf(mode), mode, 9);
  });
}

// Taps that meet no output position (or padding) are skipped, not multiplied
// by zero: an inf weight makes only the dx elements its tap really reaches
// non-finite; an inf input on a row and column no window reads leaves dw finite.
for (const mode of MODES) {
  modeTest(mode, 'conv2d gradients skip taps off the output and padding, so inf there adds nothing', async (t, ctx) => {
    const dtype = dtypeOf(mode);
    // 3x3 kernel, stride 3, padding [1,1,0,0] on 6x6: windows start at -1 and 2, so row 5 and column 5 are never read.
    const c: ConvCase = { name: 'inf', x: [1, 2, 6, 6], w: [3, 2, 3, 3], stride: [3, 3], padding: [1, 1, 0, 0] };
    const { dx, dw } = convGradGraphs(c, dtype);
    const yShape = dx.inputs[0]!.type.shape;
    const w = seededValues(21, numel(c.w));
    w[0] = Infinity; // output channel 0, input channel 0, tap (0, 0)
    const dy = values(dtype, yShape, 20);
    const dxIn = { dy, w: hostTensor(dtype, c.w, w) };
    const ref = Array.from(interpret(dx, dxIn)[0]!.data);
    t.true(ref.some(Number.isFinite) && !ref.every(Number.isFinite), 'some dx elements finite, others not');
    await checkAgainstReference(t, ctx, dx, dxIn, f16ModeOf(mode), { scale: scales(c, yShape).dx });
    const x = seededValues(22, numel(c.x));
    for (let ch = 0; ch < 2; ch++) for (let k = 0; k < 6; k++) { x[ch * 36 + 30 + k] = Infinity; x[ch * 36 + k * 6 + 5] = -Infinity; }
    const dwIn = { x: hostTensor(dtype, c.x, x), dy };
    t.true(Array.from(interpret(dw, dwIn)[0]!.data).every(Number.isFinite));
    await checkAgainstReference(t, ctx, dw, dwIn, f16ModeOf(mode), { scale: scales(c, yShape).dw });
  });
}

// ---------------------------------------------------------------- pooling gradients

interface PoolCase {
  readonly name: string;
  readonly x: Dims;
  readonly kernel: [number, number];
  readonly stride?: [number, number];
  readonly padding?: [number, number, number, number];
  readonly countIncludePad?: boolean;
}

const POOL_CASES: readonly PoolCase[] = [
  { name: '2x2 stride 2, batch 2, odd size', x: [2, 3, 9, 7], kernel: [2, 2], stride: [2, 2] },
  { name: '3x3 stride 2, padding [1,0,2,1], count_include_pad', x: [1, 5, 8, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 0, 2, 1], countIncludePad: true },
  { name: '3x2 window, stride [1,3] (overlapping rows, column gaps), padding 1, batch 3', x: [3, 2, 6, 11], kernel: [3, 2], stride: [1, 3], padding: [1, 1, 1, 1] },
  { name: '3x3 stride 1, padding 1 (nine windows per element)', x: [1, 2, 7, 6], kernel: [3, 3], padding: [1, 1, 1, 1], countIncludePad: true },
];

/** One graph with both gradients of a pooling case: [max_pool2d_grad(x, dy), avg_pool2d_grad(dy)]. */
function poolGradGraph(c: PoolCase, dtype: DType): Graph {
  const attrs: Attrs = { kernel: c.kernel, stride: c.stride, padding: c.padding };
  const probe = new Graph('probe');
  const yShape = probe.add('max_pool2d', [probe.addInput('x', { dtype, shape: c.x })], attrs).type.shape;
  const g = new Graph('pool_grad');
  const x = g.addInput('x', { dtype, shape: c.x });
  const dy = g.addInput('dy', { dtype, shape: yShape });
  g.setOutputs([
    g.add('max_pool2d_grad', [x, dy], attrs),
    g.add('avg_pool2d_grad', [dy], { ...attrs, count_include_pad: c.countIncludePad, input_shape: c.x }),
  ]);
  return g;
}

POOL_CASES.forEach((c, k) => {
  for (const mode of MODES) {
    modeTest(mode, `max_pool2d_grad / avg_pool2d_grad ${c.name}`, async (t, ctx) => {
      const dtype = dtypeOf(mode);
      const g = poolGradGraph(c, dtype);
      // All-negative inputs on odd cases: padding taken as 0 would win the max.
      const [lo, hi] = k % 2 === 0 ? [-1, 1] : [-2, -0.5];
      const inputs = { x: values(dtype, c.x, 200 + k, lo, hi), dy: values(dtype, g.inputs[1]!.type.shape, 210 + k) };
      await checkAgainstReference(t, ctx, g, inputs, f16ModeOf(mode), { scale: 4 });
    });
  }
});

for (const mode of MODES) {
  modeTest(mode, 'max_pool2d_grad: ties go to the first maximum; NaN wins; a window of -inf gives to its first element', async (t, ctx) => {
    const dtype = dtypeOf(mode);
    const c = POOL_CASES[2]!;
    const g = poolGradGraph(c, dtype);
    // Values from a set of three: most windows have ties.
    const x = seededValues(300, numel(c.x), 0, 3).map(Math.floor);
    x[5] = NaN;
    x[17] = NaN; // row 1 of the same plane: windows overlapping rows 0-2 see both
    for (let k = 0; k < 22; k++) x[66 + k] = -Infinity; // the first two rows of plane 1
    const inputs = { x: hostTensor(dtype, c.x, x), dy: values(dtype, g.inputs[1]!.type.shape, 301) };
    await checkAgainstReference(t, ctx, g, inputs, f16ModeOf(mode), { scale: 4 });
  });
}

// ---------------------------------------------------------------- gelu_grad

for (const approximate of ['none', 'tanh']) {
  for (const mode of MODES) {
    modeTest(mode, `gelu_grad approximate = ${approximate}`, async (t, ctx) => {
      const dtype = dtypeOf(mode);
      const g = new Graph('gelu_grad');
      const shape = [5, 41];
      const x = g.addInput('x', { dtype, shape });
      const dy = g.addInput('dy', { dtype, shape });
      g.setOutputs([g.add('gelu_grad', [x, dy], { approximate })]);
      const xs = seededValues(400, 205, -6, 6);
      xs.splice(0, 9, 0, -0.7518, 9.5, -9.5, 12, -12, Infinity, -Infinity, NaN);
      await checkAgainstReference(t, ctx, g, { x: hostTensor(dtype, shape, xs), dy: values(dtype, shape, 401, -2, 2) }, f16ModeOf(mode));
    });
  }
}
