// A train step is one graph whose plan updates parameters and optimizer state
// in place on the device: lowering of `updates` into ordered buffer copies
// (snapshots of updated inputs that are also outputs first, errors E0603),
// then on the real adapter a small traced MLP compiled once and stepped with
// only the batch written per step, against the reference interpreter fed
// back on the host; Adam lowering the loss over 20 steps with no read-back
// between steps; and pass-through outputs that stay correct under updates.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { compileForDevice } from '../compiler/execute.ts';
import { lowerGraph } from '../compiler/lower.ts';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { crossEntropy, f32, i32, initialValues, nn, traceModule } from '../ir/trace/index.ts';
import type { TraceResult } from '../ir/trace/index.ts';
import { numel } from '../ir/types.ts';
import { initialInputs, nextInputs } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { OptimizerSpec, TrainStepGraph } from '../passes/optimizer.ts';
import type { GpuContext } from '../runtime/device.ts';
import { decodeTensor, encodeTensor } from '../runtime/host-data.ts';
import { Session } from '../runtime/session.ts';
import { mismatches, seededValues } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';
import { countMaps } from './helpers/map-counter.ts';

const parse = (text: string) => parseModule(text, 'model.ir').main;

// ---------------------------------------------------------------- lowering of updates (no device needed)

const PASS_THROUGH = `
graph @pt(%x: f32[4], %p: f32[4] {param}, %r: f32[4]) -> (f32[], f32[4], f32[4], f32[4]) {
  %0 = mul %x, %p : f32[4]
  %loss = reduce_sum %0 {axes = [0]} : f32[]
  %new.p = sub %p, %x : f32[4]
  return %loss, %p, %new.p, %r
}
`;

test('lowering: updates become copies after the dispatches; an updated input that is also an output gets a snapshot first', (t) => {
  const g = parse(PASS_THROUGH);
  const plain = lowerGraph(g, { f16Mode: 'packed' });
  t.is(plain.updates, undefined);
  const plan = lowerGraph(g, { f16Mode: 'packed', updates: [{ output: 2, input: 'p' }, { output: 3, input: 'r' }] });
  const input = (name: string) => plan.inputs.find((io) => io.name === name)!.buffer;
  const output = (i: number) => plan.outputs[i]!.buffer;
  // %p is output 1 and the target of an update: its output reads a snapshot, not the param buffer.
  t.is(plain.outputs[1]!.buffer, input('p'));
  t.not(output(1), input('p'));
  t.is(plan.buffers[output(1)]!.role, 'output');
  // %r updated by itself: dropped; it stays the output's buffer.
  t.is(output(3), input('r'));
  t.deepEqual(plan.updates, [{ from: input('p'), to: output(1) }, { from: output(2), to: input('p') }]);
  t.is(plan.buffers.length, plain.buffers.length + 1);
  t.deepEqual(plan.dispatches, plain.dispatches);
});

test('lowering: an update computed after every read of its input is written in place, unless its kernel reads the input or a view of it', (t) => {
  const plan = (body: string) => lowerGraph(parse(`graph @u(%p: f32[2,2], %x: f32[2,2]) -> (f32[], f32[2,2]) {
  %loss = reduce_sum %p {axes = [0, 1]} : f32[]
${body}
  return %loss, %new.p
}`), { f16Mode: 'packed', updates: [{ output: 1, input: 'p' }] });
  const inputP = (pl: ReturnType<typeof plan>) => pl.inputs.find((io) => io.name === 'p')!.buffer;
  // The kernel of %new.p reads only %x, and the one reader of %p ran before: in place, no copy.
  const a = plan('  %new.p = neg %x : f32[2,2]');
  t.is(a.outputs[1]!.buffer, inputP(a));
  t.deepEqual(a.updates, []);
  // It reads %p: a copy after the dispatches.
  const b = plan('  %new.p = sub %p, %x : f32[2,2]');
  t.not(b.outputs[1]!.buffer, inputP(b));
  t.is(b.updates!.length, 1);
  // It reads %p through reshapes (views sharing the buffer): a copy too.
  const c = plan('  %r = reshape %p {shape = [4]} : f32[4]\n  %v = reshape %r {shape = [2, 2]} : f32[2,2]\n  %new.p = add %v, %x : f32[2,2]');
  t.not(c.outputs[1]!.buffer, inputP(c));
  t.is(c.updates!.length, 1);
  // A later kernel reads %p after %new.p is computed: a copy.
  const d = lowerGraph(parse(`graph @u(%p: f32[2,2], %x: f32[2,2]) -> (f32[2,2], f32[2,2]) {
  %new.p = neg %x : f32[2,2]
  %late = mul %p, %x : f32[2,2]
  return %late, %new.p
}`), { f16Mode: 'packed', updates: [{ output: 1, input: 'p' }] });
  t.is(d.updates!.length, 1);
});

