// The fusion pass: on every golden and example graph (as written and under
// AMP) and on whole train steps, the fused graph verifies, prints and parses
// back unchanged, and the reference interpreter gives exactly the unfused
// outputs (a fused body keeps every op and dtype). On the MNIST MLP's AMP
// train step each parameter's whole update is one kernel. Legality: groups
// stay convex, a matmul heads at most one group and nothing of its group
// feeds it; malformed fused bodies are E0404; passes that must run before
// fusion refuse fused graphs.

import test from 'ava';
import type { Graph } from '../ir/graph.ts';
import { interpret, randomInputs } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { verifyGraph } from '../ir/verify.ts';
import { countKernels, fuseGraph } from '../passes/fusion.ts';
import { CHECKS_PER_KERNEL } from '../compiler/kernels/loss-scaling.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import { batchSpecs, classificationLoss, cnn, mlp } from '../examples/mnist/models.ts';
import { traceModule } from '../ir/trace/index.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { errorOf } from './helpers/errors.ts';
import { pipelineCases, trainStepCases } from './helpers/fusion-cases.ts';

const parse = (text: string): Graph => parseModule(text, 'test.ir').main;

function sameTensors(t: import('ava').ExecutionContext, a: ReturnType<typeof interpret>, b: ReturnType<typeof interpret>, what: string): void {
  t.is(a.length, b.length, what);
  a.forEach((x, i) => {
    const y = b[i]!;
    t.deepEqual([x.dtype, x.shape], [y.dtype, y.shape], `${what}: output ${i}`);
    const bad = x.data.findIndex((v, k) => !Object.is(v, y.data[k]));
    t.is(bad, -1, `${what}: output ${i} element ${bad}: ${x.data[bad]} vs ${y.data[bad]}`);
  });
}

for (const c of [...pipelineCases(), ...trainStepCases()]) {
  test(`fused = unfused on the reference, and round-trips: ${c.name}`, (t) => {
    const { graph: fused, stats } = fuseGraph(c.graph);
    verifyGraph(fused);
    const text = printGraph(fused);
    t.is(printGraph(parse(text)), text, 'print(parse(print(fused))) === print(fused)');
    t.true(stats.kernelsAfter <= stats.kernelsBefore);
    t.is(countKernels(fused), stats.kernelsAfter);
    const inputs = randomInputs(c.graph, 11);
    sameTensors(t, interpret(fused, inputs), interpret(c.graph, inputs), c.name);
    // Reparsed, the fused graph computes the same too.
    sameTensors(t, interpret(parse(text), inputs), interpret(c.graph, inputs), `${c.name} (reparsed)`);
  });
}

test('MNIST MLP AMP train step: every parameter update is one kernel; bias, activation and output casts join their matmuls', (t) => {
  const r = traceModule(mlp(), batchSpecs('mlp', 64), { call: classificationLoss });
  const step = trainStepGraph(r.graph, { kind: 'adam', lr: 1e-3 }, { precision: 'amp' });
  // 16 storage buffers per kernel, as lavapipe and NVIDIA's Vulkan driver allow (an Adam update binds 11).
  const { graph, stats } = fuseGraph(step.graph, { maxBindings: 16 });
  t.log(`kernels ${stats.kernelsBefore} -> ${stats.kernelsAfter}, ${stats.groups} groups of ${stats.opsFused} ops`);
  t.true(stats.kernelsAfter <= 24, `${stats.kernelsAfter} kernels`);
  for (const p of ['0.weight', '0.bias', '2.weight', '2.bias']) {
    const node = graph.outputs.find((v) => v.name === `new.${p}`)!.def!;
    t.is(node.op, 'fused', p);
    const names = node.results.map((v) => v.name);
    t.true(names.includes(`new.adam.m.${p}`) && names.includes(`new.adam.v.${p}`), `${p}: ${names.join(', ')}`);
    // The guarded update runs in the epilogue of the matmul or reduce_sum that computes the gradient
    // (the finite check reads what decides the gradient's finiteness), so no weight gradient is stored.
    t.regex(node.note ?? '', /^fused: (matmul|reduce_sum)[^:]* with a \d+-op epilogue over /);
  }
  t.false(graph.nodes.some((n) => n.results.some((r) => r.name?.startsWith('grad.'))), 'no stored gradient');
  // Forward: matmul + bias + relu in one kernel.
  const fwd = graph.nodes.find((n) => n.op === 'fused' && n.body!.nodes.some((b) => b.op === 'matmul') && n.body!.nodes.some((b) => b.op === 'relu'));
  t.truthy(fwd, 'a matmul with its bias and relu epilogue');
  t.regex(fwd!.note ?? '', /^fused: matmul, converting both operands as it loads \(cast prologue\) with a 2-op epilogue/);
  // Cast prologues: no f16 copy of a weight or of the batch is written; the matmuls read f32 and convert.
  t.false(graph.nodes.some((n) => n.op === 'cast' && n.operands[0]!.type.dtype === 'f32' && n.results[0]!.type.dtype === 'f16'), 'a separate f32 -> f16 cast kernel');
  // Without them (fuseGraph's option; CPU adapters may turn them off), the casts stay kernels of their own.
  const plain = fuseGraph(step.graph, { maxBindings: 16, castPrologues: false }).graph;
  t.true(plain.nodes.some((n) => n.op === 'cast' && n.operands[0]!.name === '0.weight'));
  // Weight gradients come out of their matmuls in f32: no separate cast kernel of an f16 dW.
  for (const n of graph.nodes) {
    if (n.op === 'cast' && n.operands[0]!.def?.op === 'matmul') t.fail(`unfused output cast ${printGraph(graph).split('\n').find((l) => l.includes(`%${n.results[0]!.name} =`))}`);
  }
});

