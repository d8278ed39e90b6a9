// A concat of more operands than a kernel may bind runs on the GPU (issue
// #12): compiler/legalize.ts splits it into a tree of concats, each within
// the device's storage buffers per kernel.

import { interpret } from '../ir/interp/interpret.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { parseModule } from '../ir/text/parser.ts';
import { compileGraph } from '../compiler/compile.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { gpuTest } from './helpers/gpu.ts';

function concatOf(n: number, axis: number): string {
  const shapes = Array.from({ length: n }, (_, k) => (axis === 0 ? [1 + (k % 3), 2] : [2, 1 + (k % 3)]));
  const total = shapes.reduce((a, s) => a + s[axis]!, 0);
  const out = axis === 0 ? [total, 2] : [2, total];
  const ins = shapes.map((s, k) => `%x${k}: f32[${s.join(',')}]`).join(', ');
  return `graph @c(${ins}) -> (f32[${out.join(',')}]) {
  %y = concat ${shapes.map((_, k) => `%x${k}`).join(', ')} {axis = ${axis}} : f32[${out.join(',')}]
  return %y
}`;
}

for (const [n, axis] of [[17, 0], [40, 1], [300, 0]] as const) {
  gpuTest(`concat of ${n} operands along axis ${axis} runs on the GPU, split to fit the device's bindings`, async (t, ctx) => {
    const g = parseModule(concatOf(n, axis), 'c.ir').main;
    const limit = ctx.limits.maxStorageBuffersPerShaderStage;
    const compiled = compileGraph(g, ctx);
    t.true(compiled.plan.dispatches.every((d) => d.bindings.length <= limit), `a dispatch binds more than ${limit} buffers`);
    t.true(compiled.plan.dispatches.length > 1);
    t.regex(compiled.graph.nodes.at(-1)!.note ?? '', new RegExp(`concat of ${n} operands split into \\d+ levels of at most ${limit - 1}`));
    const inputs = randomInputs(g, 3);
    const want = interpret(g, inputs)[0]!;
    const [got] = await runGraphOnGpu(g, inputs, ctx);
    t.deepEqual([...got!.data], [...want.data].map((v) => Math.fround(v)));
  });
}
