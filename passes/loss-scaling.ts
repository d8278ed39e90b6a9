// Loss scaling inside the train step (design.md, "Mixed precision"): the
// loss-scale state lives in the graph as inputs the step updates in place, so
// no step needs the host:
//
//   scaled = loss * scale                              (before autodiff)
//   u..., finite = unscale_check(1 / scale, grads...)  (one pass over the f32 gradients)
//   params, opt_state, buffers = select(finite, updated, old)
//   good    = finite ? (good + 1 == interval ? 0 : good + 1) : 0
//   scale   = finite ? (good == 0 ? min(scale * growth, max) : scale)
//                    : max(scale * backoff, min)
//   skipped = skipped + (finite ? 0 : 1)
//
// Modes: 'dynamic' (the above; state `amp.scale` f32[], `amp.good_steps` and
// `amp.skipped` i32[]), a static scale N (the scale is a constant; non-finite
// steps are still skipped and counted in `amp.skipped`), and 'off' (no
// scaling, no check). Defaults as PyTorch's GradScaler and the design: init
// 2^16, growth 2, backoff 0.5, interval 2000, min 1, max 2^24.
//
// A skipped step leaves every updated input bitwise unchanged: params,
// optimizer state (including `opt.step`, as torch skips optimizer.step()),
// and the extra updates such as BatchNorm running statistics (torch updates
// those in the forward even on a skipped step; here a skipped step changes
// nothing, so an overflowing batch cannot poison them).
//
// trainStepGraph (passes/optimizer.ts) calls the stages in order:
// `scaleLoss` on the forward graph, `unscaleAndCheck` on the gradients,
// `guardUpdate` on each updated value, and `updateLossScale`.

import { AmpcError } from '../ir/errors.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { cloneGraph } from '../ir/graph.ts';
import { tensorType } from '../ir/types.ts';
import type { StateInput, UpdateBuilder } from './update-builder.ts';

/** How the loss is scaled: 'dynamic', 'off', a static scale, or dynamic with options. */
export type LossScaleSpec = 'dynamic' | 'off' | number | DynamicLossScaleOptions;

export interface DynamicLossScaleOptions {
  /** Initial scale (default 2^16). */
  readonly init?: number;
  /** Factor after `interval` finite steps in a row (default 2). */
  readonly growth?: number;
  /** Factor after a non-finite step (default 0.5). */
  readonly backoff?: number;
  /** Finite steps in a row before the scale grows (default 2000). */
  readonly interval?: number;
  /** Floor of the scale (default 1). */
  readonly min?: number;
  /** Ceiling of the scale (default 2^24). */
  readonly max?: number;
}

export type LossScaling =
  | { readonly mode: 'off' }
  | { readonly mode: 'static'; readonly scale: number }
  | ({ readonly mode: 'dynamic' } & Required<DynamicLossScaleOptions>);

export const DYNAMIC_DEFAULTS: Required<DynamicLossScaleOptions> = {
  init: 2 ** 16, growth: 2, backoff: 0.5, interval: 2000, min: 1, max: 2 ** 24,
};

/** Input (f32[]): the current scale (dynamic). */
export const SCALE_INPUT = 'amp.scale';
/** Input (i32[]): finite steps in a row since the last growth or backoff (dynamic). */
export const GOOD_STEPS_INPUT = 'amp.good_steps';
/** Input (i32[]): skipped (non-finite) steps so far (dynamic and static). */
export const SKIPPED_INPUT = 'amp.skipped';

function bad(detail: string): never {
  throw new AmpcError('E0609', `loss scaling: ${detail}`);
}

