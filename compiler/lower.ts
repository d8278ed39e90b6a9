// Lowers a verified graph to a Plan: a buffer per value (reshape is a view
// of its operand's buffer), and the kernel launches of every node in order
// from the emitter table. Identical WGSL is compiled once. Then, unless
// turned off, the memory plan (compiler/memory-plan.ts): intermediates whose
// live ranges do not overlap share a device buffer.
//
// In-place updates (a train step): `updates` names graph outputs to copy into
// graph inputs after each run. They become the plan's ordered buffer copies;
// an output that IS an updated input (a param passed straight through) first
// gets a snapshot buffer of its own, so every output still reads as the value
// of this step and no copy reads a buffer an earlier copy overwrote.

import { AmpcError } from '../ir/errors.ts';
import type { DType } from '../ir/dtype.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { nameValues } from '../ir/text/printer.ts';
import { numel, typesEqual, typeToString } from '../ir/types.ts';
import { verifyGraph } from '../ir/verify.ts';
import type { BufferRole, F16Mode, Plan, PlanBuffer, PlanCopy, PlanDispatch, PlanKernel } from '../runtime/plan.ts';
import { storageBytes } from '../runtime/plan.ts';
import type { AdapterKind, EmitContext, KernelLaunch } from './kernels/context.ts';
import { EMITTERS } from './kernels/table.ts';
import type { DispatchSpan } from './memory-plan.ts';
import { planMemory } from './memory-plan.ts';
import { mergeAliasedBindings, readsAlignedOnly } from './in-place.ts';
import { MAX_WORKGROUPS_PER_DIM } from './wgsl/grid.ts';
import { keepBindings, withSupport } from './wgsl/storage.ts';

export interface LowerOptions {
  readonly f16Mode: F16Mode;
  /** The adapter kind kernels are tuned for (default 'cpu'). */
  readonly target?: AdapterKind;
  readonly maxWorkgroupsPerDim?: number;
  /** After each run, copy output `output` into input `input` (by printed name), on the device. */
  readonly updates?: readonly { readonly output: number; readonly input: string }[];
  /** Inputs the runtime keeps equal to the f16 rounding of another input (PlanIO.derivedFrom; compiler/weight-copies.ts). */
  readonly derived?: readonly { readonly input: string; readonly from: string }[];
  /** Share device buffers between intermediates whose live ranges do not overlap (default true; false for debugging). */
  readonly memoryPlan?: boolean;
  /**
   * Inputs (by printed name) the caller writes before every run, whose
   * buffers intermediates may reuse after their last read (PlanIO.donated).
   * Not parameters, updated inputs, weight copies or inputs that are outputs.
   */
  readonly donate?: readonly string[];
}

/** Ops whose result shares its operand's buffer (unless it is a graph output, which gets a copy). */
const VIEW_OPS = new Set(['reshape']);

