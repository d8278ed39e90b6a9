// Fusion: dead ops are dropped, an unscale_check read only by the update
// becomes a finite_check (passes/fusion/unscale.ts), then groups of
// elementwise ops, possibly headed by a matmul or a reduction
// (passes/fusion/groups.ts), become `fused` nodes (ir/ops-fused.ts) whose
// body graph holds the group's ops, with the constants they read inlined and
// the casts they read (a bias's f16 copy; with cast prologues a matmul's
// operands) recomputed in place, so each group runs as one kernel that keeps
// its intermediates in registers; a cast every reader recomputes is gone,
// with its buffer. A widening cast (f16 -> f32) read by a batch_norm or a
// reduction stays out of every group and each reader converts the f16 value
// as it loads: the deny-listed op computes in f32 from f16 storage, and no
// f32 copy is stored. The body keeps every op, dtype and cast of the group, so
// fusion changes no numerics; only values used outside the group (or
// returned) are results. A group of one op stays as it is unless it inlines
// something. Runs after precision, cast cleanup and the train step; the
// summary line gives groups formed, ops left alone by rule, and kernels
// before -> after.

import { Graph } from '../ir/graph.ts';
import type { Node, Value } from '../ir/graph.ts';
import { nameValues } from '../ir/text/printer.ts';
import { numel } from '../ir/types.ts';
import type { FusionGroup } from './fusion/groups.ts';
import { anchorOf, CAST_PROLOGUE_OPS, findGroups, isWideningCast, PROLOGUE_ONLY_OPS, WIDENING_PROLOGUE_OPS } from './fusion/groups.ts';
import { narrowFiniteChecks } from './fusion/finite.ts';
import { recomputeUnscaled } from './fusion/unscale.ts';
import { Rewriter, rewriteGraph } from './rewrite.ts';
import type { CastPrologues, Pass, PassContext } from './pass.ts';

/** Ops that lower to no kernel (views of their operand's buffer). */
const NO_KERNEL = new Set(['reshape']);

export interface FusionStats {
  /** Ops whose results nothing used, removed first. */
  readonly deadOps: number;
  /** unscale_checks whose unscaled gradients the optimizer now recomputes (finite_check instead). */
  readonly unscaleSplit: number;
  /** Gradients a finite_check no longer reads, by the FINITE_RULES rule that replaced them (passes/fusion/finite.ts). */
  readonly finiteNarrowed: Readonly<Record<string, number>>;
  readonly groups: number;
  /** Ops no group may take, by the FUSION_RULES rule that refused them. */
  readonly leftAlone: Readonly<Record<string, number>>;
  readonly opsFused: number;
  readonly constantsInlined: number;
  readonly kernelsBefore: number;
  readonly kernelsAfter: number;
}

export interface FusionOptions {
  /** Storage buffers one kernel may bind (default DEFAULT_MAX_BINDINGS). */
  readonly maxBindings?: number;
  /** Which cast operands matmuls convert as they load them (default true: all; see CastPrologues). */
  readonly castPrologues?: CastPrologues;
}

