// max_pool2d and avg_pool2d on the GPU against the reference interpreter, in
// every mode (f32; f16 with shader-f16; f16 packed in u32): padding (which max
// ignores and avg counts only with count_include_pad), stride ≠ kernel,
// overlapping and non-square windows, batch > 1, odd sizes.

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, seededValues } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';

interface PoolCase {
  readonly name: string;
  readonly op: 'max_pool2d' | 'avg_pool2d';
  readonly x: [number, number, number, number];
  readonly kernel: [number, number];
  readonly stride?: [number, number];
  readonly padding?: [number, number, number, number];
  readonly countIncludePad?: boolean;
}

const CASES: readonly PoolCase[] = [
  { name: '2x2 stride 2, batch 2, odd size (last row / column dropped)', op: 'max_pool2d', x: [2, 3, 9, 7], kernel: [2, 2], stride: [2, 2] },
  { name: '3x3 stride 2, asymmetric padding [1,0,2,1]', op: 'max_pool2d', x: [1, 5, 8, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 0, 2, 1] },
  { name: '3x2 window, stride [1,3] (overlapping rows, gaps between columns), padding 1', op: 'max_pool2d', x: [3, 2, 6, 11], kernel: [3, 2], stride: [1, 3], padding: [1, 1, 1, 1] },
  { name: '2x2 stride 2, batch 2', op: 'avg_pool2d', x: [2, 3, 8, 6], kernel: [2, 2], stride: [2, 2] },
  { name: '3x3 stride 2, padding [1,0,2,1], pad excluded from the count', op: 'avg_pool2d', x: [1, 5, 8, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 0, 2, 1] },
  { name: '3x3 stride 2, padding [1,0,2,1], count_include_pad', op: 'avg_pool2d', x: [1, 5, 8, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 0, 2, 1], countIncludePad: true },
  { name: '3x2 window, stride [1,3], padding 1, count_include_pad, batch 3', op: 'avg_pool2d', x: [3, 2, 6, 11], kernel: [3, 2], stride: [1, 3], padding: [1, 1, 1, 1], countIncludePad: true },
];

function poolGraph(c: PoolCase, dtype: DType): Graph {
  const g = new Graph('pool');
  const x = g.addInput('x', { dtype, shape: c.x });
  const attrs = { kernel: c.kernel, stride: c.stride, padding: c.padding, ...(c.op === 'avg_pool2d' ? { count_include_pad: c.countIncludePad } : {}) };
  g.setOutputs([g.add(c.op as OpName, [x], attrs)]);
  return g;
}

CASES.forEach((c, k) => {
  for (const mode of MODES) {
    modeTest(mode, `${c.op} ${c.name}`, async (t, ctx) => {
      const dtype = dtypeOf(mode);
      // All-negative inputs too: a padding position taken as 0 would win the max.
      const lo = k % 2 === 0 ? -1 : -2, hi = k % 2 === 0 ? 1 : -0.5;
      const x = hostTensor(dtype, c.x, seededValues(200 + k, c.x.reduce((a, b) => a * b, 1), lo, hi));
      await checkAgainstReference(t, ctx, poolGraph(c, dtype), { x }, f16ModeOf(mode));
    });
  }
});

// NaN propagates through max pooling (and -inf inputs are kept), in every mode.
for (const mode of MODES) {
  modeTest(mode, 'max_pool2d propagates NaN and keeps -inf', async (t, ctx) => {
    const dtype = dtypeOf(mode);
    const c: PoolCase = { name: 'nan', op: 'max_pool2d', x: [1, 2, 6, 6], kernel: [2, 2], stride: [2, 2], padding: [1, 1, 1, 1] };
    const values = seededValues(300, 72);
    values[7] = NaN; // a window inside channel 0
    values[36 + 35] = NaN; // the bottom-right corner of channel 1
    for (const k of [0, 1, 6]) values[36 + k] = -Infinity; // a window of channel 1 that is all -inf
    const x = hostTensor(dtype, c.x, values);
    await checkAgainstReference(t, ctx, poolGraph(c, dtype), { x }, f16ModeOf(mode));
  });
}
