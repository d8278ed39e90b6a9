// Before grouping, after the unscale split (passes/fusion/unscale.ts): a
// finite_check checks, instead of a gradient, the values that decide whether
// that gradient is finite, when that is exact (a rule table, each rule
// counted):
//
//   widened-matmul  g = matmul(a, b) with f16 operands, acc = f32 and an f32
//                   result (passes/precision/widen.ts): each product is at
//                   most 65504² ≈ 4.3e9, so a sum of K of them overflows f32
//                   only past K ≈ 7.9e28: g is finite iff a and b are (with
//                   M, N, K ≥ 1 every element of a and b reaches some element
//                   of g, and ±inf or NaN in a product makes its sums ±inf or
//                   NaN: inf·0 is NaN, inf - inf is NaN)
//   widened-reduce  g = reduce_sum / reduce_mean(h) with f16 h, acc = f32, an
//                   f32 result and every row non-empty: likewise, h
//   widening-cast   g = cast(h: f16) to f32: h
//
// A weight gradient's finiteness then depends on its matmul's operands (the
// batch and the activation's gradient, both smaller than the weight), not on
// the gradient: the check runs before the gradient is computed, so fusion can
// run the guarded update in the epilogue of the matmul that computes it and
// no weight gradient is ever stored (as the f32 step, which has no check).
// Checking the operands is also robust where a driver's float arithmetic is
// not IEEE (WGSL lets implementations assume no inf and NaN): the check reads
// bits that were stored, not the result of arithmetic on them.

import type { Graph, Node, Value } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import type { RewriteRule } from '../rewrite.ts';
import { applyRules, rewriteGraph, ruleCounts } from '../rewrite.ts';

/** A checked value and, when a rule applies, the values to check instead. */
export type FiniteRule = RewriteRule<Value, readonly Value[]>;

const isF16 = (v: Value) => v.type.dtype === 'f16';
const widened = (n: Node) => n.attrs.acc === 'f32' && n.results[0]!.type.dtype === 'f32' && n.operands.every(isF16);

export const FINITE_RULES: readonly FiniteRule[] = [
  {
    name: 'widened-matmul',
    rewrite: (g) => {
      const n = g.def;
      if (n?.op !== 'matmul' || !widened(n)) return undefined;
      const [a, b] = n.operands as [Value, Value];
      const k = a.type.shape.at(n.attrs.transpose_a ? -2 : -1)!;
      return k > 0 && numel(g.type.shape) > 0 ? [a, b] : undefined;
    },
  },
  {
    name: 'widened-reduce',
    rewrite: (g) => {
      const n = g.def;
      if ((n?.op !== 'reduce_sum' && n?.op !== 'reduce_mean') || !widened(n)) return undefined;
      const h = n.operands[0]!;
      return numel(g.type.shape) > 0 && numel(h.type.shape) > 0 ? [h] : undefined;
    },
  },
  {
    name: 'widening-cast',
    rewrite: (g) => (g.def?.op === 'cast' && g.type.dtype === 'f32' && isF16(g.def.operands[0]!) ? [g.def.operands[0]!] : undefined),
  },
];

/** The values deciding the finiteness of `v`: the rules applied until none does, counted in `counts`. */
function deciding(v: Value, counts: Record<string, number>): Value[] {
  const out: Value[] = [];
  const stack = [v];
  while (stack.length) {
    const x = stack.pop()!;
    const instead = applyRules(FINITE_RULES, x, counts);
    if (instead) stack.push(...[...instead].reverse());
    else out.push(x);
  }
  return out;
}

/** Every finite_check of `g` checking the deciding values of its gradients (each value once). */
export function narrowFiniteChecks(g: Graph): { graph: Graph; counts: Record<string, number> } {
  const counts = ruleCounts(FINITE_RULES.map((r) => r.name));
  if (!g.nodes.some((n) => n.op === 'finite_check')) return { graph: g, counts };
  const graph = rewriteGraph(g, (n, rw) => {
    if (n.op !== 'finite_check') return false;
    const [inv, ...grads] = n.operands as [Value, ...Value[]];
    const checked = [...new Set(grads.flatMap((v) => deciding(v, counts)))];
    const copy = rw.copy(n, { operands: [rw.get(inv), ...checked.map((v) => rw.get(v))] });
    const narrowed = checked.length !== grads.length || checked.some((v, i) => v !== grads[i]);
    if (narrowed) copy.note = `${n.note ? `${n.note}; ` : ''}reads the f16 values that decide each gradient's finiteness, so no update waits for a stored gradient`;
    return true;
  });
  return { graph, counts };
}
