// Memory planning (compiler/memory-plan.ts): intermediates whose live ranges
// do not overlap share a device buffer. Checked by an independent checker
// that recomputes live ranges from the plan alone (a buffer is live from the
// first dispatch binding it to the last; update copies count at the end)
// and asserts that no two buffers sharing storage are live at once: on small
// graphs, on every example, and on the MNIST train steps (f32 and amp). On
// the device: a graph where buffers are reused matches the reference
// interpreter, and a train step gives bitwise the same params with and
// without the memory plan.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileForDevice } from '../compiler/execute.ts';
import { lowerGraph } from '../compiler/lower.ts';
import type { LowerOptions } from '../compiler/lower.ts';
import { liveRanges } from '../compiler/memory-plan.ts';
import { cnn, classificationLoss, mlp as mnistMlp } from '../examples/mnist/models.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { f32, i32, initialValues, nn, traceModule } from '../ir/trace/index.ts';
import type { InputSpec, TraceResult } from '../ir/trace/index.ts';
import { initialInputs } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { TrainStepGraph } from '../passes/optimizer.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import type { GpuContext } from '../runtime/device.ts';
import { encodeTensor } from '../runtime/host-data.ts';
import type { Plan } from '../runtime/plan.ts';
import { planBufferBytes } from '../runtime/plan.ts';
import { checkPlanFits, Session } from '../runtime/session.ts';
import { checkAgainstReference, seededValues } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

const parse = (text: string) => parseModule(text, 'model.ir').main;
const lower = (g: Graph, opts: Partial<LowerOptions> = {}) => lowerGraph(g, { f16Mode: 'native', ...opts });

// ---------------------------------------------------------------- the checker

interface Range {
  from: number;
  to: number;
}

/**
 * First-to-last binding dispatch of every buffer, from the plan alone (update
 * copies at index dispatches.length); a donated input from dispatch 0 (the
 * host writes it before the run).
 */
function bindingRanges(plan: Plan): Map<number, Range> {
  const ranges = new Map<number, Range>();
  const touch = (id: number, at: number) => {
    const r = ranges.get(id);
    if (r) r.to = at;
    else ranges.set(id, { from: at, to: at });
  };
  for (const io of plan.inputs) if (io.donated) touch(io.buffer, 0);
  plan.dispatches.forEach((d, at) => d.bindings.forEach((id) => touch(id, at)));
  for (const u of plan.updates ?? []) {
    touch(u.from, plan.dispatches.length);
    touch(u.to, plan.dispatches.length);
  }
  return ranges;
}

/**
 * Problems of a plan's memory plan (empty: sound): every buffer has a device
 * buffer at least its size; shared ones hold only intermediates, pairwise
 * never live at once. Also counts the pairs that share.
 */
function memoryProblems(plan: Plan): { problems: string[]; sharedPairs: number } {
  const problems: string[] = [];
  const storage = plan.storage ?? [];
  const holders = new Map<number, number[]>();
  for (const b of plan.buffers) {
    if (b.storage === undefined) continue;
    const s = storage[b.storage];
    if (!s) problems.push(`#${b.id}: no device buffer ${b.storage}`);
    else if (s.byteSize < (b.offset ?? 0) + b.byteSize) problems.push(`#${b.id}: ${b.byteSize} bytes at ${b.offset ?? 0} in device buffer ${b.storage} of ${s.byteSize}`);
    if ((b.offset ?? 0) % 256 !== 0) problems.push(`#${b.id}: offset ${b.offset} is not a multiple of 256`);
    holders.set(b.storage, [...(holders.get(b.storage) ?? []), b.id]);
  }
  const ranges = bindingRanges(plan);
  let sharedPairs = 0;
  for (const [s, ids] of holders) {
    if (ids.length < 2) continue;
    const donated = new Set(plan.inputs.filter((io) => io.donated).map((io) => io.buffer));
    for (const id of ids) if (plan.buffers[id]!.role !== 'intermediate' && !donated.has(id)) problems.push(`device buffer ${s} is shared but holds #${id} (${plan.buffers[id]!.role})`);
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        sharedPairs++;
        const a = ranges.get(ids[i]!), b = ranges.get(ids[j]!);
        const x = plan.buffers[ids[i]!]!, y = plan.buffers[ids[j]!]!;
        // Bytes [offset, offset + byteSize) of the device buffer.
        const bytesOverlap = (x.offset ?? 0) < (y.offset ?? 0) + y.byteSize && (y.offset ?? 0) < (x.offset ?? 0) + x.byteSize;
        if (a && b && a.from <= b.to && b.from <= a.to && bytesOverlap) {
          problems.push(`#${ids[i]} [${a.from}, ${a.to}] and #${ids[j]} [${b.from}, ${b.to}] share bytes of device buffer ${s}`);
        }
      }
    }
  }
  // WebGPU checks usage per device buffer: one dispatch never binds two holders of one when it
  // may write either (a read_write binding in the kernel's WGSL).
  plan.dispatches.forEach((d, at) => {
    const code = plan.kernels[d.kernel]!.code;
    const writes = (i: number) => new RegExp(`@binding\\(${i}\\)\\s+var<storage,\\s*read_write>`).test(code);
    d.bindings.forEach((a, i) => d.bindings.forEach((b, j) => {
      const s = plan.buffers[a]!.storage;
      if (i < j && a !== b && s !== undefined && s === plan.buffers[b]!.storage && (writes(i) || writes(j))) {
        problems.push(`dispatch ${at} binds #${a} and #${b}, both in device buffer ${s}, one writable`);
      }
    }));
  });
  return { problems, sharedPairs };
}

