// The DOT text of a picture of graphs, for Graphviz to lay out (no layout
// here). What it draws is what `ampc dump` prints:
//
// - one DOT node per graph input (an ellipse; a `{param}` input a cylinder),
//   per op (a rounded box; a `cast` a hexagon) and per graph output (a
//   double octagon), filled with the colour of its dtype (palette.ts; a node
//   whose results have several dtypes is striped with their colours);
// - a `fused` op as a dashed cluster holding its body's ops: edges go from
//   the producers of the fused node's operands straight to the body ops that
//   read them, and from the body ops that compute its results to their
//   consumers (a body's inputs are not drawn); bodies nest;
// - one edge per operand, coloured by the dtype of the value it carries;
//   edges out of a cast are bold and labelled with the change (`f32→f16`);
// - tooltips (SVG <title>): an op's printed instruction, its note (why the
//   precision pass chose its dtype, what fusion merged), its source place
//   and trace scope; an edge's value name and type;
// - a header (title, details, graph names) and the legend as the picture's
//   label (left out for the HTML page, which has its own); in a module of
//   several graphs each graph is a cluster of its own.
//
// Value names are the printer's (ir/text/printer.ts nameValues), so the
// picture and the text dump agree. Every edge is written at the top level,
// after the clusters: an edge inside a cluster block would pull its ends
// into that cluster.

import type { DType } from '../../ir/dtype.ts';
import { locToString } from '../../ir/errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import { nameValues, printNode } from '../../ir/text/printer.ts';
import { typeToString } from '../../ir/types.ts';
import { DTYPE_COLOURS, FONT, FUSED_CLUSTER, GRAPH_CLUSTER, LEGEND_COLOURS, SHAPES } from './palette.ts';

/** What the picture's header says. */
export interface PictureInfo {
  /** What is drawn: the .ir file, or a model's train step. */
  readonly title: string;
  /** Facts shown under the title: the pipeline, fusion on or off, ... */
  readonly details: readonly string[];
}

export interface DotOptions {
  /** Draw the header and legend as the picture's label (default true; the HTML page has its own). */
  readonly header?: boolean;
}

/** An attribute value written as an HTML-like label (`<...>`) instead of a quoted string. */
interface HtmlLabel {
  readonly html: string;
}

type AttrValue = string | number | HtmlLabel;

/** Where a value comes from in the picture: the DOT node drawing its producer, and the value it produces. */
interface Source {
  readonly id: string;
  /** The graph input or op result behind the value (through fused bodies). */
  readonly value: Value;
}

interface PendingEdge {
  readonly from: Source;
  readonly to: string;
  /** The value as the consumer sees it, named in the consumer's graph. */
  readonly value: Value;
  readonly name: string;
}

