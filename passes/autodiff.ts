// Reverse-mode autodiff: `gradientGraph(g)` returns a new graph with the
// same inputs that computes the original outputs and then the gradient of
// one scalar float output with respect to the requested `{param}` inputs,
// named `%grad.<param>`. The vjp rules live in passes/autodiff/ (one table,
// VJP_RULES, typed over the op names).
//
// The backward walk visits the forward nodes in reverse. A node is
// differentiated when a cotangent flows into one of its results and one of
// its operands is active (a float value that depends on a requested param);
// gradients are summed where a value fans out. Integer and bool values never
// carry a gradient. Gradient nodes keep the `loc` of the forward node they
// differentiate and the dtype of the forward value; nodes a rule emitted
// that no gradient uses are removed (forward nodes are all kept). A param
// the output does not depend on gets a zero constant.

import { isFloat } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import { cloneGraph } from '../ir/graph.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import { typesEqual, typeToString } from '../ir/types.ts';
import { GradBuilder } from './autodiff/builder.ts';
import { VJP_RULES } from './autodiff/rules.ts';
import type { Pass, PassContext } from './pass.ts';

export { VJP_RULES, isDifferentiable } from './autodiff/rules.ts';
export { GradBuilder } from './autodiff/builder.ts';
export type { VjpArgs, VjpRule } from './autodiff/builder.ts';

export interface GradientOptions {
  /** Names of the `{param}` inputs to differentiate by, in output order (default: every float param). */
  readonly wrt?: readonly string[];
  /** Index of the scalar float output to differentiate (default 0). */
  readonly output?: number;
  /** The seed cotangent of the output (default 1); a static loss scale sets it to the scale. */
  readonly seed?: number;
}

function describe(v: Value): string {
  return `%${v.name ?? '?'}: ${typeToString(v.type)}`;
}

/** The output to differentiate, checked to be a float scalar. */
function lossOutput(g: Graph, index: number): Value {
  if (!Number.isInteger(index) || index < 0 || index >= g.outputs.length) {
    throw new AmpcError('E0405', `autodiff: graph @${g.name} has ${g.outputs.length} output(s); there is no output ${index} to differentiate`, g.loc);
  }
  const out = g.outputs[index]!;
  if (out.type.shape.length !== 0 || !isFloat(out.type.dtype)) {
    throw new AmpcError(
      'E0405',
      `autodiff: output ${index} (${describe(out)}) is not a scalar float; only a scalar loss (f32[] or f16[]) can be differentiated (reduce it first, e.g. with reduce_sum or a loss op)`,
      out.def?.loc ?? g.loc,
    );
  }
  return out;
}

/** The params to differentiate by, checked: existing `{param}` inputs of float dtype, no repeats. */
function wrtParams(g: Graph, wrt: readonly string[] | undefined): Value[] {
  if (wrt === undefined) return g.params.filter((v) => isFloat(v.type.dtype));
  const seen = new Set<string>();
  return wrt.map((name) => {
    const v = g.inputs.find((i) => i.name === name);
    if (!v || !v.isParam) {
      const params = g.params.map((p) => '%' + p.name).join(', ') || 'none';
      throw new AmpcError('E0603', `autodiff: %${name} is not a {param} input of @${g.name} (its params: ${params})`, g.loc);
    }
    if (!isFloat(v.type.dtype)) throw new AmpcError('E0206', `autodiff: param ${describe(v)} is not a float; it has no gradient`, g.loc);
    if (seen.has(name)) throw new AmpcError('E0603', `autodiff: %${name} is requested twice`, g.loc);
    seen.add(name);
    return v;
  });
}

/** Copies the forward graph; `map` takes its values to the copies. */
/** Float values of `g` that depend on one of `wrt`. */
function activeValues(g: Graph, wrt: readonly Value[]): Set<Value> {
  const active = new Set<Value>(wrt);
  for (const n of g.nodes) {
    if (!n.operands.some((v) => active.has(v))) continue;
    for (const r of n.results) if (isFloat(r.type.dtype)) active.add(r);
  }
  return active;
}

/** Removes emitted nodes whose results no output uses. */
function removeDeadGradients(g: Graph, emitted: ReadonlySet<Node>): void {
  const live = new Set<Value>(g.outputs);
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (emitted.has(n) && !n.results.some((r) => live.has(r))) continue;
    kept.push(n);
    for (const v of n.operands) live.add(v);
  }
  g.nodes.splice(0, g.nodes.length, ...kept.reverse());
}

function usedNames(g: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of g.inputs) if (v.name !== undefined) names.add(v.name);
  for (const n of g.nodes) for (const r of n.results) if (r.name !== undefined) names.add(r.name);
  return names;
}

