// The verifier re-derives every type from the op table and reports the first
// problem with an error code and the op's place. Passes run it after each step.

import { attrValuesEqual, completeAttrs } from './attrs.ts';
import { AmpcError } from './errors.ts';
import type { Graph, Module, Value } from './graph.ts';
import { checkArity, checkDeclared, checkFusedSignature } from './graph.ts';
import { hasTrait, isOpName, OPS } from './ops.ts';
import { broadcastsTo } from './shape-rules.ts';
import { shapesEqual, shapeToString } from './types.ts';

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
      if ((node.op === 'fused') !== (node.body !== undefined)) {
        throw new AmpcError('E0404', node.op === 'fused' ? 'fused: has no body graph' : `${node.op}: only a fused node has a body`);
      }
      if (node.body) verifyFusedBody(node.body, node.operands.map((v) => v.type), node.results.map((v) => v.type));
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

/** Ops that can head a fused body, the elementwise ops after them being their epilogue. */
const FUSED_ANCHORS: ReadonlySet<string> = new Set(['matmul', 'reduce_sum', 'reduce_mean', 'reduce_max', 'finite_check', 'batch_norm']);
/** Anchors that take no epilogue: the body is the op and the casts it converts as it loads. */
const NO_EPILOGUE: ReadonlySet<string> = new Set(['finite_check', 'batch_norm']);
/**
 * Anchors that convert cast operands as they load them (a prologue): any
 * cast, or only exact widening ones (f16 -> f32), which they read as f16.
 */
const PROLOGUE_ANCHORS: Readonly<Record<string, 'any' | 'widening'>> = {
  matmul: 'any', finite_check: 'any', reduce_sum: 'widening', reduce_mean: 'widening', reduce_max: 'widening', batch_norm: 'widening',
};

/**
 * A fused node's body (ir/ops-fused.ts): a well-formed graph whose inputs are
 * the operands and whose outputs are the results, holding elementwise ops and
 * constants, every value broadcasting to the one shape of the results, and at
 * most one matmul or reduction (the anchor) that reads body inputs and gives
 * that shape: the elementwise ops are then its epilogue. A finite_check
 * anchor takes no epilogue: its body is the check and the casts it converts
 * as it loads.
 */
export function verifyFusedBody(body: Graph, operands: readonly Value['type'][], results: readonly Value['type'][]): void {
  verifyGraph(body);
  checkFusedSignature(body, operands);
  checkDeclared('fused', body.outputs.map((v) => v.type), results);
  const anchors = body.nodes.filter((n) => FUSED_ANCHORS.has(n.op));
  if (anchors.length > 1) throw new AmpcError('E0404', `fused: body @${body.name} holds ${anchors.length} matmuls or reductions; at most one can head a fused kernel`, anchors[1]!.loc);
  const anchor = anchors[0];
  // An anchor's prologue: a cast of a body input that only the anchor reads (converted as it loads).
  const converts = anchor ? PROLOGUE_ANCHORS[anchor.op] : undefined;
  const prologue = new Set(anchor && converts ? anchor.operands.map((v) => v.def).filter((d): d is NonNullable<typeof d> =>
    d?.op === 'cast' && d.operands[0]!.def === undefined && body.nodes.every((n) => n === anchor || !n.operands.includes(d.results[0]!)) && !body.outputs.includes(d.results[0]!) &&
    (converts === 'any' || (d.operands[0]!.type.dtype === 'f16' && d.results[0]!.type.dtype === 'f32'))) : []);
  if (anchor) {
    if (anchor.operands.some((v) => v.def !== undefined && !prologue.has(v.def))) throw new AmpcError('E0404', `fused: the ${anchor.op} of body @${body.name} must read body inputs${converts ? ` or ${converts === 'widening' ? 'f16 -> f32 ' : ''}casts of them` : ''}`, anchor.loc);
    if (NO_EPILOGUE.has(anchor.op) && body.nodes.some((n) => n !== anchor && !prologue.has(n))) throw new AmpcError('E0404', `fused: the ${anchor.op} of body @${body.name} takes no epilogue; only the casts it converts as it loads can join it`, anchor.loc);
  }
  // batch_norm's results (y and the new running statistics) are its own: no common shape to iterate over.
  if (anchor?.op === 'batch_norm') {
    if (body.outputs.some((v) => v.def !== anchor)) throw new AmpcError('E0404', `fused: body @${body.name} of a batch_norm returns only its results`, anchor.loc);
    return;
  }
  const shape = results[0]!.shape;
  for (const r of results) {
    if (!shapesEqual(r.shape, shape)) throw new AmpcError('E0404', `fused: results differ in shape (${shapeToString(shape)} vs ${shapeToString(r.shape)}); one kernel iterates over one shape`);
  }
  if (anchor && !shapesEqual(anchor.results[0]!.type.shape, shape)) throw new AmpcError('E0404', `fused: the ${anchor.op} of body @${body.name} gives ${shapeToString(anchor.results[0]!.type.shape)}, not the fused shape ${shapeToString(shape)}`, anchor.loc);
  const anchorInputs = new Set([...(anchor?.operands ?? []), ...[...prologue].map((c) => c.operands[0]!)]);
  for (const v of body.inputs) {
    if (anchorInputs.has(v) && !body.nodes.some((n) => n !== anchor && !prologue.has(n) && n.operands.includes(v))) continue;
    if (!broadcastsTo(v.type.shape, shape)) throw new AmpcError('E0404', `fused: body input %${v.name} (${shapeToString(v.type.shape)}) does not broadcast to ${shapeToString(shape)}`, body.loc);
  }
  for (const n of body.nodes) {
    if (n === anchor || prologue.has(n)) continue;
    if (n.op !== 'constant' && !hasTrait(n.op, 'elementwise')) {
      throw new AmpcError('E0404', `fused: body @${body.name} holds ${n.op}; only elementwise ops, constants and one matmul or reduction can be fused`, n.loc);
    }
    for (const r of n.results) {
      if (!broadcastsTo(r.type.shape, shape)) throw new AmpcError('E0404', `fused: ${n.op} in the body gives ${shapeToString(r.type.shape)}, which does not broadcast to ${shapeToString(shape)}`, n.loc);
    }
  }
}
