// The train-step pass of the `train` and `train-amp` pipelines: a loss graph
// (its first output a scalar loss) becomes the whole train step — gradients,
// the optimizer update and, under AMP, dynamic loss scaling — as
// trainStepGraph (passes/optimizer.ts) builds it. It is how `ampc dump
// --pipeline train-amp` shows a full AMP train step; the Trainer calls
// trainStepGraph itself, since it also needs the step's in-place updates,
// which a Graph -> Graph pass cannot return (they are the `new.<input>`
// outputs, in order, see passes/optimizer.ts).
//
// Options (pass context): `optimizer` (an OptimizerSpec, default Adam lr
// 1e-3) and `lossScale` (a LossScaleSpec; default dynamic under amp, off
// under f32).

import type { Graph } from '../ir/graph.ts';
import { trainStepGraph } from './optimizer.ts';
import type { OptimizerSpec } from './optimizer.ts';
import type { Pass, PassContext } from './pass.ts';

export const DEFAULT_OPTIMIZER: OptimizerSpec = { kind: 'adam', lr: 1e-3 };

/**
 * The pass for `precision`: under 'amp' it expects the amp passes (precision,
 * cast-cleanup) to have run on the loss graph already, as in `train-amp`.
 */
export function trainStepPass(precision: 'f32' | 'amp'): Pass {
  return {
    name: 'train-step',
    run: (g: Graph, ctx: PassContext) => {
      const opt = ctx.options.optimizer ?? DEFAULT_OPTIMIZER;
      const step = trainStepGraph(g, opt, { precision, ampApplied: precision === 'amp', ...(ctx.options.lossScale !== undefined ? { lossScale: ctx.options.lossScale } : {}) });
      const ls = step.lossScaling;
      const scaling = ls.mode === 'off' ? 'off' : ls.mode === 'static' ? `static ${ls.scale}` : `dynamic (init ${ls.init}, interval ${ls.interval})`;
      ctx.log?.(`train-step: @${step.graph.name}: ${opt.kind}, loss scaling ${scaling}, ${step.updates.length} inputs updated in place (the new.<input> outputs)`);
      return step.graph;
    },
  };
}

/** The passes of the train step under `precision` (after the amp passes under 'amp'). */
export function trainStepPasses(precision: 'f32' | 'amp'): readonly Pass[] {
  return [trainStepPass(precision)];
}
