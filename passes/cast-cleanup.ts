// Cast cleanup: local rewrites of cast nodes as a pattern table, each rule
// counted. Only value-preserving rewrites live here: a cast to the same dtype
// is dropped, f16→f32→f16 folds back to the f16 value, duplicate casts of one
// value to one dtype are shared. f32→f16→f32 is NEVER folded (it rounds).
// Casts nobody uses afterwards are removed. First, an f32 -> f16 cast moves
// above a chain of ops that commute with rounding (relu, max_pool2d, data
// movement) whose f32 only followed their operand: the same values, with
// the chain (and the backward autodiff derives from it) on f16. Returns a new graph; notes the
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

/**
 * Ops that commute with rounding to f16 exactly (order-preserving or data
 * movement: round(relu(x)) = relu(round(x)), round(max(a, b)) =
 * max(round(a), round(b)), a reshape moves values), so an f16 cast after
 * them may move before them.
 */
export const HOISTS_OVER: ReadonlySet<string> = new Set(['relu', 'max_pool2d', 'reshape', 'transpose', 'slice', 'neg', 'abs']);

/**
 * f32 -> f16 casts moved up over a chain of HOISTS_OVER ops that nothing
 * else reads: `cast(max_pool2d(relu(y)))` becomes `max_pool2d(relu(cast(y)))`,
 * the same values, with the chain on f16. A deny-listed op's f32 result
 * (batch_norm) then feeds f16 activations, as under PyTorch's autocast, and
 * the backward that autodiff derives from them reads and writes f16 (the
 * relu mask and max-pool routing of f16 values) where it read f32 copies.
 */
function hoistNarrowingCasts(g: Graph, hoists: CleanupCounts): Graph {
  // Only ops whose f32 the precision pass chose because their operand is f32 (not a deny, allow
  // or override the user asked for, and not casts a user wrote into a graph without notes).
  const followsItsOperand = (n: Node) => n.note?.startsWith(`f32: follow(${n.op})`) === true;
  const users = new Map<Value, Node[]>();
  for (const n of g.nodes) for (const v of n.operands) users.set(v, [...(users.get(v) ?? []), n]);
  const outputs = new Set(g.outputs);
  /** The chain under each cast that moves (top op first), by cast. */
  const chains = new Map<Node, Node[]>();
  const top = new Map<Node, Node>();
  for (const c of g.nodes) {
    if (c.op !== 'cast' || c.attrs.to !== 'f16' || c.operands[0]!.type.dtype !== 'f32') continue;
    const chain: Node[] = [];
    let v = c.operands[0]!;
    let reader: Node = c;
    while (v.def && HOISTS_OVER.has(v.def.op) && followsItsOperand(v.def) && v.def.results.length === 1 && !outputs.has(v) &&
      (users.get(v) ?? []).length === 1 && users.get(v)![0] === reader && v.def.operands[0]!.type.dtype === 'f32') {
      chain.unshift(v.def);
      reader = v.def;
      v = v.def.operands[0]!;
    }
    if (!chain.length) continue;
    chains.set(c, chain);
    top.set(chain[0]!, c);
  }
  if (!chains.size) return g;
  const hoisted = new Set([...chains.values()].flat());
  const rw = new Rewriter(g);
  /** A copy keeps its precision note's parts (values renamed to the new graph's). */
  const keepNote = (old: Node, copy: Node) => {
    const parts = noteParts(old);
    if (parts) setNoteParts(copy, parts.map((p) => (typeof p === 'string' ? p : (rw.map.get(p) ?? p))));
  };
  const hoist = (n: Node, copy: Node) => {
    copy.note = `f16: follow(${n.op}), the f16 cast after it moved above it (exact: rounding commutes with ${n.op})`;
    hoists[n.op] = (hoists[n.op] ?? 0) + 1;
  };
  for (const n of g.nodes) {
    const c = top.get(n);
    if (c) {
      // The cast moves to the chain's top: it reads what the chain read.
      const cast = rw.copy(c, { operands: [rw.get(n.operands[0]!)] });
      keepNote(c, cast);
      hoist(n, rw.copy(n, { operands: [cast.results[0]!, ...n.operands.slice(1).map((v) => rw.get(v))] }));
    } else if (hoisted.has(n)) {
      hoist(n, rw.copy(n));
    } else if (chains.has(n)) {
      // The cast's value is now the chain's last op, already f16.
      rw.replace(n.results[0]!, rw.get(n.operands[0]!));
    } else {
      keepNote(n, rw.copy(n));
    }
  }
  return rw.finish();
}

/** Casts removed by rule, and ops that f16 casts moved above (HOISTS_OVER), by op. */
export function cleanupCasts(input: Graph, rules: readonly CastRule[] = CAST_RULES): { graph: Graph; counts: CleanupCounts; hoisted: CleanupCounts } {
  const counts: CleanupCounts = ruleCounts([...rules.map((r) => r.name), 'dead']);
  const hoisted: CleanupCounts = {};
  const g = hoistNarrowingCasts(input, hoisted);
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
  return { graph: out, counts, hoisted };
}

export const castCleanupPass: Pass = {
  name: 'cast-cleanup',
  run(g: Graph, ctx: PassContext): Graph {
    const { graph, counts, hoisted } = cleanupCasts(g);
    const removed = Object.values(counts).reduce((a, b) => a + b, 0);
    const detail = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    const moved = Object.entries(hoisted).map(([k, v]) => `${k} ${v}`).join(', ');
    ctx.log?.(`cast-cleanup: @${g.name}: ${removed} casts removed (${detail})${moved ? `; f16 casts moved above ${moved}` : ''}`);
    return graph;
  },
};