export function fuseGraph(input: Graph, opts: FusionOptions = {}): { graph: Graph; stats: FusionStats } {
  const prologues = opts.castPrologues ?? true;
  /** Whether a head with cast prologues converts the free cast `v` as it loads it. */
  const prologueOf = (v: Value): boolean => prologues === 'params' ? v.def!.operands[0]!.isParam : prologues;
  const kernelsBefore = countKernels(input);
  const { graph: live, removed: deadOps } = withoutDeadOps(input);
  const { graph: split, rewritten: unscaleSplit } = recomputeUnscaled(live);
  const { graph: g, counts: finiteNarrowed } = narrowFiniteChecks(split);
  const { groups: found, refused: leftAlone } = findGroups(g, opts.maxBindings);
  const names = nameValues(g);
  const isConstant = (v: Value) => v.def?.op === 'constant';
  const alone = new Set(found.filter((grp) => grp.nodes.length === 1).map((grp) => grp.nodes[0]!));
  const grouped = new Set(found.flatMap((grp) => grp.nodes));
  /** A cast no group holds with others (alone, or left out for its readers), which readers may recompute. */
  const freeCast = (v: Value) => v.def?.op === 'cast' && (alone.has(v.def) || !grouped.has(v.def));
  const freeWidening = (v: Value) => freeCast(v) && isWideningCast(v);
  // A group of one op gains nothing unless it inlines something: a constant, a cast (an
  // elementwise op recomputes it; a matmul converts it with cast prologues; batch_norm and
  // reductions read a widening one through).
  const groups = found.filter((grp) => {
    if (grp.nodes.length > 1) return true;
    const n = grp.nodes[0]!;
    if (WIDENING_PROLOGUE_OPS.has(n.op) && n.operands.some(freeWidening)) return true;
    if (!headOf(grp.nodes) && n.operands.some(freeCast)) return true;
    return CAST_PROLOGUE_OPS.has(n.op) ? n.operands.some((v) => freeCast(v) && prologueOf(v)) : !anchorOf(grp.nodes) && n.operands.some(isConstant);
  });
  const groupOf = new Map<Node, FusionGroup>();
  for (const grp of groups) for (const n of grp.nodes) groupOf.set(n, grp);

  // Emit in an order where every producer (node or group) precedes its users.
  const rw = new Rewriter(g);
  const usedOutside = new Set<Value>(g.outputs);
  for (const n of g.nodes) for (const v of n.operands) if (!(v.def && groupOf.get(v.def) && groupOf.get(v.def) === groupOf.get(n))) usedOutside.add(v);

  /**
   * Whether group `grp` recomputes `v` in its body instead of reading it: a
   * constant, or a cast outside any group (a matmul anchor converts it as it
   * loads its operand only with cast prologues; other anchors never).
   */
  const inlinedIn = (grp: FusionGroup | undefined, v: Value): boolean => {
    if (!grp || !v.def || grp.nodes.includes(v.def)) return false;
    if (isConstant(v)) return true;
    if (!freeCast(v) || groupOf.has(v.def)) return false;
    const head = headOf(grp.nodes);
    return !head?.operands.includes(v) || (CAST_PROLOGUE_OPS.has(head.op) && prologueOf(v)) || (WIDENING_PROLOGUE_OPS.has(head.op) && isWideningCast(v));
  };
  /** Values the kernel of `grp` reads from elsewhere (through inlined casts to their sources). */
  const reads = (grp: FusionGroup): Value[] => grp.nodes.flatMap((m) => m.operands.flatMap((v) => {
    if (v.def && grp.nodes.includes(v.def)) return [];
    if (inlinedIn(grp, v)) return isConstant(v) ? [] : v.def!.operands.filter((u) => !isConstant(u));
    return [v];
  }));

  let constantsInlined = 0;
  const emitItem = (item: Node | FusionGroup): void => {
    if ('nodes' in item) constantsInlined += emitGroup(rw, item, names, usedOutside, (v) => inlinedIn(item, v));
    else rw.copy(item);
  };
  // Depth first over producers, with an explicit stack (long graphs would overflow recursion).
  const done = new Set<Node | FusionGroup>();
  const emit = (root: Node | FusionGroup): void => {
    const stack: [Node | FusionGroup, boolean][] = [[root, false]];
    while (stack.length) {
      const [item, ready] = stack.pop()!;
      if (ready) {
        emitItem(item);
        continue;
      }
      if (done.has(item)) continue;
      done.add(item);
      stack.push([item, true]);
      const deps = 'nodes' in item ? reads(item) : item.operands;
      for (const v of deps) if (v.def && !done.has(groupOf.get(v.def) ?? v.def)) stack.push([groupOf.get(v.def) ?? v.def, false]);
    }
  };
  // Constants and casts that fused groups recompute are emitted only where something else still reads them.
  const needed = new Set<Node>();
  for (const n of g.nodes) for (const v of n.operands) if (v.def && !inlinedIn(groupOf.get(n), v)) needed.add(v.def);
  for (const v of g.outputs) if (v.def) needed.add(v.def);
  for (const n of g.nodes) {
    if ((n.op === 'constant' || n.op === 'cast') && !groupOf.has(n) && !needed.has(n)) continue;
    emit(groupOf.get(n) ?? n);
  }
  const out = rw.finish();
  const opsFused = groups.reduce((s, grp) => s + grp.nodes.length, 0);
  return { graph: out, stats: { deadOps, unscaleSplit, finiteNarrowed, leftAlone, groups: groups.length, opsFused, constantsInlined, kernelsBefore, kernelsAfter: countKernels(out) } };
}