test('lowering: bad updates are E0603', (t) => {
  const g = parse(PASS_THROUGH);
  const bad = (updates: { output: number; input: string }[], re: RegExp) => {
    const e = t.throws(() => lowerGraph(g, { f16Mode: 'packed', updates }), { instanceOf: AmpcError }) as AmpcError;
    t.is(e.code, 'E0603');
    t.regex(e.detail, re);
  };
  bad([{ output: 4, input: 'p' }], /has 4 output\(s\); there is no output 4/);
  bad([{ output: 2, input: 'q' }], /has no input %q/);
  bad([{ output: 0, input: 'p' }], /output 0 \(%loss: f32\[\]\) cannot be copied into input %p: f32\[4\]/);
  bad([{ output: 2, input: 'p' }, { output: 1, input: 'p' }], /input %p is updated twice/);
});

test('lowering: a train step maps every update to an input buffer (a copy, or written in place), sources never overwritten first', (t) => {
  const traced = mlp();
  const ts = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 });
  const plan = lowerGraph(ts.graph, { f16Mode: 'packed', updates: ts.updates });
  // An update whose value is computed after every read of the old one is written straight into the input's buffer.
  let inPlace = 0;
  for (const u of ts.updates) {
    const to = plan.inputs.find((io) => io.name === u.input)!.buffer;
    if (plan.outputs[u.output]!.buffer === to) inPlace++;
    else t.true(plan.updates!.some((c) => c.to === to), `update of %${u.input}`);
  }
  t.is(plan.updates!.length, ts.updates.length - inPlace);
  t.true(inPlace > 0);
  const written = new Set<number>();
  for (const u of plan.updates!) {
    t.false(written.has(u.from), 'a copy reads a buffer an earlier copy wrote');
    written.add(u.to);
    t.true(plan.inputs.some((io) => io.buffer === u.to));
    t.is(plan.buffers[u.from]!.byteSize, plan.buffers[u.to]!.byteSize);
  }
});

// ---------------------------------------------------------------- on the device

const BATCH = 16, IN = 8, HIDDEN = 16, CLASSES = 4;

function mlp(): TraceResult {
  const net = new nn.Sequential(new nn.Linear(IN, HIDDEN), new nn.ReLU(), new nn.Linear(HIDDEN, CLASSES));
  return traceModule(net, [f32([BATCH, IN]), i32([BATCH])], { call: (m, x, labels) => crossEntropy(m.forward(x), labels) });
}

function batch(seed: number): { x: HostTensor; labels: HostTensor } {
  return {
    x: hostTensor('f32', [BATCH, IN], seededValues(seed, BATCH * IN, -2, 2)),
    labels: hostTensor('i32', [BATCH], seededValues(seed + 1000, BATCH, 0, CLASSES).map(Math.floor)),
  };
}

/** Step 0's inputs: params from their seeded initializers, zero state, the spec's lr. */
function firstInputs(traced: TraceResult, ts: TrainStepGraph, opt: OptimizerSpec, seed: number): Record<string, HostTensor> {
  const params = traced.params.map((s) => [s.name, hostTensor(s.type.dtype, s.type.shape, initialValues(s, 3))] as const);
  return { ...batch(seed), ...Object.fromEntries(params), ...initialInputs(ts, opt) };
}

/** A session of the train step compiled once, with every input written once. */
async function openSession(ctx: GpuContext, ts: TrainStepGraph, inputs: Record<string, HostTensor>): Promise<Session> {
  const plan = compileForDevice(ts.graph, ctx, { updates: ts.updates });
  const session = await Session.create(ctx, plan);
  for (const v of ts.graph.inputs) {
    const t = inputs[v.name!]!;
    session.write(v.name!, encodeTensor(t.dtype, t.data));
  }
  return session;
}

function decode(ts: TrainStepGraph, name: string, bytes: ArrayBuffer): HostTensor {
  const v = ts.graph.inputs.find((i) => i.name === name)!;
  return { dtype: v.type.dtype, shape: v.type.shape, data: decodeTensor(v.type.dtype, bytes, numel(v.type.shape)) };
}

async function compareFiveSteps(t: ExecutionContext, ctx: GpuContext, opt: OptimizerSpec): Promise<void> {
  const traced = mlp();
  const ts = trainStepGraph(traced.graph, opt);
  let inputs = firstInputs(traced, ts, opt, 1);
  const session = await openSession(ctx, ts, inputs);
  try {
    for (let step = 0; step < 5; step++) {
      const b = batch(step + 1);
      // Only the batch goes to the device each step.
      session.write('x', encodeTensor('f32', b.x.data));
      session.write('labels', encodeTensor('i32', b.labels.data));
      session.run();
      inputs = nextInputs(ts, { ...inputs, ...b }, interpret(ts.graph, { ...inputs, ...b }));
    }
    const names = ts.updates.map((u) => u.input);
    const bytes = await session.readInputs(names);
    names.forEach((name, i) => {
      const actual = decode(ts, name, bytes[i]!);
      // f32 rounding over 5 steps; Adam's division by sqrt(v) amplifies it, hence rtol 1e-4 (measured: under 0.12 of it).
      const bad = mismatches(actual, inputs[name]!, { rtol: 1e-4, atol: 1e-5 });
      const shown = bad.slice(0, 4).map((m) => `[${m.index}] gpu ${m.actual} vs ref ${m.expected}`).join(', ');
      t.is(bad.length, 0, `%${name} after 5 steps: ${bad.length} of ${actual.data.length} off: ${shown}`);
    });
    t.deepEqual(Array.from(decode(ts, 'opt.step', bytes[names.indexOf('opt.step')]!).data), [5]);
  } finally {
    session.destroy();
  }
}

