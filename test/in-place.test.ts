// Updates written in place (compiler/in-place.ts, writtenInPlace in
// compiler/lower.ts): a fused optimizer update reads a parameter and its
// state at the element it writes, so it writes their new values straight
// into their buffers, each bound once (read_write). The binding merge on
// kernel text; which operands a fused kernel reads only at its own element;
// the MNIST MLP's Adam step, f32 and AMP, for both adapter kinds: no weight
// or moment is copied back after the step, and the step needs about half
// the bytes. The numerics on the adapter are checked against the reference
// by test/train-step-gpu.test.ts (SGD, AdamW, Adam steps in place).

import test from 'ava';
import { compileGraph } from '../compiler/compile.ts';
import { mergeAliasedBindings, readsAlignedOnly } from '../compiler/in-place.ts';
import type { KernelLaunch } from '../compiler/kernels/context.ts';
import { crossEntropy, f32, i32, nn, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { runPipeline } from '../passes/runner.ts';
import { CODEGEN_PASSES } from '../passes/pipeline.ts';
import { planBufferBytes } from '../runtime/plan.ts';

const launch = (decls: string[], body: string, bindings: number[]): KernelLaunch => ({
  label: 'k', usesF16: false, workgroups: [1, 1, 1], bindings,
  code: [...decls.map((d, i) => `@group(0) @binding(${i}) var<storage, ${d};`), '@compute @workgroup_size(64)', `fn main() { ${body} }`].join('\n'),
});

test('a buffer bound read and read_write is bound once: reads go through the written binding, the bindings above move down', (t) => {
  const l = launch(['read> a: array<f32>', 'read> p: array<f32>', 'read_write> out: array<f32>', 'read> q: array<f32>'], 'let x = p[i] + a[i] + q[i]; out[i] = x; let n = arrayLength(&p);', [10, 11, 11, 12]);
  const m = mergeAliasedBindings(l);
  t.deepEqual(m.bindings, [10, 11, 12]);
  t.is(m.code, [
    '@group(0) @binding(0) var<storage, read> a: array<f32>;',
    '@group(0) @binding(1) var<storage, read_write> out: array<f32>;',
    '@group(0) @binding(2) var<storage, read> q: array<f32>;',
    '@compute @workgroup_size(64)',
    'fn main() { let x = out[i] + a[i] + q[i]; out[i] = x; let n = arrayLength(&out); }',
  ].join('\n'));
  // Read twice (and written): one binding; a name that only starts like another is left alone.
  const two = mergeAliasedBindings(launch(['read> p: array<f32>', 'read> p2: array<f32>', 'read_write> o: array<f32>', 'read> p22: array<f32>'], 'o[i] = p[i] + p2[i] + p22[i];', [5, 5, 5, 6]));
  t.deepEqual(two.bindings, [5, 6]);
  t.regex(two.code, /fn main\(\) \{ o\[i\] = o\[i\] \+ o\[i\] \+ p22\[i\]; \}/);
  t.regex(two.code, /@binding\(1\) var<storage, read> p22/);
  // Nothing bound twice: the same launch.
  const one = launch(['read> a: array<f32>', 'read_write> o: array<f32>'], 'o[i] = a[i];', [1, 2]);
  t.is(mergeAliasedBindings(one), one);
  // Two writable bindings of one buffer cannot be merged.
  t.throws(() => mergeAliasedBindings(launch(['read_write> a: array<f32>', 'read_write> b: array<f32>'], '', [3, 3])), { message: /bound twice as read_write f32 and read_write f32/ });
});

function mlpStep(precision: 'f32' | 'amp') {
  const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
  const traced = traceModule(model, [f32([64, 784]), i32([64])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
  return trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 }, { precision });
}

test('a fused update reads its weight and moments only at its own element; not its matmul operands', (t) => {
  const fused = runPipeline(mlpStep('f32').graph, CODEGEN_PASSES, { options: {} });
  const update = fused.nodes.find((n) => n.op === 'fused' && n.results.some((r) => r.name === 'new.0.weight'))!;
  const at = (name: string) => update.operands.findIndex((v) => v.name === name);
  for (const name of ['0.weight', 'adam.m.0.weight', 'adam.v.0.weight']) t.true(readsAlignedOnly(update, at(name), 'native'), name);
  // The batch is the gradient matmul's operand: read along rows, not at the output element.
  t.false(readsAlignedOnly(update, at('x'), 'native'));
});

for (const precision of ['f32', 'amp'] as const) {
  for (const adapter of ['cpu', 'gpu'] as const) {
    test(`MNIST MLP Adam step (${precision}, ${adapter}): weights and moments are updated in place, no copy back`, (t) => {
      const step = mlpStep(precision);
      const target = { f16Mode: 'storage' as const, adapter };
      const plan = compileGraph(step.graph, target, { updates: step.updates, weightCopies: true }).plan;
      const copied = (plan.updates ?? []).map((u) => plan.buffers[u.to]!.name ?? '');
      t.deepEqual(copied.filter((n) => n.includes('weight')), []);
      // What is left: the biases, whose updates run in reduce_sum epilogues (not written in place yet).
      t.true(copied.every((n) => n.includes('bias')), copied.join(', '));
      // Each weight's buffer is bound once by the kernel that updates it (read_write).
      const w = plan.inputs.find((io) => io.name === '0.weight')!.buffer;
      const writers = plan.dispatches.filter((d) => d.bindings.includes(w) && /read_write/.test(plan.kernels[d.kernel]!.code.split('\n').find((l) => l.includes(`@binding(${d.bindings.indexOf(w)})`)) ?? ''));
      t.is(writers.length, 1);
      t.is(writers[0]!.bindings.filter((b) => b === w).length, 1);
      // The MLP's state is three 784x256 f32 tensors: without the copies back, less than 3.2 MiB in all.
      t.true(planBufferBytes(plan) < 3.2 * 2 ** 20, `${planBufferBytes(plan)} bytes`);
    });
  }
}