/** A DOT quoted string (escString: `\n` is a line break). */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attrList(attrs: Readonly<Record<string, AttrValue | undefined>>): string {
  const parts = Object.entries(attrs)
    .filter((e): e is [string, AttrValue] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? `<${v.html}>` : typeof v === 'number' ? String(v) : quote(v)}`);
  return `[${parts.join(', ')}]`;
}

/** Fill attributes for values of these dtypes: one colour, or stripes of several. */
function fillFor(dtypes: readonly DType[], baseStyle: string): { style: string; fillcolor: string } {
  const fills = [...new Set(dtypes.map((d) => DTYPE_COLOURS[d].fill))];
  if (fills.length === 0) return { style: baseStyle, fillcolor: '#FFFFFF' };
  if (fills.length === 1) return { style: baseStyle, fillcolor: fills[0]! };
  return { style: 'striped', fillcolor: fills.join(':') };
}

/** At most `max` lines, then a count of the rest. */
function capLines(lines: readonly string[], max: number): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `… (+${lines.length - max} more)`];
}

/** The tooltip of an op: its instruction as printed, its note, source place and trace scope. */
function nodeTooltip(n: Node, names: Map<Value, string>): string {
  const instruction = printNode({ ...n, note: undefined, body: undefined }, names);
  const lines = [n.body ? `${instruction}\nbody: @${n.body.name} (${n.body.nodes.length} ops)` : instruction];
  if (n.note) lines.push(`note: ${n.note}`);
  if (n.loc) lines.push(`at ${locToString(n.loc)}`);
  if (n.scope) lines.push(`scope: ${n.scope}`);
  return lines.join('\n');
}

class DotBuilder {
  readonly #lines: string[] = [];
  readonly #edges: PendingEdge[] = [];
  #depth = 1;

  line(text: string): void {
    this.#lines.push('  '.repeat(this.#depth) + text);
  }

  open(header: string, attrs: Readonly<Record<string, AttrValue | undefined>>): void {
    this.line(`${header} {`);
    this.#depth++;
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) this.line(attrList({ [k]: v }).slice(1, -1) + ';');
  }

  close(): void {
    this.#depth--;
    this.line('}');
  }

  node(id: string, attrs: Readonly<Record<string, AttrValue | undefined>>): void {
    this.line(`${quote(id)} ${attrList(attrs)};`);
  }

  edge(e: PendingEdge): void {
    this.#edges.push(e);
  }

  graph(g: Graph, prefix: string, inCluster: boolean): void {
    const names = nameValues(g);
    const sources = new Map<Value, Source>();
    if (inCluster) {
      this.open(`subgraph ${quote(`cluster_${prefix}`)}`, {
        label: `@${g.name}`, style: 'rounded,filled', fillcolor: GRAPH_CLUSTER.fill, color: GRAPH_CLUSTER.line,
        tooltip: `graph @${g.name}: ${g.inputs.length} inputs, ${g.nodes.length} ops, ${g.outputs.length} outputs`,
      });
    }
    g.inputs.forEach((v, i) => {
      const id = `${prefix}in${i}`;
      const name = names.get(v)!;
      this.node(id, {
        shape: v.isParam ? SHAPES.param.shape : SHAPES.input.shape,
        ...fillFor([v.type.dtype], 'filled'),
        label: `%${name}\n${typeToString(v.type)}`,
        tooltip: `${v.isParam ? 'parameter' : 'input'} %${name}: ${typeToString(v.type)}`,
      });
      sources.set(v, { id, value: v });
    });
    this.ops(g.nodes, names, sources, prefix);
    g.outputs.forEach((v, i) => {
      const id = `${prefix}out${i}`;
      const name = names.get(v)!;
      this.node(id, {
        shape: SHAPES.output.shape,
        ...fillFor([v.type.dtype], 'filled'),
        label: `output ${i}\n%${name}: ${typeToString(v.type)}`,
        tooltip: `output ${i} of @${g.name}: %${name}: ${typeToString(v.type)}`,
      });
      this.edge({ from: sources.get(v)!, to: id, value: v, name });
    });
    if (inCluster) this.close();
  }

  /** Draws the ops of a graph or of a fused body; `sources` already knows the values they read. */
  ops(nodes: readonly Node[], names: Map<Value, string>, sources: Map<Value, Source>, prefix: string): void {
    nodes.forEach((n, k) => {
      const id = `${prefix}n${k}`;
      if (n.body) {
        this.fused(n, id, names, sources);
        return;
      }
      const results = capLines(n.results.map((r) => `%${names.get(r)}: ${typeToString(r.type)}`), 4);
      const isCast = n.op === 'cast';
      const title = isCast ? `cast ${n.operands[0]!.type.dtype} → ${n.results[0]!.type.dtype}` : n.op;
      this.node(id, {
        shape: isCast ? SHAPES.cast.shape : SHAPES.op.shape,
        ...fillFor(n.results.map((r) => r.type.dtype), isCast ? 'filled,bold' : 'rounded,filled'),
        label: [title, ...results].join('\n'),
        tooltip: nodeTooltip(n, names),
      });
      for (const v of n.operands) this.edge({ from: sources.get(v)!, to: id, value: v, name: names.get(v)! });
      for (const r of n.results) sources.set(r, { id, value: r });
    });
  }

  /** A fused node: a cluster of its body's ops, wired to the producers of its operands and the consumers of its results. */
  fused(n: Node, id: string, names: Map<Value, string>, sources: Map<Value, Source>): void {
    const body = n.body!;
    body.inputs.forEach((v, j) => sources.set(v, sources.get(n.operands[j]!)!));
    const outs = n.results.map((r) => `%${names.get(r)}`).join(', ');
    this.open(`subgraph ${quote(`cluster_${id}`)}`, {
      label: `fused ${outs} (@${body.name}): one kernel`,
      style: 'rounded,filled,dashed', fillcolor: FUSED_CLUSTER.fill, color: FUSED_CLUSTER.line, penwidth: 1.5, margin: 12,
      tooltip: nodeTooltip(n, names),
    });
    this.ops(body.nodes, nameValues(body), sources, `${id}_`);
    this.close();
    n.results.forEach((r, j) => sources.set(r, sources.get(body.outputs[j]!)!));
  }

  /** The whole DOT text: header and legend, the graphs, then every edge. */
  finish(info: PictureInfo, graphs: readonly Graph[], header: boolean): string {
    const edges = this.#edges.map((e) => {
      const colour = DTYPE_COLOURS[e.value.type.dtype].line;
      const producer = e.from.value.def;
      const cast = producer?.op === 'cast' ? `${producer.operands[0]!.type.dtype}→${producer.results[0]!.type.dtype}` : undefined;
      return `  ${quote(e.from.id)} -> ${quote(e.to)} ${attrList({
        color: colour,
        penwidth: cast ? 2.5 : 1.2,
        label: cast,
        fontcolor: cast ? colour : undefined,
        tooltip: `%${e.name}: ${typeToString(e.value.type)}`,
      })};`;
    });
    return [
      `digraph ${quote(info.title)} {`,
      `  graph ${attrList({ rankdir: 'TB', fontname: FONT, nodesep: 0.25, ranksep: 0.35, labelloc: 't', labeljust: 'l', label: header ? { html: headerHtml(info, graphs) } : undefined })};`,
      `  node ${attrList({ fontname: FONT, fontsize: 11, penwidth: 1, margin: '0.15,0.06' })};`,
      `  edge ${attrList({ fontname: FONT, fontsize: 9, arrowsize: 0.7 })};`,
      ...this.#lines,
      ...edges,
      '}',
      '',
    ].join('\n');
  }
}

/** The header and legend, as an HTML-like label: title, details, graph names, dtype swatches, shapes. */
function headerHtml(info: PictureInfo, graphs: readonly Graph[]): string {
  const span = LEGEND_COLOURS.length;
  const row = (cell: string) => `<TR><TD ALIGN="LEFT" COLSPAN="${span}">${cell}</TD></TR>`;
  const graphNames = graphs.map((g) => `@${g.name}`).join(', ');
  const swatches = LEGEND_COLOURS.map((c) => `<TD BGCOLOR="${c.fill}" BORDER="1">${escapeHtml(c.legend)}</TD>`).join('');
  const shapes = Object.values(SHAPES).map((s) => escapeHtml(s.legend)).join('<BR ALIGN="LEFT"/>');
  return [
    '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3">',
    row(`<B>${escapeHtml(info.title)}</B>`),
    row(escapeHtml([`${graphs.length === 1 ? 'graph' : 'graphs'} ${graphNames}`, ...info.details].join(' · '))),
    `<TR>${swatches}</TR>`,
    row(`<FONT POINT-SIZE="10">${shapes}<BR ALIGN="LEFT"/></FONT>`),
    '</TABLE>',
  ].join('');
}

/** The DOT text of a picture of `graphs` (each in a cluster of its own when there are several). */
export function graphsToDot(graphs: readonly Graph[], info: PictureInfo, opts: DotOptions = {}): string {
  const b = new DotBuilder();
  graphs.forEach((g, i) => b.graph(g, `g${i}_`, graphs.length > 1));
  return b.finish(info, graphs, opts.header !== false);
}
