// `ampc check FILE.ir [--inputs IN.json | --random-inputs [--seed N]]
// [--amp-allow op,...] [--amp-deny op,...] [--graph NAME] [--backend gpu|reference]`:
// runs the graph under AMP (on the GPU by default) and the ORIGINAL graph on
// the f64 reference interpreter, and prints, for every op of the AMP graph
// that computes a value of the original graph (matched by value name; casts
// the pass inserted have no counterpart and are skipped), the max absolute
// error and the max error relative to max|reference|. Then it names the first
// such op (in graph order) whose output holds a non-finite value where the
// reference is finite — where AMP's NaNs and infs start. The report is
// informational: exit 0 whenever it ran.

import { AmpcError, locToString } from '../../ir/errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import { interpretAll } from '../../ir/interp/interpret.ts';
import { randomInputs } from '../../ir/interp/random-inputs.ts';
import { parseTensorJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { nameValues } from '../../ir/text/printer.ts';
import { shapesEqual, shapeToString } from '../../ir/types.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { runGraphOnGpu } from '../execute.ts';
import type { AmpFlags } from './amp.ts';
import { ampGraph } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

export interface CheckOptions extends AmpFlags {
  inputs?: string;
  randomInputs?: boolean;
  seed?: string;
  graph?: string;
  backend: 'gpu' | 'reference';
  f16Mode?: F16Mode;
  /** Fuse kernels (default true; `--no-fusion`). */
  fusion?: boolean;
}

/** One row of the report: an op of the AMP graph beside its original value. */
export interface CheckRow {
  readonly name: string;
  readonly op: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly maxAbs: number;
  readonly maxRel: number;
  /** True when the AMP output has a non-finite element where the reference is finite. */
  readonly newNonFinite: boolean;
  readonly node: Node;
}

function parseSeed(s: string | undefined): number {
  if (s === undefined) return 0;
  if (!/^-?\d+$/.test(s.trim())) throw new AmpcError('E0604', `--seed: expects an integer, got '${s}'`);
  return Number(s);
}

/** Compares one tensor with its reference: max |a-e|, that over max |e|, and new non-finites. */
function compare(a: HostTensor, e: HostTensor): { maxAbs: number; maxRel: number; newNonFinite: boolean } {
  let maxAbs = 0, maxRef = 0, newNonFinite = false;
  for (let i = 0; i < e.data.length; i++) {
    const x = Number(a.data[i]), y = Number(e.data[i]);
    if (Number.isFinite(y)) maxRef = Math.max(maxRef, Math.abs(y));
    if (!Number.isFinite(x) && Number.isFinite(y)) newNonFinite = true;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue; // equal infinities too
    const d = Math.abs(x - y);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
  }
  return { maxAbs, maxRel: maxAbs === 0 ? 0 : maxRef > 0 ? maxAbs / maxRef : Infinity, newNonFinite };
}

function fmt(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : 'inf';
  return x.toExponential(2);
}

/**
 * Runs the check; returns the rows (graph order of the AMP graph). `run`
 * executes a graph (the AMP graph with extra outputs) and returns its outputs.
 */
export async function checkGraph(
  original: Graph,
  inputs: Readonly<Record<string, HostTensor>>,
  flags: AmpFlags,
  run: (g: Graph, inputs: Readonly<Record<string, HostTensor>>) => Promise<HostTensor[]>,
): Promise<{ rows: CheckRow[]; amp: Graph }> {
  const reference = interpretAll(original, inputs);
  const byName = new Map<string, Value>();
  for (const n of original.nodes) for (const r of n.results) if (r.name !== undefined) byName.set(r.name, r);

  const amp = ampGraph(original, flags);
  // The values to read back: every op result that has an original counterpart of the same shape.
  const pairs: { v: Value; orig: Value }[] = [];
  for (const n of amp.nodes) {
    for (const r of n.results) {
      const orig = r.name !== undefined ? byName.get(r.name) : undefined;
      if (orig && orig.def?.op === n.op && shapesEqual(orig.type.shape, r.type.shape)) pairs.push({ v: r, orig });
    }
  }
  // Read them back as extra outputs of the AMP graph (ours: the pipeline made a new graph),
  // each value once; the declared outputs are restored afterwards.
  const declared = amp.outputs;
  const extra = [...new Set([...declared, ...pairs.map((p) => p.v)])];
  amp.setOutputs(extra);
  let outs: HostTensor[];
  try {
    outs = await run(amp, inputs);
  } finally {
    amp.setOutputs(declared);
  }
  const got = pairs.map((p) => outs[extra.indexOf(p.v)]!);

  const names = nameValues(original);
  const rows = pairs.map(({ v, orig }, i): CheckRow => {
    const a = got[i]!, e = reference.get(orig)!;
    return { name: names.get(orig) ?? orig.name ?? '?', op: v.def!.op, dtype: v.type.dtype, shape: v.type.shape, node: v.def!, ...compare(a, e) };
  });
  return { rows, amp };
}

export function formatReport(rows: readonly CheckRow[], file: string, seedNote: string): string {
  const header = ['value', 'op', 'amp type', 'max abs err', 'max rel err'];
  const body = rows.map((r) => [`%${r.name}`, r.op, `${r.dtype}${shapeToString(r.shape)}`, fmt(r.maxAbs), fmt(r.maxRel)]);
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((b) => b[k]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, k) => c.padEnd(widths[k]!)).join('  ').trimEnd();
  const out = [`// ampc check ${file}: AMP vs the f64 reference of the original graph${seedNote}`, '// max rel err: max |amp - ref| / max |ref| per value', line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const b of body) out.push(line(b));
  const first = rows.find((r) => r.newNonFinite);
  if (first) {
    const where = locToString(first.node.loc);
    out.push(`first non-finite: %${first.name} = ${first.op} (${first.dtype}${shapeToString(first.shape)})${where ? ` at ${where}` : ''}`);
  } else out.push('first non-finite: none');
  return out.join('\n') + '\n';
}

export async function checkCommand(file: string, opts: CheckOptions, io: CliIO): Promise<void> {
  if (opts.inputs !== undefined && opts.randomInputs) throw new AmpcError('E0604', 'give either --inputs or --random-inputs, not both');
  if (opts.inputs === undefined && !opts.randomInputs) throw new AmpcError('E0604', 'check needs --inputs IN.json or --random-inputs [--seed N]');
  if (opts.seed !== undefined && !opts.randomInputs) throw new AmpcError('E0604', '--seed goes with --random-inputs');
  const mod = parseModule(readText(file), file);
  const g = opts.graph ? mod.get(opts.graph) : mod.main;
  const seed = parseSeed(opts.seed);
  const inputs = opts.inputs !== undefined ? parseTensorJson(readText(opts.inputs), opts.inputs) : randomInputs(g, seed);
  let run: (g: Graph, inputs: Readonly<Record<string, HostTensor>>) => Promise<HostTensor[]>;
  let release = () => {};
  if (opts.backend === 'reference') {
    run = (pg, ins) => {
      const env = interpretAll(pg, ins);
      return Promise.resolve(pg.outputs.map((v) => env.get(v)!));
    };
  } else {
    const ctx = await acquireDevice();
    release = () => ctx.destroy();
    run = (pg, ins) => runGraphOnGpu(pg, ins, ctx, { f16Mode: opts.f16Mode, fusion: opts.fusion !== false });
  }
  try {
    const { rows } = await checkGraph(g, inputs, opts, run);
    io.stdout(formatReport(rows, file, opts.randomInputs ? ` (random inputs, seed ${seed})` : ''));
  } finally {
    release();
  }
}
