// `ampc dump FILE.ir [--pipeline NAME] [--print-ir-after NAME|all]
// [--amp-allow op,...] [--amp-deny op,...] [--no-fusion]
// [--format svg|dot|html [-o FILE]]`: parse, verify, run a pipeline and the
// codegen passes a compile runs after it (fusion; `--no-fusion` stops before
// them), print. The AMP overrides go to the pass context. With `--format`
// the same module is drawn instead (compiler/picture): every graph, ops
// coloured by dtype, fused kernels as clusters; written atomically to `-o`,
// or to stdout.

import { AmpcError } from '../../ir/errors.ts';
import { Module } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { printModule } from '../../ir/text/printer.ts';
import { runPipeline } from '../../passes/runner.ts';
import { compilePasses } from '../compile.ts';
import { drawGraphs, isPictureFormat, PICTURE_FORMATS } from '../picture/render.ts';
import type { PictureFormat } from '../picture/render.ts';
import { writeFileAtomic } from '../../runtime/node-files.ts';
import type { AmpFlags } from './amp.ts';
import { ampOptions } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

export interface DumpOptions extends AmpFlags {
  pipeline: string;
  printIrAfter?: string;
  /** Run the fusion pass after the pipeline (default true). */
  fusion?: boolean;
  /** Draw the module in this format (svg, dot, html) instead of printing it. */
  format?: string;
  /** Where the picture goes (default stdout); only with `format`. */
  out?: string;
}

/** Parses `text` and returns the module after the pipeline (dumps go to io.stdout first). */
export function dumpModule(text: string, file: string, opts: DumpOptions, io: CliIO): Module {
  const mod = parseModule(text, file);
  const passes = compilePasses({ pipeline: opts.pipeline, fusion: opts.fusion !== false });
  const options = ampOptions(opts);
  const out = new Module(mod.file);
  for (const g of mod.graphs) {
    out.add(runPipeline(g, passes, { options, log: (line) => io.stderr(`// ${line}\n`) }, { printIrAfter: opts.printIrAfter, dump: (t) => io.stdout(t + '\n') }));
  }
  return out;
}

/** Parses `text` and returns the printed module after the pipeline (dumps go to io.stdout first). */
export function dumpSource(text: string, file: string, opts: DumpOptions, io: CliIO): string {
  return printModule(dumpModule(text, file, opts, io));
}

/** The picture format asked for (undefined: print text), after the usage checks of the picture flags (E0604). */
function pictureFormat(opts: DumpOptions): PictureFormat | undefined {
  if (opts.format === undefined) {
    if (opts.out !== undefined) throw new AmpcError('E0604', `-o ${opts.out} needs --format ${PICTURE_FORMATS.join('|')} (the text dump goes to stdout)`);
    return undefined;
  }
  if (!isPictureFormat(opts.format)) {
    throw new AmpcError('E0604', `--format ${opts.format}: expected one of ${PICTURE_FORMATS.join(', ')}`);
  }
  if (opts.out === undefined && opts.printIrAfter !== undefined) {
    throw new AmpcError('E0604', '--print-ir-after with --format writes both to stdout; add -o FILE for the picture');
  }
  return opts.format;
}

export async function dumpCommand(file: string, opts: DumpOptions, io: CliIO): Promise<void> {
  const format = pictureFormat(opts);
  if (format === undefined) {
    io.stdout(dumpSource(readText(file), file, opts, io));
    return;
  }
  const mod = dumpModule(readText(file), file, opts, io);
  const fusion = opts.fusion !== false;
  const picture = await drawGraphs(mod.graphs, format, {
    title: file,
    details: [opts.pipeline === 'none' ? 'no pipeline' : `pipeline ${opts.pipeline}`, fusion ? 'fused (as compiled)' : 'not fused (--no-fusion)'],
  });
  if (opts.out === undefined) io.stdout(picture.endsWith('\n') ? picture : picture + '\n');
  else writeFileAtomic(opts.out, picture);
}