const sumOfBuffers = (plan: Plan) => plan.buffers.reduce((n, b) => n + b.byteSize, 0);

/** Lowers with and without the memory plan; asserts both are sound and the plan saves or ties. Returns [planned, unplanned] bytes. */
function checkBoth(t: ExecutionContext, what: string, g: Graph, opts: Partial<LowerOptions> = {}): [number, number, Plan] {
  const planned = lower(g, opts);
  const unplanned = lower(g, { ...opts, memoryPlan: false });
  const { problems } = memoryProblems(planned);
  t.deepEqual(problems, [], what);
  t.true(planned.buffers.every((b) => b.storage !== undefined), `${what}: every buffer has a device buffer`);
  t.is(unplanned.storage, undefined);
  t.true(unplanned.buffers.every((b) => b.storage === undefined));
  t.is(planBufferBytes(unplanned), sumOfBuffers(unplanned));
  t.deepEqual(planned.dispatches, unplanned.dispatches, `${what}: same dispatches`);
  t.deepEqual(planned.buffers.map(({ storage: _, offset: __, ...b }) => b), unplanned.buffers, `${what}: same logical buffers`);
  const p = planBufferBytes(planned), u = planBufferBytes(unplanned);
  t.true(p <= u, `${what}: planned ${p} > unplanned ${u}`);
  return [p, u, planned];
}

// ---------------------------------------------------------------- small graphs (no device)

const CHAIN = `
graph @chain(%x: f32[1024]) -> (f32[]) {
  %0 = exp %x : f32[1024]
  %1 = neg %0 : f32[1024]
  %2 = tanh %1 : f32[1024]
  %3 = relu %2 : f32[1024]
  %4 = sigmoid %3 : f32[1024]
  %y = reduce_sum %4 {axes = [0]} : f32[]
  return %y
}`;

test('a chain of five intermediates needs two device buffers for them', (t) => {
  const [planned, unplanned, plan] = checkBoth(t, 'chain', parse(CHAIN));
  t.is(unplanned, 4096 + 5 * 4096 + 4);
  t.is(planned, 4096 + 2 * 4096 + 4);
  t.true(memoryProblems(plan).sharedPairs > 0);
  // A JSON round trip keeps the plan (an AOT artifact is a saved plan).
  t.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
});

