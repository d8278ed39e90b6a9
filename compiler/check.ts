// Where AMP loses accuracy: runs a graph under AMP (on the GPU, or any
// runner) and the ORIGINAL graph on the f64 reference interpreter, and gives,
// for every op of the AMP graph that computes a value of the original graph
// (matched by value name; casts the pass inserted have no counterpart and are
// skipped), the max absolute error and the max error relative to
// max|reference|, and which op's output first turns non-finite where the
// reference is finite. `ampc check` prints formatReport of these rows.

import { locToString } from '../ir/errors.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import { cloneGraph } from '../ir/graph.ts';
import { interpretAll } from '../ir/interp/interpret.ts';
import type { InterpretOptions } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { nameValues } from '../ir/text/printer.ts';
import { shapesEqual, shapeToString } from '../ir/types.ts';
import type { PassOptions } from '../passes/pass.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';

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
 * Runs the check (`ampOptions`: the amp policy overrides, as the pass
 * context takes them); returns the rows (graph order of the AMP graph). `run`
 * executes a graph (the AMP graph with extra outputs) and returns its outputs.
 * `interpretOptions` go to the reference interpreter (`maxElements`: a graph
 * too large for it is E0802 before anything runs).
 */
export async function checkGraph(
  original: Graph,
  inputs: Readonly<Record<string, HostTensor>>,
  ampOptions: PassOptions,
  run: (g: Graph, inputs: Readonly<Record<string, HostTensor>>) => Promise<HostTensor[]>,
  interpretOptions: InterpretOptions = {},
): Promise<{ rows: CheckRow[]; amp: Graph }> {
  // Every value named as the dump prints it (a traced graph's are unnamed), so AMP values find their originals.
  original = cloneGraph(original);
  const printed = nameValues(original);
  for (const n of original.nodes) for (const r of n.results) r.name ??= printed.get(r);
  const reference = interpretAll(original, inputs, interpretOptions);
  const byName = new Map<string, Value>();
  for (const n of original.nodes) for (const r of n.results) if (r.name !== undefined) byName.set(r.name, r);

  const amp = runPipeline(original, pipelineByName('amp'), { options: ampOptions });
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
  // Where each value comes from: its trace scope (the module path of a traced model), if any, and its source place.
  const scoped = rows.some((r) => r.node.scope !== undefined && r.node.scope !== '');
  const header = ['value', 'op', ...(scoped ? ['scope'] : []), 'amp type', 'max abs err', 'max rel err', 'at'];
  const body = rows.map((r) => [
    `%${r.name}`, r.op, ...(scoped ? [r.node.scope || '-'] : []), `${r.dtype}${shapeToString(r.shape)}`, fmt(r.maxAbs), fmt(r.maxRel), locToString(r.node.loc) || '-',
  ]);
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

