// reduce_sum / reduce_mean / reduce_max / reduce_prod on the GPU against the reference, in
// the three modes (f32, native f16, packed f16): odd sizes, any axes
// (negative, non-adjacent, strided), keepdims, tiny rows (thread per output),
// long rows (workgroup per output; on a CPU adapter only few long rows, so
// every case also runs with the GPU kind's choices), full reductions of ~100k elements (two
// stages), acc = f16, integers, NaN, and grid splitting.

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { normalizeAxes } from '../ir/shape-rules.ts';
import { compileForDevice } from '../compiler/execute.ts';
import { MODES, seededValues } from './helpers/compare.ts';
import { asAdapterKind, gpuTest, modeTestPerKind, withMaxWorkgroups } from './helpers/gpu.ts';
import type { AdapterKind } from '../compiler/kernels/context.ts';
import type { Plan } from '../runtime/plan.ts';
import { checkPieces, input } from './helpers/pieces.ts';
import type { Piece } from './helpers/pieces.ts';

interface Case {
  readonly shape: number[];
  readonly axes: number[];
  readonly keepdims?: boolean;
}

const CASES: Case[] = [
  { shape: [7], axes: [0] },
  { shape: [1], axes: [0], keepdims: true },
  { shape: [3, 33], axes: [1], keepdims: true },
  { shape: [3, 33], axes: [-2] },
  { shape: [257, 7], axes: [0] },
  { shape: [4, 5, 6], axes: [0, 2], keepdims: true },
  { shape: [4, 5, 6], axes: [-1, 0] },
  { shape: [2, 3, 1000], axes: [-1] },
  { shape: [2, 1000, 3], axes: [1], keepdims: true },
  { shape: [1, 3, 7], axes: [1] },
  { shape: [5, 1], axes: [1] },
  { shape: [3, 4], axes: [] },
  { shape: [33, 2049], axes: [1] },
  { shape: [1000, 3], axes: [0, 1] },
  { shape: [3, 20000], axes: [-1] }, // few long rows: two stages
  { shape: [100, 1000], axes: [0, 1] }, // full reduction of 100k: two stages
];

/** Largest Σ|x| over the outputs (the magnitude of the summed terms), and the reduced count. */
function sumScale(shape: number[], axes: number[], values: number[]): { scale: number; count: number } {
  const ax = normalizeAxes('t', axes, shape.length);
  const count = ax.reduce((p, a) => p * shape[a]!, 1);
  const total = values.reduce((p, v) => p + Math.abs(v), 0);
  // Every output sums `count` of the values; bound its Σ|x| by count · max|x| and by the total.
  const maxAbs = values.reduce((p, v) => Math.max(p, Math.abs(v)), 0);
  return { scale: Math.max(1, Math.min(total, count * maxAbs)), count };
}

function reducePiece(op: OpName, dtype: DType, c: Case, seed: number, acc?: DType, values?: number[]): Piece {
  const n = c.shape.reduce((p, d) => p * d, 1);
  const xs = values ?? seededValues(seed, n, -1, 1);
  const { scale, count } = sumScale(c.shape, c.axes, xs);
  return {
    what: `${op} ${dtype}[${c.shape}] axes [${c.axes}]${c.keepdims ? ' keepdims' : ''}${acc ? ` acc ${acc}` : ''}`,
    scale: op === 'reduce_max' ? 1 : op === 'reduce_mean' ? Math.max(1, scale / count) : scale,
    build: (g, prefix, inputs) => {
      const x = input(g, inputs, `${prefix}x`, dtype, c.shape, xs);
      return [g.add(op, [x], { axes: c.axes, keepdims: c.keepdims ?? false, ...(acc ? { acc } : {}) })];
    },
  };
}

function reduceGraph(op: OpName, dtype: DType, c: Case): Graph {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype, shape: c.shape });
  g.setOutputs([g.add(op, [x], { axes: c.axes, keepdims: c.keepdims ?? false })]);
  return g;
}

for (const mode of MODES) {
  for (const op of ['reduce_sum', 'reduce_mean', 'reduce_max'] as const) {
    modeTestPerKind(mode, `${op} over ${CASES.length} shape / axes cases`, async (t, ctx, dtype, f16Mode) => {
      await checkPieces(t, ctx, f16Mode, CASES.map((c, k) => reducePiece(op, dtype, c, 100 + k)));
    });
  }
  if (mode !== 'f32') {
    modeTestPerKind(mode, 'reduce_sum and reduce_mean with acc = f16', async (t, ctx, dtype, f16Mode) => {
      const cases: Case[] = [{ shape: [3, 7], axes: [1] }, { shape: [5, 300], axes: [-1] }, { shape: [40, 3, 9], axes: [0, 2], keepdims: true }, { shape: [100, 1000], axes: [0, 1] }];
      await checkPieces(t, ctx, f16Mode, ['reduce_sum', 'reduce_mean'].flatMap((op) => cases.map((c, k) => reducePiece(op as OpName, dtype, c, 200 + k, 'f16'))));
    });
  }
  modeTestPerKind(mode, `reduce_prod over ${CASES.length} shape / axes cases (factors near ±1, some zeros)`, async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, CASES.map((c, k) => {
      const n = c.shape.reduce((p, d) => p * d, 1);
      const u = seededValues(300 + k, n, 0, 1), s = seededValues(400 + k, n, 0, 1);
      const values = u.map((v, i) => (s[i]! < 0.002 ? 0 : (s[i]! < 0.5 ? -1 : 1) * (0.97 + 0.06 * v)));
      const { count } = sumScale(c.shape, c.axes, values);
      // f32 products round once per factor: the relative error grows like √count.
      return { ...reducePiece('reduce_prod', dtype, c, 0, undefined, values), scale: Math.max(1, Math.sqrt(count)) };
    }));
  });
  modeTestPerKind(mode, 'reduce_max propagates NaN and handles ±inf', async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, [[4, 5], [4, 300]].map((shape) => {
      const n = shape[0]! * shape[1]!;
      const values = seededValues(7, n, -100, 100);
      values[3] = NaN; // row 0
      values[shape[1]! + 2] = Infinity; // row 1
      for (let j = 0; j < shape[1]!; j++) values[2 * shape[1]! + j] = -Infinity; // row 2
      values[n - 1] = NaN; // row 3 (last element)
      return reducePiece('reduce_max', dtype, { shape, axes: [1] }, 0, undefined, values);
    }));
  });
}

