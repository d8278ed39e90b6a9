// Widened accumulators (ir/op-def.ts accumulatorResult, passes/precision/
// widen.ts) and the finite check that reads what decides a gradient's
// finiteness (passes/fusion/finite.ts):
// - the IR: f16 matmuls and sums with acc = f32 may declare an f32 result
//   (nothing else may), printed and parsed back; autodiff through them gives
//   the gradients of the unwidened op;
// - the AMP train step writes the weight gradients from their accumulators,
//   and fusion then checks the f16 operands, so every update runs in the
//   epilogue of its gradient's kernel;
// - on the reference interpreter the narrowed check raises exactly the flags
//   of the unfused step, on finite steps and on the two ways a step overflows
//   (an input beyond f16's range, a loss scale that overflows the backward);
// - on the GPU, in every f16 mode, widened matmuls and sums (beyond f16's
//   range) and the finite check over f16 values and cast prologues agree
//   with the reference.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { initialValues, traceModule } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { batchSpecs, classificationLoss, mlp } from '../examples/mnist/models.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { fuseGraph } from '../passes/fusion.ts';
import { initialInputs } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, MODES, needsShaderF16, seededValues } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

const parse = (text: string): Graph => parseModule(text, 't.ir').main;

// ---------------------------------------------------------------- the IR

test('an f16 matmul or sum with acc = f32 may declare its f32 accumulator as its result; it prints and parses back', (t) => {
  const text = `graph @w(%a: f16[4,3], %b: f16[4,5]) -> (f32[3,5], f32[3], f32[5]) {
  %g = matmul %a, %b {transpose_a = true, acc = f32} : f32[3,5]
  %s = reduce_sum %a {axes = [0], acc = f32} : f32[3]
  %m = reduce_mean %b {axes = [0], acc = f32} : f32[5]
  return %g, %s, %m
}
`;
  const g = parse(text);
  verifyGraph(g);
  t.is(printGraph(g), text);
});

test('only the accumulator dtype of f16 operands may be declared: other results are E0301', (t) => {
  const cases = [
    'graph @w(%a: f16[2,2]) -> (f32[2,2]) {\n  %g = matmul %a, %a {acc = f16} : f32[2,2]\n  return %g\n}',
    'graph @w(%a: f32[2,2]) -> (f16[2,2]) {\n  %g = matmul %a, %a {acc = f32} : f16[2,2]\n  return %g\n}',
    'graph @w(%a: f16[2,2]) -> (f32[2]) {\n  %g = reduce_max %a {axes = [0]} : f32[2]\n  return %g\n}',
  ];
  for (const c of cases) {
    const e = t.throws(() => parse(c), { instanceOf: AmpcError });
    t.is(e?.code, 'E0301', c);
  }
});

test('autodiff through a widened matmul and sum gives the gradients of the f16 op widened by a cast', (t) => {
  const widened = parse(`graph @w(%x: f16[4,3], %w: f16[3,5] {param}) -> (f32[]) {
  %y = matmul %x, %w {acc = f32} : f32[4,5]
  %l = reduce_sum %y {axes = [0, 1], acc = f32} : f32[]
  return %l
}`);
  const cast = parse(`graph @w(%x: f16[4,3], %w: f16[3,5] {param}) -> (f32[]) {
  %y16 = matmul %x, %w {acc = f32} : f16[4,5]
  %y = cast %y16 {to = f32} : f32[4,5]
  %l = reduce_sum %y {axes = [0, 1], acc = f32} : f32[]
  return %l
}`);
  const inputs = { x: hostTensor('f16', [4, 3], seededValues(1, 12)), w: hostTensor('f16', [3, 5], seededValues(2, 15)) };
  const a = interpret(gradientGraph(widened), inputs), b = interpret(gradientGraph(cast), inputs);
  t.deepEqual([...a[1]!.data], [...b[1]!.data]);
  t.is(a[1]!.dtype, 'f16');
});

// ---------------------------------------------------------------- the train step

