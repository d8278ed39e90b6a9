// Ops with zero-size operands run on the GPU and give the reference's result
// (issue #12): a matmul whose inner dimension is 0 reads neither operand, so
// without keepBindings (compiler/wgsl/storage.ts; lowering applies it to
// kernels that bind a zero-size buffer) their bindings fell out of the
// shader's layout and binding them failed.

import { interpret } from '../ir/interp/interpret.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { parseModule } from '../ir/text/parser.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { gpuTest } from './helpers/gpu.ts';

const CASES: Record<string, string> = {
  'matmul, inner dimension 0': `graph @m(%a: f32[1,0], %b: f32[0,1]) -> (f32[1,1]) {
  %c = matmul %a, %b : f32[1,1]
  return %c
}`,
  'matmul, inner dimension 0, batched, with a bias epilogue': `graph @m(%a: f32[2,3,0], %b: f32[2,0,4], %bias: f32[4]) -> (f32[2,3,4]) {
  %c = matmul %a, %b : f32[2,3,4]
  %d = add %c, %bias : f32[2,3,4]
  return %d
}`,
  'matmul, no rows': `graph @m(%a: f32[0,3], %b: f32[3,2]) -> (f32[0,2]) {
  %c = matmul %a, %b : f32[0,2]
  return %c
}`,
  'elementwise over nothing': `graph @e(%a: f32[0], %b: f32[0]) -> (f32[0]) {
  %c = add %a, %b : f32[0]
  return %c
}`,
  'sum over an empty axis': `graph @r(%a: f32[2,0]) -> (f32[2]) {
  %s = reduce_sum %a {axes = [1]} : f32[2]
  return %s
}`,
};

for (const [name, src] of Object.entries(CASES)) {
  gpuTest(`zero-size operands on the GPU: ${name}`, async (t, ctx) => {
    const g = parseModule(src, 'zero.ir').main;
    const inputs = randomInputs(g, 1);
    const want = interpret(g, inputs);
    const got = await runGraphOnGpu(g, inputs, ctx);
    // The reference keeps f32 inputs as f64; the device holds them as f32: compare as f32 (sums of no terms are exact).
    const asF32 = (xs: typeof got) => xs.map((x) => [x.dtype, x.shape, [...x.data].map((v) => Math.fround(v))]);
    t.deepEqual(asF32(got), asF32(want));
  });
}
