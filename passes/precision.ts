// The AMP precision pass: gives every float op a precision from the policy
// (passes/precision/policy.ts) and inserts the casts, returning a new graph.
// Inputs keep their declared dtypes (params stay f32 master weights), graph
// outputs are cast back to their declared dtypes, every float value is cast
// at most once per dtype (shared), and every float node gets a note saying
// why it runs in its precision, e.g. `f16: allow(matmul)`.
//
// The case a naive "widest input" rule gets wrong: a bias add between two f16
// matmuls, whose bias is an f32 param. A promote op whose f32 inputs are all
// "weak" (params, constants, or shape ops of them: values no f32 computation
// produced) while another input is an f16 activation runs in f16 and casts the
// weak inputs down, as TF's infer painting and TVM's FOLLOW do. A constant
// whose value does not fit in f16 is never weak.

import type { DType } from '../ir/dtype.ts';
import { isFloat } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { Node, Value } from '../ir/graph.ts';
import type { Pass, PassContext, PassOptions } from './pass.ts';
import { Rewriter } from './rewrite.ts';
import type { NotePart } from './precision/notes.ts';
import { renderNotes, setNoteParts } from './precision/notes.ts';
import type { Precision, PrecisionOverrides } from './precision/policy.ts';
import { AmpcError } from '../ir/errors.ts';
import { didYouMean } from '../ir/suggest.ts';
import { classOf, readOverrides, scopeOverride } from './precision/policy.ts';

export { PRECISION_CLASSES, classOf, readOverrides } from './precision/policy.ts';
export type { Precision, PrecisionClass, PrecisionOverrides } from './precision/policy.ts';

const F16_MAX = 65504;

/** Shares casts: one cast per value per dtype. */
class CastCache {
  readonly casts = new Map<Value, Map<DType, Value>>();
  inserted = 0;
  constructor(private readonly g: Graph) {}

  to(v: Value, d: DType): Value {
    if (v.type.dtype === d) return v;
    let byType = this.casts.get(v);
    if (!byType) this.casts.set(v, (byType = new Map()));
    let c = byType.get(d);
    if (!c) {
      c = this.g.add('cast', [v], { to: d }, { loc: v.def?.loc });
      this.inserted++;
      byType.set(d, c);
      // Widening f16→f32 is exact, so casting back gives the source; f32→f16→f32 is not an identity.
      if (v.type.dtype === 'f16' && d === 'f32') this.casts.set(c, new Map<DType, Value>([['f16', v]]));
    }
    return c;
  }
}

interface Decision {
  readonly precision: Precision;
  readonly note: readonly NotePart[];
  /** Operands (new values) to cast to the precision; by default all float operands. */
}

function hasFloat(vs: readonly Value[]): boolean {
  return vs.some((v) => isFloat(v.type.dtype));
}

function widest(vs: readonly Value[]): Precision {
  return vs.some((v) => v.type.dtype === 'f32') ? 'f32' : 'f16';
}

/** Values computed without f32 arithmetic of the graph: params, f16-safe constants, and follow ops of them. */
function weakValues(g: Graph, o: PrecisionOverrides): Set<Value> {
  const weak = new Set<Value>(g.params);
  for (const n of g.nodes) {
    let isWeak: boolean;
    if (n.op === 'constant') isWeak = Math.abs(n.attrs.value as number) <= F16_MAX;
    else if (n.op !== 'cast' && classOf(n.op, o) === 'follow' && !n.results.some((r) => r.name && o.nodes.has(r.name)) && !scopeOverride(n.scope, o)) {
      const fl = n.operands.filter((v) => isFloat(v.type.dtype));
      isWeak = fl.length > 0 && fl.every((v) => weak.has(v));
    } else isWeak = false;
    if (isWeak) for (const r of n.results) weak.add(r);
  }
  return weak;
}

function describeWeak(old: Value): string {
  return old.isParam ? 'param' : old.def?.op === 'constant' ? 'constant' : 'from param';
}

