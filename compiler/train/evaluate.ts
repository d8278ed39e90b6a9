// Evaluation over a whole data set in fixed-size batches: the prediction
// graph is compiled for one batch size, and the last, incomplete batch is
// padded with zeros whose predictions are ignored, so every sample counts
// exactly once.

import { AmpcError } from '../../ir/errors.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { Module } from '../../ir/trace/nn/module.ts';
import type { Trainer } from './trainer.ts';

/**
 * Calls `onBatch(output, start, n)` with the model's output for samples
 * start..start+n-1 of `inputs` (count × per-sample values, row-major); rows
 * n.. of `output` are padding.
 */
export async function predictInBatches<M extends Module>(
  trainer: Trainer<M>,
  inputs: Float32Array,
  count: number,
  batchSize: number,
  onBatch: (output: HostTensor, start: number, n: number) => void,
): Promise<void> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new AmpcError('E0609', `predictInBatches: batch size must be a positive integer, got ${batchSize}`);
  if (count === 0) return;
  const per = inputs.length / count;
  if (!Number.isInteger(per)) throw new AmpcError('E0603', `predictInBatches: ${inputs.length} values are not ${count} samples of equal size`);
  const batch = new Float32Array(batchSize * per);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    batch.set(inputs.subarray(start * per, (start + n) * per));
    if (n < batchSize) batch.fill(0, n * per);
    onBatch(await trainer.predict(batch), start, n);
  }
}

/** Index of the largest of `row` (the first on ties). */
export function argmax(data: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let j = 1; j < length; j++) if (data[offset + j]! > data[offset + best]!) best = j;
  return best;
}

/** Fraction of samples whose largest logit is at their label (every sample counted, the last batch padded). */
export async function accuracy<M extends Module>(
  trainer: Trainer<M>,
  inputs: Float32Array,
  labels: Int32Array,
  batchSize: number,
): Promise<number> {
  const count = labels.length;
  // 0 of 0 is no accuracy at all: say so rather than print 0.0000.
  if (count === 0) throw new AmpcError('E0603', 'accuracy: there are no samples to evaluate (0 labels)');
  let correct = 0;
  await predictInBatches(trainer, inputs, count, batchSize, (logits, start, n) => {
    const classes = logits.shape.at(-1)!;
    for (let k = 0; k < n; k++) if (argmax(logits.data, k * classes, classes) === labels[start + k]) correct++;
  });
  return correct / count;
}