export function lowerGraph(g: Graph, opts: LowerOptions): Plan {
  verifyGraph(g);
  const names = nameValues(g);
  const buffers: PlanBuffer[] = [];
  const bufferOf = new Map<Value, number>();
  const outputs = new Set(g.outputs);

  const newBuffer = (dtype: DType, shape: readonly number[], role: BufferRole, name?: string): number => {
    const id = buffers.length;
    buffers.push({ id, dtype, shape: [...shape], byteSize: storageBytes(dtype, numel(shape)), role, ...(name !== undefined ? { name } : {}) });
    return id;
  };
  const roleOf = (v: Value): BufferRole => (v.role === 'param' ? 'param' : v.role === 'input' ? 'input' : outputs.has(v) ? 'output' : 'intermediate');

  for (const v of g.inputs) bufferOf.set(v, newBuffer(v.type.dtype, v.type.shape, roleOf(v), names.get(v)));
  const inPlace = opts.updates ? writtenInPlace(g, opts.updates, names, opts.f16Mode) : new Map<Value, Value>();

  const kernels: PlanKernel[] = [];
  const kernelIndex = new Map<string, number>();
  const dispatches: PlanDispatch[] = [];
  const spans: DispatchSpan[] = []; // each node's launches, for the memory plan

  for (const node of g.nodes) {
    if (VIEW_OPS.has(node.op) && !outputs.has(node.results[0]!)) {
      bufferOf.set(node.results[0]!, bufferOf.get(node.operands[0]!)!);
      continue;
    }
    for (const r of node.results) {
      const input = inPlace.get(r);
      bufferOf.set(r, input ? bufferOf.get(input)! : newBuffer(r.type.dtype, r.type.shape, roleOf(r), names.get(r)));
    }
    // Nothing to compute for empty results (and no kernel may divide by a zero extent).
    if (node.results.every((r) => numel(r.type.shape) === 0)) continue;
    const ctx: EmitContext = {
      mode: opts.f16Mode,
      target: opts.target ?? 'cpu',
      maxWorkgroupsPerDim: opts.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM,
      buffer: (v) => {
        const b = bufferOf.get(v);
        if (b === undefined) throw new AmpcError('E0401', `lowering: %${names.get(v)} has no buffer`, node.loc);
        return b;
      },
      scratch: (dtype, count) => newBuffer(dtype, [count], 'intermediate'),
      nameOf: (v) => names.get(v) ?? '?',
    };
    const first = dispatches.length;
    const launches = EMITTERS[node.op](node, ctx).map(mergeAliasedBindings);
    dispatches.push(...launchesToDispatches(launches, kernels, kernelIndex, (id) => numel(buffers[id]!.shape) === 0));
    if (dispatches.length > first) spans.push({ first, last: dispatches.length - 1 });
  }

  const outputBuffers = g.outputs.map((v) => bufferOf.get(v)!);
  const updates = opts.updates && planUpdates(g, opts.updates, names, bufferOf, outputBuffers, newBuffer);
  const donated = donatedInputs(g, opts, names, bufferOf);
  const memory = opts.memoryPlan === false ? undefined : planMemory({ buffers, dispatches, kernels, ...(updates ? { updates } : {}) }, spans, new Set(donated.map((v) => bufferOf.get(v)!)));
  return {
    version: 1,
    f16Mode: opts.f16Mode,
    kernels,
    buffers: memory?.buffers ?? buffers,
    dispatches,
    inputs: g.inputs.map((v) => {
      const from = opts.derived?.find((d) => d.input === names.get(v))?.from;
      return { name: names.get(v)!, buffer: bufferOf.get(v)!, ...(from !== undefined ? { derivedFrom: from } : {}), ...(donated.includes(v) ? { donated: true as const } : {}) };
    }),
    outputs: g.outputs.map((v, i) => ({ name: names.get(v)!, buffer: outputBuffers[i]! })),
    ...(updates ? { updates } : {}),
    ...(memory ? { storage: memory.storage } : {}),
  };
}

/**
 * The ordered copies of in-place updates (E0603 for an update that names no
 * output or input, a type mismatch, or an input updated twice). Snapshots of
 * updated inputs that are also outputs come first and replace those outputs'
 * buffers in `outputBuffers`; then each update copies its output into its input.
 * An update of an input by itself is dropped.
 */
/**
 * Updates whose new value can be written straight into the input's buffer
 * (no copy, no second buffer): the output is a node's result (not a view),
 * every other node reading the input (or a view of it) runs before that
 * node, the input is not itself a graph output, and the node reads neither,
 * or reads the input only at the element it writes (compiler/in-place.ts:
 * a fused optimizer update, which reads a parameter and its moments and
 * writes their new values; its kernel then binds each such buffer once,
 * read_write). A weight's f16 copy (compiler/weight-copies.ts) is written
 * by a kernel that reads the f32 weight, not the copy.
 */
function writtenInPlace(g: Graph, updates: readonly { readonly output: number; readonly input: string }[], names: ReadonlyMap<Value, string>, mode: F16Mode): Map<Value, Value> {
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const lastReader = new Map<Value, number>();
  g.nodes.forEach((n, i) => n.operands.forEach((v) => lastReader.set(v, i)));
  const outs = new Set(g.outputs);
  const counts = new Map<Value, number>();
  for (const u of updates) counts.set(g.outputs[u.output]!, (counts.get(g.outputs[u.output]!) ?? 0) + 1);
  const result = new Map<Value, Value>();
  for (const u of updates) {
    const out = g.outputs[u.output];
    const input = g.inputs.find((v) => names.get(v) === u.input);
    const def = out?.def;
    if (!out || !input || !def || VIEW_OPS.has(def.op) || counts.get(out) !== 1 || outs.has(input) || !typesEqual(out.type, input.type)) continue;
    // The input's buffer is also read through its views (a reshape that is not an output shares it).
    const aliases = new Set([input]);
    for (const n of g.nodes) if (VIEW_OPS.has(n.op) && aliases.has(n.operands[0]!) && !outs.has(n.results[0]!)) aliases.add(n.results[0]!);
    const at = order.get(def)!;
    const readsAligned = def.operands.every((v, k) => v !== input || readsAlignedOnly(def, k, mode));
    if (!readsAligned || [...aliases].some((a) => (a !== input && def.operands.includes(a)) || (lastReader.get(a) ?? -1) > at)) continue;
    result.set(out, input);
  }
  return result;
}

