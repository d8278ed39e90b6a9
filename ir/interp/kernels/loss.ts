// Losses and labels: cross_entropy (logits [N, C], i32 labels [N]),
// mse_loss, and one_hot. Reductions: mean, sum, or none (per row / element).

import { AmpcError } from '../../errors.ts';
import type { TensorType } from '../../types.ts';
import type { HostTensor } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';
import { logSumExpParts } from './norm.ts';
import { makeTensor } from './util.ts';

function reduce(losses: Float64Array, reduction: string, out: TensorType): HostTensor {
  if (reduction === 'none') return makeTensor(out, losses);
  let s = 0;
  for (const v of losses) s += v;
  return makeTensor(out, [reduction === 'mean' ? s / losses.length : s]);
}

/** -log_softmax(logits)[n, label[n]]; a label outside 0..C-1 is an error naming the row. */
export const crossEntropy: Kernel = ([logits, labels], a, [out]) => {
  const [N, C] = logits!.shape as [number, number];
  const losses = new Float64Array(N);
  const offsets = new Array<number>(C);
  for (let n = 0; n < N; n++) {
    const label = labels!.data[n]!;
    if (!(label >= 0 && label < C)) {
      throw new AmpcError('E0801', `cross_entropy: row ${n} has label ${label}, outside the classes 0..${C - 1}`);
    }
    for (let c = 0; c < C; c++) offsets[c] = n * C + c;
    const { max, logSum } = logSumExpParts(logits!.data, offsets);
    losses[n] = max + logSum - logits!.data[n * C + label]!;
  }
  return [reduce(losses, a.reduction as string, out!)];
};

/** (a - b)² per element, then the reduction. */
export const mseLoss: Kernel = ([x, y], a, [out]) => {
  const n = x!.data.length;
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = x!.data[i]! - y!.data[i]!;
    losses[i] = d * d;
  }
  return [reduce(losses, a.reduction as string, out!)];
};

/** [..., classes] with 1 at each label; a label outside 0..classes-1 gives an all-zero row. */
export const oneHot: Kernel = ([labels], a, [out]) => {
  const C = a.classes as number;
  const n = labels!.data.length;
  const values = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    const l = labels!.data[i]!;
    if (l >= 0 && l < C) values[i * C + l] = 1;
  }
  return [makeTensor(out!, values)];
};
