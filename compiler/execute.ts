// Runs a graph on a WebGPU device end to end: compile to a Plan, open a
// Session, upload host tensors, run once, read the outputs back as host
// tensors. The CLI's `run` and the op tests go through here.

import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { nameValues } from '../ir/text/printer.ts';
import { numel, shapeToString, shapesEqual } from '../ir/types.ts';
import type { GpuContext } from '../runtime/device.ts';
import { decodeTensor, encodeTensor } from '../runtime/host-data.ts';
import type { Plan } from '../runtime/plan.ts';
import { Session } from '../runtime/session.ts';
import type { CompileSpec } from './compile.ts';
import { compileGraph } from './compile.ts';

/** How a graph is compiled for one run (compileGraph's spec: pipeline, fusion, f16 mode, memory plan). */
export type GpuRunOptions = CompileSpec;

export { defaultF16Mode } from './compile.ts';

/** The plan of `g` for the device (compileGraph, keeping only the plan). */
export function compileForDevice(g: Graph, ctx: GpuContext, opts: CompileSpec = {}): Plan {
  return compileGraph(g, ctx, opts).plan;
}

export async function runGraphOnGpu(g: Graph, inputs: Readonly<Record<string, HostTensor>>, ctx: GpuContext, opts: GpuRunOptions = {}): Promise<HostTensor[]> {
  const plan = compileForDevice(g, ctx, opts);
  const names = nameValues(g);
  for (const name of Object.keys(inputs)) {
    if (!g.inputs.some((v) => names.get(v) === name)) throw new AmpcError('E0603', `graph @${g.name} has no input %${name}`);
  }
  const session = await Session.create(ctx, plan);
  try {
    for (const v of g.inputs) {
      const name = names.get(v)!;
      const t = inputs[name];
      if (!t) throw new AmpcError('E0603', `missing input %${name} (${v.type.dtype}${shapeToString(v.type.shape)})`);
      if (t.dtype !== v.type.dtype || !shapesEqual(t.shape, v.type.shape)) {
        throw new AmpcError('E0603', `input %${name}: expected ${v.type.dtype}${shapeToString(v.type.shape)}, got ${t.dtype}${shapeToString(t.shape)}`);
      }
      session.write(name, encodeTensor(t.dtype, t.data));
    }
    session.run();
    const bytes = await session.readOutputs();
    return g.outputs.map((v, i) => ({ dtype: v.type.dtype, shape: [...v.type.shape], data: decodeTensor(v.type.dtype, bytes[i]!, numel(v.type.shape)) }));
  } finally {
    session.destroy();
  }
}
