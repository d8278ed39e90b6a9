// Which nodes fuse: groups of elementwise nodes of one result shape, grown
// greedily from the end of the program (a node joins the groups of the ops
// that read it), then small groups of one shape merged side by side. A matmul
// or a reduction may head a group (its anchor): the elementwise ops after it
// over its result shape become its epilogue (bias, activation, scale, output
// cast), run on the finished value before it is stored. A group must stay convex: no
// path may leave it and come back (else the fused kernel would need a value
// computed after it); it holds at most one anchor, and nothing of the group
// may feed its anchor. The legality rules are a table (FUSION_RULES).

import type { Graph, Node, Value } from '../../ir/graph.ts';
import { hasTrait } from '../../ir/ops.ts';
import { numel, shapesEqual } from '../../ir/types.ts';

export interface FusionGroup {
  /** Members in program order. */
  readonly nodes: readonly Node[];
}

/** Ops that can head a group, their elementwise consumers fused as epilogue (over the anchor's result shape). */
export const ANCHOR_OPS: ReadonlySet<string> = new Set(['matmul', 'reduce_sum', 'reduce_mean', 'reduce_max']);

/**
 * Ops that form a group of their own, never merged with anything: their
 * kernel takes no epilogue, but converts cast operands as it loads them (its
 * prologue). finite_check: one bit for many tensors; batch_norm: several
 * results, two kernels.
 */
export const PROLOGUE_ONLY_OPS: ReadonlySet<string> = new Set(['finite_check', 'batch_norm']);

/** Ops that, heading a group, convert their cast operands as they load them (with cast prologues). */
export const CAST_PROLOGUE_OPS: ReadonlySet<string> = new Set(['matmul', 'finite_check']);

/**
 * Ops whose kernels read an operand of a widening cast (f16 -> f32, exact)
 * from its f16 source and convert it as they load, on every target: a
 * deny-listed op (batch_norm, reductions) then reads f16 storage and computes
 * in f32 in its own kernel, as cast-then-op does, without the f32 copy.
 */
export const WIDENING_PROLOGUE_OPS: ReadonlySet<string> = new Set(['reduce_sum', 'reduce_mean', 'reduce_max', 'batch_norm']);

/** A value made by an exact widening cast (f16 -> f32). */
export function isWideningCast(v: Value): boolean {
  return v.def?.op === 'cast' && v.def.operands[0]!.type.dtype === 'f16' && v.type.dtype === 'f32';
}

export function anchorOf(nodes: readonly Node[]): Node | undefined {
  return nodes.find((n) => ANCHOR_OPS.has(n.op));
}

/** Why a node may join fusion at all; the first rule that refuses wins. */
export interface FusionRule {
  readonly name: string;
  readonly refuses: (n: Node) => boolean;
}

export const FUSION_RULES: readonly FusionRule[] = [
  { name: 'not-elementwise', refuses: (n) => n.op === 'constant' || !(hasTrait(n.op, 'elementwise') || ANCHOR_OPS.has(n.op)) },
  { name: 'several-results', refuses: (n) => n.results.length !== 1 },
  // An anchor's operands are read from buffers by its kernel; a splat constant has none.
  { name: 'anchor-reads-constant', refuses: (n) => ANCHOR_OPS.has(n.op) && n.operands.some((v) => v.def?.op === 'constant') },
  { name: 'empty', refuses: (n) => numel(n.results[0]!.type.shape) === 0 },
];

/** Side-by-side merging of independent groups only below this many elements (launch cost dominates there). */
export const HORIZONTAL_MAX_ELEMENTS = 4096;

/**
 * Large values a group may write for ops after it (graph outputs aside). The
 * unfused graph computes each just before its reader and frees it after;
 * a group computes them all at once, so each one more raises the peak.
 * bench/memory.ts, MNIST CNN train step (f32, batch 64): without a cap the
 * batch-norm backward wrote five activation-sized tensors at once, 30.5 MiB
 * (unfused: 21.4); a cap of 2: 21.3 MiB; of 1: 18.7 MiB, for 6 more dispatches.
 */
