// softmax and log_softmax over an axis of length 1 keep NaN and infinities on
// the GPU, as the reference does (issue #12): the shader compiler folded
// x - max (= x - x) to 0 and turned them into 1 and 0.

import { interpret } from '../ir/interp/interpret.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { parseModule } from '../ir/text/parser.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { f16ModeOf, MODES, needsShaderF16, dtypeOf } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

for (const op of ['softmax', 'log_softmax'] as const) {
  for (const mode of MODES) {
    (needsShaderF16(mode) ? gpuF16Test : gpuTest)(`${op} over a length-1 axis propagates NaN and infinities [${mode}]`, async (t, ctx) => {
      const d = dtypeOf(mode);
      const g = parseModule(`graph @s(%x: ${d}[5,1]) -> (${d}[5,1]) {
  %y = ${op} %x {axis = 1} : ${d}[5,1]
  return %y
}`, 's.ir').main;
      const x = hostTensor(d, [5, 1], [0.5, Infinity, -Infinity, NaN, -3]);
      const want = [...interpret(g, { x })[0]!.data];
      const got = [...(await runGraphOnGpu(g, { x }, ctx, { f16Mode: f16ModeOf(mode) }))[0]!.data];
      t.deepEqual(got, want);
      t.deepEqual(want.map((v) => Number.isNaN(v)), [false, true, true, true, false]);
    });
  }
}