function decide(n: Node, mapped: readonly Value[], o: PrecisionOverrides, weak: ReadonlySet<Value>): Decision | undefined {
  const override = n.results.find((r) => r.name !== undefined && o.nodes.has(r.name));
  if (override) return { precision: o.nodes.get(override.name!)!, note: [`${o.nodes.get(override.name!)!}: override(node `, override, ')'] };
  const inScope = n.op === 'cast' ? undefined : scopeOverride(n.scope, o);
  if (inScope && (hasFloat(mapped) || hasFloat(n.results))) return { precision: inScope.precision, note: [`${inScope.precision}: override(scope ${inScope.scope})`] };
  const floats = mapped.filter((v) => isFloat(v.type.dtype));
  const cls = classOf(n.op, o);
  if (n.op === 'cast') {
    const to = n.attrs.to as DType;
    return isFloat(to) ? { precision: to as Precision, note: [`${to}: cast as written`] } : undefined;
  }
  switch (cls) {
    case 'allow':
      return { precision: 'f16', note: [`f16: allow(${n.op})`] };
    case 'deny':
      return { precision: 'f32', note: [`f32: deny(${n.op})`] };
    case 'follow': {
      if (!floats.length) {
        const d = n.results.find((r) => isFloat(r.type.dtype))?.type.dtype as Precision | undefined;
        return d ? { precision: d, note: [`${d}: follow(${n.op})`] } : undefined;
      }
      const p = widest(floats);
      return { precision: p, note: [`${p}: follow(${n.op}${floats.length > 1 && floats.some((v) => v.type.dtype !== p) ? ': widest input' : ''})`] };
    }
    case 'promote': {
      if (widest(floats) === 'f16') return { precision: 'f16', note: [`f16: promote(${n.op}: f16 inputs)`] };
      // Old operands beside their new values, to tell params and activations apart.
      const pairs = n.operands.map((old, i) => ({ old, now: mapped[i]! })).filter((p) => isFloat(p.now.type.dtype));
      const strong32 = pairs.filter((p) => p.now.type.dtype === 'f32' && !weak.has(p.old));
      const act16 = pairs.filter((p) => p.now.type.dtype === 'f16' && !weak.has(p.old));
      if (!strong32.length && act16.length) {
        const note: NotePart[] = [`f16: promote(${n.op}: f16 activation `, act16[0]!.now];
        for (const p of pairs) if (p.now.type.dtype === 'f32') note.push(`, ${describeWeak(p.old)} `, p.now, ' cast');
        note.push(')');
        return { precision: 'f16', note };
      }
      const first = strong32[0] ?? pairs.find((p) => p.now.type.dtype === 'f32')!;
      return { precision: 'f32', note: [`f32: promote(${n.op}: f32 input `, first.now, ')'] };
    }
  }
}

export interface PrecisionStats {
  f16: number;
  f32: number;
  castsInserted: number;
}

/**
 * E0609 for a value or scope named by ampNodes / ampScopes that the graph
 * does not have (a typo would otherwise be silently ignored), with the close
 * matches. A scope exists when a node was traced in it or below it.
 */
function checkOverrideNames(g: Graph, o: ReturnType<typeof readOverrides>): void {
  const values = new Set<string>();
  for (const n of g.nodes) for (const r of n.results) if (r.name !== undefined) values.add(r.name);
  for (const v of g.inputs) if (v.name !== undefined) values.add(v.name);
  for (const key of o.nodes.keys()) {
    if (!values.has(key)) throw new AmpcError('E0609', `ampNodes: @${g.name} has no value %${key}${didYouMean(key, values, (c) => `%${c}`)}`);
  }
  const scopes = new Set<string>();
  for (const n of g.nodes) for (let s = n.scope; s; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : undefined) scopes.add(s);
  for (const key of o.scopes.keys()) {
    if (!scopes.has(key)) {
      const known = scopes.size ? didYouMean(key, scopes) || ` (its scopes: ${[...scopes].slice(0, 8).join(', ')}${scopes.size > 8 ? ', …' : ''})` : ' (it was not traced with scopes)';
      throw new AmpcError('E0609', `ampScopes: @${g.name} has no scope '${key}'${known}`);
    }
  }
}

/** Assigns precisions and inserts casts; returns the new graph and counts. */
export function assignPrecision(g: Graph, options: PassOptions): { graph: Graph; stats: PrecisionStats } {
  const o = readOverrides(options);
  checkOverrideNames(g, o);
  const weak = weakValues(g, o);
  const rw = new Rewriter(g);
  const casts = new CastCache(rw.out);
  const stats: PrecisionStats = { f16: 0, f32: 0, castsInserted: 0 };

  for (const n of g.nodes) {
    const mapped = n.operands.map((v) => rw.get(v));
    const isFloatNode = hasFloat(mapped) || hasFloat(n.results);
    const d = isFloatNode ? decide(n, mapped, o, weak) : undefined;
    let operands = mapped;
    if (d && n.op !== 'cast') operands = mapped.map((v) => (isFloat(v.type.dtype) ? casts.to(v, d.precision) : v));
    const attrs = { ...n.attrs };
    // Float results of sources (constants, iota) and of one_hot take the chosen precision.
    let declared = n.op === 'constant' ? n.results.map((r) => r.type) : undefined;
    if (d && n.op === 'constant') declared = n.results.map((r) => ({ ...r.type, dtype: d.precision }));
    if (d && (n.op === 'one_hot' || n.op === 'iota') && isFloat(attrs.dtype as DType)) attrs.dtype = d.precision;
    const copy = rw.copy(n, { operands, attrs, ...(declared ? { declared } : {}) });
    delete copy.note; // the precision decision is the note
    if (d) {
      setNoteParts(copy, d.note);
      stats[d.precision]++;
    }
  }
  const out = rw.finish();
  out.setOutputs(out.outputs.map((v: Value, i: number) => casts.to(v, g.outputs[i]!.type.dtype)));
  stats.castsInserted = casts.inserted;
  renderNotes(out);
  return { graph: out, stats };
}

export const precisionPass: Pass = {
  name: 'amp-precision',
  run(g: Graph, ctx: PassContext): Graph {
    const fused = g.nodes.find((n) => n.op === 'fused');
    if (fused) throw new AmpcError('E0404', `amp-precision: @${g.name} is already fused; precision is assigned before fusion (run it on the unfused graph)`, fused.loc ?? g.loc);
    const { graph, stats } = assignPrecision(g, ctx.options);
    ctx.log?.(`amp-precision: @${g.name}: ${stats.f16} ops in f16, ${stats.f32} in f32, ${stats.castsInserted} casts inserted`);
    return graph;
  },
};
