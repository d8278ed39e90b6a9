// Weight copies (compiler/weight-copies.ts): without cast prologues (and,
// with prologues for the weights only, for convolutions' weights), an AMP
// train step keeps the f16 copies of its weights across steps, written by
// the weights' update kernels, instead of casting every weight each step.
// The rewrite on the MNIST MLP's step; that it is left out where it does not
// apply; on the adapter, steps with copies are bitwise those without, also
// after a weight is written from the host between steps (Session.write
// refreshes its copy), the next copies written in place (no second buffer);
// a plan whose derived input does not fit is refused.

import test from 'ava';
import { compileGraph } from '../compiler/compile.ts';
import { copyName, keepWeightCopies } from '../compiler/weight-copies.ts';
import { isAmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { crossEntropy, f32, i32, initialValues, nn, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { CAST_PROLOGUE_OPS } from '../passes/fusion/groups.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { encodeTensor } from '../runtime/host-data.ts';
import { Session } from '../runtime/session.ts';
import type { GpuContext } from '../runtime/device.ts';
import { seededValues } from './helpers/compare.ts';
import { asAdapterKind, gpuTest } from './helpers/gpu.ts';

const B = 8;

function mlpStep(precision: 'f32' | 'amp') {
  const model = new nn.Sequential(new nn.Linear(20, 16), new nn.ReLU(), new nn.Linear(16, 4));
  const traced = traceModule(model, [f32([B, 20]), i32([B])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
  const step = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-2 }, { precision });
  return { traced, step };
}

const castsOf = (g: Graph, names: readonly string[]) => g.nodes.filter((n) => n.op === 'cast' && names.includes(n.operands[0]!.name ?? ''));

test('the AMP step reads the copies instead of casting its matmuls\' weights, and writes the next ones from the updated weights', (t) => {
  const { traced, step } = mlpStep('amp');
  const weights = ['0.weight', '2.weight'];
  t.true(castsOf(step.graph, weights).length > 0);
  const c = keepWeightCopies(step.graph, step.updates)!;
  // The weights' casts feed matmuls (a kernel each); the biases' casts are recomputed in the epilogues that add them.
  t.deepEqual(c.derived.map((d) => d.from).sort(), weights);
  t.deepEqual(castsOf(c.graph, weights), []);
  t.true(castsOf(c.graph, ['0.bias', '2.bias']).length > 0);
  for (const d of c.derived) {
    t.is(d.input, copyName(d.from));
    const input = c.graph.inputs.find((v) => v.name === d.input)!;
    t.is(input.type.dtype, 'f16');
    const u = c.updates.find((x) => x.input === d.input)!;
    const out = c.graph.outputs[u.output]!;
    t.is(out.name, `new.${d.input}`);
    // The copy is the cast of the output that updates the weight.
    const weightUpdate = c.updates.find((x) => x.input === d.from)!;
    t.is(out.def?.op, 'cast');
    t.is(out.def?.operands[0], c.graph.outputs[weightUpdate.output]);
  }
  // The step's own outputs keep their indices.
  t.deepEqual(c.graph.outputs.slice(0, step.graph.outputs.length).map((v) => v.name), step.graph.outputs.map((v) => v.name));
});

test('no copies for an f32 step, nor where the compile has cast prologues or no updates', (t) => {
  const f = mlpStep('f32');
  t.is(keepWeightCopies(f.step.graph, f.step.updates), undefined);
  const { step } = mlpStep('amp');
  const target = { f16Mode: 'storage' as const, adapter: 'cpu' as const };
  const count = (spec: object) => compileGraph(step.graph, target, { updates: step.updates, ...spec }).plan.inputs.filter((x) => x.derivedFrom).length;
  t.is(count({ weightCopies: true, castPrologues: false }), 2);
  t.is(count({ weightCopies: true, castPrologues: true }), 0);
  // Prologues for the weights: the matmuls convert them as they load them, no copy to keep.
  t.is(count({ weightCopies: true, castPrologues: 'params' }), 0);
  t.is(count({ castPrologues: false }), 0);
  t.is(compileGraph(step.graph, target, { weightCopies: true }).plan.inputs.filter((x) => x.derivedFrom).length, 0);
});

test('with prologues for the weights, only the weights no kernel converts as it loads them keep copies: a convolution\'s', (t) => {
  const model = new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 4 * 4, 3));
  const traced = traceModule(model, [f32([2, 1, 6, 6]), i32([2])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
  const { graph, updates } = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-2 }, { precision: 'amp' });
  t.deepEqual(keepWeightCopies(graph, updates)!.derived.map((d) => d.from).sort(), ['0.weight', '3.weight']);
  t.deepEqual(keepWeightCopies(graph, updates, CAST_PROLOGUE_OPS)!.derived.map((d) => d.from), ['0.weight']);
  const plan = compileGraph(graph, { f16Mode: 'storage', adapter: 'cpu' }, { updates, weightCopies: true, castPrologues: 'params' }).plan;
  t.deepEqual(plan.inputs.filter((x) => x.derivedFrom).map((x) => x.derivedFrom), ['0.weight']);
});

