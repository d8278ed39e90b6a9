// `ampc run FILE.ir --inputs IN.json [--backend gpu|reference] [--precision f32|amp]
// [--amp-allow op,...] [--amp-deny op,...] [--graph NAME] [--out OUT.json]`:
// runs a graph (under AMP: after the amp pipeline) and writes its outputs as
// tensor JSON (a list, in return order).

import { AmpcError } from '../../ir/errors.ts';
import { interpret } from '../../ir/interp/interpret.ts';
import { parseTensorJson, tensorsToJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { Graph } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { writeFileAtomic } from '../../runtime/node-files.ts';
import { runGraphOnGpu } from '../execute.ts';
import type { AmpFlags, PrecisionMode } from './amp.ts';
import { withPrecision } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

/** Options `run` and `grad` share. */
export interface RunOptions extends AmpFlags {
  inputs: string;
  backend: 'gpu' | 'reference';
  precision: PrecisionMode;
  graph?: string;
  f16Mode?: F16Mode;
  /** Fuse kernels (default true; `--no-fusion`). */
  fusion?: boolean;
  out?: string;
}

/** A user error for `--amp-allow/--amp-deny` without `--precision amp`. */
export function checkPrecisionFlags(opts: RunOptions): void {
  if (opts.precision !== 'amp' && (opts.ampAllow !== undefined || opts.ampDeny !== undefined)) {
    throw new AmpcError('E0604', '--amp-allow/--amp-deny need --precision amp');
  }
}

/** Parses the file and the inputs, picks the graph. */
export function loadGraphAndInputs(file: string, opts: RunOptions): { g: Graph; inputs: Record<string, HostTensor> } {
  const mod = parseModule(readText(file), file);
  const g = opts.graph ? mod.get(opts.graph) : mod.main;
  return { g, inputs: parseTensorJson(readText(opts.inputs), opts.inputs) };
}

/** Runs a graph on the chosen backend (a device is acquired and released for the GPU). */
export async function execute(g: Graph, inputs: Record<string, HostTensor>, opts: RunOptions): Promise<HostTensor[]> {
  if (opts.backend === 'reference') return interpret(g, inputs);
  const ctx = await acquireDevice();
  try {
    return await runGraphOnGpu(g, inputs, ctx, { f16Mode: opts.f16Mode, fusion: opts.fusion !== false });
  } finally {
    ctx.destroy();
  }
}

export async function runCommand(file: string, opts: RunOptions, io: CliIO): Promise<void> {
  checkPrecisionFlags(opts);
  const { g, inputs } = loadGraphAndInputs(file, opts);
  writeOutput(tensorsToJson(await execute(withPrecision(g, opts.precision, opts), inputs, opts)), opts.out, io);
}

/** Writes to a file atomically (nothing half-written, no temporary file left behind), or to stdout. */
export function writeOutput(text: string, out: string | undefined, io: CliIO): void {
  const body = text.endsWith('\n') ? text : text + '\n';
  if (out) writeFileAtomic(out, body);
  else io.stdout(body);
}
