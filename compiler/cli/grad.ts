// `ampc grad FILE.ir --inputs IN.json [--backend gpu|reference] [--out OUT.json]`:
// gradients of the graph's first output (a scalar) with respect to every
// {param} input, written as tensor JSON keyed by parameter name.

import { interpret } from '../../ir/interp/interpret.ts';
import { parseTensorJson, tensorRecordToJson } from '../../ir/interp/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { gradientGraph } from '../../passes/autodiff.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { runGraphOnGpu } from '../execute.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';
import { writeOutput } from './run.ts';

export interface GradOptions {
  inputs: string;
  backend: 'gpu' | 'reference';
  precision: 'f32';
  graph?: string;
  f16Mode?: F16Mode;
  out?: string;
}

export async function gradCommand(file: string, opts: GradOptions, io: CliIO): Promise<void> {
  const mod = parseModule(readText(file), file);
  const g = opts.graph ? mod.get(opts.graph) : mod.main;
  const inputs = parseTensorJson(readText(opts.inputs), opts.inputs);
  const params = g.params;
  const gg = gradientGraph(g, { output: 0 });
  let outputs: HostTensor[];
  if (opts.backend === 'reference') {
    outputs = interpret(gg, inputs);
  } else {
    const ctx = await acquireDevice();
    try {
      outputs = await runGraphOnGpu(gg, inputs, ctx, { f16Mode: opts.f16Mode });
    } finally {
      ctx.destroy();
    }
  }
  // The gradient graph returns the original outputs first, then one gradient per param.
  const grads = outputs.slice(g.outputs.length);
  const record: Record<string, HostTensor> = {};
  params.forEach((p, i) => {
    Object.defineProperty(record, p.name!, { value: grads[i]!, enumerable: true, writable: true, configurable: true });
  });
  writeOutput(tensorRecordToJson(record), opts.out, io);
}