export const MAX_LARGE_INTERMEDIATES = 1;

/**
 * Storage buffers a kernel may bind when no device says (a dump): 16, what
 * lavapipe and NVIDIA's Vulkan driver give through Dawn. Compiles for a
 * device use its maxStorageBuffersPerShaderStage (SwiftShader: 10; WebGPU's
 * guaranteed minimum: 8), and fusion then forms smaller kernels.
 */
export const DEFAULT_MAX_BINDINGS = 16;

export function findGroups(g: Graph, maxBindings = DEFAULT_MAX_BINDINGS): { groups: FusionGroup[]; refused: Record<string, number> } {
  const graphOutputs = new Set(g.outputs);
  const index = new Map<Node, number>(g.nodes.map((n, i) => [n, i]));
  const users = new Map<Value, Node[]>();
  for (const n of g.nodes) for (const v of n.operands) {
    let u = users.get(v);
    if (!u) users.set(v, (u = []));
    u.push(n);
  }
  const groupOf = new Map<Node, FusionGroup>();
  const refused: Record<string, number> = Object.fromEntries([...FUSION_RULES.map((r) => r.name), RECOMPUTED].map((r) => [r, 0]));
  const recomputed = recomputedWidenings(g, users, graphOutputs);

  /** No path leaves `members` and re-enters it; at most one anchor, fed by nothing of the group. */
  const legal = (members: ReadonlySet<Node>): boolean => {
    if (members.size > 1 && [...members].some((m) => PROLOGUE_ONLY_OPS.has(m.op))) return false;
    const anchors = [...members].filter((m) => ANCHOR_OPS.has(m.op));
    if (anchors.length > 1) return false;
    if (anchors[0] && anchors[0].operands.some((v) => v.def && members.has(v.def))) return false;
    return bindings(members) <= maxBindings && largeIntermediates(members) <= MAX_LARGE_INTERMEDIATES && convex(members);
  };
  /** Results of the group read after it, not graph outputs, above the horizontal-merge size: all live at once once the group ran. */
  const largeIntermediates = (members: ReadonlySet<Node>): number => {
    let k = 0;
    for (const m of members) for (const r of m.results) {
      if (numel(r.type.shape) > HORIZONTAL_MAX_ELEMENTS && !graphOutputs.has(r) && (users.get(r) ?? []).some((u) => !members.has(u))) k++;
    }
    return k;
  };
  /** Buffers the group's kernel binds: values it reads from outside (constants are inlined) and values it returns. */
  const bindings = (members: ReadonlySet<Node>): number => {
    const read = new Set<Value>();
    let written = 0;
    for (const m of members) {
      for (const v of m.operands) if (!(v.def && members.has(v.def)) && v.def?.op !== 'constant') read.add(v);
      for (const r of m.results) if (graphOutputs.has(r) || (users.get(r) ?? []).some((u) => !members.has(u))) written++;
    }
    return read.size + written;
  };
  // Paths are followed through whole groups: a group runs as one kernel, so
  // each of its results waits for all of its inputs. Checking this on every
  // merge keeps the graph of groups acyclic, not just each group convex.
  const convex = (members: ReadonlySet<Node>): boolean => {
    const seen = new Set<Node>();
    const stack: Node[] = [];
    for (const m of members) for (const r of m.results) for (const u of users.get(r) ?? []) if (!members.has(u)) stack.push(u);
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      const unit = groupOf.get(n)?.nodes ?? [n];
      for (const m of unit) seen.add(m);
      for (const m of unit) for (const r of m.results) for (const u of users.get(r) ?? []) {
        if (members.has(u)) return false;
        if (!seen.has(u)) stack.push(u);
      }
    }
    return true;
  };
  const merge = (parts: readonly FusionGroup[], extra: Node[]): FusionGroup => {
    const nodes = [...parts.flatMap((p) => p.nodes), ...extra].sort((a, b) => index.get(a)! - index.get(b)!);
    const grp: FusionGroup = { nodes };
    for (const n of nodes) groupOf.set(n, grp);
    return grp;
  };
  const shapeOf = (n: Node) => n.results[0]!.type.shape;

  // Consumers first (as XLA's instruction fusion): a node joins the groups of
  // the ops that read it. Forward chains end up whole either way, but going
  // backwards a value read both by a guard and by an outside op (a weight
  // gradient read by the finite check and by its update) stays the output of
  // its producer's kernel, and the update's whole chain lands in one kernel
  // after the check instead of being split around it.
  for (const n of [...g.nodes].reverse()) {
    if (PROLOGUE_ONLY_OPS.has(n.op)) {
      merge([], [n]);
      continue;
    }
    const rule = FUSION_RULES.find((r) => r.refuses(n));
    if (rule) {
      if (n.op !== 'constant') refused[rule.name]!++;
      continue;
    }
    if (recomputed.has(n)) {
      refused[RECOMPUTED]!++;
      continue;
    }
    const candidates: FusionGroup[] = [];
    for (const u of users.get(n.results[0]!) ?? []) {
      const grp = groupOf.get(u);
      if (grp && !candidates.includes(grp) && shapesEqual(shapeOf(grp.nodes[0]!), shapeOf(n))) candidates.push(grp);
    }
    const all = new Set<Node>([n, ...candidates.flatMap((c) => c.nodes)]);
    if (candidates.length && legal(all)) {
      merge(candidates, [n]);
      continue;
    }
    const one = candidates.find((c) => legal(new Set([n, ...c.nodes])));
    merge(one ? [one] : [], [n]);
  }

  // Side by side: small groups of one shape (scalar bookkeeping, bias-sized updates).
  const groups = [...new Set(groupOf.values())].sort((a, b) => index.get(a.nodes[0]!)! - index.get(b.nodes[0]!)!);
  for (let i = 0; i < groups.length; i++) {
    let a = groups[i]!;
    if (numel(shapeOf(a.nodes[0]!)) > HORIZONTAL_MAX_ELEMENTS || anchorOf(a.nodes) || PROLOGUE_ONLY_OPS.has(a.nodes[0]!.op)) continue;
    for (let j = i + 1; j < groups.length; j++) {
      const b = groups[j]!;
      if (!shapesEqual(shapeOf(a.nodes[0]!), shapeOf(b.nodes[0]!)) || anchorOf(b.nodes)) continue;
      if (!legal(new Set([...a.nodes, ...b.nodes]))) continue;
      groups[i] = a = merge([a, b], []);
      groups.splice(j--, 1);
    }
  }
  return { groups, refused };
}

