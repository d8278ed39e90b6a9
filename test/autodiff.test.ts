// Structure of gradient graphs: outputs and names, fan-out sums, zero
// gradients for unused params, nothing for integer values, dead gradient code
// removed, errors for what cannot be differentiated, the input graph left
// alone, round trips through the text format, places of gradient ops, the
// precision of gradients, tie rules of max-like ops, and the pass and the
// `grad` pipeline.

import test from 'ava';
import { Graph } from '../ir/graph.ts';
import type { Value } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { verifyGraph } from '../ir/verify.ts';
import { autodiffPass, gradientGraph } from '../passes/autodiff.ts';
import { PIPELINES, runPipeline } from '../passes/pipeline.ts';
import type { PassOptions } from '../passes/pass.ts';
import { errorOf } from './helpers/errors.ts';

const MLP = `
graph @mlp(%x: f32[4,8], %labels: i32[4], %w1: f32[8,16] {param}, %b1: f32[16] {param}, %w2: f32[16,3] {param}, %b2: f32[3] {param}) -> (f32[]) {
  %0 = matmul %x, %w1 : f32[4,16]
  %1 = add %0, %b1 : f32[4,16]
  %h = relu %1 : f32[4,16]
  %2 = matmul %h, %w2 : f32[4,3]
  %logits = add %2, %b2 : f32[4,3]
  %loss = cross_entropy %logits, %labels : f32[]
  return %loss
}
`;

const parse = (text: string, file = 'model.ir') => parseModule(text, file).main;
const values = (v: { data: ArrayLike<number> }) => Array.from(v.data);
const f32 = (shape: number[], data: number[]) => hostTensor('f32', shape, data);

test('outputs: the original outputs, then one %grad.<param> per param, in order', (t) => {
  const g = parse(MLP);
  const grad = gradientGraph(g);
  verifyGraph(grad);
  t.deepEqual(grad.inputs.map((v) => [v.name, v.isParam, v.type]), g.inputs.map((v) => [v.name, v.isParam, v.type]));
  t.deepEqual(grad.outputs.map((v) => v.name), ['loss', 'grad.w1', 'grad.b1', 'grad.w2', 'grad.b2']);
  t.deepEqual(grad.outputs.slice(1).map((v) => v.type), g.params.map((p) => p.type));
  const some = gradientGraph(g, { wrt: ['w2', 'w1'] });
  t.deepEqual(some.outputs.map((v) => v.name), ['loss', 'grad.w2', 'grad.w1']);
});

test('the input graph is not changed', (t) => {
  const g = parse(MLP);
  const before = printGraph(g);
  const nodes = [...g.nodes];
  const outputs = [...g.outputs];
  gradientGraph(g);
  t.is(printGraph(g), before);
  t.deepEqual(g.nodes, nodes);
  t.deepEqual(g.outputs, outputs);
});

test('the gradient graph verifies, prints and parses back unchanged', (t) => {
  const grad = gradientGraph(parse(MLP));
  verifyGraph(grad);
  const text = printGraph(grad);
  const again = parseModule(text, 'grad.ir').main;
  verifyGraph(again);
  t.is(printGraph(again), text);
  t.regex(text, /%grad\.w1 = matmul %x, %\d+ \{transpose_a = true, acc = f32\} : f32\[8,16\]/);
});

test('fan-out: the gradients of every use are summed', (t) => {
  // loss = sum(w · w + w) → d/dw = 2w + 1
  const g = new Graph('fanout');
  const w = g.addInput('w', { dtype: 'f32', shape: [3] }, { param: true });
  const y = g.add('add', [g.add('mul', [w, w]), w]);
  g.setOutputs([g.add('reduce_sum', [y], { axes: [0] })]);
  const grad = gradientGraph(g);
  const [, dw] = interpret(grad, { w: f32([3], [0.5, -2, 3]) });
  t.deepEqual(values(dw!), [2, -3, 7]);
  t.true(grad.nodes.filter((n) => n.op === 'add').length >= 3, 'the forward add plus sums of the cotangents');
});

