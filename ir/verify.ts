// The verifier re-derives every type from the op table and reports the first
// problem with an error code and the op's place. Passes run it after each step.

import { attrValuesEqual, completeAttrs } from './attrs.ts';
import { AmpcError } from './errors.ts';
import type { Graph, Module, Value } from './graph.ts';
import { checkArity, checkDeclared } from './graph.ts';
import { isOpName, OPS } from './ops.ts';

export function verifyGraph(g: Graph): void {
  const defined = new Set<Value>();
  const names = new Map<string, Value>();
  const claim = (v: Value, where: AmpcError['loc']) => {
    if (v.name === undefined || /^\d+$/.test(v.name)) return;
    const other = names.get(v.name);
    if (other && other !== v) throw new AmpcError('E0005', `graph @${g.name}: %${v.name} is defined twice`, where);
    names.set(v.name, v);
  };
  for (const v of g.inputs) {
    if (v.def !== undefined || v.role === 'result') throw new AmpcError('E0401', `graph @${g.name}: input %${v.name} is marked as an op result`, g.loc);
    if (defined.has(v)) throw new AmpcError('E0005', `graph @${g.name}: input %${v.name} is listed twice`, g.loc);
    claim(v, g.loc);
    defined.add(v);
  }
  for (const node of g.nodes) {
    const loc = node.loc;
    try {
      if (!isOpName(node.op)) throw new AmpcError('E0003', `unknown op '${String(node.op)}'`);
      checkArity(node.op, node.operands.length);
      node.operands.forEach((v, i) => {
        if (!defined.has(v)) {
          throw new AmpcError('E0004', `${node.op}: operand ${i} (%${v.name ?? '?'}) is not defined before this op`);
        }
      });
      const complete = completeAttrs(node.op, OPS[node.op].attrs, node.attrs);
      for (const k of Object.keys(complete)) {
        if (!(k in node.attrs) || !attrValuesEqual(complete[k]!, node.attrs[k]!)) {
          throw new AmpcError('E0103', `${node.op}: attribute '${k}' is not set on the node (attributes must be complete)`);
        }
      }
      const types = OPS[node.op].infer(node.operands.map((v) => v.type), node.attrs, node.results.map((v) => v.type));
      checkDeclared(node.op, types, node.results.map((v) => v.type));
      for (const r of node.results) {
        if (r.def !== node) throw new AmpcError('E0401', `${node.op}: result %${r.name ?? '?'} does not point back at its op`);
        if (defined.has(r)) throw new AmpcError('E0005', `${node.op}: result %${r.name ?? '?'} is defined twice`);
        claim(r, loc);
        defined.add(r);
      }
    } catch (e) {
      throw e instanceof AmpcError ? e.at(loc) : e;
    }
  }
  g.outputs.forEach((v, i) => {
    if (!defined.has(v)) throw new AmpcError('E0004', `graph @${g.name}: output ${i} (%${v.name ?? '?'}) is not defined in the graph`, g.loc);
  });
}

export function verifyModule(m: Module): void {
  const seen = new Set<string>();
  for (const g of m.graphs) {
    if (seen.has(g.name)) throw new AmpcError('E0403', `graph @${g.name} is defined twice`, g.loc);
    seen.add(g.name);
    verifyGraph(g);
  }
}
