// Cast cleanup: local rewrites of cast nodes as a pattern table, each rule
// counted. Only value-preserving rewrites live here: a cast to the same dtype
// is dropped, f16→f32→f16 folds back to the f16 value, duplicate casts of one
// value to one dtype are shared. f32→f16→f32 is NEVER folded (it rounds).
// Casts nobody uses afterwards are removed. Returns a new graph; notes the
// precision pass attached are carried over and rendered with the new names.

import type { DType } from '../ir/dtype.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import type { Pass, PassContext } from './pass.ts';
import type { RewriteRule } from './rewrite.ts';
import { applyRules, Rewriter, ruleCounts } from './rewrite.ts';
import { noteParts, renderNotes, setNoteParts } from './precision/notes.ts';

/** What a rule sees: a cast node of the new graph's values, and earlier casts by (source, dtype). */
export interface CastMatch {
  readonly source: Value;
  readonly to: DType;
  /** Casts already emitted in the new graph, by source value and target dtype. */
  readonly existing: ReadonlyMap<Value, ReadonlyMap<DType, Value>>;
}

/** A cast rule: the value that replaces the cast's result, or undefined when the rule does not apply. */
export type CastRule = RewriteRule<CastMatch, Value>;

export const CAST_RULES: readonly CastRule[] = [
  { name: 'same-dtype', rewrite: (m) => (m.source.type.dtype === m.to ? m.source : undefined) },
  {
    name: 'fold-f16-f32-f16',
    rewrite: (m) => {
      const inner = m.source.def;
      if (m.to !== 'f16' || m.source.type.dtype !== 'f32' || inner?.op !== 'cast') return undefined;
      const x = inner.operands[0]!;
      return x.type.dtype === 'f16' ? x : undefined;
    },
  },
  { name: 'share', rewrite: (m) => m.existing.get(m.source)?.get(m.to) },
];

export type CleanupCounts = Record<string, number>;

export function cleanupCasts(g: Graph, rules: readonly CastRule[] = CAST_RULES): { graph: Graph; counts: CleanupCounts } {
  const counts: CleanupCounts = ruleCounts([...rules.map((r) => r.name), 'dead']);
  const existing = new Map<Value, Map<DType, Value>>();
  const copies: [Node, Node][] = [];
  const rw = new Rewriter(g);
  for (const n of g.nodes) {
    if (n.op === 'cast') {
      const source = rw.get(n.operands[0]!);
      const replaced = applyRules(rules, { source, to: n.attrs.to as DType, existing }, counts);
      if (replaced) {
        rw.replace(n.results[0]!, replaced);
        continue;
      }
      const copy = rw.copy(n);
      let byType = existing.get(source);
      if (!byType) existing.set(source, (byType = new Map()));
      byType.set(n.attrs.to as DType, copy.results[0]!);
      copies.push([n, copy]);
    } else {
      copies.push([n, rw.copy(n)]);
    }
  }
  const out = rw.finish();
  const map = rw.map;

  // Dead casts: remove casts no one uses, repeatedly (a cast of a dead cast dies too).
  for (;;) {
    const used = new Set<Value>(out.outputs);
    for (const n of out.nodes) for (const v of n.operands) used.add(v);
    const dead = out.nodes.filter((n) => n.op === 'cast' && !used.has(n.results[0]!));
    if (!dead.length) break;
    counts.dead! += dead.length;
    for (const n of dead) out.nodes.splice(out.nodes.indexOf(n), 1);
  }

  // Carry the precision notes over, naming values as the new graph prints them.
  for (const [old, copy] of copies) {
    const parts = noteParts(old);
    if (parts) setNoteParts(copy, parts.map((p) => (typeof p === 'string' ? p : (map.get(p) ?? p))));
  }
  renderNotes(out);
  return { graph: out, counts };
}

export const castCleanupPass: Pass = {
  name: 'cast-cleanup',
  run(g: Graph, ctx: PassContext): Graph {
    const { graph, counts } = cleanupCasts(g);
    const removed = Object.values(counts).reduce((a, b) => a + b, 0);
    const detail = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    ctx.log?.(`cast-cleanup: @${g.name}: ${removed} casts removed (${detail})`);
    return graph;
  },
};