test('MNIST CNN AMP train step: batch_norm and the reductions of its backward read the f16 conv output through its widening cast (no f32 copy stored)', (t) => {
  const r = traceModule(cnn(), batchSpecs('cnn', 8), { call: classificationLoss });
  const updates = r.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
  const step = trainStepGraph(r.graph, { kind: 'adam', lr: 1e-3 }, { precision: 'amp', extraUpdates: updates });
  const { graph, stats } = fuseGraph(step.graph, { maxBindings: 16 });
  t.true((stats.leftAlone['recomputed-by-readers'] ?? 0) >= 2, JSON.stringify(stats.leftAlone));
  const norms = graph.nodes.filter((n) => n.op === 'fused' && n.body!.nodes.some((b) => b.op === 'batch_norm'));
  t.is(norms.length, 2);
  for (const n of norms) {
    t.is(n.operands[0]!.type.dtype, 'f16');
    // The cast of the conv output to f32 is gone: every reader converts the f16 value itself.
    t.false(graph.nodes.some((c) => c.op === 'cast' && c.operands[0] === n.operands[0]), 'an f32 copy of the batch_norm input');
    t.deepEqual(n.body!.nodes.map((b) => b.op), ['cast', 'batch_norm']);
    t.regex(n.note ?? '', /^fused: batch_norm, converting an operand as it loads \(cast prologue\)/);
    t.is(n.results[0]!.type.dtype, 'f32', 'batch_norm still computes and writes f32 (deny list)');
  }
  const reductions = graph.nodes.filter((n) => n.op === 'fused' && n.body!.nodes[0]!.op === 'cast' && n.body!.nodes.some((b) => b.op === 'reduce_mean'));
  t.true(reductions.length >= 2, 'the backward\'s mean of x reads f16');
  const inputs = randomInputs(step.graph, 5);
  sameTensors(t, interpret(graph, inputs), interpret(step.graph, inputs), 'cnn amp');
});

test('a batch_norm or reduction body converts only widening casts as it loads', (t) => {
  const text = `graph @g(%x: f32[2,3,4], %g: f32[3], %b: f32[3], %m: f32[3], %v: f32[3]) -> (f16[2,3,4]) {
  %y = fused %x, %g, %b, %m, %v : f16[2,3,4]
    graph @fused.0(%a: f32[2,3,4], %g: f32[3], %b: f32[3], %m: f32[3], %v: f32[3]) -> (f16[2,3,4]) {
      %0 = cast %a {to = f16} : f16[2,3,4]
      %1 = batch_norm %0, %g, %b, %m, %v {training = false} : f16[2,3,4]
      return %1
    }
  return %y
}`;
  const e = errorOf(() => verifyGraph(parse(text)));
  t.is(e.code, 'E0404');
  t.regex(e.message, /the batch_norm of body @fused.0 must read body inputs or f16 -> f32 casts of them/);
});

test('a group never contains a path through an outside op (convexity)', (t) => {
  // %a feeds a reduction outside any group whose result feeds %c: {a, c} would need the reduction inside the kernel.
  const g = parse(`graph @g(%x: f32[4,8]) -> (f32[4,8]) {
  %a = exp %x : f32[4,8]
  %s = reduce_sum %a {axes = [1], keepdims = true, acc = f32} : f32[4,1]
  %b = neg %a : f32[4,8]
  %c = div %b, %s : f32[4,8]
  return %c
}`);
  const { graph } = fuseGraph(g);
  const fusedNodes = graph.nodes.filter((n) => n.op === 'fused');
  for (const f of fusedNodes) {
    const ops = f.body!.nodes.map((n) => n.op);
    t.false(ops.includes('exp') && ops.includes('div'), ops.join(','));
  }
  t.deepEqual(graph.nodes.map((n) => n.op), ['exp', 'reduce_sum', 'fused']);
  const inputs = randomInputs(g, 1);
  sameTensors(t, interpret(graph, inputs), interpret(g, inputs), 'convex');
});

