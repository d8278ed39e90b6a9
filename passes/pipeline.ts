// Passes and pipelines. A pass is a named pure function Graph -> Graph; the
// runner verifies after every pass and can print the IR after any of them
// (`--print-ir-after=NAME|all`, as MLIR does). Options travel in the context.

import { AmpcError } from '../ir/errors.ts';
import type { Graph, Module } from '../ir/graph.ts';
import { printGraph } from '../ir/text/printer.ts';
import { verifyGraph } from '../ir/verify.ts';
import { autodiffPass } from './autodiff.ts';
import { castCleanupPass } from './cast-cleanup.ts';
import { precisionPass } from './precision.ts';
import { trainStepPass } from './train-step.ts';

/** Options every pass can see; part of every compile cache key. */
export interface PassContext {
  readonly options: Readonly<Record<string, unknown>>;
  /** Called with a pass's one-line summary (e.g. casts inserted). */
  readonly log?: (line: string) => void;
}

export interface Pass {
  readonly name: string;
  readonly run: (g: Graph, ctx: PassContext) => Graph;
}

/** Named pipelines of the CLI (`--pipeline`). */
export const PIPELINES: Readonly<Record<string, readonly Pass[]>> = {
  none: [],
  f32: [],
  /** The forward graph plus the gradients of its first output w.r.t. every param (`%grad.<param>`). */
  grad: [autodiffPass],
  /** Automatic mixed precision: op precisions from the policy, casts inserted, then cleaned up. */
  amp: [precisionPass, castCleanupPass],
  /** The whole f32 train step of a loss graph: gradients and the optimizer update (passes/train-step.ts). */
  train: [trainStepPass('f32')],
  /** The whole AMP train step: amp on the loss graph, then gradients, optimizer and dynamic loss scaling. */
  'train-amp': [precisionPass, castCleanupPass, trainStepPass('amp')],
};

export function pipelineByName(name: string): readonly Pass[] {
  const p = PIPELINES[name];
  if (!p) throw new AmpcError('E0604', `unknown pipeline '${name}' (known: ${Object.keys(PIPELINES).join(', ')})`);
  return p;
}

export interface RunOptions {
  /** Pass name, or 'all', after which to print the IR. */
  printIrAfter?: string;
  /** Receives each IR dump requested by printIrAfter. */
  dump?: (text: string) => void;
}

export function runPipeline(g: Graph, passes: readonly Pass[], ctx: PassContext, opts: RunOptions = {}): Graph {
  const after = opts.printIrAfter;
  if (after && after !== 'all' && !passes.some((p) => p.name === after)) {
    throw new AmpcError('E0604', `--print-ir-after: no pass named '${after}' in this pipeline (has: ${passes.map((p) => p.name).join(', ') || 'none'})`);
  }
  verifyGraph(g);
  let cur = g;
  for (const p of passes) {
    cur = p.run(cur, ctx);
    try {
      verifyGraph(cur);
    } catch (e) {
      if (e instanceof AmpcError) throw new AmpcError(e.code, `after pass '${p.name}': ${e.detail}`, e.loc);
      throw e;
    }
    if (after === 'all' || after === p.name) opts.dump?.(`// -----// IR Dump After ${p.name} //----- //\n${printGraph(cur)}`);
  }
  return cur;
}

export function runPipelineOnModule(m: Module, passes: readonly Pass[], ctx: PassContext, opts: RunOptions = {}): Module {
  const out = new (m.constructor as new (file?: string) => Module)(m.file);
  for (const g of m.graphs) out.add(runPipeline(g, passes, ctx, opts));
  return out;
}
