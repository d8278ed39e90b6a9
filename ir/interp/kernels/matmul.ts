// Batched matmul: a[..., M, K] x b[..., K, N] with broadcast batch dimensions;
// transpose_a / transpose_b swap the last two dimensions of an operand. The
// dot products accumulate over k in order, as the `acc` attribute says.

import type { DType } from '../../dtype.ts';
import { matmulDims } from '../../shape-rules.ts';
import { makeTensor, accumulator, broadcastOffsets } from './util.ts';
import type { Kernel } from './elementwise.ts';
import { numel } from '../../types.ts';

export const matmul: Kernel = ([a, b], at, [out]) => {
  const ta = at.transpose_a as boolean, tb = at.transpose_b as boolean;
  const { batch, m, k, n } = matmulDims(a!.shape, b!.shape, ta, tb);
  const add = accumulator(a!.dtype, at.acc as DType);
  const aBatch = broadcastOffsets(a!.shape.slice(0, -2), batch);
  const bBatch = broadcastOffsets(b!.shape.slice(0, -2), batch);
  const nb = numel(batch);
  const values = new Float64Array(nb * m * n);
  const ad = a!.data, bd = b!.data;
  // strides of (row i, inner p) in a and (inner p, column j) in b
  const [aI, aP] = ta ? [1, m] : [k, 1];
  const [bP, bJ] = tb ? [1, k] : [n, 1];
  for (let bi = 0; bi < nb; bi++) {
    const aBase = aBatch[bi]! * m * k;
    const bBase = bBatch[bi]! * k * n;
    const oBase = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s = add(s, ad[aBase + i * aI + p * aP]! * bd[bBase + p * bP + j * bJ]!);
        values[oBase + i * n + j] = s;
      }
    }
  }
  return [makeTensor(out!, values)];
};
