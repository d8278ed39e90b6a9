// Gradient clipping in the train step (the optimizer pass), on the unscaled
// gradients, after the finite check, as PyTorch users get it with
// `scaler.unscale_(opt)` before `clip_grad_value_` / `clip_grad_norm_`:
//
//   by value (clipGradValue v):  g = min(max(g, -v), v), per element
//   by norm  (clipGradNorm n):   t = sqrt(Σ_params Σ g²); g = g · min(n / (t + 1e-6), 1)
//
// (value first, then norm, when both are given). The norm is one f32 scalar
// over every parameter's gradient, in the graph: no host round trip. On a
// skipped step (a non-finite gradient under loss scaling) the norm is not
// finite either, and the guards keep every parameter and state unchanged, as
// without clipping. Clipping by norm needs every gradient before the first
// update, so (unlike the plain step) each weight gradient is stored once.

import type { Value } from '../ir/graph.ts';
import type { UpdateBuilder } from './update-builder.ts';

export interface ClipSpec {
  /** Clip each gradient element to [-v, v]. */
  readonly value?: number;
  /** Scale every gradient so that their global L2 norm is at most this. */
  readonly norm?: number;
}

/** PyTorch's clip_grad_norm_ epsilon: coef = max_norm / (total_norm + 1e-6). */
export const CLIP_NORM_EPS = 1e-6;

export interface Clipped {
  /** The gradients the update uses. */
  readonly grads: Value[];
  /** The gradients after value clipping, before norm clipping. */
  readonly beforeNorm: Value[];
  /** The global norm of `beforeNorm`, when clipping by norm computed it (`%grad.norm`). */
  readonly norm?: Value;
}

/** The clipped gradients (f32, unscaled), and the global norm when clipping by norm (`%grad.norm`, before clipping). */
export function clipGradients(b: UpdateBuilder, grads: readonly Value[], clip: ClipSpec): Clipped {
  let out = [...grads];
  if (clip.value !== undefined) {
    const v = clip.value;
    out = out.map((g) => b.op('minimum', [b.op('maximum', [g, b.c(-v)]), b.c(v)]));
  }
  if (clip.norm === undefined || out.length === 0) return { grads: out, beforeNorm: out };
  const norm = b.named(globalNorm(b, out), 'grad.norm');
  const coef = b.named(b.op('minimum', [b.div(b.c(clip.norm), b.add(norm, b.c(CLIP_NORM_EPS))), b.c(1)]), 'clip.coef');
  return { grads: out.map((g) => b.mul(g, coef)), beforeNorm: out, norm };
}

/** sqrt(Σ_i Σ g_i²) in f32 (0 without gradients). */
export function globalNorm(b: UpdateBuilder, grads: readonly Value[]): Value {
  if (grads.length === 0) return b.c(0);
  const squares = grads.map((g) => b.op('reduce_sum', [b.mul(g, g)], { axes: g.type.shape.map((_, i) => i) }));
  return b.op('sqrt', [squares.reduce((a, s) => b.add(a, s))]);
}
