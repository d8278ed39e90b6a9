// ONNX losses as exact compositions: NegativeLogLikelihoodLoss picks
// -input[n, target[n, ...], ...] through a one-hot mask (times the class
// weight; 0 where the target is ignore_index) summed over the class axis, and
// reduces as `reduction` says (mean: divided by the sum of the weights that
// were picked, as ONNX defines it); SoftmaxCrossEntropyLoss is the same on
// log_softmax over axis 1, with log_prob as its optional second output.
// Targets may be run-time i32 tensors.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { asDtype, rankOf, reshapeTo } from './types.ts';

function nll(c: NodeCtx, logp: Value, target: Value, weight: Value | undefined): Value {
  const reduction = c.string('reduction', 'mean');
  if (!['mean', 'sum', 'none'].includes(reduction)) c.unsupported(`reduction '${reduction}'`);
  const ignore = c.int('ignore_index');
  const s = logp.type.shape, r = s.length;
  if (r < 2) c.bad(`input of rank ${r}; needs [N, C, ...]`);
  let t = asDtype(c, target, 'i32');
  let ignored: Value | undefined;
  if (ignore !== undefined) {
    ignored = c.add('equal', [t, c.scalar(ignore, 'i32')]);
    t = c.add('select', [ignored, c.scalar(0, 'i32'), t]);
  }
  let w = c.add('one_hot', [t], { classes: s[1]!, dtype: logp.type.dtype }); // [N, d..., C]
  if (weight) w = c.add('mul', [w, asDtype(c, weight, logp.type.dtype)]);
  if (ignored) w = c.add('select', [reshapeTo(c, ignored, [...ignored.type.shape, 1]), c.scalar(0, logp.type.dtype), w]);
  if (r > 2) w = c.add('transpose', [w], { perm: [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)] }); // [N, C, d...]
  const loss = c.add('neg', [c.add('reduce_sum', [c.add('mul', [logp, w])], { axes: [1] })]);
  if (reduction === 'none') return loss;
  const all = loss.type.shape.map((_, i) => i);
  const total = rankOf(loss) ? c.add('reduce_sum', [loss], { axes: all }) : loss;
  if (reduction === 'sum') return total;
  if (!weight && ignore === undefined) return rankOf(loss) ? c.add('reduce_mean', [loss], { axes: all }) : loss;
  return c.add('div', [total, c.add('reduce_sum', [w], { axes: w.type.shape.map((_, i) => i) })]);
}

export const LOSS_OPS: Record<string, OpMapping> = {
  NegativeLogLikelihoodLoss: {
    map: (c) => [{ kind: 'value', v: nll(c, c.value(0), c.value(1), c.has(2) ? c.value(2) : undefined) }],
  },
  SoftmaxCrossEntropyLoss: {
    map: (c) => {
      const logp = c.add('log_softmax', [c.value(0)], { axis: 1 });
      const loss = nll(c, logp, c.value(1), c.has(2) ? c.value(2) : undefined);
      return [loss, logp].map((v) => ({ kind: 'value', v }) as const);
    },
  },
};