gpuTest('SGD (nesterov momentum, weight decay): 5 steps in place on the device match the reference fed back on the host', async (t, ctx) => {
  await compareFiveSteps(t, ctx, { kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
});

gpuTest('AdamW: 5 steps in place on the device match the reference fed back on the host', async (t, ctx) => {
  await compareFiveSteps(t, ctx, { kind: 'adamw', lr: 0.01, weightDecay: 0.05 });
});

gpuTest('Adam: 20 steps on a fixed batch lower the loss, with no read-back between steps and one at the end', async (t, ctx) => {
  const traced = mlp();
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.02 };
  const ts = trainStepGraph(traced.graph, opt);
  const inputs = firstInputs(traced, ts, opt, 42);
  const lossInputs = Object.fromEntries(traced.graph.inputs.map((v) => [v.name!, inputs[v.name!]!]));
  const initialLoss = interpret(traced.graph, lossInputs).at(0)!.data[0]!;
  const session = await openSession(ctx, ts, inputs);
  const maps = countMaps(ctx);
  try {
    for (let step = 0; step < 20; step++) {
      session.write('x', encodeTensor('f32', inputs.x!.data));
      session.write('labels', encodeTensor('i32', inputs.labels!.data));
      session.run();
    }
    t.is(maps.count, 0, 'no buffer is mapped while stepping');
    const [lossBytes] = await session.readOutputs(['loss']);
    t.is(maps.count, 1, 'one map reads the loss at the end');
    const loss = new Float32Array(lossBytes!)[0]!;
    t.log(`loss ${initialLoss.toFixed(4)} -> ${loss.toFixed(4)} after 19 updates`);
    t.true(loss < 0.6 * initialLoss, `loss ${initialLoss} -> ${loss}`);
  } finally {
    maps.restore();
    session.destroy();
  }
});

gpuTest('pass-through outputs under updates: outputs read this step\'s values, inputs the updated ones (a swap too)', async (t, ctx) => {
  const g = parse(`
graph @swap(%a: f32[3], %b: f32[3]) -> (f32[3], f32[3]) {
  return %b, %a
}`);
  const plan = compileForDevice(g, ctx, { updates: [{ output: 0, input: 'a' }, { output: 1, input: 'b' }] });
  const session = await Session.create(ctx, plan);
  try {
    session.write('a', encodeTensor('f32', [1, 2, 3]));
    session.write('b', encodeTensor('f32', [4, 5, 6]));
    const f = (bytes: ArrayBuffer) => Array.from(new Float32Array(bytes));
    session.run();
    t.deepEqual((await session.readOutputs()).map(f), [[4, 5, 6], [1, 2, 3]]);
    t.deepEqual((await session.readInputs(['a', 'b'])).map(f), [[4, 5, 6], [1, 2, 3]]);
    session.run();
    t.deepEqual((await session.readInputs()).map(f), [[1, 2, 3], [4, 5, 6]]);
    t.deepEqual((await session.readOutputs()).map(f), [[1, 2, 3], [4, 5, 6]]);
  } finally {
    session.destroy();
  }

  const pt = parse(PASS_THROUGH);
  const ptSession = await Session.create(ctx, compileForDevice(pt, ctx, { updates: [{ output: 2, input: 'p' }] }));
  try {
    ptSession.write('x', encodeTensor('f32', [1, 1, 1, 1]));
    ptSession.write('p', encodeTensor('f32', [10, 20, 30, 40]));
    ptSession.write('r', encodeTensor('f32', [7, 7, 7, 7]));
    ptSession.run();
    ptSession.run();
    const [loss, p, newP, r] = (await ptSession.readOutputs()).map((b) => Array.from(new Float32Array(b)));
    t.deepEqual(loss, [96]);
    t.deepEqual(p, [9, 19, 29, 39], 'output %p is the param as this step read it');
    t.deepEqual(newP, [8, 18, 28, 38]);
    t.deepEqual(r, [7, 7, 7, 7]);
    t.deepEqual((await ptSession.readInputs(['p'])).map((b) => Array.from(new Float32Array(b))), [[8, 18, 28, 38]]);
  } finally {
    ptSession.destroy();
  }
});
