// Weight copies: where a kernel does not convert a weight as it loads it
// (convolutions; matmuls without cast prologues, see CAST_PROLOGUES in
// compiler/compile.ts) an AMP train step's forward reads an f16 copy of each
// f32 master weight, which a cast kernel makes at the start of every step.
// With weight copies that copy is kept across steps instead:
// it becomes an input of the step (`%<p>.f16`) that the forward reads in
// place of `cast %<p>`, and the step writes the next one from the updated
// weight (`%new.<p>.f16 = cast %new.<p>`, an in-place update like the
// optimizer state's), which fusion puts in the weight's update kernel: the
// optimizer writes the f32 weight and its f16 copy in one pass, and the cast
// dispatches go. The values are the same: the copy is the f16 rounding of
// the weight the cast would read.
//
// The copy must also follow every write of the weight from outside the step
// (initial values, a checkpoint, another session's state): the plan marks
// the copy's input as derived from the weight's (PlanIO.derivedFrom) and
// Session.write refreshes it whenever the weight is written. Only the
// Trainer, which writes its sessions' state through Session.write, asks for
// weight copies (CompileSpec.weightCopies).

import type { Graph, Value } from '../ir/graph.ts';
import { Rewriter } from '../passes/rewrite.ts';

export interface Update {
  readonly output: number;
  readonly input: string;
}

/** An input kept equal to the f16 rounding of another input (the plan's PlanIO.derivedFrom). */
export interface DerivedInput {
  readonly input: string;
  readonly from: string;
}

export interface WeightCopies {
  readonly graph: Graph;
  readonly updates: readonly Update[];
  readonly derived: readonly DerivedInput[];
}

/** Ops whose operands are read many times per element (tiles), so a cast of them is its own kernel without cast prologues. */
const TILED_OPS = new Set(['matmul', 'conv2d', 'conv2d_grad_input', 'conv2d_grad_weight']);

/**
 * True when `v` is a matmul's or convolution's operand, other than of the
 * ops in `convertsOnLoad` (a cast read only by elementwise ops is recomputed
 * in their kernels instead: a bias).
 */
function readByKernelOperand(g: Graph, v: Value, convertsOnLoad: ReadonlySet<string>): boolean {
  return g.nodes.some((n) => TILED_OPS.has(n.op) && !convertsOnLoad.has(n.op) && n.operands.includes(v));
}

/** The name of the f16 copy of input `p`. */
export const copyName = (p: string) => `${p}.f16`;

/**
 * `g` with weight copies for every f32 input that an update writes and whose
 * `cast` to f16 a matmul or convolution reads, unless only ops in
 * `convertsOnLoad` read it (with cast prologues for weights, the matmuls
 * convert them as they load them: only convolutions' weights keep copies);
 * `updates` extended by the copies' updates. Returns undefined when no input
 * has a copy to keep.
 */
export function keepWeightCopies(g: Graph, updates: readonly Update[], convertsOnLoad: ReadonlySet<string> = new Set()): WeightCopies | undefined {
  const byName = new Map(g.inputs.map((v) => [v.name!, v]));
  const taken = new Set(g.inputs.map((v) => v.name!));
  const weights = new Map<Value, Update>();
  for (const u of updates) {
    const p = byName.get(u.input);
    if (!p || p.type.dtype !== 'f32' || taken.has(copyName(u.input))) continue;
    if (g.nodes.some((n) => n.op === 'cast' && n.attrs.to === 'f16' && n.operands[0] === p && readByKernelOperand(g, n.results[0]!, convertsOnLoad))) weights.set(p, u);
  }
  if (weights.size === 0) return undefined;
  const rw = new Rewriter(g);
  const copies = new Map<Value, Value>();
  for (const p of weights.keys()) copies.set(p, rw.out.addInput(copyName(p.name!), { dtype: 'f16', shape: p.type.shape }));
  for (const n of g.nodes) {
    const weight = n.op === 'cast' && n.attrs.to === 'f16' ? n.operands[0]! : undefined;
    if (weight && copies.has(weight)) rw.replace(n.results[0]!, copies.get(weight)!);
    else rw.copy(n);
  }
  const out = rw.finish();
  const outputs = [...out.outputs];
  const added: Update[] = [];
  const derived: DerivedInput[] = [];
  for (const [p, u] of weights) {
    const name = copyName(p.name!);
    const node = out.addNode('cast', [outputs[u.output]!], { to: 'f16' }, { names: [`new.${name}`] });
    node.note = `f16: the copy of %${p.name} the next step's forward reads (weight copies, compiler/weight-copies.ts)`;
    added.push({ output: outputs.length, input: name });
    derived.push({ input: name, from: p.name! });
    outputs.push(node.results[0]!);
  }
  out.setOutputs(outputs);
  return { graph: out, updates: [...updates, ...added], derived };
}