test('the checker finds overlapping buffers that share a device buffer, and the runtime rejects them', (t) => {
  const plan = lower(parse(CHAIN));
  const ids = plan.buffers.filter((b) => b.role === 'intermediate').map((b) => b.id);
  const shareAll = (pick: (id: number) => boolean): Plan => ({
    ...plan,
    storage: [...plan.storage!, { byteSize: 4096 }],
    buffers: plan.buffers.map((b) => (pick(b.id) ? { ...b, storage: plan.storage!.length } : b)),
  });
  const fake = {
    hasF16: true,
    limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 },
  } as unknown as GpuContext;
  t.notThrows(() => checkPlanFits(fake, plan));

  const overlapping = shareAll((id) => id === ids[0] || id === ids[1]); // %0 and %1 are both bound by `neg`
  // Live at once in the same bytes, and bound by one dispatch (WebGPU refuses that for any bytes).
  t.is(memoryProblems(overlapping).problems.length, 2);
  const e = t.throws(() => checkPlanFits(fake, overlapping), { instanceOf: AmpcError }) as AmpcError;
  t.is(e.code, 'E0702');
  t.regex(e.detail, /a dispatch binds plan buffers #\d+ and #\d+, one of them writable, but they share device buffer \d+/);

  const input = plan.inputs[0]!.buffer;
  const withInput = shareAll((id) => id === input || id === ids[4]); // %x's last binding is before %4's first
  t.regex(memoryProblems(withInput).problems.join('\n'), /holds #0 \(input\)/);
  t.throws(() => checkPlanFits(fake, withInput), { message: /holds plan buffer #0 \(input\)/ });

  const small: Plan = { ...plan, storage: plan.storage!.map(() => ({ byteSize: 4 })) };
  t.throws(() => checkPlanFits(fake, small), { message: /does not fit device buffer \d+ of 4 bytes/ });
});

test('holders of one device buffer live at once must not share bytes; at disjoint offsets they may', (t) => {
  const plan = lower(parse(`
graph @g(%x: f32[1024]) -> (f32[1024]) {
  %a = exp %x : f32[1024]
  %b = neg %x : f32[1024]
  %c = tanh %a : f32[1024]
  %d = add %b, %c : f32[1024]
  return %d
}`));
  const a = plan.buffers.find((b) => b.name === 'a')!, b = plan.buffers.find((x) => x.name === 'b')!;
  const fake = {
    hasF16: true,
    limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 },
  } as unknown as GpuContext;
  const placed = (offsetB: number): Plan => ({
    ...plan,
    storage: [...(plan.storage ?? []), { byteSize: 8192 }],
    buffers: plan.buffers.map((x) => (x.id === a.id ? { ...x, storage: plan.storage?.length ?? 0, offset: 0 } : x.id === b.id ? { ...x, storage: plan.storage?.length ?? 0, offset: offsetB } : x)),
  });
  // %a and %b are live at once (exp .. tanh, neg .. add) but never bound by one dispatch.
  t.notThrows(() => checkPlanFits(fake, placed(4096)));
  t.deepEqual(memoryProblems(placed(4096)).problems, []);
  t.throws(() => checkPlanFits(fake, placed(3840)), { message: /share bytes of device buffer \d+ but are live at once/ });
  t.is(memoryProblems(placed(3840)).problems.length, 1);
  t.throws(() => checkPlanFits(fake, placed(100)), { message: /offset 100, not a multiple of 256/ });
});

test('a donated input holds intermediates after its last read, never before it', (t) => {
  // %x is read by the first kernel only: donated, its buffer holds %1 .. %4.
  const [plain] = checkBoth(t, 'chain', parse(CHAIN));
  const [donated, , plan] = checkBoth(t, 'chain, %x donated', parse(CHAIN), { donate: ['x'] });
  t.deepEqual(plan.inputs.map((io) => io.donated), [true]);
  const x = plan.buffers[plan.inputs[0]!.buffer]!;
  t.true(plan.buffers.some((b) => b.id !== x.id && b.storage === x.storage), 'something shares the batch\'s bytes');
  t.is(donated, plain - 4096);
  const fake = {
    hasF16: true,
    limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8 },
  } as unknown as GpuContext;
  t.notThrows(() => checkPlanFits(fake, plan));

  // %x first read by the third kernel: what lives before it must not sit in its bytes, though %x is not bound yet.
  const late = lower(parse(`
graph @late(%x: f32[1024], %z: f32[1024]) -> (f32[1024]) {
  %a = exp %z : f32[1024]
  %b = neg %a : f32[1024]
  %c = add %b, %x : f32[1024]
  %d = tanh %c : f32[1024]
  %e = relu %d : f32[1024]
  return %e
}`), { donate: ['x'] });
  t.deepEqual(memoryProblems(late).problems, []);
  const byName = (n: string) => late.buffers.find((b) => b.name === n)!;
  for (const n of ['a', 'b']) t.not(byName(n).storage, byName('x').storage, `%${n} is live before %x's read`);
  t.is(byName('d').storage, byName('x').storage);
  // The runtime counts a donated input live from the first dispatch.
  const clash: Plan = { ...late, buffers: late.buffers.map((b) => (b.name === 'a' ? { ...b, storage: byName('x').storage, offset: 0 } : b)) };
  t.throws(() => checkPlanFits(fake, clash), { message: /share bytes of device buffer \d+ but are live at once \(dispatch 0\)/ });
  t.regex(memoryProblems(clash).problems.join('\n'), /share bytes/);
  // Without the mark the input's buffer may not be shared at all.
  const undonated: Plan = { ...late, inputs: late.inputs.map(({ donated: _, ...io }) => io) };
  t.throws(() => checkPlanFits(fake, undonated), { message: /holds plan buffer #\d+ \(input\)/ });
});

test('donate refuses what is no input, and inputs whose value must outlive the run (E0603)', (t) => {
  const g = parse(`
graph @g(%x: f32[8], %w: f32[8] {param}) -> (f32[8], f32[8]) {
  %y = mul %x, %w : f32[8]
  %n = exp %w : f32[8]
  return %y, %x
}`);
  const refused = (donate: string[], updates?: { output: number; input: string }[]) =>
    (t.throws(() => lower(g, { donate, ...(updates ? { updates } : {}) }), { instanceOf: AmpcError }) as AmpcError).detail;
  t.regex(refused(['q']), /donate: graph @g has no input %q/);
  t.regex(refused(['w']), /input %w cannot be donated: it is a parameter/);
  t.regex(refused(['x']), /input %x cannot be donated: it is also an output/);
  const h = parse(`
graph @h(%x: f32[8], %s: f32[8]) -> (f32[8]) {
  %y = add %x, %s : f32[8]
  return %y
}`);
  t.regex((t.throws(() => lower(h, { donate: ['s'], updates: [{ output: 0, input: 's' }] }), { instanceOf: AmpcError }) as AmpcError).detail, /input %s cannot be donated: it is updated in place/);
  t.notThrows(() => lower(h, { donate: ['x'], updates: [{ output: 0, input: 's' }] }));
});

test('results never share memory with the operands or scratch of their own node (a two-stage reduction)', (t) => {
  const plan = lower(parse(`
graph @two(%x: f32[32768]) -> (f32[]) {
  %e = exp %x : f32[32768]
  %s = reduce_sum %e {axes = [0]} : f32[]
  %y = neg %s : f32[]
  return %y
}`));
  const { problems } = memoryProblems(plan);
  t.deepEqual(problems, []);
  const byName = (n: string) => plan.buffers.find((b) => b.name === n)!;
  const scratch = plan.buffers.find((b) => b.role === 'intermediate' && b.name === undefined)!;
  const e = byName('e'), s = byName('s');
  // Binding ranges alone would allow %e and %s together: stage 1 is %e's last binding, stage 2 %s's first.
  const ranges = bindingRanges(plan);
  t.true(ranges.get(e.id)!.to < ranges.get(s.id)!.from);
  t.not(s.storage, e.storage);
  t.not(s.storage, scratch.storage);
  t.not(e.storage, scratch.storage);
});

test('a reshape view keeps its operand live while the view is read', (t) => {
  const g = parse(`
graph @view(%x: f32[4,8]) -> (f32[32]) {
  %a = exp %x : f32[4,8]
  %v = reshape %a {shape = [32]} : f32[32]
  %b = neg %x : f32[4,8]
  %c = tanh %b : f32[4,8]
  %d = relu %c : f32[4,8]
  %w = reshape %d {shape = [32]} : f32[32]
  %s = add %v, %w : f32[32]
  return %s
}`);
  const [, , plan] = checkBoth(t, 'view', g);
  const storageOf = (n: string) => plan.buffers.find((b) => b.name === n)!.storage;
  for (const n of ['b', 'c', 'd']) t.not(storageOf(n), storageOf('a'), `%${n} while %a is live through its view`);
  t.is(storageOf('d'), storageOf('b'));
});

test('live ranges span the whole launches of a node that binds a buffer', (t) => {
  const dispatches = [
    { kernel: 0, bindings: [0, 1], workgroups: [1, 1, 1] as const },
    { kernel: 0, bindings: [1, 2], workgroups: [1, 1, 1] as const },
    { kernel: 0, bindings: [2, 3], workgroups: [1, 1, 1] as const },
  ];
  const ranges = liveRanges(5, dispatches, [{ first: 0, last: 1 }, { first: 2, last: 2 }], [{ from: 3, to: 0 }]);
  t.deepEqual(ranges, [{ from: 0, to: 3 }, { from: 0, to: 1 }, { from: 0, to: 2 }, { from: 2, to: 3 }, undefined]);
});

// ---------------------------------------------------------------- examples and train steps (no device)

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));
const amp = (g: Graph) => runPipeline(g, pipelineByName('amp'), { options: {} });

for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.ir')).sort()) {
  test(`examples/${file}: the memory plan is sound, f32 and amp`, (t) => {
    const g = parseModule(readFileSync(EXAMPLES + file, 'utf8'), file).main;
    const [p, u] = checkBoth(t, `${file} f32`, g);
    const [pa, ua] = checkBoth(t, `${file} amp`, amp(g));
    t.log(`f32 ${u} -> ${p} bytes, amp ${ua} -> ${pa} bytes`);
  });
}

