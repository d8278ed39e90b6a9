// softmax, log_softmax, layer_norm and batch_norm on the GPU against the
// reference, in the three modes (f32, native f16, packed f16): odd sizes,
// any axis, rows short (thread per row) and long (workgroup per row), logits
// of ±1000, more rows than a grid dimension holds, layer_norm over one and
// two trailing axes, batch_norm in inference and training (with its running
// mean / var outputs, f16 and f32 parameters, and one value per channel).

import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { compileForDevice } from '../compiler/execute.ts';
import { MODES, seededValues } from './helpers/compare.ts';
import { asAdapterKind, gpuTest, modeTest, modeTestPerKind, withMaxWorkgroups } from './helpers/gpu.ts';
import { checkPieces, input } from './helpers/pieces.ts';
import type { Piece } from './helpers/pieces.ts';

const numel = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

function softmaxPiece(op: 'softmax' | 'log_softmax', dtype: DType, shape: number[], axis: number, seed: number, range = 4): Piece {
  return {
    what: `${op} ${dtype}[${shape}] axis ${axis} logits ±${range}`,
    build: (g, p, inputs) => [g.add(op, [input(g, inputs, `${p}x`, dtype, shape, seededValues(seed, numel(shape), -range, range))], { axis })],
  };
}

function layerNormPiece(dtype: DType, shape: number[], axis: number, seed: number): Piece {
  const norm = shape.slice(axis < 0 ? shape.length + axis : axis);
  return {
    what: `layer_norm ${dtype}[${shape}] axis ${axis}`,
    build: (g, p, inputs) => {
      // Mean far from zero, so a one-pass variance would lose digits.
      const x = input(g, inputs, `${p}x`, dtype, shape, seededValues(seed, numel(shape), 2, 4));
      const gamma = input(g, inputs, `${p}g`, dtype, norm, seededValues(seed + 1, numel(norm), 0.5, 1.5));
      const beta = input(g, inputs, `${p}b`, dtype, norm, seededValues(seed + 2, numel(norm), -1, 1));
      return [g.add('layer_norm', [x, gamma, beta], { axis, epsilon: 1e-5 })];
    },
  };
}

function batchNormPiece(dtype: DType, paramDtype: DType, shape: number[], training: boolean, seed: number): Piece {
  const C = shape[1]!;
  return {
    what: `batch_norm ${dtype}[${shape}] params ${paramDtype} training ${training}`,
    build: (g, p, inputs) => {
      const x = input(g, inputs, `${p}x`, dtype, shape, seededValues(seed, numel(shape), -1, 3));
      const params = [
        input(g, inputs, `${p}g`, paramDtype, [C], seededValues(seed + 1, C, 0.5, 1.5)),
        input(g, inputs, `${p}b`, paramDtype, [C], seededValues(seed + 2, C, -1, 1)),
        input(g, inputs, `${p}m`, paramDtype, [C], seededValues(seed + 3, C, -0.5, 0.5)),
        input(g, inputs, `${p}v`, paramDtype, [C], seededValues(seed + 4, C, 0.5, 2)),
      ];
      return g.addNode('batch_norm', [x, ...params], { epsilon: 1e-5, momentum: 0.1, training }).results;
    },
  };
}

const SOFTMAX_CASES: [number[], number][] = [
  [[7], 0], [[3, 33], -1], [[3, 33], 0], [[4, 5, 6], 1], [[2, 257], -1], [[1, 3], -1], [[5, 1000], -1], [[3, 2000, 2], 1],
];

for (const mode of MODES) {
  modeTestPerKind(mode, 'softmax and log_softmax along any axis, short and long rows, logits ±1000', async (t, ctx, dtype, f16Mode) => {
    const pieces = (['softmax', 'log_softmax'] as const).flatMap((op) => [
      ...SOFTMAX_CASES.map(([shape, axis], k) => softmaxPiece(op, dtype, shape, axis, 10 + k)),
      softmaxPiece(op, dtype, [4, 10], -1, 30, 1000),
      softmaxPiece(op, dtype, [3, 100], -1, 31, 1000),
      softmaxPiece(op, dtype, [100, 3], 0, 32, 1000),
    ]);
    await checkPieces(t, ctx, f16Mode, pieces);
  });

  modeTest(mode, 'softmax over [70000, 3]: more rows than one grid dimension', async (t, ctx, dtype, f16Mode) => {
    await checkPieces(t, ctx, f16Mode, [softmaxPiece('softmax', dtype, [70000, 3], -1, 40), softmaxPiece('log_softmax', dtype, [3, 70000], 0, 41)]);
  });

  modeTestPerKind(mode, 'layer_norm over the last one and two axes', async (t, ctx, dtype, f16Mode) => {
    const cases: [number[], number][] = [[[3, 33], -1], [[1, 3], -1], [[4, 5, 6], -2], [[2, 7, 40], -2], [[5, 1000], -1], [[3, 2049], 1], [[6, 7], 0]];
    await checkPieces(t, ctx, f16Mode, cases.map(([shape, axis], k) => layerNormPiece(dtype, shape, axis, 50 + 3 * k)));
  });

  modeTestPerKind(mode, 'batch_norm inference and training (y, new running mean, new running var)', async (t, ctx, dtype, f16Mode) => {
    const shapes = [[4, 3], [2, 3, 5, 5], [8, 4, 17, 17], [3, 2, 7], [2, 1]];
    const paramDtypes: DType[] = dtype === 'f32' ? ['f32'] : ['f16', 'f32'];
    const pieces = paramDtypes.flatMap((pd) => [false, true].flatMap((training) => shapes.map((s, k) => batchNormPiece(dtype, pd, s, training, 70 + 5 * k))));
    // One value per channel: fine for inference (training rejects it when the graph is built).
    pieces.push(batchNormPiece(dtype, dtype, [1, 5], false, 99));
    await checkPieces(t, ctx, f16Mode, pieces);
  });
}

gpuTest('row kernels split their grid when a device allows few workgroups per dimension', async (t, ctx) => {
  // The GPU kind's choices: a workgroup per row, so that a modest number of rows needs y (and z).
  const small = asAdapterKind(withMaxWorkgroups(ctx, 5), 'gpu');
  for (const f16Mode of ['native', 'packed'] as const) {
    const dtype = f16Mode === 'packed' ? 'f16' : 'f32';
    const pieces = [
      softmaxPiece('softmax', dtype, [70, 40], -1, 1), // 70 workgroups -> [5, 5, 3]
      softmaxPiece('log_softmax', dtype, [40, 70], 0, 2),
      softmaxPiece('softmax', dtype, [2000, 3], -1, 3), // thread per row: 32 workgroups
      layerNormPiece(dtype, [30, 50], -1, 4),
      batchNormPiece(dtype, dtype, [3, 30, 20], true, 5),
    ];
    const g = new Graph('t');
    pieces[0]!.build(g, 'a', {});
    t.deepEqual(compileForDevice(g, small, { f16Mode, fusion: false }).dispatches[0]!.workgroups, [5, 5, 3]);
    await checkPieces(t, small, f16Mode, pieces);
  }
});
