// conv2d on the GPU against the reference interpreter, in every mode (f32;
// f16 with shader-f16; f16 packed in u32): asymmetric padding, stride,
// dilation, groups and depthwise, 1×1, kernels larger than the input, batch,
// odd channel counts (channel and pixel tails of the register block), f16
// accumulation, and grids split over several dimensions.

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { convBlock, convGeometry } from '../compiler/kernels/conv.ts';
import { compileForDevice } from '../compiler/execute.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, seededValues, TOLERANCES } from './helpers/compare.ts';
import { gpuTest, modeTest, withMaxWorkgroups } from './helpers/gpu.ts';
import { convAttrs } from './helpers/conv-case.ts';
import type { ConvCase } from './helpers/conv-case.ts';

const CASES: readonly ConvCase[] = [
  { name: '3x3, asymmetric padding [1,0,2,1], 5 output channels', x: [1, 3, 6, 7], w: [5, 3, 3, 3], padding: [1, 0, 2, 1] },
  { name: '3x3 stride 2, padding 1, batch 2', x: [2, 4, 9, 8], w: [6, 4, 3, 3], stride: [2, 2], padding: [1, 1, 1, 1] },
  { name: '3x3 dilation 2, stride [1,2], padding 2', x: [1, 3, 9, 10], w: [4, 3, 3, 3], dilation: [2, 2], stride: [1, 2], padding: [2, 2, 2, 2] },
  { name: 'groups 2, 5 output channels per group', x: [1, 4, 7, 7], w: [10, 2, 3, 3], groups: 2, padding: [1, 1, 1, 1] },
  { name: 'depthwise (groups = C = 5), batch 2', x: [2, 5, 8, 8], w: [5, 1, 3, 3], groups: 5, padding: [1, 1, 1, 1] },
  { name: '1x1, batch 3, 7 -> 9 channels', x: [3, 7, 5, 5], w: [9, 7, 1, 1] },
  { name: '5x5 on 7x7, padding 2', x: [1, 3, 7, 7], w: [4, 3, 5, 5], padding: [2, 2, 2, 2] },
  { name: '5x5 kernel larger than a 3x3 input, padding 2', x: [1, 2, 3, 3], w: [3, 2, 5, 5], padding: [2, 2, 2, 2] },
  { name: '2x2 with stride [3,4] > kernel, odd sizes', x: [1, 3, 10, 11], w: [5, 3, 2, 2], stride: [3, 4] },
];

/** Sum of |x||w| expected over one output's window (values uniform in [-1, 1]): the accumulated magnitude. */
const scaleOf = (c: ConvCase) => Math.max(1, (c.w[1] * c.w[2] * c.w[3]) / 4);

function convGraph(c: ConvCase, dtype: DType): Graph {
  const g = new Graph('conv');
  const x = g.addInput('x', { dtype, shape: c.x });
  const w = g.addInput('w', { dtype, shape: c.w });
  const y = g.add('conv2d', [x, w], convAttrs(c));
  g.setOutputs([y]);
  return g;
}

function inputsFor(c: ConvCase, dtype: DType, seed: number) {
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return {
    x: hostTensor(dtype, c.x, seededValues(seed, n(c.x))),
    w: hostTensor(dtype, c.w, seededValues(seed + 1, n(c.w))),
  };
}

CASES.forEach((c, k) => {
  for (const mode of MODES) {
    modeTest(mode, `conv2d ${c.name}`, async (t, ctx) => {
      const dtype = dtypeOf(mode);
      await checkAgainstReference(t, ctx, convGraph(c, dtype), inputsFor(c, dtype, 100 + k), f16ModeOf(mode), { scale: scaleOf(c) });
    });
  }
});

