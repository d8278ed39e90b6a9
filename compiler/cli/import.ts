// `ampc import MODEL.onnx [-o MODEL.ir] [--inputs-out PARAMS.json]
// [--dim NAME=N ...]`: ONNX to IR (compiler/onnx). The IR goes to -o
// (atomically) or stdout; the values of the inputs that initializers and
// non-splat constants became go to --inputs-out as tensor JSON keyed by input
// name, so `ampc run --inputs` takes them merged with the model's inputs.

import { AmpcError } from '../../ir/errors.ts';
import { printModule } from '../../ir/text/printer.ts';
import { readFileBytes, writeFileAtomic, writeFileAtomicChunks } from '../../runtime/node-files.ts';
import { writeTensorRecordJson } from '../../runtime/tensor-json.ts';
import { importOnnx } from '../onnx/import.ts';
import type { CliIO } from './io.ts';

export interface ImportCliOptions {
  out?: string;
  inputsOut?: string;
  /** `--dim NAME=N`, repeatable: extents of symbolic dimensions. */
  dim?: string[];
}

function parseDims(specs: readonly string[] | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const s of specs ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(s.trim());
    if (!m) throw new AmpcError('E0604', `--dim: expects NAME=N (a symbolic dimension and its extent), got '${s}'`);
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}

export async function importCommand(file: string, opts: ImportCliOptions, io: CliIO): Promise<void> {
  const bytes = readFileBytes(file);
  const r = importOnnx(bytes, { file, dims: parseDims(opts.dim) });
  const text = printModule(r.module);
  const count = Object.keys(r.values).length;
  if (opts.inputsOut) writeFileAtomicChunks(opts.inputsOut, (sink) => writeTensorRecordJson(r.values, sink));
  else if (count > 0) io.stderr(`ampc: note: ${count} input value(s) from initializers and constants not written (use --inputs-out FILE)\n`);
  if (opts.out) writeFileAtomic(opts.out, text);
  else io.stdout(text);
}
