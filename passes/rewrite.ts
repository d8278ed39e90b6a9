// The rewrite driver the graph-to-graph passes share: a graph is rebuilt
// node by node into a new one (clone-with-map), and a visitor decides for
// each node whether it is copied as it is, copied with other operands or
// attributes, or replaced by values of the new graph. Local rewrites are
// named rules in tables, each counted (tinygrad's PatternMatcher, MLIR's
// rewrite patterns): cast cleanup's CAST_RULES, fusion's FUSION_RULES, and
// the unscale split. Names, places, notes, trace scopes and fused bodies
// travel with every copy.

import type { AttrValue } from '../ir/attrs.ts';
import { Graph } from '../ir/graph.ts';
import type { Node, Value } from '../ir/graph.ts';

/** A named local rewrite: a replacement for what it matched, or undefined when it does not apply. */
export interface RewriteRule<M, R> {
  readonly name: string;
  readonly rewrite: (m: M) => R | undefined;
}

/** The first rule of `rules` that applies to `m`, counted in `counts` under its name. */
export function applyRules<M, R>(rules: readonly RewriteRule<M, R>[], m: M, counts: Record<string, number>): R | undefined {
  for (const r of rules) {
    const out = r.rewrite(m);
    if (out !== undefined) {
      counts[r.name] = (counts[r.name] ?? 0) + 1;
      return out;
    }
  }
  return undefined;
}

/** Zero counts for every rule of a table (so a summary lists the rules that never fired too). */
export function ruleCounts(names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, 0]));
}

export interface CopyOverrides {
  readonly operands?: readonly Value[];
  readonly attrs?: Readonly<Record<string, AttrValue | undefined>>;
  /** Declared result types (default: the node's own for constants and fused nodes, else derived). */
  readonly declared?: readonly Value['type'][];
}

/** The new graph being built and the map from old values to new ones. */
export class Rewriter {
  readonly out: Graph;
  readonly map = new Map<Value, Value>();

  constructor(readonly source: Graph) {
    this.out = new Graph(source.name, source.loc);
    for (const v of source.inputs) this.map.set(v, this.out.addInput(v.name!, v.type, { param: v.isParam }));
  }

  /** The new value of old value `v`. */
  get(v: Value): Value {
    const m = this.map.get(v);
    if (!m) throw new Error(`rewrite: %${v.name ?? '?'} has no value in the new graph yet`);
    return m;
  }

  /** Copies node `n` (its operands mapped unless given), mapping its results; keeps name, place, note, scope and body. */
  copy(n: Node, o: CopyOverrides = {}): Node {
    const operands = o.operands ?? n.operands.map((v) => this.get(v));
    // A widened accumulator (f16 operands, f32 result) stays widened while its operands keep their dtypes.
    const widened = 'acc' in n.attrs && n.results.length === 1 && n.operands.length > 0 &&
      n.results[0]!.type.dtype !== n.operands[0]!.type.dtype && operands.every((v, i) => v.type.dtype === n.operands[i]?.type.dtype);
    const fixedTypes = n.op === 'constant' || n.body !== undefined || widened;
    const copy = this.out.addNode(n.op, operands, o.attrs ?? n.attrs, {
      loc: n.loc,
      ...(o.declared ? { declared: o.declared } : fixedTypes ? { declared: n.results.map((r) => r.type) } : {}),
      names: n.results.map((r) => r.name),
      ...(n.scope !== undefined ? { scope: n.scope } : {}),
      ...(n.body ? { body: n.body } : {}),
    });
    if (n.note !== undefined) copy.note = n.note;
    n.results.forEach((r, i) => this.map.set(r, copy.results[i]!));
    return copy;
  }

  /** Old value `v` is `to` in the new graph from now on. */
  replace(v: Value, to: Value): void {
    this.map.set(v, to);
  }

  /** Sets the new graph's outputs from the old ones (through `last`, e.g. a cast back to a declared dtype) and returns it. */
  finish(last: (v: Value) => Value = (v) => v): Graph {
    this.out.setOutputs(this.source.outputs.map((v) => last(this.get(v))));
    return this.out;
  }
}

/**
 * Rebuilds `g`: `visit` sees each node in order and either handles it
 * (copying or replacing through the Rewriter) and returns true, or returns
 * false to have it copied unchanged.
 */
export function rewriteGraph(g: Graph, visit: (n: Node, rw: Rewriter) => boolean): Graph {
  const rw = new Rewriter(g);
  for (const n of g.nodes) if (!visit(n, rw)) rw.copy(n);
  return rw.finish();
}