gpuTest('integer reduce_sum and reduce_prod (wrapping) and reduce_max, i32 and u32', async (t, ctx) => {
  const pieces = (['i32', 'u32'] as const).flatMap((dtype) =>
    [{ shape: [3, 7], axes: [1] }, { shape: [5, 300], axes: [0] }, { shape: [200, 200], axes: [0, 1] }, { shape: [8, 4100], axes: [-1] }].flatMap((c) => {
      const n = c.shape.reduce((p, d) => p * d, 1);
      const values = seededValues(11, n, dtype === 'i32' ? -2e9 : 0, dtype === 'i32' ? 2e9 : 4e9).map(Math.trunc);
      // Integers compare exactly, whatever the scale.
      return (['reduce_sum', 'reduce_max', 'reduce_prod'] as const).map((op) => ({ ...reducePiece(op, dtype, c, 0, undefined, values), scale: 1 }));
    }),
  );
  await checkPieces(t, ctx, 'native', pieces);
});

gpuTest('more rows than a grid dimension holds: the dispatch is split over y and z', async (t, ctx) => {
  // A device that allows only 5 workgroups per dimension forces 2-D and 3-D grids on small tensors.
  // The GPU kind's choices: a workgroup per row, so that a modest number of rows needs y (and z).
  const small = asAdapterKind(withMaxWorkgroups(ctx, 5), 'gpu');
  for (const f16Mode of ['native', 'packed'] as const) {
    const dtype = f16Mode === 'packed' ? 'f16' : 'f32';
    const cases: Case[] = [{ shape: [70, 40], axes: [1] }, { shape: [40, 70], axes: [0] }, { shape: [1000, 5], axes: [1] }, { shape: [2, 50000], axes: [1] }];
    const plan = compileForDevice(reduceGraph('reduce_sum', dtype, cases[0]!), small, { f16Mode });
    t.deepEqual(plan.dispatches[0]!.workgroups, [5, 5, 3]);
    await checkPieces(t, small, f16Mode, cases.map((c, k) => reducePiece('reduce_sum', dtype, c, 5 + k)));
  }
});

gpuTest('strategy: tiny rows loop per invocation; long rows get workgroups on GPUs, on CPUs only when few; full reductions two stages', (t, ctx) => {
  const kernelsFor = (kind: AdapterKind) => (c: Case) => compileForDevice(reduceGraph('reduce_sum', 'f32', c), asAdapterKind(ctx, kind), { f16Mode: 'native' });
  const shared = (plan: Plan) => plan.kernels[0]!.code.includes('var<workgroup>');
  for (const kind of ['cpu', 'gpu'] as const) {
    const tiny = kernelsFor(kind)({ shape: [1000, 5], axes: [1] });
    t.is(tiny.dispatches.length, 1);
    t.false(shared(tiny), `${kind}: rows of 5`);
  }
  const gpu = kernelsFor('gpu'), cpu = kernelsFor('cpu');
  const long = gpu({ shape: [8, 3000], axes: [1] });
  t.is(long.dispatches.length, 1);
  t.regex(long.kernels[0]!.code, /var<workgroup> wg_f32: array<f32, 256>/);
  t.deepEqual(long.dispatches[0]!.workgroups, [8, 1, 1]);
  t.regex(gpu({ shape: [32, 16384], axes: [0] }).kernels[0]!.code, /array<f32, 64>/);
  // lavapipe pays microseconds per workgroup barrier: an invocation per row, unless the rows are few and long.
  t.false(shared(cpu({ shape: [8, 3000], axes: [1] })));
  t.false(shared(cpu({ shape: [32, 16384], axes: [0] })));
  t.false(shared(cpu({ shape: [64, 9000], axes: [1] })));
  t.true(shared(cpu({ shape: [63, 9000], axes: [1] })));
  const kernels = gpu;
  const full = kernels({ shape: [1000, 1000], axes: [0, 1] });
  t.is(full.dispatches.length, 2);
  t.deepEqual(full.dispatches[0]!.workgroups, [Math.ceil(1e6 / 4096), 1, 1]);
  // A strided reduction reads the input with static strides, no transpose kernel.
  const strided = kernels({ shape: [6, 40, 5], axes: [1] });
  t.is(strided.dispatches.length, 1);
  t.regex(strided.kernels[0]!.code, /\* 5u/);
});
