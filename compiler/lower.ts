// Lowers a verified graph to a Plan: a buffer per value (reshape is a view
// of its operand's buffer), and the kernel launches of every node in order
// from the emitter table. Identical WGSL is compiled once.

import { AmpcError } from '../ir/errors.ts';
import type { DType } from '../ir/dtype.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { nameValues } from '../ir/text/printer.ts';
import { numel } from '../ir/types.ts';
import { verifyGraph } from '../ir/verify.ts';
import type { BufferRole, F16Mode, Plan, PlanBuffer, PlanDispatch, PlanKernel } from '../runtime/plan.ts';
import { storageBytes } from '../runtime/plan.ts';
import type { AdapterKind, EmitContext, KernelLaunch } from './kernels/context.ts';
import { EMITTERS } from './kernels/table.ts';
import { MAX_WORKGROUPS_PER_DIM } from './wgsl/grid.ts';
import { withSupport } from './wgsl/storage.ts';

export interface LowerOptions {
  readonly f16Mode: F16Mode;
  /** The adapter kind kernels are tuned for (default 'cpu'). */
  readonly target?: AdapterKind;
  readonly maxWorkgroupsPerDim?: number;
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
    buffers.push({ id, dtype, shape: [...shape], byteSize: storageBytes(dtype, numel(shape)), role, name });
    return id;
  };
  const roleOf = (v: Value): BufferRole => (v.role === 'param' ? 'param' : v.role === 'input' ? 'input' : outputs.has(v) ? 'output' : 'intermediate');

  for (const v of g.inputs) bufferOf.set(v, newBuffer(v.type.dtype, v.type.shape, roleOf(v), names.get(v)));

  const kernels: PlanKernel[] = [];
  const kernelIndex = new Map<string, number>();
  const dispatches: PlanDispatch[] = [];

  for (const node of g.nodes) {
    if (VIEW_OPS.has(node.op) && !outputs.has(node.results[0]!)) {
      bufferOf.set(node.results[0]!, bufferOf.get(node.operands[0]!)!);
      continue;
    }
    for (const r of node.results) bufferOf.set(r, newBuffer(r.type.dtype, r.type.shape, roleOf(r), names.get(r)));
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
    dispatches.push(...launchesToDispatches(EMITTERS[node.op](node, ctx), kernels, kernelIndex));
  }

  return {
    version: 1,
    f16Mode: opts.f16Mode,
    kernels,
    buffers,
    dispatches,
    inputs: g.inputs.map((v) => ({ name: names.get(v)!, buffer: bufferOf.get(v)! })),
    outputs: g.outputs.map((v) => ({ name: names.get(v)!, buffer: bufferOf.get(v)! })),
  };
}

function launchesToDispatches(
  launches: readonly KernelLaunch[],
  kernels: PlanKernel[],
  index: Map<string, number>,
): PlanDispatch[] {
  return launches.map((l) => {
    const code = withSupport(l.code);
    let k = index.get(code);
    if (k === undefined) {
      k = kernels.length;
      kernels.push({ label: l.label, code, entryPoint: 'main', usesF16: l.usesF16 });
      index.set(code, k);
    }
    return { kernel: k, bindings: l.bindings, workgroups: l.workgroups };
  });
}
