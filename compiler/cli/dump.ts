// `ampc dump FILE.ir [--pipeline NAME] [--print-ir-after NAME|all]`:
// parse, verify, run a pipeline, print.

import { Module } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { printModule } from '../../ir/text/printer.ts';
import { pipelineByName, runPipeline } from '../../passes/pipeline.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

export interface DumpOptions {
  pipeline: string;
  printIrAfter?: string;
}

/** Parses `text` and returns the printed module after the pipeline (dumps go to io.stdout first). */
export function dumpSource(text: string, file: string, opts: DumpOptions, io: CliIO): string {
  const mod = parseModule(text, file);
  const passes = pipelineByName(opts.pipeline);
  const out = new Module(mod.file);
  for (const g of mod.graphs) {
    out.add(runPipeline(g, passes, { options: { pipeline: opts.pipeline }, log: (line) => io.stderr(`// ${line}\n`) }, { printIrAfter: opts.printIrAfter, dump: (t) => io.stdout(t + '\n') }));
  }
  return printModule(out);
}

export function dumpCommand(file: string, opts: DumpOptions, io: CliIO): void {
  io.stdout(dumpSource(readText(file), file, opts, io));
}