/** The train step of a classifier (Adam), as the Trainer builds it; inputs %x and %y. */
function trainStep(net: nn.Sequential, specs: readonly InputSpec[], precision: 'f32' | 'amp'): { traced: TraceResult; step: TrainStepGraph } {
  const traced = traceModule(net, specs, { call: classificationLoss });
  const extraUpdates = traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
  return { traced, step: trainStepGraph(traced.graph, { kind: 'adam', lr: 0.01 }, { extraUpdates, precision }) };
}

for (const [name, model, image] of [['mlp', mnistMlp, [16, 784]], ['cnn', cnn, [16, 1, 28, 28]]] as const) {
  for (const precision of ['f32', 'amp'] as const) {
    test(`MNIST ${name} train step (${precision}): the memory plan is sound and saves memory`, (t) => {
      const { step } = trainStep(model(), [f32([...image]), i32([16])], precision);
      const [p, u, plan] = checkBoth(t, `${name} ${precision}`, step.graph, { updates: step.updates });
      t.true(p < u);
      t.log(`${u} -> ${p} bytes (${plan.buffers.length} plan buffers, ${plan.storage!.length} device buffers)`);
    });
  }
}

// ---------------------------------------------------------------- on the device

gpuTest('a graph whose intermediates share device buffers matches the reference', async (t, ctx) => {
  const g = parse(`
graph @reuse(%x: f32[64,512], %w: f32[512,32] {param}) -> (f32[64,32], f32[]) {
  %0 = tanh %x : f32[64,512]
  %1 = reshape %0 {shape = [32768]} : f32[32768]
  %2 = mul %1, %1 : f32[32768]
  %3 = reduce_sum %2 {axes = [0]} : f32[]
  %4 = neg %x : f32[64,512]
  %5 = add %4, %0 : f32[64,512]
  %6 = exp %5 : f32[64,512]
  %7 = matmul %6, %w {acc = f32} : f32[64,32]
  %8 = relu %7 : f32[64,32]
  %9 = softmax %8 {axis = -1} : f32[64,32]
  %10 = sqrt %3 : f32[]
  %out = mul %9, %10 : f32[64,32]
  return %out, %3
}`);
  const plan = compileForDevice(g, ctx);
  t.deepEqual(memoryProblems(plan).problems, []);
  t.true(memoryProblems(plan).sharedPairs > 0, 'some intermediates share');
  const unplanned = compileForDevice(g, ctx, { memoryPlan: false });
  t.true(planBufferBytes(plan) < planBufferBytes(unplanned));
  for (const [p, what] of [[plan, 'planned'], [unplanned, 'unplanned']] as const) {
    const session = await Session.create(ctx, p);
    try {
      t.is(session.bufferBytes, planBufferBytes(p), `${what}: the session allocates what the plan says`);
    } finally {
      session.destroy();
    }
  }
  await checkAgainstReference(t, ctx, g, {
    x: hostTensor('f32', [64, 512], seededValues(1, 64 * 512)),
    w: hostTensor('f32', [512, 32], seededValues(2, 512 * 32, -0.1, 0.1)),
  }, 'native', { scale: 4 });
});

