// Before grouping: an unscale_check whose unscaled gradients only
// elementwise ops read (the optimizer's update) becomes a finite_check, and
// each reader gets `mul %grad, %inv_scale` — the very product unscale_check
// stores, so the numerics are unchanged — which fusion then pulls into the
// update's kernel. The step then holds no unscaled copy of any gradient.

import { Graph } from '../../ir/graph.ts';
import type { Node, Value } from '../../ir/graph.ts';
import { hasTrait } from '../../ir/ops.ts';

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

  const out = new Graph(g.name, g.loc);
  const map = new Map<Value, Value>();
  for (const v of g.inputs) map.set(v, out.addInput(v.name!, v.type, { param: v.isParam }));
  for (const n of g.nodes) {
    const operands = n.operands.map((v) => map.get(v)!);
    if (splits.includes(n)) {
      const [inv, ...grads] = operands;
      const check = out.addNode('finite_check', operands, {}, { loc: n.loc, names: [n.results.at(-1)!.name], ...(n.scope !== undefined ? { scope: n.scope } : {}) });
      check.note = 'unscale_check without stored copies: the optimizer recomputes each unscaled gradient';
      map.set(n.results.at(-1)!, check.results[0]!);
      n.results.slice(0, -1).forEach((u, i) => {
        const m = out.addNode('mul', [grads[i]!, inv!], {}, { loc: n.loc, names: [u.name] });
        map.set(u, m.results[0]!);
      });
      continue;
    }
    const copy = out.addNode(n.op, operands, n.attrs, {
      loc: n.loc, declared: n.results.map((r) => r.type), names: n.results.map((r) => r.name),
      ...(n.scope !== undefined ? { scope: n.scope } : {}), ...(n.body ? { body: n.body } : {}),
    });
    if (n.note !== undefined) copy.note = n.note;
    n.results.forEach((r, i) => map.set(r, copy.results[i]!));
  }
  out.setOutputs(g.outputs.map((v) => map.get(v)!));
  return { graph: out, rewritten: splits.length };
}
