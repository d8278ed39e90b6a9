// Prints graphs and modules in the textual IR of design.md. Graph inputs and
// results with non-numeric names keep them; the rest are numbered in order,
// as MLIR does, so `print(parse(print(g))) === print(g)`.

import { attrValuesEqual, formatAttr } from '../attrs.ts';
import { isFloat } from '../dtype.ts';
import type { Graph, Module, Node, Value } from '../graph.ts';
import { OPS } from '../ops.ts';
import { typeToString } from '../types.ts';

export interface PrintOptions {
  /** Extra comment for a node, printed after it (beside `node.note`). */
  annotate?: (node: Node) => string | undefined;
}

/** Names kept as written: letters, digits, `_` and `.`, not all digits (those are renumbered). */
const NAME_RE = /^(?!\d+$)[A-Za-z0-9_.]+$/;

/** Assigns every value of the graph its printed name. */
export function nameValues(g: Graph): Map<Value, string> {
  const names = new Map<Value, string>();
  const used = new Set<string>();
  const keep = (v: Value) => {
    if (v.name !== undefined && NAME_RE.test(v.name) && !used.has(v.name)) {
      names.set(v, v.name);
      used.add(v.name);
    }
  };
  for (const v of g.inputs) keep(v);
  for (const n of g.nodes) n.results.forEach(keep);
  let counter = 0;
  const fresh = (): string => {
    while (used.has(String(counter))) counter++;
    return String(counter++);
  };
  for (const v of g.inputs) if (!names.has(v)) names.set(v, fresh());
  for (const n of g.nodes) for (const r of n.results) if (!names.has(r)) names.set(r, fresh());
  return names;
}

export function printAttrs(node: Node): string {
  const specs = OPS[node.op].attrs;
  const parts: string[] = [];
  for (const [k, spec] of Object.entries(specs)) {
    const v = node.attrs[k];
    if (v === undefined) continue;
    if (!spec.alwaysPrint && spec.default !== undefined && attrValuesEqual(spec.default, v)) continue;
    // An integer or bool constant's value prints as an integer.
    const intConstant = node.op === 'constant' && !isFloat(node.results[0]!.type.dtype);
    parts.push(`${k} = ${intConstant ? String(v) : formatAttr(spec, v)}`);
  }
  return parts.length ? ` {${parts.join(', ')}}` : '';
}

export function printNode(node: Node, names: Map<Value, string>, opts: PrintOptions = {}): string {
  const ref = (v: Value) => `%${names.get(v) ?? '?'}`;
  const lhs = node.results.map(ref).join(', ');
  const operands = node.operands.length ? ' ' + node.operands.map(ref).join(', ') : '';
  const types = node.results.map((r) => typeToString(r.type)).join(', ');
  let line = `${lhs} = ${node.op}${operands}${printAttrs(node)} : ${types}`;
  const notes = [node.note, opts.annotate?.(node)].filter((s): s is string => !!s);
  if (notes.length) line += `  // ${notes.join('; ')}`;
  // A fused node's body follows on the next lines, indented (ir/ops-fused.ts).
  if (node.body) line += '\n' + graphLines(node.body, opts).map((l) => '  ' + l).join('\n');
  return line;
}

function graphLines(g: Graph, opts: PrintOptions): string[] {
  const names = nameValues(g);
  const ins = g.inputs.map((v) => `%${names.get(v)}: ${typeToString(v.type)}${v.isParam ? ' {param}' : ''}`).join(', ');
  const outs = g.outputs.map((v) => typeToString(v.type)).join(', ');
  const lines = [`graph @${g.name}(${ins}) -> (${outs}) {`];
  for (const n of g.nodes) lines.push(...printNode(n, names, opts).split('\n').map((l) => '  ' + l));
  lines.push(g.outputs.length ? `  return ${g.outputs.map((v) => `%${names.get(v)}`).join(', ')}` : '  return');
  lines.push('}');
  return lines;
}

export function printGraph(g: Graph, opts: PrintOptions = {}): string {
  return graphLines(g, opts).join('\n') + '\n';
}

export function printModule(m: Module, opts: PrintOptions = {}): string {
  return m.graphs.map((g) => printGraph(g, opts)).join('\n');
}
