// `ampc dump FILE.ir [--pipeline NAME] [--print-ir-after NAME|all]
// [--amp-allow op,...] [--amp-deny op,...] [--no-fusion]`: parse, verify,
// run a pipeline and the codegen passes a compile runs after it (fusion;
// `--no-fusion` stops before them), print. The AMP overrides go to the pass
// context.

import { Module } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { printModule } from '../../ir/text/printer.ts';
import { runPipeline } from '../../passes/runner.ts';
import { compilePasses } from '../compile.ts';
import type { AmpFlags } from './amp.ts';
import { ampOptions } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

export interface DumpOptions extends AmpFlags {
  pipeline: string;
  printIrAfter?: string;
  /** Run the fusion pass after the pipeline (default true). */
  fusion?: boolean;
}

/** Parses `text` and returns the printed module after the pipeline (dumps go to io.stdout first). */
export function dumpSource(text: string, file: string, opts: DumpOptions, io: CliIO): string {
  const mod = parseModule(text, file);
  const passes = compilePasses({ pipeline: opts.pipeline, fusion: opts.fusion !== false });
  const options = ampOptions(opts);
  const out = new Module(mod.file);
  for (const g of mod.graphs) {
    out.add(runPipeline(g, passes, { options, log: (line) => io.stderr(`// ${line}\n`) }, { printIrAfter: opts.printIrAfter, dump: (t) => io.stdout(t + '\n') }));
  }
  return printModule(out);
}

export function dumpCommand(file: string, opts: DumpOptions, io: CliIO): void {
  io.stdout(dumpSource(readText(file), file, opts, io));
}
