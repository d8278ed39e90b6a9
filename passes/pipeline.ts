// The named pipelines of the CLI and the API (`--pipeline NAME`), and the
// codegen passes every compile runs after them (compiler/compile.ts). The
// runner lives in passes/runner.ts and the Pass type in passes/pass.ts, so
// that passes never import this registry.

import { AmpcError } from '../ir/errors.ts';
import { AMP_PASSES } from './amp.ts';
import { autodiffPass } from './autodiff.ts';
import { fusionPass } from './fusion.ts';
import type { Pass } from './pass.ts';
import { trainStepPasses } from './train-step.ts';

export type { Pass, PassContext, PassOptions } from './pass.ts';
export type { RunOptions } from './runner.ts';
export { runPipeline, runPipelineOnModule } from './runner.ts';

/** Named pipelines of the CLI (`--pipeline`). */
export const PIPELINES: Readonly<Record<string, readonly Pass[]>> = {
  none: [],
  f32: [],
  /** The forward graph plus the gradients of its first output w.r.t. every param (`%grad.<param>`). */
  grad: [autodiffPass],
  /** Automatic mixed precision: op precisions from the policy, casts inserted, then cleaned up. */
  amp: AMP_PASSES,
  /** The whole f32 train step of a loss graph: gradients, then the optimizer update (passes/train-step.ts). */
  train: trainStepPasses('f32'),
  /** The whole AMP train step: amp on the loss graph, then gradients, dynamic loss scaling and the optimizer. */
  'train-amp': [...AMP_PASSES, ...trainStepPasses('amp')],
};

/** Passes every compile runs after its pipeline, before lowering (unless turned off: `fusion: false`). */
export const CODEGEN_PASSES: readonly Pass[] = [fusionPass];

export function pipelineByName(name: string): readonly Pass[] {
  const p = Object.hasOwn(PIPELINES, name) ? PIPELINES[name] : undefined;
  if (!p) throw new AmpcError('E0609', `unknown pipeline '${name}' (known: ${Object.keys(PIPELINES).join(', ')})`);
  return p;
}