// acc = f16: an f16 accumulator natively; f32 rounded to f16 after every addition when packed.
const ACC16: ConvCase = { name: 'acc = f16, 3x3 stride 2, groups 2', x: [2, 6, 7, 8], w: [6, 3, 3, 3], stride: [2, 2], padding: [1, 1, 0, 1], groups: 2, acc: 'f16' };
for (const mode of ['f16', 'f16-packed'] as const) {
  modeTest(mode, `conv2d ${ACC16.name}`, async (t, ctx) => {
    await checkAgainstReference(t, ctx, convGraph(ACC16, 'f16'), inputsFor(ACC16, 'f16', 7), f16ModeOf(mode), { scale: scaleOf(ACC16) });
  });
}
for (const mode of ['f16', 'f16-packed'] as const) {
  modeTest(mode, 'conv2d f32 tensors with acc = f16', async (t, ctx) => {
    const c = { ...ACC16, acc: 'f16' as const };
    // The running sum is an f16 value, so the result has f16 precision although it is stored as f32.
    await checkAgainstReference(t, ctx, convGraph(c, 'f32'), inputsFor(c, 'f32', 8), f16ModeOf(mode), { scale: scaleOf(c), tolerance: TOLERANCES.f16 });
    const plan = compileForDevice(convGraph(c, 'f32'), ctx, { f16Mode: f16ModeOf(mode) });
    if (mode === 'f16') t.regex(plan.kernels[0]!.code, /var a_0_0: f16/);
    else t.regex(plan.kernels[0]!.code, /round_f16\(/);
  });
}

// 400 invocations = 7 workgroups of 64; at most 2 per dimension makes that a 2x2x2 grid.
const GRID: ConvCase = { name: 'grid', x: [2, 3, 20, 20], w: [8, 3, 3, 3], padding: [1, 1, 1, 1] };
for (const mode of MODES) {
  modeTest(mode, 'conv2d dispatch over a 3-D grid (at most 2 workgroups per dimension)', async (t, ctx) => {
    const dtype = dtypeOf(mode);
    const small = withMaxWorkgroups(ctx, 2);
    const plan = compileForDevice(convGraph(GRID, dtype), small, { f16Mode: f16ModeOf(mode) });
    t.deepEqual(plan.dispatches[0]!.workgroups, [2, 2, 2]);
    await checkAgainstReference(t, small, convGraph(GRID, dtype), inputsFor(GRID, dtype, 3), f16ModeOf(mode), { scale: scaleOf(GRID) });
  });
}

gpuTest('conv2d register block: up to 4 channels of a group x 4 pixels, one invocation each', (t, ctx) => {
  const cases: [ConvCase, { o: number; p: number }, number][] = [
    [CASES[0]!, { o: 4, p: 4 }, 2 * 7 * 2], // 5 channels -> 2 blocks; OH 7; OW 6 -> 2 blocks
    [CASES[4]!, { o: 1, p: 4 }, 2 * 5 * 8 * 2], // depthwise: one channel per group; batch 2, OH 8, OW 8 -> 2 blocks
    [CASES[7]!, { o: 3, p: 3 }, 3], // 3x3 output: one pixel block per row
  ];
  for (const [c, block, threads] of cases) {
    const g = convGraph(c, 'f32');
    t.deepEqual(convBlock(convGeometry(g.nodes[0]!)), block, c.name);
    const plan = compileForDevice(g, ctx, { f16Mode: 'native' });
    t.regex(plan.kernels[0]!.code, new RegExp(`if \\(t >= ${threads}u\\)`), c.name);
  }
});

// f16 results beyond ±65504 are ±inf, as the reference rounds them (WGSL leaves
// an out-of-range f32 -> f16 conversion indeterminate, so the emitter must not rely on it).
const BIG: ConvCase = { name: 'overflow', x: [1, 2, 6, 6], w: [5, 2, 3, 3], padding: [1, 1, 1, 1] };
for (const acc of ['f32', 'f16'] as const) {
  for (const mode of ['f16', 'f16-packed'] as const) {
    modeTest(mode, `conv2d acc = ${acc}: sums beyond the f16 range are stored as ±inf`, async (t, ctx) => {
      const c = { ...BIG, acc };
      const inputs = {
        x: hostTensor('f16', c.x, seededValues(11, 72, 60, 100)),
        w: hostTensor('f16', c.w, seededValues(12, 90, -40, 160)),
      };
      const expected = interpret(convGraph(c, 'f16'), inputs)[0]!.data;
      const infs = Array.from(expected).filter((v) => !Number.isFinite(v)).length;
      t.true(infs > 0 && infs < expected.length, `${infs} of ${expected.length} outputs overflow`);
      await checkAgainstReference(t, ctx, convGraph(c, 'f16'), inputs, f16ModeOf(mode), { scale: 18 * 100 * 160 });
    });
  }
}

// Padding positions are skipped, not multiplied by zero: an inf weight on a
// tap that only ever meets padding does not make the border outputs NaN.
for (const mode of MODES) {
  modeTest(mode, 'conv2d padding is skipped, so an inf weight meeting only padding adds nothing', async (t, ctx) => {
    const dtype = dtypeOf(mode);
    // 3x3 kernel, padding 1, stride 3 on a 4x4 input: output (0, 0)'s top-left tap reads padding only.
    const c: ConvCase = { name: 'inf', x: [1, 2, 4, 4], w: [3, 2, 3, 3], stride: [3, 3], padding: [1, 1, 1, 1] };
    const w = seededValues(21, 54);
    w[0] = Infinity; // channel 0, input channel 0, tap (0, 0)
    const inputs = { x: hostTensor(dtype, c.x, seededValues(20, 32)), w: hostTensor(dtype, c.w, w) };
    const expected = interpret(convGraph(c, dtype), inputs)[0]!.data;
    t.true(Number.isFinite(expected[0]!) && Array.from(expected).some((v) => !Number.isFinite(v)), 'output (0,0,0,0) finite, others not');
    await checkAgainstReference(t, ctx, convGraph(c, dtype), inputs, f16ModeOf(mode), { scale: scaleOf(c) });
  });
}
