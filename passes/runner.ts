// The pass runner: runs passes in order, verifies after every pass, and can
// print the IR after any of them (`--print-ir-after=NAME|all`, as MLIR does).

import { AmpcError } from '../ir/errors.ts';
import type { Graph, Module } from '../ir/graph.ts';
import { printGraph } from '../ir/text/printer.ts';
import { verifyGraph } from '../ir/verify.ts';
import { didYouMean } from '../ir/suggest.ts';
import type { Pass, PassContext } from './pass.ts';
import { PASS_OPTION_KEYS } from './pass.ts';

export interface RunOptions {
  /** Pass name, or 'all', after which to print the IR. */
  printIrAfter?: string;
  /** Receives each IR dump requested by printIrAfter. */
  dump?: (text: string) => void;
}

/** Refuses a --print-ir-after that names no pass of `passes` (E0609). */
export function checkPrintIrAfter(after: string | undefined, passes: readonly Pass[]): void {
  if (after && after !== 'all' && !passes.some((p) => p.name === after)) {
    throw new AmpcError('E0609', `--print-ir-after: no pass named '${after}' in this pipeline (has: ${passes.map((p) => p.name).join(', ') || 'none'})`);
  }
}

/** Refuses pass options with a key no pass reads (E0609, with the close matches). */
export function checkPassOptions(options: object): void {
  const known = PASS_OPTION_KEYS as readonly string[];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new AmpcError('E0609', `pass options: unknown option '${key}'${didYouMean(key, known) || ` (known: ${known.join(', ')})`}`);
  }
}

export function runPipeline(g: Graph, passes: readonly Pass[], ctx: PassContext, opts: RunOptions = {}): Graph {
  const after = opts.printIrAfter;
  checkPrintIrAfter(after, passes);
  checkPassOptions(ctx.options);
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