/** The inputs `opts.donate` names (E0603 for a name that is no input, or an input that may not be donated). */
function donatedInputs(g: Graph, opts: LowerOptions, names: ReadonlyMap<Value, string>, bufferOf: ReadonlyMap<Value, number>): Value[] {
  return (opts.donate ?? []).map((name) => {
    const v = g.inputs.find((x) => names.get(x) === name);
    if (!v) throw new AmpcError('E0603', `donate: graph @${g.name} has no input %${name}`, g.loc);
    const buffer = bufferOf.get(v)!;
    const why = v.isParam ? 'a parameter'
      : opts.updates?.some((u) => u.input === name) ? 'updated in place'
      : opts.derived?.some((d) => d.input === name || d.from === name) ? 'a weight copy or its weight'
      : g.outputs.some((o) => bufferOf.get(o) === buffer) ? 'also an output' : undefined;
    if (why) throw new AmpcError('E0603', `donate: input %${name} cannot be donated: it is ${why} (its value must outlive the run)`, g.loc);
    return v;
  });
}

function planUpdates(
  g: Graph,
  updates: readonly { readonly output: number; readonly input: string }[],
  names: ReadonlyMap<Value, string>,
  bufferOf: ReadonlyMap<Value, number>,
  outputBuffers: number[],
  newBuffer: (dtype: DType, shape: readonly number[], role: BufferRole, name?: string) => number,
): PlanCopy[] {
  const targets = new Map<Value, Value>(); // input -> the output value copied into it
  for (const u of updates) {
    if (!Number.isInteger(u.output) || u.output < 0 || u.output >= g.outputs.length) {
      throw new AmpcError('E0603', `update: graph @${g.name} has ${g.outputs.length} output(s); there is no output ${u.output}`, g.loc);
    }
    const input = g.inputs.find((v) => names.get(v) === u.input);
    if (!input) throw new AmpcError('E0603', `update: graph @${g.name} has no input %${u.input}`, g.loc);
    if (targets.has(input)) throw new AmpcError('E0603', `update: input %${u.input} is updated twice`, g.loc);
    const out = g.outputs[u.output]!;
    if (!typesEqual(out.type, input.type)) {
      throw new AmpcError('E0603', `update: output ${u.output} (%${names.get(out)}: ${typeToString(out.type)}) cannot be copied into input %${u.input}: ${typeToString(input.type)}`, g.loc);
    }
    targets.set(input, out);
  }
  for (const [input, out] of targets) if (input === out || bufferOf.get(input) === bufferOf.get(out)) targets.delete(input);

  const snapshots: PlanCopy[] = [];
  const snapshotOf = new Map<Value, number>();
  g.outputs.forEach((v, i) => {
    if (!targets.has(v)) return;
    let snap = snapshotOf.get(v);
    if (snap === undefined) {
      snap = newBuffer(v.type.dtype, v.type.shape, 'output', names.get(v));
      snapshotOf.set(v, snap);
      snapshots.push({ from: bufferOf.get(v)!, to: snap });
    }
    outputBuffers[i] = snap;
  });
  const writes: PlanCopy[] = [];
  for (const [input, out] of targets) {
    writes.push({ from: outputBuffers[g.outputs.indexOf(out)]!, to: bufferOf.get(input)! });
  }
  return [...snapshots, ...writes];
}

function launchesToDispatches(
  launches: readonly KernelLaunch[],
  kernels: PlanKernel[],
  index: Map<string, number>,
  isEmpty: (buffer: number) => boolean,
): PlanDispatch[] {
  return launches.map((l) => {
    // A kernel may skip a zero-size operand altogether (a matmul with inner
    // dimension 0 reads neither A nor B): keep its binding in the layout.
    const code = withSupport(l.bindings.some(isEmpty) ? keepBindings(l.code) : l.code);
    let k = index.get(code);
    if (k === undefined) {
      k = kernels.length;
      kernels.push({ label: l.label, code, entryPoint: 'main', usesF16: l.usesF16 });
      index.set(code, k);
    }
    return { kernel: k, bindings: l.bindings, workgroups: l.workgroups };
  });
}
