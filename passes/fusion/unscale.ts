// Before grouping: an unscale_check whose unscaled gradients only
// elementwise ops read (the optimizer's update) becomes a finite_check, and
// each reader gets `mul %grad, %inv_scale` — the very product unscale_check
// stores, so the numerics are unchanged — which fusion then pulls into the
// update's kernel. The step then holds no unscaled copy of any gradient.

import type { Graph, Node, Value } from '../../ir/graph.ts';
import { hasTrait } from '../../ir/ops.ts';
import { rewriteGraph } from '../rewrite.ts';

export function recomputeUnscaled(g: Graph): { graph: Graph; rewritten: number } {
  const outputs = new Set(g.outputs);
  const readers = new Map<Value, Node[]>();
  for (const n of g.nodes) for (const v of n.operands) {
    let r = readers.get(v);
    if (!r) readers.set(v, (r = []));
    r.push(n);
  }
  const splits = g.nodes.filter((n) => n.op === 'unscale_check' && n.results.slice(0, -1).every((u) =>
    !outputs.has(u) && (readers.get(u) ?? []).every((r) => hasTrait(r.op, 'elementwise'))));
  if (splits.length === 0) return { graph: g, rewritten: 0 };

  const graph = rewriteGraph(g, (n, rw) => {
    if (!splits.includes(n)) return false;
    const [inv, ...grads] = n.operands.map((v) => rw.get(v));
    const check = rw.out.addNode('finite_check', [inv!, ...grads], {}, { loc: n.loc, names: [n.results.at(-1)!.name], ...(n.scope !== undefined ? { scope: n.scope } : {}) });
    check.note = 'unscale_check without stored copies: the optimizer recomputes each unscaled gradient';
    rw.replace(n.results.at(-1)!, check.results[0]!);
    n.results.slice(0, -1).forEach((u, i) => rw.replace(u, rw.out.addNode('mul', [grads[i]!, inv!], {}, { loc: n.loc, names: [u.name] }).results[0]!));
    return true;
  });
  return { graph, rewritten: splits.length };
}
