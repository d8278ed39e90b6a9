// `ampc grad FILE.ir --inputs IN.json [--backend gpu|reference] [--precision f32|amp]
// [--amp-allow op,...] [--amp-deny op,...] [--out OUT.json]`: gradients of the
// graph's first output (a scalar) with respect to every {param} input, written
// as tensor JSON keyed by parameter name. Under AMP the forward graph goes
// through the amp pipeline first and that graph is differentiated: casts have
// vjp rules, so the backward of f16 matmuls stays f16 while the gradients of
// the f32 params (master weights) come out f32.

import { isFloat } from '../../ir/dtype.ts';
import { writeTensorRecordJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { gradientGraph } from '../../passes/autodiff.ts';
import type { CliIO } from './io.ts';
import { withPrecision } from './amp.ts';
import { checkPrecisionFlags, execute, loadGraphAndInputs, writeStreamed } from './run.ts';
import type { RunOptions } from './run.ts';

export type GradOptions = RunOptions;

export async function gradCommand(file: string, opts: GradOptions, io: CliIO): Promise<void> {
  checkPrecisionFlags(opts);
  const { g: source, inputs } = loadGraphAndInputs(file, opts);
  // The amp pipeline keeps the inputs (names, dtypes, param flags) and output dtypes.
  const g = withPrecision(source, opts.precision, opts);
  const params = g.params.filter((p) => isFloat(p.type.dtype));
  const outputs = await execute(gradientGraph(g, { output: 0, wrt: params.map((p) => p.name!) }), inputs, opts);
  // The gradient graph returns the original outputs first, then one gradient per param.
  const grads = outputs.slice(g.outputs.length);
  const record: Record<string, HostTensor> = {};
  params.forEach((p, i) => {
    Object.defineProperty(record, p.name!, { value: grads[i]!, enumerable: true, writable: true, configurable: true });
  });
  writeStreamed((sink) => writeTensorRecordJson(record, sink), opts.out, io);
}