/** `g` without the ops whose results reach no output (a copy when any are removed). */
export function withoutDeadOps(g: Graph): { graph: Graph; removed: number } {
  const live = new Set<Value>(g.outputs);
  const keep = new Set<Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.results.some((r) => live.has(r))) continue;
    keep.add(n);
    for (const v of n.operands) live.add(v);
  }
  if (keep.size === g.nodes.length) return { graph: g, removed: 0 };
  const out = rewriteGraph(g, (n) => !keep.has(n));
  return { graph: out, removed: g.nodes.length - keep.size };
}

/** Emits one group as a fused node; returns the number of constants inlined into its body. */
function emitGroup(
  rw: Rewriter, grp: FusionGroup, names: ReadonlyMap<Value, string>, usedOutside: ReadonlySet<Value>,
  inlined: (v: Value) => boolean,
): number {
  const body = new Graph(`fused.${rw.out.nodes.filter((n: Node) => n.op === 'fused').length}`, grp.nodes[0]!.loc);
  const inner = new Map<Value, Value>();
  const operands: Value[] = [];
  let constants = 0;
  /** `v` inside the body: an inlined constant or cast, or a body input. */
  const valueOf = (v: Value): Value => {
    let r = inner.get(v);
    if (r) return r;
    if (v.def?.op === 'constant') {
      r = body.addNode('constant', [], v.def.attrs, { declared: [v.type], loc: v.def.loc }).results[0]!;
      constants++;
    } else if (v.def && inlined(v)) {
      const c = v.def;
      const copy = body.addNode(c.op, c.operands.map(valueOf), c.attrs, { loc: c.loc, declared: [v.type], names: [v.name] });
      if (c.note !== undefined) copy.note = c.note;
      r = copy.results[0]!;
    } else {
      r = body.addInput(names.get(v)!, v.type);
      operands.push(rw.get(v));
    }
    inner.set(v, r);
    return r;
  };
  const head = headOf(grp.nodes);
  for (const n of grp.nodes) {
    // The head's cast operands are its prologue: a cast of their own, read by nothing else.
    const own = n === head ? n.operands.map((v) => (v.def?.op === 'cast' && inlined(v) ? v : undefined)) : [];
    const operandsIn = n.operands.map((v, k) => {
      const c = own[k]?.def;
      if (!c) return (v.def && grp.nodes.includes(v.def)) ? undefined : valueOf(v);
      const copy = body.addNode('cast', [valueOf(c.operands[0]!)], c.attrs, { loc: c.loc, declared: [v.type], names: [v.name] });
      if (c.note !== undefined) copy.note = c.note;
      return copy.results[0]!;
    });
    const copy = body.addNode(n.op, n.operands.map((v, k) => operandsIn[k] ?? inner.get(v)!), n.attrs, { loc: n.loc, declared: n.results.map((r) => r.type), names: n.results.map((r) => r.name) });
    if (n.note !== undefined) copy.note = n.note;
    n.results.forEach((r, i) => inner.set(r, copy.results[i]!));
  }
  // Constants first, as written; then the group's ops in program order.
  body.nodes.sort((a, b) => (a.op === 'constant' ? 0 : 1) - (b.op === 'constant' ? 0 : 1));
  const results = grp.nodes.flatMap((n) => n.results).filter((r) => usedOutside.has(r));
  body.setOutputs(results.map((r) => inner.get(r)!));
  const last = grp.nodes[grp.nodes.length - 1]!;
  const scopes = new Set(grp.nodes.map((n) => n.scope));
  const node = rw.out.addNode('fused', operands, {}, {
    loc: last.loc,
    names: results.map((r) => r.name),
    body,
    ...(scopes.size === 1 && last.scope !== undefined ? { scope: last.scope } : {}),
  });
  const bodyHead = headOf(body.nodes);
  const prologueCasts = bodyHead && (CAST_PROLOGUE_OPS.has(bodyHead.op) || WIDENING_PROLOGUE_OPS.has(bodyHead.op))
    ? body.nodes.filter((n) => n.op === 'cast' && bodyHead.operands.includes(n.results[0]!)).length : 0;
  node.note = fusedNote(grp, constants, prologueCasts);
  results.forEach((r, i) => rw.replace(r, node.results[i]!));
  return constants;
}