function positive(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(`${what} must be a finite number > 0, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The loss scaling a spec asks for, checked (E0609). Without a spec, AMP
 * training scales dynamically (as torch.amp's GradScaler) and f32 does not.
 */
export function resolveLossScale(spec: LossScaleSpec | undefined, precision: 'f32' | 'amp'): LossScaling {
  const s = spec ?? (precision === 'amp' ? 'dynamic' : 'off');
  if (s === 'off') return { mode: 'off' };
  if (typeof s === 'number') {
    // Within the dynamic scale's default range: beyond it, f32 loss * scale or 1 / scale overflows or flushes and every step is skipped.
    const scale = positive('a static scale', s);
    if (scale < DYNAMIC_DEFAULTS.min || scale > DYNAMIC_DEFAULTS.max) bad(`a static scale must be in [${DYNAMIC_DEFAULTS.min}, 2^24 = ${DYNAMIC_DEFAULTS.max}], got ${s} (outside it every step overflows or underflows and is skipped)`);
    return { mode: 'static', scale };
  }
  if (s === 'dynamic') return { mode: 'dynamic', ...DYNAMIC_DEFAULTS };
  if (!s || typeof s !== 'object' || Array.isArray(s)) bad(`expected 'dynamic', 'off', a positive number or { init, growth, backoff, interval, min, max }, got ${JSON.stringify(s)}`);
  const known = Object.keys(DYNAMIC_DEFAULTS);
  for (const k of Object.keys(s)) if (!known.includes(k)) bad(`unknown option '${k}' (known: ${known.join(', ')})`);
  const o = { ...DYNAMIC_DEFAULTS, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) } as Required<DynamicLossScaleOptions>;
  positive('init', o.init);
  positive('min', o.min);
  positive('max', o.max);
  if (typeof o.growth !== 'number' || !Number.isFinite(o.growth) || o.growth < 1) bad(`growth must be a finite number >= 1, got ${JSON.stringify(o.growth)}`);
  if (typeof o.backoff !== 'number' || !(o.backoff > 0 && o.backoff <= 1)) bad(`backoff must be a number in (0, 1], got ${JSON.stringify(o.backoff)}`);
  if (!Number.isSafeInteger(o.interval) || o.interval < 1 || o.interval > 2 ** 31 - 1) bad(`interval must be an integer in [1, 2^31), got ${JSON.stringify(o.interval)}`);
  if (o.max < o.min) bad(`max (${o.max}) is below min (${o.min})`);
  if (o.init < o.min || o.init > o.max) bad(`init (${o.init}) is outside [min, max] = [${o.min}, ${o.max}]`);
  if (o.max > 3.4e38) bad(`max (${o.max}) is beyond f32's range`);
  return { mode: 'dynamic', ...o };
}

/** The state inputs a loss scaling keeps on the device, in input order. */
export function lossScaleState(ls: LossScaling): StateInput[] {
  const i32 = tensorType('i32', []);
  if (ls.mode === 'off') return [];
  const skipped = { name: SKIPPED_INPUT, type: i32, init: 0 };
  if (ls.mode === 'static') return [skipped];
  return [{ name: SCALE_INPUT, type: tensorType('f32', []), init: ls.init }, { name: GOOD_STEPS_INPUT, type: i32, init: 0 }, skipped];
}

export interface ScaledForward {
  /** A copy of the forward with the loss-scale state inputs appended and the scaled loss as its last output. */
  readonly graph: Graph;
  /** Index of the output to differentiate: the scaled loss (or the loss itself when scaling is off). */
  readonly output: number;
  readonly state: StateInput[];
}

/** Stage 1: `scaled = loss * scale` (in f32) on a copy of the forward graph; `forward` is not changed. */
export function scaleLoss(forward: Graph, ls: LossScaling): ScaledForward {
  if (ls.mode === 'off') return { graph: forward, output: 0, state: [] };
  const g = cloneGraph(forward);
  const state = lossScaleState(ls);
  const inputs = state.map((s) => g.addInput(s.name, s.type));
  let loss = g.outputs[0]!;
  if (loss.type.dtype !== 'f32') loss = g.add('cast', [loss], { to: 'f32' });
  const scale = ls.mode === 'static'
    ? g.add('constant', [], { value: ls.scale }, { declared: [tensorType('f32', [])] })
    : inputs[0]!;
  const scaled = g.add('mul', [loss, scale]);
  scaled.name = 'scaled.loss';
  g.setOutputs([...g.outputs, scaled]);
  return { graph: g, output: g.outputs.length - 1, state };
}

export interface CheckedGradients {
  /** The gradients the optimizer uses (unscaled). */
  readonly grads: Value[];
  /** True when every unscaled gradient is finite (absent when scaling is off). */
  readonly finite?: Value;
}

/** Stage 2: unscale the f32 gradients and check them, in one op. `state` are the train step's loss-scale inputs. */
export function unscaleAndCheck(b: UpdateBuilder, ls: LossScaling, state: readonly Value[], grads: readonly Value[]): CheckedGradients {
  if (ls.mode === 'off' || grads.length === 0) return { grads: [...grads] };
  const inv = ls.mode === 'static' ? b.c(1 / ls.scale) : b.op('reciprocal', [state[0]!]);
  const node = b.multi('unscale_check', [inv, ...grads], [...grads.map((d) => `unscaled.${d.name}`), 'grads.finite']);
  return { grads: node.results.slice(0, -1), finite: node.results[node.results.length - 1]! };
}

/**
 * Stage 3a: the value an updated input takes, `name`d: the candidate itself
 * without a finite flag, else `select(finite, candidate, old)` with the
 * candidate named `candidate.<input>`. The optimizer guards each update as
 * soon as it is computed, so a candidate's buffer is free again at once
 * (compiler/memory-plan.ts) instead of all candidates living until the end.
 */
export function guardUpdate(b: UpdateBuilder, finite: Value | undefined, candidate: Value, old: Value, name: string): Value {
  if (!finite) return b.named(candidate, name, old.type.dtype);
  const c = b.named(candidate, name.replace(/^new\./, 'candidate.'), old.type.dtype);
  return b.named(b.op('select', [finite, c, old]), name);
}

/**
 * Stage 3b: the new loss-scale state values (in `state` order, named
 * `new.<input>`); none when scaling is off. With `commit` (gradient
 * accumulation) they move only where it is true, the last micro-step of an
 * update; `finite` then says whether every micro-batch was finite.
 */
export function updateLossScale(b: UpdateBuilder, ls: LossScaling, finite: Value | undefined, state: readonly Value[], commit?: Value): Value[] {
  if (ls.mode === 'off' || !finite) return [];
  /** The new value, or (with accumulation, between updates) the old one. */
  const gated = (v: Value, old: Value) => (commit ? b.op('select', [commit, v, old]) : v);
  const skippedIn = state[state.length - 1]!;
  const skipped = gated(b.add(skippedIn, b.op('select', [finite, b.c(0, 'i32'), b.c(1, 'i32')])), skippedIn);
  if (ls.mode === 'static') return [b.named(skipped, `new.${SKIPPED_INPUT}`)];

  const [scale, good] = state as [Value, Value];
  const good1 = b.add(good, b.c(1, 'i32'));
  const grow = b.op('equal', [good1, b.c(ls.interval, 'i32')]);
  const newGood = gated(b.op('select', [finite, b.op('select', [grow, b.c(0, 'i32'), good1]), b.c(0, 'i32')]), good);
  const grown = b.op('minimum', [b.mul(scale, b.c(ls.growth)), b.c(ls.max)]);
  const backedOff = b.op('maximum', [b.mul(scale, b.c(ls.backoff)), b.c(ls.min)]);
  const newScale = gated(b.op('select', [finite, b.op('select', [grow, grown, scale]), backedOff]), scale);
  return [b.named(newScale, `new.${SCALE_INPUT}`), b.named(newGood, `new.${GOOD_STEPS_INPUT}`), b.named(skipped, `new.${SKIPPED_INPUT}`)];
}