gpuTest('a donated input: runs give the reference\'s results when it is written before each, and a run or read-back without that is refused (E0603)', async (t, ctx) => {
  const g = parse(CHAIN);
  const plan = compileForDevice(g, ctx, { fusion: false, donate: ['x'] });
  const x = plan.buffers[plan.inputs[0]!.buffer]!;
  t.true(plan.buffers.some((b) => b.id !== x.id && b.storage === x.storage), 'intermediates sit in the batch\'s bytes');
  const session = await Session.create(ctx, plan);
  try {
    for (const seed of [1, 2]) {
      const values = seededValues(seed, 1024, -1, 1);
      session.write('x', encodeTensor('f32', values));
      session.run();
      const [out] = await session.readOutputs();
      const expected = values.reduce((s, v) => s + 1 / (1 + Math.exp(-Math.max(0, Math.tanh(-Math.exp(v))))), 0);
      t.true(Math.abs(new Float32Array(out!)[0]! - expected) < 1e-3 * expected, `seed ${seed}: ${new Float32Array(out!)[0]} against ${expected}`);
    }
    t.is((t.throws(() => session.run(), { instanceOf: AmpcError }) as AmpcError).code, 'E0603');
    await t.throwsAsync(session.readInputs(['x']), { message: /input 'x' is donated \(the last run reused its buffer for intermediates\); write it before reading it back/ });
    session.write('x', encodeTensor('f32', seededValues(3, 1024, -1, 1)));
    t.notThrows(() => session.run());
  } finally {
    session.destroy();
  }
});

