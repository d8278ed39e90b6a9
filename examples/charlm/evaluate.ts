// What the example computes from the model's logits on the host: the
// validation loss and generated text.
//
// Validation: the held-out text cut into windows at a stride of `context`
// (each character predicted once), run through `trainer.predict` in batches
// of the training batch size (the last batch padded with zeros whose rows are
// ignored), and the mean cross-entropy of every position's next character
// computed in f64 from the logits (log-sum-exp with the row's max taken out).
//
// Generation: `trainer.predict` on one window [1, context] per character.
// The context is the last `context` characters of prompt + generated text;
// while it is shorter than that, it sits at the start of the window with
// padding after it and the logits are read at its last position: attention is
// causal, so the padding cannot change them. The next character is the
// argmax (temperature 0) or drawn from softmax(logits / temperature) with a
// seeded generator, so a run prints the same sample every time.

import type { HostTensor } from '../../ir/dtype.ts';
import type { Trainer } from '../../compiler/train/index.ts';
import { Rng } from '../../ir/trace/nn/init.ts';
import { windows } from './text.ts';
import type { CharTransformer, ModelConfig } from './model.ts';

/** Cross-entropy (nats) of `target` under the logits at `offset..offset+v`, in f64. */
function crossEntropyAt(logits: ArrayLike<number>, offset: number, v: number, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, logits[offset + j]!);
  let sum = 0;
  for (let j = 0; j < v; j++) sum += Math.exp(logits[offset + j]! - max);
  return max + Math.log(sum) - logits[offset + target]!;
}

/** Mean next-character cross-entropy over the windows of `ids` at a stride of the context, `batch` windows per predict. */
export async function validationLoss(trainer: Trainer<CharTransformer>, config: ModelConfig, ids: Int32Array, batch: number): Promise<number> {
  const { context, vocab } = config;
  const w = windows(ids, context, context);
  const input = new Int32Array(batch * context);
  let total = 0;
  for (let start = 0; start < w.count; start += batch) {
    const n = Math.min(batch, w.count - start);
    input.set(w.inputs.subarray(start * context, (start + n) * context));
    if (n < batch) input.fill(0, n * context);
    const logits = await trainer.predict(input);
    for (let k = 0; k < n * context; k++) total += crossEntropyAt(logits.data, k * vocab, vocab, w.targets[start * context + k]!);
  }
  return total / (w.count * context);
}

/** The id drawn from the logits at `offset` (argmax when temperature is 0). */
function pick(logits: HostTensor['data'], offset: number, v: number, temperature: number, rng: Rng): number {
  let best = 0;
  for (let j = 1; j < v; j++) if (logits[offset + j]! > logits[offset + best]!) best = j;
  if (temperature === 0) return best;
  const max = logits[offset + best]!;
  const p = Array.from({ length: v }, (_, j) => Math.exp((logits[offset + j]! - max) / temperature));
  let r = rng.next() * p.reduce((a, b) => a + b, 0);
  for (let j = 0; j < v; j++) {
    r -= p[j]!;
    if (r < 0) return j;
  }
  return best;
}

/** `length` new ids after `prompt` (ids, at least one), one predict each. */
export async function generate(
  trainer: Trainer<CharTransformer>, config: ModelConfig, prompt: readonly number[], length: number, temperature: number, seed: number,
): Promise<number[]> {
  const { context, vocab } = config;
  const rng = new Rng(seed, 'charlm.sample');
  const ids = [...prompt];
  const window = new Int32Array(context);
  for (let i = 0; i < length; i++) {
    const ctx = ids.slice(-context);
    window.fill(0);
    window.set(ctx);
    const logits = await trainer.predict(window);
    ids.push(pick(logits.data, (ctx.length - 1) * vocab, vocab, temperature, rng));
  }
  return ids.slice(prompt.length);
}
