// Legalization for a device's limits, after the passes and before lowering:
// rewrites that keep the graph's meaning but fit what one kernel may bind.
// A concat of more operands than a kernel can bind (the device's storage
// buffers per shader stage, less one for the output) becomes a tree of
// concats: groups of operands concatenated first, then the groups. Every
// other op's kernels already fit (fusion bounds its groups by the same
// limit; the loss-scaling kernels group their gradients).

import type { Graph, Node, Value } from '../ir/graph.ts';
import { rewriteGraph } from '../passes/rewrite.ts';
import type { Rewriter } from '../passes/rewrite.ts';

/** The graph with every op within `maxBindings` storage buffers per kernel (the graph itself when nothing needs to change). */
export function legalizeForBindings(g: Graph, maxBindings: number): Graph {
  const maxOperands = Math.max(2, maxBindings - 1);
  if (!g.nodes.some((n) => n.op === 'concat' && n.operands.length > maxOperands)) return g;
  return rewriteGraph(g, (n, rw) => {
    if (n.op !== 'concat' || n.operands.length <= maxOperands) return false;
    rw.replace(n.results[0]!, concatTree(n, n.operands.map((v) => rw.get(v)), maxOperands, rw));
    return true;
  });
}

/** `parts` concatenated along the node's axis, no concat binding more than `maxOperands` inputs. */
function concatTree(n: Node, parts: readonly Value[], maxOperands: number, rw: Rewriter): Value {
  const rank = n.results[0]!.type.shape.length;
  const axis = ((n.attrs.axis as number) + rank) % rank;
  let level = [...parts];
  let depth = 0;
  while (level.length > maxOperands) {
    const next: Value[] = [];
    for (let i = 0; i < level.length; i += maxOperands) {
      const group = level.slice(i, i + maxOperands);
      next.push(group.length === 1 ? group[0]! : rw.out.add('concat', group, { axis }, { loc: n.loc, ...(n.scope !== undefined ? { scope: n.scope } : {}) }));
    }
    level = next;
    depth++;
  }
  const last = rw.out.addNode('concat', level, { axis }, { loc: n.loc, names: n.results.map((r) => r.name), ...(n.scope !== undefined ? { scope: n.scope } : {}) });
  last.note = `${n.note ? n.note + '; ' : ''}concat of ${parts.length} operands split into ${depth + 1} levels of at most ${maxOperands} (the device binds ${maxOperands + 1} storage buffers per kernel)`;
  return last.results[0]!;
}
