// What a pass is: a named pure function Graph -> Graph, and the context it
// runs in. Options are typed here, once, for every pass; they travel in the
// context (never in globals) and are part of every compile cache key.

import type { Graph } from '../ir/graph.ts';
import type { LossScaleSpec } from './loss-scaling.ts';
import type { OptimizerSpec, StepReport } from './optimizer.ts';

export type Precision = 'f16' | 'f32';

/** Every pass option; each pass reads its own and checks what a JavaScript caller could get wrong. */
export interface PassOptions {
  // amp-precision (passes/precision/policy.ts)
  /** Op names moved to the allow class. */
  readonly ampAllow?: readonly string[];
  /** Op names moved to the deny class (deny wins over allow). */
  readonly ampDeny?: readonly string[];
  /** Precision of the node defining a named value. */
  readonly ampNodes?: Readonly<Record<string, Precision>>;
  /** Precision of every node traced in a scope or below it (innermost wins). */
  readonly ampScopes?: Readonly<Record<string, Precision>>;
  // autodiff
  /** Params to differentiate with respect to (default: every float param). */
  readonly gradWrt?: readonly string[];
  /** Output to differentiate (default 0). */
  readonly gradOutput?: number;
  // train step (passes/train-step.ts)
  readonly optimizer?: OptimizerSpec;
  readonly lossScale?: LossScaleSpec;
  /** Further in-place updates by output index of the loss graph (e.g. BatchNorm running statistics). */
  readonly extraUpdates?: readonly { readonly output: number; readonly input: string }[];
  /** Extra outputs of the train step, for inspection (passes/optimizer.ts StepReport). */
  readonly report?: StepReport;
  // fusion (passes/fusion.ts): set by the compile from its target
  /** Storage buffers one kernel may bind (the device's maxStorageBuffersPerShaderStage; default 16, see passes/fusion/groups.ts). */
  readonly maxKernelBindings?: number;
  /** Which cast operands matmuls convert as they load them (default true: all; the compile sets it per adapter). */
  readonly castPrologues?: CastPrologues;
}

/**
 * Which cast operands a matmul (and the finite check) converts as it loads
 * them instead of reading a stored copy: true = every one, 'params' = casts
 * of parameters (a weight's f16 copy would be a buffer the size of the
 * weight; an activation or a batch is cast once by a kernel of its own,
 * since a tile loads each of its elements many times), false = none.
 */
export type CastPrologues = boolean | 'params';

/** Every key PassOptions has (an unknown key, e.g. a typo like `ampDENY`, is refused by the runner). */
export const PASS_OPTION_KEYS: readonly (keyof PassOptions)[] = [
  'ampAllow', 'ampDeny', 'ampNodes', 'ampScopes', 'gradWrt', 'gradOutput', 'optimizer', 'lossScale', 'extraUpdates', 'report', 'maxKernelBindings', 'castPrologues',
];

export interface PassContext {
  readonly options: PassOptions;
  /** Called with a pass's one-line summary (e.g. casts inserted). */
  readonly log?: (line: string) => void;
}

export interface Pass {
  readonly name: string;
  readonly run: (g: Graph, ctx: PassContext) => Graph;
}