/** `fused: 17 elementwise ops over f32[16,32] (mul ×6, add ×3, ...), 3 constants inlined, one kernel instead of 20`. */
function fusedNote(grp: FusionGroup, constants: number, prologues = 0): string {
  const counts = new Map<string, number>();
  for (const n of grp.nodes) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  const ops = [...counts].map(([op, k]) => (k > 1 ? `${op} ×${k}` : op)).join(', ');
  const r = grp.nodes[grp.nodes.length - 1]!.results[0]!;
  const anchor = headOf(grp.nodes);
  const ew = grp.nodes.length - (anchor ? 1 : 0);
  const over = r.type.shape.length ? r.type.shape.join('x') : 'a scalar';
  const operands = anchor?.op === 'matmul' ? (prologues === 2 ? 'both operands' : 'an operand') : prologues === 1 ? 'an operand' : `${prologues} operands`;
  const loads = prologues ? `, converting ${operands} as it loads (cast prologue)` : '';
  const what = anchor && PROLOGUE_ONLY_OPS.has(anchor.op) ? `${anchor.op}${loads}` : anchor ? `${anchor.op}${loads}${ew ? ` with a ${ew}-op epilogue` : ''} over ${over}` : `${ew} elementwise op${ew > 1 ? 's' : ''} over ${over}`;
  return `fused: ${what}${grp.nodes.length > 1 ? ` (${ops})` : ''}${constants ? `, ${constants} constant${constants > 1 ? 's' : ''} inlined` : ''}: one kernel instead of ${grp.nodes.length + constants + prologues}`;
}

/** `finite check reads what decides the gradients (widened-matmul 2, ...), ` when a rule fired. */
function describeNarrowed(counts: Readonly<Record<string, number>>): string {
  const fired = Object.entries(counts).filter(([, k]) => k > 0);
  return fired.length ? `finite check reads what decides the gradients (${fired.map(([r, k]) => `${r} ${k}`).join(', ')}), ` : '';
}

/** `; left alone: not-elementwise 12, ...` for the rules that refused something. */
function describeLeftAlone(counts: Readonly<Record<string, number>>): string {
  const fired = Object.entries(counts).filter(([, k]) => k > 0);
  return fired.length ? `; left alone: ${fired.map(([r, k]) => `${r} ${k}`).join(', ')}` : '';
}

/** The op heading a group: its anchor (matmul, reduction), or its one prologue-only op (finite_check, batch_norm). */
function headOf(nodes: readonly Node[]): Node | undefined {
  return anchorOf(nodes) ?? nodes.find((n) => PROLOGUE_ONLY_OPS.has(n.op));
}

/** Nodes that launch a kernel: all but views and empty results. */
export function countKernels(g: Graph): number {
  return g.nodes.filter((n) => !NO_KERNEL.has(n.op) && !n.results.every((r) => numel(r.type.shape) === 0)).length;
}

export const fusionPass: Pass = {
  name: 'fusion',
  run(g: Graph, ctx: PassContext): Graph {
    const { graph, stats } = fuseGraph(g, {
      ...(ctx.options.maxKernelBindings ? { maxBindings: ctx.options.maxKernelBindings } : {}),
      ...(ctx.options.castPrologues !== undefined ? { castPrologues: ctx.options.castPrologues } : {}),
    });
    ctx.log?.(`fusion: @${g.name}: ${stats.deadOps ? `${stats.deadOps} dead ops removed, ` : ''}${stats.unscaleSplit ? 'unscaled gradients recomputed in the update, ' : ''}${describeNarrowed(stats.finiteNarrowed)}${stats.groups} groups of ${stats.opsFused} ops (${stats.constantsInlined} constants inlined${describeLeftAlone(stats.leftAlone)}), kernels ${stats.kernelsBefore} -> ${stats.kernelsAfter}`);
    return graph;
  },
};

