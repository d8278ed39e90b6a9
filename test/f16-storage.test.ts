// The storage f16 mode: f16 tensors in array<f16>, computed in f32 registers
// with excess precision inside a fused kernel (rounded to f16 only where a
// kernel stores a value or the graph casts). Its errors against an exact
// evaluation (the same graph with every f16 made f32, on the f64 reference
// interpreter) are compared with those of f16 arithmetic (native mode) on
// every golden and example graph with f16 values, as written and under AMP:
// - each output's root-mean-square error is at most twice native's, or
//   within half an f16 ulp (2^-11) of the output's scale: excess precision
//   is not closer on every sample (a scalar loss can land either way);
// - over all outputs, storage is more accurate: the geometric mean of the
//   error ratios storage / native is below 1.
import { interpret } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { gpuF16Test } from './helpers/gpu.ts';
import { pipelineCases } from './helpers/fusion-cases.ts';

/** The root-mean-square error of `a` against `exact`, relative to max |exact| (non-finite exact values left out). */
function relError(a: HostTensor, exact: HostTensor): number {
  let sq = 0, n = 0, scale = 0;
  for (let i = 0; i < exact.data.length; i++) {
    const e = Number(exact.data[i]);
    if (!Number.isFinite(e)) continue;
    scale = Math.max(scale, Math.abs(e));
    sq += (Number(a.data[i]) - e) ** 2;
    n++;
  }
  const rms = n === 0 ? 0 : Math.sqrt(sq / n);
  return scale === 0 ? rms : rms / scale;
}

const cases = pipelineCases().filter((c) => c.graph.inputs.some((v) => v.type.dtype === 'f16') || c.graph.nodes.some((n) => n.results.some((r) => r.type.dtype === 'f16')));

gpuF16Test('storage f16 mode (f32 math, excess precision) is as accurate as f16 math or more, on every golden and example graph', async (t, ctx) => {
  const logRatios: number[] = [];
  const lines: string[] = [];
  for (const c of cases) {
    const inputs = randomInputs(c.graph, 11);
    const wide = parseModule(printGraph(c.graph).replace(/\bf16\b/g, 'f32'), 'wide.ir').main;
    const wideInputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.dtype === 'f16' ? { ...v, dtype: 'f32' as const } : v]));
    const exact = interpret(wide, wideInputs);
    const native = await runGraphOnGpu(c.graph, inputs, ctx, { f16Mode: 'native' });
    const storage = await runGraphOnGpu(c.graph, inputs, ctx, { f16Mode: 'storage' });
    exact.forEach((e, k) => {
      if (e.dtype !== 'f32') return;
      const n = relError(native[k]!, e), s = relError(storage[k]!, e);
      t.true(s <= Math.max(2 * n, 2 ** -11), `${c.name} output ${k}: storage error ${s.toExponential(2)}, native ${n.toExponential(2)}`);
      if (n > 1e-6 && s > 0) logRatios.push(Math.log(s / n));
      if (n > 1e-6) lines.push(`${c.name}#${k} ${(s / n).toFixed(2)}`);
    });
  }
  const geomean = Math.exp(logRatios.reduce((a, b) => a + b, 0) / logRatios.length);
  t.true(logRatios.length >= 10, `only ${logRatios.length} outputs with f16 error`);
  t.true(geomean < 1, `geometric mean of storage / native error ${geomean.toFixed(3)}`);
  t.log(`storage / native RMS error over ${logRatios.length} outputs: geometric mean ${geomean.toFixed(3)}; ${lines.join(', ')}`);
});