/**
 * The gradient graph of `g`: outputs are g's outputs, then d(output)/d(param)
 * for each requested param, in order, named `%grad.<param>`. `g` is not changed.
 */
export function gradientGraph(g: Graph, opts: GradientOptions = {}): Graph {
  const out = lossOutput(g, opts.output ?? 0);
  const wrt = wrtParams(g, opts.wrt);
  const map = new Map<Value, Value>();
  const ng = cloneGraph(g, map);
  const active = activeValues(g, wrt);
  const b = new GradBuilder(ng);

  // Cotangents of forward values (keys: values of g; cotangents: values of ng).
  const cotangent = new Map<Value, Value>();
  b.loc = out.def?.loc ?? g.loc;
  cotangent.set(out, b.constant(opts.seed ?? 1, out.type.dtype));

  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i]!;
    const gs = node.results.map((r) => cotangent.get(r));
    if (gs.every((c) => c === undefined)) continue;
    const needs = node.operands.map((v) => active.has(v));
    if (!needs.some(Boolean)) continue;
    const rule = VJP_RULES[node.op];
    if (rule === 'nondifferentiable') {
      throw new AmpcError('E0405', `autodiff: ${node.op} is not differentiable (no second-order gradients), but the loss depends on it through a float operand`, node.loc ?? g.loc);
    }
    b.loc = node.loc;
    const y = node.results.map((r) => map.get(r)!);
    let g0 = gs[0] ?? b.zerosLike(y[0]!);
    // A widened accumulator (f16 operands, f32 result: ir/op-def.ts accumulatorResult)
    // passes its cotangent back in its operands' dtype, as an f16 result would.
    const operandDtype = node.operands[0]?.type.dtype;
    if (node.results.length === 1 && operandDtype && isFloat(operandDtype) && g0.type.dtype !== operandDtype && 'acc' in node.attrs) {
      g0 = b.op('cast', [g0], { to: operandDtype });
    }
    const dx = rule({
      b, node, attrs: node.attrs, x: node.operands.map((v) => map.get(v)!), y, gs, g: g0, needs,
    });
    node.operands.forEach((v, k) => {
      const d = dx[k];
      if (!d || !needs[k]) return;
      if (!typesEqual(d.type, v.type)) {
        throw new Error(`autodiff: the ${node.op} rule gave operand ${k} a cotangent of type ${typeToString(d.type)}; the operand is ${typeToString(v.type)}`);
      }
      const prev = cotangent.get(v);
      cotangent.set(v, prev ? b.add(prev, d) : d);
    });
  }

  // One named gradient per param: a fresh value each (a shared or forward value is copied by an identity reshape).
  const names = usedNames(ng);
  const claimed = new Set<Value>();
  const grads = wrt.map((p) => {
    let d = cotangent.get(p);
    b.loc = d?.def?.loc ?? g.loc;
    if (!d) d = b.constant(0, p.type.dtype, p.type.shape);
    else if (claimed.has(d) || !d.def || !b.emitted.has(d.def) || (d.name !== undefined && !/^\d+$/.test(d.name))) {
      d = b.op('reshape', [d], { shape: [...p.type.shape] });
    }
    let name = `grad.${p.name}`;
    for (let k = 1; names.has(name); k++) name = `grad.${p.name}.${k}`;
    names.add(name);
    d.name = name;
    claimed.add(d);
    return d;
  });
  ng.setOutputs([...ng.outputs, ...grads]);
  removeDeadGradients(ng, b.emitted);
  return ng;
}

/** Options of the autodiff pass from the context: `gradWrt` (param names) and `gradOutput` (output index). */
function passOptions(ctx: PassContext): GradientOptions {
  const { gradWrt, gradOutput } = ctx.options;
  if (gradWrt !== undefined && !(Array.isArray(gradWrt) && gradWrt.every((s) => typeof s === 'string'))) {
    throw new AmpcError('E0609', `autodiff: option gradWrt must be a list of param names, got ${JSON.stringify(gradWrt)}`);
  }
  if (gradOutput !== undefined && typeof gradOutput !== 'number') {
    throw new AmpcError('E0609', `autodiff: option gradOutput must be an output index, got ${JSON.stringify(gradOutput)}`);
  }
  return { wrt: gradWrt as string[] | undefined, output: gradOutput as number | undefined };
}

/** The pass: the graph with its gradients appended as outputs (see gradientGraph). */
export const autodiffPass: Pass = {
  name: 'autodiff',
  run: (g, ctx) => gradientGraph(g, passOptions(ctx)),
};
