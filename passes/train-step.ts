// The train step as passes: a loss graph (its first output a scalar loss)
// becomes the whole train step in three named passes, each visible with
// `--print-ir-after`:
//   loss-scaling  checks the loss graph; appends the loss-scale state inputs
//                 and `%scaled.loss` (passes/loss-scaling.ts)
//   autodiff      the gradients of the scaled loss w.r.t. every float param,
//                 as outputs `%grad.<p>` (passes/autodiff.ts)
//   optimizer     (under amp: weight gradients written from their f32
//                 accumulators, passes/precision/widen.ts) unscale + finite check, the optimizer update, the guards on
//                 the finite flag, the loss-scale update: the `new.<input>`
//                 outputs (passes/optimizer.ts)
// The `train` and `train-amp` pipelines are these passes (after the amp
// passes under AMP). `trainStepGraph` runs them for the Trainer and returns
// the in-place updates and the state they imply.
//
// Options (pass context): `optimizer` (an OptimizerSpec, default Adam lr
// 1e-3), `lossScale` (a LossScaleSpec; default dynamic under amp, off under
// f32) and `extraUpdates` (further in-place updates of the loss graph, e.g.
// BatchNorm running statistics).

import { isFloat } from '../ir/dtype.ts';
import type { Graph } from '../ir/graph.ts';
import { AMP_PASSES } from './amp.ts';
import type { LossScaling } from './loss-scaling.ts';
import { lossScaleState } from './loss-scaling.ts';
import { checkReport, checkStepOptions, gradientsStage, reportedOutputs, LR_INPUT, lossScalingStage, optimizerStage, resolve, stepSettings } from './optimizer.ts';
import type { OptimizerSpec, StateInput, TrainStepGraph, TrainStepOptions } from './optimizer.ts';
import type { Pass, PassContext, PassOptions } from './pass.ts';
import { widenGradientAccumulators } from './precision/widen.ts';
import type { RunOptions } from './runner.ts';
import { runPipeline } from './runner.ts';


function describeScaling(ls: LossScaling): string {
  return ls.mode === 'off' ? 'off' : ls.mode === 'static' ? `static ${ls.scale}` : `dynamic (init ${ls.init}, interval ${ls.interval})`;
}

/** The passes of the train step under `precision` (after the amp passes under 'amp'). */
export function trainStepPasses(precision: 'f32' | 'amp'): readonly Pass[] {
  return [
    {
      name: 'loss-scaling',
      run: (g: Graph, ctx: PassContext) => {
        const s = stepSettings(ctx.options, precision);
        const out = lossScalingStage(g, precision, s.lossScaling, s.extraUpdates);
        ctx.log?.(`loss-scaling: @${g.name}: ${describeScaling(s.lossScaling)}`);
        return out;
      },
    },
    {
      name: 'autodiff',
      run: (g: Graph, ctx: PassContext) => {
        const out = gradientsStage(g);
        ctx.log?.(`autodiff: @${out.name}: ${out.params.filter((v) => isFloat(v.type.dtype)).length} gradients`);
        return out;
      },
    },
    {
      name: 'optimizer',
      run: (g: Graph, ctx: PassContext) => {
        const s = stepSettings(ctx.options, precision);
        const before = g.inputs.length;
        let widened = 0;
        if (precision === 'amp') {
          const grads = g.outputs.slice(g.outputs.length - g.params.filter((v) => isFloat(v.type.dtype)).length);
          ({ graph: g, widened } = widenGradientAccumulators(g, grads));
        }
        const out = optimizerStage(g, s.opt, precision, s.lossScaling, s.extraUpdates, s.report);
        const updated = out.outputs.filter((v) => v.name?.startsWith('new.')).length;
        ctx.log?.(`optimizer: @${out.name}: ${s.opt.kind}, loss scaling ${describeScaling(s.lossScaling)}, ${out.inputs.length - before} state inputs added, ${updated} inputs updated in place (the new.<input> outputs)${precision === 'amp' ? `, ${widened} gradients written from their f32 accumulators` : ''}`);
        return out;
      },
    },
  ];
}

/**
 * The train step of `lossGraph` (its first output a scalar float loss) under
 * optimizer `opt`, as one graph: the amp passes under amp (unless applied),
 * then the train-step passes (passes/train-step.ts: loss-scaling, autodiff,
 * optimizer), and the in-place updates and state they imply. `extraUpdates`
 * names further in-place updates by output index in the loss graph (e.g.
 * traceModule's stateUpdates for BatchNorm running statistics); the loss
 * graph's outputs keep their indices in the train step. `lossGraph` is not
 * changed. `run` receives pass summaries and IR dumps, as the CLI's.
 */
export function trainStepGraph(
  lossGraph: Graph,
  opt: OptimizerSpec,
  opts: TrainStepOptions = {},
  run: { readonly log?: (line: string) => void } & RunOptions = {},
): TrainStepGraph {
  resolve(opt);
  const { precision, lossScaling } = checkStepOptions(opts);
  const passes = [...(precision === 'amp' && !opts.ampApplied ? AMP_PASSES : []), ...trainStepPasses(precision)];
  const report = checkReport(opts.report);
  const options: PassOptions = {
    ...opts.ampOptions, optimizer: opt, ...(opts.lossScale !== undefined ? { lossScale: opts.lossScale } : {}), extraUpdates: opts.extraUpdates ?? [], report,
  };
  const g = runPipeline(lossGraph, passes, { options, ...(run.log ? { log: run.log } : {}) }, run);
  const params = lossGraph.params.filter((v) => isFloat(v.type.dtype)).map((p) => p.name!);
  return { graph: g, loss: 0, ...stepUpdates(lossGraph, g, lossScaling, opts.extraUpdates ?? []), lossScaling, reported: reportedOutputs(g, params, report) };
}

/**
 * The in-place updates and the state inputs of a train step made by the
 * train-step passes from `lossGraph`: params, then optimizer state, then
 * loss-scale state, then the extra updates (guarded, or straight from the
 * forward's outputs without loss scaling); state inputs with their initial
 * values (the scale's init, 0 for the rest).
 */
export function stepUpdates(lossGraph: Graph, step: Graph, ls: LossScaling, extra: readonly { output: number; input: string }[]): { updates: { output: number; input: string }[]; state: StateInput[] } {
  const nOut = lossGraph.outputs.length;
  const params = lossGraph.params.filter((v) => isFloat(v.type.dtype));
  const lsState = lossScaleState(ls);
  const known = new Set([...lossGraph.inputs.map((v) => v.name), ...lsState.map((s) => s.name), LR_INPUT]);
  const optState: StateInput[] = step.inputs.filter((v) => !known.has(v.name)).map((v) => ({ name: v.name!, type: v.type, init: 0 }));
  const k = params.length + optState.length;
  const finite = ls.mode !== 'off' && params.length > 0;
  const updates = [
    ...params.map((p, i) => ({ output: nOut + i, input: p.name! })),
    ...optState.map((s, i) => ({ output: nOut + params.length + i, input: s.name })),
    ...(finite ? lsState.map((s, i) => ({ output: nOut + k + i, input: s.name })) : []),
    ...extra.map((u, i) => ({ output: finite ? nOut + k + lsState.length + i : u.output, input: u.input })),
  ];
  return { updates, state: [...lsState, ...optState] };
}