/** Small CNN with batch norm (running statistics are updates too). */
function smallCnn(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(4 * 4 * 4, 3),
  );
}

async function stepThrice(ctx: GpuContext, traced: TraceResult, step: TrainStepGraph, memoryPlan: boolean): Promise<{ state: Uint8Array[]; loss: Uint8Array; bytes: number }> {
  const plan = compileForDevice(step.graph, ctx, { updates: step.updates, memoryPlan });
  const session = await Session.create(ctx, plan);
  try {
    for (const s of [...traced.params, ...traced.buffers]) session.write(s.name, encodeTensor(s.type.dtype, initialValues(s, 7)));
    for (const [name, v] of Object.entries(initialInputs(step, { lr: 0.01 }))) session.write(name, encodeTensor(v.dtype, v.data));
    const count = (name: string) => step.graph.inputs.find((v) => v.name === name)!.type.shape.reduce((a, b) => a * b, 1);
    for (let k = 0; k < 3; k++) {
      session.write('x', encodeTensor('f32', seededValues(10 + k, count('x'), -1, 1)));
      session.write('y', encodeTensor('i32', seededValues(20 + k, count('y'), 0, 3).map(Math.floor)));
      session.run();
    }
    const state = (await session.readInputs(step.updates.map((u) => u.input))).map((b) => new Uint8Array(b));
    const [loss] = await session.readOutputs([step.loss]);
    return { state, loss: new Uint8Array(loss!), bytes: session.bufferBytes };
  } finally {
    session.destroy();
  }
}

for (const precision of ['f32', 'amp'] as const) {
  gpuTest(`a train step (${precision}) gives bitwise the same params, state and loss with and without the memory plan`, async (t, ctx) => {
    const { traced, step } = trainStep(smallCnn(), [f32([4, 1, 8, 8]), i32([4])], precision);
    const on = await stepThrice(ctx, traced, step, true);
    const off = await stepThrice(ctx, traced, step, false);
    t.true(on.bytes < off.bytes, `${on.bytes} < ${off.bytes}`);
    t.log(`device buffers: ${off.bytes} -> ${on.bytes} bytes`);
    t.deepEqual(on.loss, off.loss);
    step.updates.forEach((u, i) => t.deepEqual(on.state[i], off.state[i], `%${u.input}`));
  });
}

gpuTest('the MNIST CNN AMP train step (batch 64) places buffers at offsets in shared arenas and gives bitwise the same results as without a memory plan', async (t, ctx) => {
  const { traced, step } = trainStep(cnn(), [f32([64, 1, 28, 28]), i32([64])], 'amp');
  const plan = compileForDevice(step.graph, ctx, { updates: step.updates });
  t.true(plan.buffers.some((b) => (b.offset ?? 0) > 0), 'the arena plan (with offsets) is the one chosen here');
  t.deepEqual(memoryProblems(plan).problems, []);
  const on = await stepThrice(ctx, traced, step, true);
  const off = await stepThrice(ctx, traced, step, false);
  t.log(`device buffers: ${off.bytes} -> ${on.bytes} bytes`);
  t.deepEqual(on.loss, off.loss);
  step.updates.forEach((u, i) => t.deepEqual(on.state[i], off.state[i], `%${u.input}`));
});
