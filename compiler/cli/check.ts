// `ampc check FILE.ir [--inputs IN.json | --random-inputs [--seed N]]
// [--amp-allow op,...] [--amp-deny op,...] [--graph NAME] [--backend gpu|reference]
// [--max-elements N]`:
// runs the graph under AMP (on the GPU by default) and the ORIGINAL graph on
// the f64 reference interpreter, and prints, for every op of the AMP graph
// that computes a value of the original graph (matched by value name; casts
// the pass inserted have no counterpart and are skipped), the max absolute
// error and the max error relative to max|reference|. Then it names the first
// such op (in graph order) whose output holds a non-finite value where the
// reference is finite — where AMP's NaNs and infs start. The table is
// printed either way; a non-finite value is then error E0607 (exit 1, placed
// at the op), so `check` can gate a CI. A graph too large for the reference
// interpreter (InterpretOptions.maxElements, `--max-elements N`) is E0802
// before any input is made or read.

import { AmpcError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { checkInterpreterSize, interpretAll } from '../../ir/interp/interpret.ts';
import { randomInputs } from '../../ir/interp/random-inputs.ts';
import { parseTensorJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { runGraphOnGpu } from '../execute.ts';
import { checkGraph, formatReport } from '../check.ts';
import type { AmpFlags } from './amp.ts';
import { ampOptions } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';
import { parseMaxElements } from './run.ts';

export interface CheckOptions extends AmpFlags {
  inputs?: string;
  randomInputs?: boolean;
  seed?: string;
  graph?: string;
  backend: 'gpu' | 'reference';
  f16Mode?: F16Mode;
  /** Fuse kernels (default true; `--no-fusion`). */
  fusion?: boolean;
  /** `--max-elements N`: the reference interpreter's size limit (InterpretOptions.maxElements). */
  maxElements?: string;
}

function parseSeed(s: string | undefined): number {
  if (s === undefined) return 0;
  if (!/^-?\d+$/.test(s.trim())) throw new AmpcError('E0604', `--seed: expects an integer, got '${s}'`);
  return Number(s);
}

export async function checkCommand(file: string, opts: CheckOptions, io: CliIO): Promise<void> {
  if (opts.inputs !== undefined && opts.randomInputs) throw new AmpcError('E0604', 'give either --inputs or --random-inputs, not both');
  if (opts.inputs === undefined && !opts.randomInputs) throw new AmpcError('E0604', 'check needs --inputs IN.json or --random-inputs [--seed N]');
  if (opts.seed !== undefined && !opts.randomInputs) throw new AmpcError('E0604', '--seed goes with --random-inputs');
  const seed = parseSeed(opts.seed);
  const maxElements = parseMaxElements(opts.maxElements);
  const mod = parseModule(readText(file), file);
  const g = opts.graph ? mod.get(opts.graph) : mod.main;
  // The original graph always runs on the reference interpreter: refuse one too large for it before making or reading inputs.
  checkInterpreterSize(g, maxElements);
  const inputs = opts.inputs !== undefined ? parseTensorJson(readText(opts.inputs), opts.inputs) : randomInputs(g, seed, { maxElements });
  let run: (g: Graph, inputs: Readonly<Record<string, HostTensor>>) => Promise<HostTensor[]>;
  let release = () => {};
  if (opts.backend === 'reference') {
    run = (pg, ins) => {
      const env = interpretAll(pg, ins, { maxElements });
      return Promise.resolve(pg.outputs.map((v) => env.get(v)!));
    };
  } else {
    const ctx = await acquireDevice();
    release = () => ctx.destroy();
    run = (pg, ins) => runGraphOnGpu(pg, ins, ctx, { f16Mode: opts.f16Mode, fusion: opts.fusion !== false });
  }
  try {
    const { rows } = await checkGraph(g, inputs, ampOptions(opts), run, { maxElements });
    io.stdout(formatReport(rows, file, opts.randomInputs ? ` (random inputs, seed ${seed})` : ''));
    // A gate for CI: the table is printed either way, then non-finite values under AMP are an error.
    const first = rows.find((r) => r.newNonFinite);
    if (first) {
      throw new AmpcError('E0607', `%${first.name} = ${first.op} (${first.dtype}[${first.shape.join(',')}]) turns non-finite under AMP where the f64 reference is finite (${rows.filter((r) => r.newNonFinite).length} value(s) in all); see the table above`, first.node.loc);
    }
  } finally {
    release();
  }
}
