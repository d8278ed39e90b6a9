// The precision policy of the AMP pass: one class per op, in a table typed
// over the op names (design.md, "Mixed precision"), so a new op without a
// class does not type-check. Users override the class per op name and the
// precision per node through the pass context (see `readOverrides`).
//
// - allow:   run in f16, accumulate in f32 (`acc = f32` stays on the node)
// - deny:    run in f32
// - promote: widest float input, except that f32 params/constants beside an
//            f16 activation are cast down (TF's infer painting, TVM's FOLLOW)
// - follow:  keep the (widest) input's precision, no decision of its own

import { AmpcError } from '../../ir/errors.ts';
import type { OpName } from '../../ir/ops.ts';
import { isOpName } from '../../ir/ops.ts';
import type { PassOptions } from '../pass.ts';

export type PrecisionClass = 'allow' | 'deny' | 'promote' | 'follow';

export const PRECISION_CLASSES: { readonly [P in OpName]: PrecisionClass } = {
  // allow: the ops tensor cores are for, and their gradients
  matmul: 'allow',
  conv2d: 'allow',
  conv2d_grad_input: 'allow',
  conv2d_grad_weight: 'allow',

  // deny: range- or precision-sensitive math, reductions, norms, losses
  exp: 'deny',
  log: 'deny',
  pow: 'deny',
  sqrt: 'deny',
  rsqrt: 'deny',
  reciprocal: 'deny',
  sin: 'deny',
  cos: 'deny',
  tan: 'deny',
  asin: 'deny',
  acos: 'deny',
  atan: 'deny',
  sinh: 'deny',
  cosh: 'deny',
  asinh: 'deny',
  acosh: 'deny',
  atanh: 'deny',
  erf: 'deny',
  // fmod's quotient loses its integer part in f16 beyond 2048.
  mod: 'deny',
  // An f16 operand widens exactly; f32 never narrows (1e5 is not inf, as it would be in f16).
  isinf: 'deny',
  isnan: 'deny',
  softmax: 'deny',
  log_softmax: 'deny',
  reduce_sum: 'deny',
  reduce_prod: 'deny',
  reduce_mean: 'deny',
  // A running sum grows along the axis (f16 overflows at 65504, and its later terms lose the
  // small ones): run and store it in f32, as reduce_sum; the kernel accumulates in f32 anyway.
  cumsum: 'deny',
  layer_norm: 'deny',
  batch_norm: 'deny',
  cross_entropy: 'deny',
  mse_loss: 'deny',
  unscale_check: 'deny', // loss scaling: f32 gradients
  finite_check: 'deny',
  // random_uniform is defined in f32 (24-bit fractions); its only operand is a u32 seed, which no class casts.
  random_uniform: 'deny',
  fused: 'deny', // formed after precision assignment; its body's dtypes are fixed (the pass refuses fused graphs)

  // promote: widest float input
  add: 'promote',
  sub: 'promote',
  mul: 'promote',
  div: 'promote',
  maximum: 'promote',
  minimum: 'promote',
  select: 'promote',
  concat: 'promote',
  // data and updates meet in one tensor (the i32 indices are not cast)
  scatter_elements: 'promote',
  equal: 'promote',
  less: 'promote',
  greater: 'promote',
  less_equal: 'promote',
  greater_equal: 'promote',

  // follow: everything else
  neg: 'follow',
  abs: 'follow',
  tanh: 'follow',
  floor: 'follow',
  round: 'follow',
  ceil: 'follow',
  sign: 'follow',
  sigmoid: 'follow',
  relu: 'follow',
  gelu: 'follow',
  gelu_grad: 'follow',
  cast: 'follow',
  constant: 'follow',
  max_pool2d: 'follow',
  avg_pool2d: 'follow',
  max_pool2d_grad: 'follow',
  avg_pool2d_grad: 'follow',
  // Interpolation: weighted sums computed in f32 whatever the dtype (as avg_pool2d), stored once.
  resize: 'follow',
  resize_grad: 'follow',
  grid_sample: 'follow',
  grid_sample_grad_input: 'follow',
  grid_sample_grad_grid: 'follow',
  reduce_max: 'follow',
  one_hot: 'follow',
  // Positions: the operand keeps its precision (no rounding that could make ties).
  argmax: 'follow',
  argmin: 'follow',
  gather_elements: 'follow',
  gather: 'follow',
  iota: 'follow', // no operands: keeps its dtype (an override changes a float iota's dtype, as one_hot's)
  reshape: 'follow',
  transpose: 'follow',
  broadcast_to: 'follow',
  slice: 'follow',
};

export type Precision = 'f16' | 'f32';

/** User overrides, read from `ctx.options` (all optional). */
export interface PrecisionOverrides {
  /** Op names moved to the allow class. */
  readonly allow: ReadonlySet<OpName>;
  /** Op names moved to the deny class (deny wins over allow). */
  readonly deny: ReadonlySet<OpName>;
  /** Precision of the node defining the named result value. */
  readonly nodes: ReadonlyMap<string, Precision>;
  /** Precision of every node traced in a scope (ir/trace/scopes.ts) or below it. */
  readonly scopes: ReadonlyMap<string, Precision>;
}

function opNames(option: string, v: unknown): Set<OpName> {
  if (v === undefined) return new Set();
  if (!Array.isArray(v)) throw new AmpcError('E0609', `${option}: expects a list of op names`);
  const out = new Set<OpName>();
  for (const s of v) {
    if (typeof s !== 'string' || !isOpName(s)) throw new AmpcError('E0609', `${option}: '${String(s)}' is not an op name`);
    out.add(s);
  }
  return out;
}

function precisionMap(option: string, what: string, raw: unknown, key: (k: string) => string): Map<string, Precision> {
  const out = new Map<string, Precision>();
  if (raw === undefined) return out;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AmpcError('E0609', `${option}: expects an object of ${what} to f16|f32`);
  for (const [k, p] of Object.entries(raw)) {
    if (p !== 'f16' && p !== 'f32') throw new AmpcError('E0609', `${option}: ${key(k)} must be 'f16' or 'f32', got '${String(p)}'`);
    out.set(k.replace(/^%/, ''), p);
  }
  return out;
}

/**
 * Reads `ampAllow: string[]`, `ampDeny: string[]`, `ampNodes: Record<value
 * name, 'f16'|'f32'>` and `ampScopes: Record<trace scope, 'f16'|'f32'>`.
 */
export function readOverrides(options: PassOptions): PrecisionOverrides {
  return {
    allow: opNames('ampAllow', options.ampAllow),
    deny: opNames('ampDeny', options.ampDeny),
    nodes: precisionMap('ampNodes', 'value name', options.ampNodes, (k) => `%${k.replace(/^%/, '')}`),
    scopes: precisionMap('ampScopes', 'trace scope', options.ampScopes, (k) => `scope '${k}'`),
  };
}

/** The override of the innermost scope given that contains `scope` (`a.b` is inside `a`), if any. */
export function scopeOverride(scope: string | undefined, o: PrecisionOverrides): { scope: string; precision: Precision } | undefined {
  if (scope === undefined || o.scopes.size === 0) return undefined;
  for (let s: string | undefined = scope; s; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : undefined) {
    const p = o.scopes.get(s);
    if (p) return { scope: s, precision: p };
  }
  return undefined;
}

/** The class of `op` after the per-op-name overrides. */
export function classOf(op: OpName, o: PrecisionOverrides): PrecisionClass {
  if (o.deny.has(op)) return 'deny';
  if (o.allow.has(op)) return 'allow';
  return PRECISION_CLASSES[op];
}
