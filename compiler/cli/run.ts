// `ampc run FILE.ir --inputs IN.json [--backend gpu|reference] [--precision f32|amp]
// [--amp-allow op,...] [--amp-deny op,...] [--graph NAME] [--out OUT.json]
// [--max-elements N]`: runs a graph (under AMP: after the amp pipeline) and
// writes its outputs as tensor JSON (a list, in return order), streamed, so
// outputs of any size are written (no string holds them whole).

import { AmpcError } from '../../ir/errors.ts';
import { DEFAULT_MAX_ELEMENTS, interpret } from '../../ir/interp/interpret.ts';
import { parseTensorJson, writeTensorsJson } from '../../runtime/tensor-json.ts';
import type { TextSink } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { Graph } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { writeFileAtomicChunks } from '../../runtime/node-files.ts';
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
  /** `--max-elements N`: the reference interpreter's size limit (InterpretOptions.maxElements); with --backend reference. */
  maxElements?: string;
}

/** The help of `--max-elements` (run, grad, check). */
export const MAX_ELEMENTS_HELP =
  `the reference interpreter refuses (E0802) a graph whose values hold more than N elements in all ` +
  `(default ${DEFAULT_MAX_ELEMENTS} = 2^26, 512 MiB as f64); 'inf' lifts the limit`;

/** The value of `--max-elements`: a whole number, or 'inf' (no limit); undefined when absent (the default limit). E0604 otherwise. */
export function parseMaxElements(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const v = s.trim();
  if (/^(inf|infinity)$/i.test(v)) return Infinity;
  if (!/^\d+$/.test(v)) throw new AmpcError('E0604', `--max-elements: expects a whole number of elements (or 'inf'), got '${s}'`);
  return Number(v);
}

/**
 * User errors among the flags `run` and `grad` share: `--amp-allow/--amp-deny`
 * without `--precision amp`, `--max-elements` without `--backend reference`
 * or not a number.
 */
export function checkPrecisionFlags(opts: RunOptions): void {
  if (opts.precision !== 'amp' && (opts.ampAllow !== undefined || opts.ampDeny !== undefined)) {
    throw new AmpcError('E0604', '--amp-allow/--amp-deny need --precision amp');
  }
  if (opts.maxElements !== undefined) {
    parseMaxElements(opts.maxElements);
    if (opts.backend !== 'reference') throw new AmpcError('E0604', '--max-elements goes with --backend reference (it limits the reference interpreter)');
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
  if (opts.backend === 'reference') return interpret(g, inputs, { maxElements: parseMaxElements(opts.maxElements) });
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
  writeTensorsOutput(await execute(withPrecision(g, opts.precision, opts), inputs, opts), opts.out, io);
}

/**
 * Writes tensors as tensor JSON (a list) to a file atomically, or to stdout,
 * streamed in chunks: outputs too long for one string are written too.
 */
export function writeTensorsOutput(list: readonly HostTensor[], out: string | undefined, io: CliIO): void {
  writeStreamed((sink) => writeTensorsJson(list, sink), out, io);
}

/** Text written piecewise by `produce` (ending with a newline) to a file atomically, or to stdout. */
export function writeStreamed(produce: (sink: TextSink) => void, out: string | undefined, io: CliIO): void {
  if (out) writeFileAtomicChunks(out, produce);
  else produce((chunk) => io.stdout(chunk));
}