/** A session of the AMP step compiled for a CPU adapter without cast prologues, with or without weight copies, its params written. */
async function session(ctx: GpuContext, copies: boolean) {
  const { traced, step } = mlpStep('amp');
  const plan = compileGraph(step.graph, ctx, { updates: step.updates, weightCopies: copies, castPrologues: false }).plan;
  const s = await Session.create(ctx, plan);
  for (const p of traced.params) s.write(p.name, encodeTensor('f32', initialValues(p, 3)));
  for (const st of step.state) s.write(st.name, encodeTensor(st.type.dtype, new Float64Array(st.type.shape.reduce((a, b) => a * b, 1)).fill(st.init)));
  s.write('opt.lr', encodeTensor('f32', [1e-2]));
  return { s, plan, traced, step };
}

gpuTest('with copies the steps are bitwise the steps without, also after a weight is written between steps', async (t, device) => {
  const ctx = asAdapterKind(device, 'cpu');
  const a = await session(ctx, true), b = await session(ctx, false);
  t.is(a.plan.inputs.filter((x) => x.derivedFrom).length, 2);
  t.is(a.plan.dispatches.length, b.plan.dispatches.length - 2);
  // The update kernels write the next copies straight into the copies' buffers: no update copy, no second buffer.
  const copyBuffers = new Set(a.plan.inputs.filter((x) => x.derivedFrom).map((x) => x.buffer));
  t.deepEqual((a.plan.updates ?? []).filter((u) => copyBuffers.has(u.to)), []);
  // The copies now live across steps (before, each step's casts wrote them to intermediates, which may share memory).
  const copyBytes = [...copyBuffers].reduce((n, id) => n + a.plan.buffers[id]!.byteSize, 0);
  t.true(a.s.bufferBytes <= b.s.bufferBytes + copyBytes, `${a.s.bufferBytes} > ${b.s.bufferBytes} + ${copyBytes} bytes`);
  const names = [...a.traced.params.map((p) => p.name), ...a.step.state.map((s) => s.name)];
  const batch = (k: number) => [encodeTensor('f32', seededValues(10 + k, B * 20, -2, 2)), encodeTensor('i32', Array.from({ length: B }, (_, i) => (i * 7 + k) % 4))] as const;
  const compare = async (when: string) => {
    const [x, y] = [await a.s.readInputs(names), await b.s.readInputs(names)];
    names.forEach((n, i) => t.deepEqual(new Uint8Array(x[i]!), new Uint8Array(y[i]!), `${n} ${when}`));
  };
  for (let k = 0; k < 4; k++) {
    for (const r of [a, b]) {
      const [x, y] = batch(k);
      r.s.write(r.plan.inputs[0]!.name, x);
      r.s.write(r.plan.inputs[1]!.name, y);
      r.s.run();
      // A checkpoint's weights written from the host halfway: the copy must follow.
      if (k === 1) r.s.write('0.weight', encodeTensor('f32', seededValues(99, 20 * 16, -0.5, 0.5)));
    }
  }
  await compare('after 4 steps and a write');
  const copy = await a.s.readInputs(['0.weight.f16']);
  t.is(copy[0]!.byteLength, 20 * 16 * 2);
  a.s.destroy();
  b.s.destroy();
});

gpuTest('a derived input that is not the f16 copy of an f32 input of its shape is refused (E0603)', async (t, ctx) => {
  const { plan } = await session(asAdapterKind(ctx, 'cpu'), true).then((r) => (r.s.destroy(), r));
  const bad = { ...plan, inputs: plan.inputs.map((x) => (x.derivedFrom ? { ...x, derivedFrom: plan.inputs[1]!.name } : x)) };
  const e = await t.throwsAsync(() => Session.create(ctx, bad));
  t.true(isAmpcError(e) && e.code === 'E0603', String(e));
});