/** Why a widening cast joins no group: its readers recompute it (recomputedWidenings). */
const RECOMPUTED = 'recomputed-by-readers';

/**
 * Widening casts (f16 -> f32) that stay out of every group so that each
 * reader converts the f16 source itself: casts read by a batch_norm or a
 * reduction (whose kernels convert as they load, WIDENING_PROLOGUE_OPS), all
 * of whose other readers are elementwise ops (which recompute it in their
 * groups). The f32 copy is then never stored: the AMP CNN's batch-norm input
 * stays f16 in memory through the backward that reads it again. A cast read
 * only by elementwise ops joins their group as before (a matmul's widened
 * output then feeds its epilogue directly).
 */
function recomputedWidenings(g: Graph, users: ReadonlyMap<Value, Node[]>, graphOutputs: ReadonlySet<Value>): Set<Node> {
  const out = new Set<Node>();
  for (const n of g.nodes) {
    const r = n.results[0];
    if (!r || !isWideningCast(r) || graphOutputs.has(r)) continue;
    const readers = users.get(r) ?? [];
    const byKernel = readers.filter((u) => WIDENING_PROLOGUE_OPS.has(u.op));
    const fusable = (u: Node) => hasTrait(u.op, 'elementwise') && !FUSION_RULES.some((rule) => rule.refuses(u));
    if (byKernel.length && readers.every((u) => WIDENING_PROLOGUE_OPS.has(u.op) || fusable(u))) out.add(n);
  }
  return out;
}