function mnistStep(precision: 'amp' | 'f32' = 'amp', lossScale?: number) {
  const traced = traceModule(mlp(), batchSpecs('mlp', 8), { call: classificationLoss });
  const step = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 }, { precision, ...(lossScale !== undefined ? { lossScale } : {}) });
  return { traced, step };
}

test('the AMP train step writes every weight and bias gradient from its f32 accumulator', (t) => {
  const { step } = mnistStep();
  for (const p of ['0.weight', '0.bias', '2.weight', '2.bias']) {
    const d = step.graph.nodes.flatMap((n) => n.results).find((v) => v.name === `grad.${p}`)!;
    t.true(['matmul', 'reduce_sum'].includes(d.def!.op), `${p}: ${d.def!.op}`);
    t.is(d.type.dtype, 'f32');
    t.true(d.def!.operands.every((v) => v.type.dtype === 'f16'), p);
    t.regex(d.def!.note ?? '', /f32 result: its f32 accumulator/);
  }
  t.false(step.graph.nodes.some((n) => n.op === 'cast' && n.results[0]!.name?.startsWith('grad.')));
});

test('fused, the finite check reads the batch, the activation and the gradients flowing back, not the weight gradients', (t) => {
  const { step } = mnistStep();
  const { graph, stats } = fuseGraph(step.graph, { castPrologues: true });
  t.deepEqual(stats.finiteNarrowed, { 'widened-matmul': 2, 'widened-reduce': 2, 'widening-cast': 0 });
  const check = graph.nodes.find((n) => n.results[0]!.name === 'grads.finite')!;
  t.is(check.op, 'fused');
  const inner = check.body!.nodes.find((n) => n.op === 'finite_check')!;
  t.is(inner.operands.length, 5, printGraph(check.body!)); // 1/scale, x (as f16), dh1, h1, dlogits
  t.true(inner.operands.slice(1).every((v) => v.type.dtype === 'f16'));
  t.is(check.body!.nodes.filter((n) => n.op === 'cast').length, 1); // the batch, converted as it loads
  t.false(graph.nodes.some((n) => n.results.some((r) => r.name?.startsWith('grad.'))), 'no gradient is stored');
});

/** The step's outputs on the interpreter: unfused (checking the gradients) and fused (checking what decides them). */
function bothWays(lossScale: number, x: number[]): { plain: HostTensor[]; fused: HostTensor[]; skipped: [number, number]; narrowed: number } {
  const { traced, step } = mnistStep('amp', lossScale);
  const inputs: Record<string, HostTensor> = {
    ...Object.fromEntries(traced.params.map((s) => [s.name, hostTensor(s.type.dtype, s.type.shape, initialValues(s, 3))])),
    ...initialInputs(step, { lr: 1e-3 }),
    [traced.graph.inputs[0]!.name!]: hostTensor('f32', [8, 784], x),
    [traced.graph.inputs[1]!.name!]: hostTensor('i32', [8], [0, 1, 2, 3, 4, 5, 6, 7]),
  };
  const { graph: fused, stats } = fuseGraph(step.graph, { castPrologues: true });
  const plain = interpret(step.graph, inputs), out = interpret(fused, inputs);
  const k = step.graph.outputs.findIndex((v) => v.name === 'new.amp.skipped');
  const narrowed = Object.values(stats.finiteNarrowed).reduce((a, b) => a + b, 0);
  return { plain, fused: out, skipped: [Number(plain[k]!.data[0]), Number(out[k]!.data[0])], narrowed };
}