test('a matmul heads one group; an op feeding it stays outside; two matmuls never share a kernel', (t) => {
  const g = parse(`graph @g(%x: f32[4,4], %w: f32[4,4], %v: f32[4,4]) -> (f32[4,4]) {
  %e = exp %x : f32[4,4]
  %m = matmul %e, %w {acc = f32} : f32[4,4]
  %n = matmul %e, %v {acc = f32} : f32[4,4]
  %s = add %m, %n : f32[4,4]
  %r = add %s, %e : f32[4,4]
  return %r
}`);
  const { graph } = fuseGraph(g);
  for (const f of graph.nodes.filter((n) => n.op === 'fused')) {
    const ops = f.body!.nodes.map((n) => n.op);
    t.true(ops.filter((o) => o === 'matmul').length <= 1, ops.join(','));
    if (ops.includes('matmul')) t.false(ops.includes('exp'), 'exp feeds the matmul: it cannot be its epilogue');
  }
  const inputs = randomInputs(g, 2);
  sameTensors(t, interpret(graph, inputs), interpret(g, inputs), 'anchors');
});

test('malformed fused bodies are E0404 at their place', (t) => {
  const body = (inner: string, sig = '(%a: f32[4]) -> (f32[4])') => `graph @g(%x: f32[4]) -> (f32[4]) {
  %y = fused %x : f32[4]
    graph @fused.0${sig} {
${inner}
    }
  return %y
}`;
  const cases: [string, RegExp][] = [
    [body('      %0 = softmax %a : f32[4]\n      return %0'), /holds softmax; only elementwise ops, constants and one matmul or reduction/],
    [body('      %0 = reduce_sum %a {axes = [0], keepdims = true, acc = f32} : f32[1]\n      %1 = add %a, %0 : f32[4]\n      return %1'), /the reduce_sum of body @fused.0 gives \[1\], not the fused shape \[4\]/],
    [body('      %0 = neg %a : f32[2,4]\n      return %0', '(%a: f32[2,4]) -> (f32[2,4])'), /operand 0 is f32\[4\] but body input %a is f32\[2,4\]/],
    [body('      %0 = neg %a : f32[4]\n      return %0', '(%a: f32[4], %b: f32[4]) -> (f32[4])'), /1 operand\(s\) but the body @fused.0 takes 2 input\(s\)/],
  ];
  for (const [text, want] of cases) {
    const e = errorOf(() => verifyGraph(parse(text)));
    t.is(e.code, 'E0404', e.message);
    t.regex(e.message, want);
    t.regex(e.message, /^test\.ir:\d+:\d+: /);
  }
  t.is(errorOf(() => parse('graph @g(%x: f32[4]) -> (f32[4]) {\n  %y = fused %x : f32[4]\n  return %y\n}')).code, 'E0404');
});

test('precision assignment refuses a fused graph (it runs before fusion)', (t) => {
  const g = parse(`graph @g(%x: f32[4,4], %w: f32[4,4] {param}) -> (f32[4,4]) {
  %0 = matmul %x, %w {acc = f32} : f32[4,4]
  %1 = relu %0 : f32[4,4]
  return %1
}`);
  const e = errorOf(() => runPipeline(fuseGraph(g).graph, pipelineByName('amp'), { options: {} }));
  t.is(e.code, 'E0404');
  t.regex(e.message, /already fused/);
});

test('fused kernels stay within the device binding limit (8, WebGPU\'s guaranteed minimum; 10, SwiftShader)', (t) => {
  for (const c of trainStepCases()) {
    for (const limit of [8, 10]) {
      const { graph } = fuseGraph(c.graph, { maxBindings: limit });
      for (const n of graph.nodes.filter((m) => m.op === 'fused')) {
        // A finite check's kernels take its tensors CHECKS_PER_KERNEL at a time, with the inverse scale and the flag.
        const check = n.body!.nodes.some((b) => b.op === 'finite_check');
        const bound = check ? 1 + Math.min(n.operands.length - 1, CHECKS_PER_KERNEL) + 1 : n.operands.length + n.results.length;
        t.true(bound <= limit, `${c.name}: ${n.results.map((r) => r.name).join(', ')} binds ${bound} > ${limit}`);
      }
    }
  }
});
