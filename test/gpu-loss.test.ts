// cross_entropy and mse_loss on the GPU against the reference, in the three
// modes (f32, native f16, packed f16), with reduction mean / sum / none: odd
// sizes, few and many classes (thread / workgroup per row), logits of ±1000,
// batches long enough for two-stage sums, and NaN for out-of-range labels
// (where the reference raises an error instead).

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { mismatches, MODES, seededValues, TOLERANCES } from './helpers/compare.ts';
import { gpuTest, modeTestPerKind } from './helpers/gpu.ts';
import { checkPieces, input } from './helpers/pieces.ts';
import type { Piece } from './helpers/pieces.ts';

const REDUCTIONS = ['none', 'mean', 'sum'] as const;

function labelsFor(seed: number, N: number, C: number): number[] {
  return seededValues(seed, N, 0, C).map((v) => Math.min(C - 1, Math.floor(v)));
}

function crossEntropyPiece(dtype: DType, N: number, C: number, reduction: string, seed: number, range = 4): Piece {
  // Each row's loss is at most about log C + 2·range; the sum adds N of them.
  const perRow = Math.log(C) + 2 * range;
  return {
    what: `cross_entropy ${dtype}[${N},${C}] ${reduction} logits ±${range}`,
    scale: reduction === 'sum' ? N * perRow : reduction === 'mean' ? perRow : 1,
    build: (g, p, inputs) => {
      const logits = input(g, inputs, `${p}logits`, dtype, [N, C], seededValues(seed, N * C, -range, range));
      const labels = input(g, inputs, `${p}labels`, 'i32', [N], labelsFor(seed + 1, N, C));
      return [g.add('cross_entropy', [logits, labels], { reduction })];
    },
  };
}

function msePiece(dtype: DType, shape: number[], reduction: string, seed: number): Piece {
  const n = shape.reduce((p, d) => p * d, 1);
  // Values in [-0.5, 0.5]: each term is at most 1, and a sum of 100k stays inside f16's range.
  return {
    what: `mse_loss ${dtype}[${shape}] ${reduction}`,
    scale: reduction === 'sum' ? n : 1,
    build: (g, p, inputs) => {
      const a = input(g, inputs, `${p}a`, dtype, shape, seededValues(seed, n, -0.5, 0.5));
      const b = input(g, inputs, `${p}b`, dtype, shape, seededValues(seed + 1, n, -0.5, 0.5));
      return [g.add('mse_loss', [a, b], { reduction })];
    },
  };
}

for (const mode of MODES) {
  modeTestPerKind(mode, 'cross_entropy: mean / sum / none, few and many classes, logits ±1000', async (t, ctx, dtype, f16Mode) => {
    const shapes: [number, number][] = [[1, 3], [7, 10], [33, 257], [4, 1000], [100, 5], [3, 2049]];
    const pieces = REDUCTIONS.flatMap((r) => [
      ...shapes.map(([N, C], k) => crossEntropyPiece(dtype, N, C, r, 10 + k)),
      crossEntropyPiece(dtype, 8, 10, r, 30, 1000),
      crossEntropyPiece(dtype, 3, 100, r, 31, 1000),
    ]);
    // A batch of 20000 rows: the mean / sum over rows runs in two stages.
    pieces.push(crossEntropyPiece(dtype, 20000, 3, 'mean', 40), crossEntropyPiece(dtype, 20000, 3, 'sum', 41));
    await checkPieces(t, ctx, f16Mode, pieces);
  });

  modeTestPerKind(mode, 'mse_loss: mean / sum / none, odd sizes and a two-stage sum of 100k', async (t, ctx, dtype, f16Mode) => {
    const shapes = [[7], [1], [3, 33], [257, 4], [2, 3, 50], [100, 1000]];
    await checkPieces(t, ctx, f16Mode, REDUCTIONS.flatMap((r) => shapes.map((s, k) => msePiece(dtype, s, r, 60 + k))));
  });
}

gpuTest('cross_entropy: an out-of-range label gives NaN for its row (the GPU cannot raise)', async (t, ctx) => {
  const N = 6, C = 40; // C >= 32: a workgroup per row
  for (const f16Mode of ['native', 'packed'] as const) {
    for (const classes of [5, C]) {
      const logits = hostTensor('f32', [N, classes], seededValues(3, N * classes, -3, 3));
      const labels = labelsFor(4, N, classes);
      const bad = [...labels];
      bad[1] = -1;
      bad[4] = classes;
      const graph = (reduction: string) => {
        const g = new Graph('t');
        g.setOutputs([g.add('cross_entropy', [g.addInput('logits', { dtype: 'f32', shape: [N, classes] }), g.addInput('labels', { dtype: 'i32', shape: [N] })], { reduction })]);
        return g;
      };
      const [perRow] = await runGraphOnGpu(graph('none'), { logits, labels: hostTensor('i32', [N], bad) }, ctx, { f16Mode });
      const [expected] = interpret(graph('none'), { logits, labels: hostTensor('i32', [N], labels) });
      for (let n = 0; n < N; n++) {
        if (n === 1 || n === 4) t.true(Number.isNaN(perRow!.data[n]), `row ${n} is NaN`);
        else t.deepEqual(mismatches({ ...perRow!, shape: [1], data: perRow!.data.slice(n, n + 1) }, { ...expected!, shape: [1], data: expected!.data.slice(n, n + 1) }, TOLERANCES.f32), [], `row ${n}`);
      }
      for (const reduction of ['mean', 'sum']) {
        const [total] = await runGraphOnGpu(graph(reduction), { logits, labels: hostTensor('i32', [N], bad) }, ctx, { f16Mode });
        t.true(Number.isNaN(total!.data[0]), `${reduction} over a bad row is NaN`);
      }
      t.throws(() => interpret(graph('none'), { logits, labels: hostTensor('i32', [N], bad) }), { message: /label/ }, 'the reference raises instead');
    }
  }
});