test('a param the loss does not use gets a zero gradient', (t) => {
  const g = parse(`
graph @unused(%x: f32[2], %w: f32[2] {param}, %u: f32[3,2] {param}) -> (f32[]) {
  %0 = mul %x, %w : f32[2]
  %loss = reduce_sum %0 {axes = [0]} : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  const du = grad.outputs[2]!;
  t.is(du.name, 'grad.u');
  t.is(du.def?.op, 'constant');
  t.deepEqual(du.type, { dtype: 'f32', shape: [3, 2] });
  const [, dw, du0] = interpret(grad, { x: f32([2], [3, 4]), w: f32([2], [1, 1]), u: f32([3, 2], [1, 2, 3, 4, 5, 6]) });
  t.deepEqual(values(dw!), [3, 4]);
  t.deepEqual(values(du0!), [0, 0, 0, 0, 0, 0]);
});

test('integer values carry no gradient: integer params are skipped, casts from integers end the path', (t) => {
  const g = parse(`
graph @ints(%k: i32[3] {param}, %w: f32[3] {param}) -> (f32[]) {
  %0 = cast %k {to = f32} : f32[3]
  %1 = mul %0, %w : f32[3]
  %2 = cast %1 {to = i32} : i32[3]
  %3 = cast %2 {to = f32} : f32[3]
  %4 = add %1, %3 : f32[3]
  %loss = reduce_sum %4 {axes = [0]} : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  t.deepEqual(grad.outputs.map((v) => v.name), ['loss', 'grad.w']);
  const forward = new Set(grad.nodes.slice(0, g.nodes.length));
  for (const n of grad.nodes) {
    if (forward.has(n)) continue;
    t.false(n.operands.some((v) => v.type.dtype === 'i32' && v !== grad.inputs[0]), `${n.op} reads an integer value`);
    t.false(n.results.some((v) => v.type.dtype === 'i32'), `${n.op} makes an integer value`);
  }
  // Through the f32 -> i32 -> f32 round trip the derivative is 0: d/dw = k.
  const [, dw] = interpret(grad, { k: hostTensor('i32', [3], [2, -1, 5]), w: f32([3], [0.3, 0.6, 0.9]) });
  t.deepEqual(values(dw!), [2, -1, 5]);
  const e = errorOf(() => gradientGraph(g, { wrt: ['k'] }));
  t.is(e.code, 'E0206');
  t.regex(e.message, /%k: i32\[3\] is not a float/);
});

test('only what the requested gradients need is emitted', (t) => {
  const g = parse(MLP);
  const grad = gradientGraph(g, { wrt: ['w2'] });
  const backward = grad.nodes.slice(g.nodes.length);
  t.deepEqual(backward.map((n) => n.op), ['softmax', 'one_hot', 'sub', 'constant', 'mul', 'matmul']);
  t.deepEqual(grad.outputs.map((v) => v.name), ['loss', 'grad.w2']);
});

test('a non-scalar or non-float output is a clear error at the op that makes it', (t) => {
  const g = parse(`
graph @bad(%x: f32[4,8], %w: f32[8,2] {param}) -> (f32[4,2], i32[]) {
  %y = matmul %x, %w : f32[4,2]
  %i = constant {value = 3} : i32[]
  return %y, %i
}`);
  const e = errorOf(() => gradientGraph(g));
  t.is(e.code, 'E0405');
  t.is(e.loc?.line, 3);
  t.regex(e.message, /model\.ir:3:\d+: error E0405: autodiff: output 0 \(%y: f32\[4,2\]\) is not a scalar float/);
  t.is(errorOf(() => gradientGraph(g, { output: 1 })).code, 'E0405');
  t.regex(errorOf(() => gradientGraph(g, { output: 2 })).message, /has 2 output\(s\); there is no output 2/);
  const e2 = errorOf(() => gradientGraph(parse(MLP), { wrt: ['x'] }));
  t.is(e2.code, 'E0603');
  t.regex(e2.message, /%x is not a \{param\} input of @mlp/);
  t.is(errorOf(() => gradientGraph(parse(MLP), { wrt: ['w1', 'w1'] })).code, 'E0603');
});

test('differentiating through a gradient op is an error (no second-order gradients)', (t) => {
  const g = parse(`
graph @second(%x: f32[4], %w: f32[4] {param}) -> (f32[]) {
  %0 = gelu_grad %x, %w : f32[4]
  %loss = reduce_sum %0 {axes = [0]} : f32[]
  return %loss
}`);
  const e = errorOf(() => gradientGraph(g));
  t.is(e.code, 'E0405');
  t.is(e.loc?.line, 3);
  t.regex(e.message, /gelu_grad is not differentiable/);
});

test('gradient ops keep the place of the forward op they differentiate', (t) => {
  const g = parse(MLP);
  const grad = gradientGraph(g);
  const line = (name: string) => grad.outputs.find((v) => v.name === name)!.def!.loc!.line;
  t.is(line('grad.w1'), 3); // %0 = matmul %x, %w1
  t.is(line('grad.w2'), 6); // %2 = matmul %h, %w2
  t.is(line('grad.b2'), 7); // %logits = add %2, %b2
  const softmax = grad.nodes.find((n) => n.op === 'softmax')!;
  t.is(softmax.loc?.line, 8); // cross_entropy
  t.is(softmax.loc?.file, 'model.ir');
});

test('precision: gradients keep their forward dtypes and matmul gradients the forward acc', (t) => {
  const g = parse(`
graph @half(%x: f32[4,8], %w: f32[8,2] {param}) -> (f32[]) {
  %x16 = cast %x {to = f16} : f16[4,8]
  %w16 = cast %w {to = f16} : f16[8,2]
  %0 = matmul %x16, %w16 {acc = f16} : f16[4,2]
  %1 = cast %0 {to = f32} : f32[4,2]
  %loss = reduce_sum %1 {axes = [0, 1]} : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  const mm = grad.nodes.slice(g.nodes.length).filter((n) => n.op === 'matmul');
  t.is(mm.length, 1);
  t.is(mm[0]!.attrs.acc, 'f16');
  t.is(mm[0]!.results[0]!.type.dtype, 'f16');
  const dw = grad.outputs[1]!;
  t.is(dw.def?.op, 'cast');
  t.deepEqual(dw.type, { dtype: 'f32', shape: [8, 2] });
});

test('ties: reduce_max and maximum split the gradient evenly between equal values', (t) => {
  const g = parse(`
graph @ties(%x: f32[2,3] {param}, %a: f32[3] {param}, %b: f32[3] {param}) -> (f32[]) {
  %m = reduce_max %x {axes = [1]} : f32[2]
  %s = reduce_sum %m {axes = [0]} : f32[]
  %y = maximum %a, %b : f32[3]
  %z = reduce_sum %y {axes = [0]} : f32[]
  %loss = add %s, %z : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  const [, dx, da, db] = interpret(grad, {
    x: f32([2, 3], [1, 5, 5, 2, 2, 2]),
    a: f32([3], [1, 2, 3]),
    b: f32([3], [0, 2, 4]),
  });
  t.deepEqual(values(dx!), [0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]);
  t.deepEqual(values(da!), [1, 0.5, 0]);
  t.deepEqual(values(db!), [0, 0.5, 1]);
});

test('the loss may be a param itself; two params may share a cotangent', (t) => {
  const g = new Graph('direct');
  const w = g.addInput('w', { dtype: 'f32', shape: [] }, { param: true });
  g.setOutputs([w]);
  const grad = gradientGraph(g);
  verifyGraph(grad);
  t.deepEqual(values(interpret(grad, { w: f32([], [4]) })[1]!), [1]);

  const h = new Graph('shared');
  const a = h.addInput('a', { dtype: 'f32', shape: [2] }, { param: true });
  const b = h.addInput('b', { dtype: 'f32', shape: [2] }, { param: true });
  h.setOutputs([h.add('reduce_sum', [h.add('add', [a, b])], { axes: [0] })]);
  const gh = gradientGraph(h);
  verifyGraph(gh);
  const [, ga, gb] = gh.outputs.slice(0, 3) as [Value, Value, Value];
  t.not(ga, gb);
  t.deepEqual([ga.name, gb.name], ['grad.a', 'grad.b']);
  t.is(printGraph(parseModule(printGraph(gh)).main), printGraph(gh));

  // d(a · w)/dw is the input %a itself: the gradient output is a copy named grad.w.
  const k = new Graph('input_grad');
  const av = k.addInput('a', { dtype: 'f32', shape: [] });
  const wv = k.addInput('w', { dtype: 'f32', shape: [] }, { param: true });
  k.setOutputs([k.add('mul', [av, wv])]);
  const gk = gradientGraph(k);
  verifyGraph(gk);
  t.is(gk.outputs[1]!.name, 'grad.w');
  t.is(gk.inputs[0]!.name, 'a');
  t.deepEqual(values(interpret(gk, { a: f32([], [2.5]), w: f32([], [3]) })[1]!), [2.5]);
});

test('a value already named grad.<param> does not clash', (t) => {
  const g = parse(`
graph @clash(%w: f32[2] {param}) -> (f32[]) {
  %grad.w = mul %w, %w : f32[2]
  %loss = reduce_sum %grad.w {axes = [0]} : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  verifyGraph(grad);
  t.is(grad.outputs[1]!.name, 'grad.w.1');
});

test('batch_norm: the running statistics carry no gradient', (t) => {
  const g = parse(`
graph @stats(%x: f32[4,2], %g: f32[2] {param}, %b: f32[2] {param}, %m: f32[2], %v: f32[2]) -> (f32[]) {
  %y, %nm, %nv = batch_norm %x, %g, %b, %m, %v {training = true} : f32[4,2], f32[2], f32[2]
  %loss = reduce_sum %nm {axes = [0]} : f32[]
  return %loss
}`);
  const grad = gradientGraph(g);
  t.deepEqual(grad.outputs.slice(1).map((v) => v.def?.op), ['constant', 'constant']);
});

test('the autodiff pass and the grad pipeline', (t) => {
  t.deepEqual(PIPELINES.grad!.map((p) => p.name), ['autodiff']);
  const g = parse(MLP);
  const out = runPipeline(g, PIPELINES.grad!, { options: {} });
  t.is(printGraph(out), printGraph(gradientGraph(g)));
  const only = autodiffPass.run(g, { options: { gradWrt: ['b1'] } });
  t.deepEqual(only.outputs.map((v) => v.name), ['loss', 'grad.b1']);
  t.is(errorOf(() => autodiffPass.run(g, { options: { gradWrt: 'b1' } as unknown as PassOptions })).code, 'E0609');
});

test('a weight under a batched left operand (a Linear on [B, T, K]) gets its gradient from one matmul over the merged rows, equal to the per-batch sum', (t) => {
  for (const tb of [false, true]) {
    const w = tb ? 'f32[3,4]' : 'f32[4,3]';
    const g = parseModule(`graph @lin(%x: f32[2,5,4], %w: ${w} {param}) -> (f32[]) {
  %y = matmul %x, %w {transpose_b = ${tb}} : f32[2,5,3]
  %sq = mul %y, %y : f32[2,5,3]
  %l = reduce_sum %sq {axes = [0, 1, 2]} : f32[]
  return %l
}`, 'lin.ir').main;
    const d = gradientGraph(g);
    const dw = d.outputs[1]!;
    t.is(dw.def?.op, 'matmul', 'the gradient is the matmul itself, no reduce_sum after it');
    t.deepEqual(dw.def!.operands.map((v) => v.type.shape), tb ? [[10, 3], [10, 4]] : [[10, 4], [10, 3]], 'its operands are the merged rows');
    t.false(d.nodes.some((n) => n.op === 'matmul' && n.results[0]!.type.shape.length === 3 && n.results[0]!.type.shape[1] === (tb ? 3 : 4)), 'no batched [B, K, N] product');
    const x = Array.from({ length: 40 }, (_, i) => Math.sin(i + 1)), wv = Array.from({ length: 12 }, (_, i) => Math.cos(i * 0.7));
    const [, grad] = interpret(d, { x: hostTensor('f32', [2, 5, 4], x), w: hostTensor('f32', tb ? [3, 4] : [4, 3], wv) });
    // By hand: dW[k][n] = Σ_rows x[r][k] · 2 y[r][n] (transposed when tb).
    const W = (k: number, n: number) => (tb ? wv[n * 4 + k]! : wv[k * 3 + n]!);
    for (let k = 0; k < 4; k++) {
      for (let n = 0; n < 3; n++) {
        let want = 0;
        for (let r = 0; r < 10; r++) {
          let y = 0;
          for (let p = 0; p < 4; p++) y += x[r * 4 + p]! * W(p, n);
          want += x[r * 4 + k]! * 2 * y;
        }
        const got = Number(grad!.data[tb ? n * 4 + k : k * 3 + n]);
        t.true(Math.abs(got - want) < 1e-9, `tb ${tb} dW[${k}][${n}]: ${got} vs ${want}`);
      }
    }
  }
});