for (const [name, scale, overflow] of [
  ['a finite step', 1024, 'none'],
  ['an input beyond f16\'s range (the batch\'s f16 copy is inf)', 1024, 'input'],
  ['a loss scale that overflows the backward in f16', 16777216, 'scale'],
] as const) {
  test(`the narrowed finite check decides as the unfused step does: ${name}`, (t) => {
    const x = seededValues(5, 8 * 784, 0, 1).map((v, i) => (overflow === 'input' && i === 100 ? 70000 : overflow === 'scale' ? v * 50 : v));
    const { plain, fused, skipped, narrowed } = bothWays(scale, x);
    t.is(narrowed, 4);
    t.deepEqual(skipped, overflow === 'none' ? [0, 0] : [1, 1]);
    t.is(plain.length, fused.length);
    plain.forEach((p, k) => t.deepEqual([...fused[k]!.data], [...p.data], `output ${k}`));
  });
}

// ---------------------------------------------------------------- the GPU

for (const mode of MODES.filter((m) => m !== 'f32')) {
  (needsShaderF16(mode) ? gpuF16Test : gpuTest)(`widened matmuls and sums beyond f16's range agree with the reference [${mode}]`, async (t, ctx) => {
    const g = parse(`graph @w(%a: f16[37,19], %b: f16[37,23], %c: f16[19,37]) -> (f32[19,23], f32[23,19], f32[19], f32[37]) {
  %g = matmul %a, %b {transpose_a = true, acc = f32} : f32[19,23]
  %h = matmul %b, %c {transpose_a = true, transpose_b = true, acc = f32} : f32[23,19]
  %s = reduce_sum %a {axes = [0], acc = f32} : f32[19]
  %m = reduce_mean %c {axes = [0], acc = f32} : f32[37]
  return %g, %h, %s, %m
}`);
    // Up to 60000 · 300 · 37 terms: far past f16's 65504, which an f16 result would have turned into inf.
    const a = seededValues(3, 37 * 19, 30000, 60000), b = seededValues(4, 37 * 23, 100, 300), c = seededValues(5, 19 * 37, 30000, 60000);
    const inputs = { a: hostTensor('f16', [37, 19], a), b: hostTensor('f16', [37, 23], b), c: hostTensor('f16', [19, 37], c) };
    const ref = interpret(g, inputs);
    t.true(ref.slice(0, 3).every((r) => [...r.data].every((v) => Number.isFinite(v) && Math.abs(Number(v)) > 65504)));
    await checkAgainstReference(t, ctx, g, inputs, f16ModeOf(mode));
  });

  (needsShaderF16(mode) ? gpuF16Test : gpuTest)(`a finite check over f16 values and a cast it converts as it loads [${mode}]`, async (t, ctx) => {
    const d = dtypeOf(mode);
    t.is(d, 'f16');
    const g = parse(`graph @c(%inv: f32[], %x: f32[5,7], %h: f16[3,4]) -> (bool[]) {
  %f = fused %inv, %x, %h : bool[]
    graph @fused.0(%inv: f32[], %x: f32[5,7], %h: f16[3,4]) -> (bool[]) {
      %x16 = cast %x {to = f16} : f16[5,7]
      %f = finite_check %inv, %x16, %h : bool[]
      return %f
    }
  return %f
}`);
    const cases: [string, number, number, boolean][] = [
      ['all finite', 65000, 1, true],
      ['an f32 value that rounds to inf in f16', 65520, 1, false],
      ['the largest f32 value that rounds to 65504', 65519, 1, true],
      ['inf in the f16 tensor', 1, Infinity, false],
      ['NaN in the f16 tensor', 1, NaN, false],
    ];
    for (const [what, xv, hv, want] of cases) {
      const x = seededValues(6, 35).map((v, i) => (i === 17 ? xv : v));
      const h = seededValues(7, 12).map((v, i) => (i === 5 ? hv : v));
      const inputs = { inv: hostTensor('f32', [], [1 / 65536]), x: hostTensor('f32', [5, 7], x), h: hostTensor('f16', [3, 4], h) };
      t.is(interpret(g, inputs)[0]!.data[0], want ? 1 : 0, `reference: ${what}`);
      const got = await runGraphOnGpu(g, inputs, ctx, { f16Mode: f16ModeOf(mode) });
      t.is(got[0]!.data[0], want ? 1 : 0, `gpu: ${what}`);
    }
  });
}
