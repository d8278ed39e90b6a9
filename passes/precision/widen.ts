// Widened gradient accumulators: under AMP a weight gradient comes out of an
// f16 matmul or reduction that accumulates in f32, is rounded to f16 on the
// store, and is widened straight back to f32 for the optimizer by the cast's
// vjp (the gradient of the f16 copy of an f32 master weight). When that
// widening cast is the op's only reader, the op writes its f32 accumulator
// instead (a result declared in its accumulator's dtype, ir/op-def.ts
// accumulatorResult — XLA's `preferred_element_type`): one rounding fewer, no
// f16 copy to store and convert, and no overflow of the f16 range to trip the
// finite check. Gradients keep their names; the op's note says why.
//
// It also makes the gradient's finiteness a property of the op's f16
// operands alone (passes/fusion/finite.ts), which lets fusion run each
// parameter's guarded update in the epilogue of the op that computes its
// gradient, so no weight gradient is ever stored.

import type { Graph, Node, Value } from '../../ir/graph.ts';
import { tensorType } from '../../ir/types.ts';
import { rewriteGraph } from '../rewrite.ts';

/** Ops whose result may be declared in their accumulator's dtype. */
export const WIDENABLE_OPS: ReadonlySet<string> = new Set(['matmul', 'reduce_sum', 'reduce_mean']);

/**
 * The producer a widening cast `c` folds into: an f16 WIDENABLE op with
 * `acc = f32`, read by nothing but `c` and not an output.
 */
function foldable(c: Node, readers: ReadonlyMap<Value, number>, outputs: ReadonlySet<Value>): Node | undefined {
  const src = c.operands[0]!;
  const p = src.def;
  if (c.op !== 'cast' || c.attrs.to !== 'f32' || src.type.dtype !== 'f16' || !p) return undefined;
  if (!WIDENABLE_OPS.has(p.op) || p.attrs.acc !== 'f32' || readers.get(src) !== 1 || outputs.has(src)) return undefined;
  return p;
}

/** Folds the widening cast of each of `grads` (values of `g`) into its producer where it may; `grads` mapped to the new graph. */
export function widenGradientAccumulators(g: Graph, grads: readonly Value[]): { graph: Graph; grads: Value[]; widened: number } {
  const readers = new Map<Value, number>();
  for (const n of g.nodes) for (const v of n.operands) readers.set(v, (readers.get(v) ?? 0) + 1);
  const outputs = new Set(g.outputs);
  const folds = new Map<Node, Node>(); // cast -> producer
  for (const d of grads) {
    const p = d.def && foldable(d.def, readers, outputs);
    if (p) folds.set(d.def!, p);
  }
  if (folds.size === 0) return { graph: g, grads: [...grads], widened: 0 };
  const producers = new Set(folds.values());
  const graph = rewriteGraph(g, (n, rw) => {
    if (producers.has(n)) return true; // emitted at its cast, widened
    const p = folds.get(n);
    if (!p) return false;
    const r = n.results[0]!;
    const w = rw.copy(p, { declared: [tensorType('f32', r.type.shape)] });
    w.results[0]!.name = r.name;
    w.note = `${p.note ? `${p.note}; ` : ''}f32 result: its f32 accumulator, which only the widening to the f32 gradient read (no rounding to f16)`;
    rw.replace(r, w.results[0]!);
    return true;
  });
  const newOf = new Map(graph.outputs.map((v, i) => [g.outputs[i]!, v]));
  return { graph, grads: grads.map((d) => newOf.get(d)!), widened: folds.size };
}
