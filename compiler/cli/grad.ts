// `ampc grad FILE.ir --inputs IN.json [--backend gpu|reference] [--out OUT.json]`:
// gradients of the graph's first output (a scalar) with respect to every
// {param} input, written as tensor JSON keyed by parameter name.

import { isFloat } from '../../ir/dtype.ts';
import { tensorRecordToJson } from '../../ir/interp/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { gradientGraph } from '../../passes/autodiff.ts';
import type { CliIO } from './io.ts';
import { execute, loadGraphAndInputs, writeOutput } from './run.ts';
import type { RunOptions } from './run.ts';

export type GradOptions = RunOptions;

export async function gradCommand(file: string, opts: GradOptions, io: CliIO): Promise<void> {
  const { g, inputs } = loadGraphAndInputs(file, opts);
  const params = g.params.filter((p) => isFloat(p.type.dtype));
  const outputs = await execute(gradientGraph(g, { output: 0, wrt: params.map((p) => p.name!) }), inputs, opts);
  // The gradient graph returns the original outputs first, then one gradient per param.
  const grads = outputs.slice(g.outputs.length);
  const record: Record<string, HostTensor> = {};
  params.forEach((p, i) => {
    Object.defineProperty(record, p.name!, { value: grads[i]!, enumerable: true, writable: true, configurable: true });
  });
  writeOutput(tensorRecordToJson(record), opts.out, io);
}
