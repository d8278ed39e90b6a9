// Fine-tuning an imported ONNX model: a 16-32-4 MLP (Gemm with transB as
// PyTorch exports it, Relu, Gemm) written with compiler/onnx/write.ts,
// imported, wrapped in a GraphModule and trained with the Trainer on a fixed,
// seeded synthetic classification task (labels from a random linear
// teacher), in f32 and under AMP with dynamic loss scaling. The loss falls
// clearly, AMP skips no step and tracks f32, and the tuned weights read back
// under the initializers' names, predict what the reference interpreter
// computes from them, and go back into an ONNX file. On the CPU: the writer's
// model imports as described, GraphModule replays the graph exactly, and bad
// uses are refused.

import test from 'ava';
import { importOnnx } from '../compiler/onnx/import.ts';
import { attr, writeOnnx } from '../compiler/onnx/write.ts';
import type { OnnxModelSpec } from '../compiler/onnx/write.ts';
import { GraphModule, Trainer } from '../compiler/train/index.ts';
import { isAmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { crossEntropy, i32, traceModule } from '../ir/trace/index.ts';
import { Rng } from '../ir/trace/nn/init.ts';
import { parseModule } from '../ir/text/parser.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { gpuTest } from './helpers/gpu.ts';

const BATCH = 32, IN = 16, HIDDEN = 32, OUT = 4, BATCHES = 4, STEPS = 30;

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * bound);
}

/** The MLP as PyTorch exports nn.Linear: Gemm(x, W[out,in], b, transB = 1), weights ~ U(±1/sqrt(in)). */
function mlpSpec(weights?: Readonly<Record<string, Float32Array>>): OnnxModelSpec {
  const rng = new Rng(7, 'onnx-train');
  const w = weights ?? {
    'fc1.weight': uniform(rng, HIDDEN * IN, 1 / Math.sqrt(IN)), 'fc1.bias': uniform(rng, HIDDEN, 1 / Math.sqrt(IN)),
    'fc2.weight': uniform(rng, OUT * HIDDEN, 1 / Math.sqrt(HIDDEN)), 'fc2.bias': uniform(rng, OUT, 1 / Math.sqrt(HIDDEN)),
  };
  const gemm = { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(1) };
  return {
    name: 'mlp', opset: 17,
    inputs: [{ name: 'input', shape: ['batch', IN] }],
    outputs: [{ name: 'logits', shape: ['batch', OUT] }],
    initializers: [
      { name: 'fc1.weight', shape: [HIDDEN, IN], values: w['fc1.weight']! }, { name: 'fc1.bias', shape: [HIDDEN], values: w['fc1.bias']! },
      { name: 'fc2.weight', shape: [OUT, HIDDEN], values: w['fc2.weight']! }, { name: 'fc2.bias', shape: [OUT], values: w['fc2.bias']! },
    ],
    nodes: [
      { op: 'Gemm', name: '/fc1/Gemm', inputs: ['input', 'fc1.weight', 'fc1.bias'], outputs: ['h'], attributes: gemm },
      { op: 'Relu', name: '/act/Relu', inputs: ['h'], outputs: ['a'] },
      { op: 'Gemm', name: '/fc2/Gemm', inputs: ['a', 'fc2.weight', 'fc2.bias'], outputs: ['logits'], attributes: gemm },
    ],
  };
}

/** Fixed batches: x ~ U(-1, 1), label = argmax(x · T) for a random teacher T. */
function dataset(): { x: Float32Array; y: Int32Array }[] {
  const rng = new Rng(3, 'onnx-train-data');
  const teacher = uniform(rng, IN * OUT, 1);
  return Array.from({ length: BATCHES }, () => {
    const x = uniform(rng, BATCH * IN, 1);
    const y = new Int32Array(BATCH);
    for (let b = 0; b < BATCH; b++) {
      let best = -Infinity;
      for (let k = 0; k < OUT; k++) {
        let s = 0;
        for (let i = 0; i < IN; i++) s += x[b * IN + i]! * teacher[i * OUT + k]!;
        if (s > best) [best, y[b]] = [s, k];
      }
    }
    return { x, y };
  });
}

const imported = () => importOnnx(writeOnnx(mlpSpec()), { file: 'mlp.onnx', dims: { batch: BATCH } });
const loss = (m: GraphModule, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y);
const PARAMS = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];

// ---------------------------------------------------------------- CPU

test('the written MLP imports as described: initializers become {param} inputs with their values', (t) => {
  const spec = mlpSpec();
  const r = imported();
  t.deepEqual(r.graph.inputs.map((v) => [v.name, v.isParam, [...v.type.shape]]), [
    ['input', false, [BATCH, IN]], ['fc1.weight', true, [HIDDEN, IN]], ['fc1.bias', true, [HIDDEN]], ['fc2.weight', true, [OUT, HIDDEN]], ['fc2.bias', true, [OUT]],
  ]);
  for (const init of spec.initializers!) t.deepEqual([...r.values[init.name]!.data], [...init.values], init.name);
  t.deepEqual(r.outputNames, ['logits']);
  t.is(r.opset, 17);
});

test('GraphModule replays the imported graph: its trace computes what the imported graph does', (t) => {
  const r = imported();
  const model = new GraphModule(r.graph, r.values);
  t.deepEqual(model.parameterNames, PARAMS);
  t.deepEqual(model.inputSpecs, [{ dtype: 'f32', shape: [BATCH, IN], name: 'input' }]);
  const traced = traceModule(model, model.inputSpecs);
  t.deepEqual(traced.params.map((p) => p.name), PARAMS);
  const [batch] = dataset();
  const x = hostTensor('f32', [BATCH, IN], batch!.x);
  const fromTrace = interpret(traced.graph, { input: x, ...r.values })[0]!;
  const fromImport = interpret(r.graph, { input: x, ...r.values })[0]!;
  t.deepEqual([...fromTrace.data], [...fromImport.data]);
  // Places and notes of the ONNX nodes survive the replay.
  t.true(traced.graph.nodes.some((n) => n.note === "onnx Gemm '/fc2/Gemm'" && n.loc?.node === "node '/fc2/Gemm' (Gemm)"));
});

test('GraphModule refuses a parameter without a value, a value of the wrong shape or name, and inputs of other shapes', (t) => {
  const r = imported();
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return isAmpcError(e) ? `${e.code}: ${e.detail}` : String(e);
    }
    return 'no error';
  };
  const { ['fc2.bias']: _, ...without } = r.values;
  t.regex(code(() => new GraphModule(r.graph, without)), /^E0603: .*parameter %fc2\.bias has no value/);
  t.regex(code(() => new GraphModule(r.graph, { ...r.values, 'fc1.bias': hostTensor('f32', [2], [1, 2]) })), /^E0603: .*%fc1\.bias is f32\[2\].*f32\[32\]/);
  t.regex(code(() => new GraphModule(r.graph, { ...r.values, 'fc3.bias': hostTensor('f32', [1], [1]) })), /^E0603: .*'fc3\.bias' has a value but is not an input/);
  const model = new GraphModule(r.graph, r.values);
  t.regex(code(() => traceModule(model, [{ dtype: 'f32', shape: [8, IN] }])), /^E0603: .*input 0 \(%input\) must be f32\[32,16\].*got f32\[8,16\]/);
});

test('GraphModule of a parsed .ir graph with two outputs: forward refuses, outputs() returns both', (t) => {
  const g = parseModule(`graph @two(%x: f32[2,3], %w: f32[3,4] {param}) -> (f32[2,4], f32[2,4]) {
  %h = matmul %x, %w : f32[2,4]
  %y = relu %h : f32[2,4]
  return %h, %y
}`, 'two.ir').main;
  const model = new GraphModule(g, { w: hostTensor('f32', [3, 4], Array.from({ length: 12 }, (_, i) => i - 6)) });
  t.throws(() => traceModule(model, model.inputSpecs), { message: /E0501.*the graph has 2 outputs; call outputs/ });
  const traced = traceModule(model, model.inputSpecs, { call: (m, x) => m.outputs(x) });
  const [h, y] = interpret(traced.graph, { x: hostTensor('f32', [2, 3], [1, 0, 0, 0, 1, 0]), w: hostTensor('f32', [3, 4], Array.from({ length: 12 }, (_, i) => i - 6)) });
  t.deepEqual([...h!.data], [-6, -5, -4, -3, -2, -1, 0, 1]);
  t.deepEqual([...y!.data], [0, 0, 0, 0, 0, 0, 0, 1]);
});

test('writeOnnx refuses a value used before it is defined, values that do not fill their shape and untagged attributes', (t) => {
  const spec = mlpSpec();
  const msg = (s: OnnxModelSpec) => {
    try {
      writeOnnx(s);
    } catch (e) {
      return isAmpcError(e) ? `${e.code}: ${e.detail}` : String(e);
    }
    return 'no error';
  };
  t.regex(msg({ ...spec, nodes: [spec.nodes[1]!, spec.nodes[0]!, spec.nodes[2]!] }), /^E0902: .*node '\/act\/Relu' \(Relu\): input 'h' is not defined before this node/);
  t.regex(msg({ ...spec, initializers: [{ name: 'fc1.weight', shape: [HIDDEN, IN], values: new Float32Array(3) }] }), /initializer 'fc1\.weight': 3 value\(s\) for shape \[32,16\] \(512\)/);
  t.regex(msg({ ...spec, nodes: [{ ...spec.nodes[0]!, attributes: { transB: 1 as never } }] }), /attribute 'transB' must be one of/);
});

// ---------------------------------------------------------------- GPU

interface Run {
  losses: number[];
  status: Awaited<ReturnType<Trainer['lossScaleStatus']>>;
  params: Record<string, HostTensor>;
  predicted: HostTensor;
  /** Matmuls of the compiled train step (fused bodies included) by operand dtypes, e.g. `f16,f16`. */
  matmuls: string[];
}

/** The operand dtypes of every matmul in a graph and its fused bodies. */
function matmulDtypes(g: Graph): string[] {
  return g.nodes.flatMap((n) => (n.body ? matmulDtypes(n.body) : n.op === 'matmul' ? [n.operands.map((v) => v.type.dtype).join(',')] : []));
}

async function fineTune(ctx: Parameters<Parameters<typeof gpuTest>[1]>[1], precision: 'f32' | 'amp'): Promise<Run> {
  const r = imported();
  const model = new GraphModule(r.graph, r.values);
  const trainer = await Trainer.create({
    model, loss, inputs: [...model.inputSpecs, i32([BATCH])], optimizer: { kind: 'adam', lr: 1e-2 }, precision, device: ctx,
  });
  try {
    const data = dataset();
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const b = data[s % BATCHES]!;
      losses.push((await trainer.step([b.x, b.y], { readLoss: true }))!);
    }
    const matmuls = matmulDtypes(trainer.compiledGraph!);
    return { losses, status: await trainer.lossScaleStatus(), params: await trainer.parameters(), predicted: await trainer.predict(data[0]!.x), matmuls };
  } finally {
    trainer.destroy();
  }
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

gpuTest('an imported MLP fine-tunes under AMP with dynamic loss scaling like f32, and its tuned weights read back', async (t, ctx) => {
  const f32 = await fineTune(ctx, 'f32');
  const amp = await fineTune(ctx, 'amp');
  const first = (run: Run) => mean(run.losses.slice(0, BATCHES));
  const last = (run: Run) => mean(run.losses.slice(-BATCHES));
  t.log(`f32 loss ${first(f32).toFixed(4)} -> ${last(f32).toFixed(4)}; amp ${first(amp).toFixed(4)} -> ${last(amp).toFixed(4)}; amp scale ${amp.status.scale}, skipped ${amp.status.skippedSteps}`);
  t.log(`losses f32: ${f32.losses.map((l) => l.toFixed(4)).join(' ')}`);
  t.log(`losses amp: ${amp.losses.map((l) => l.toFixed(4)).join(' ')}`);

  // The loss falls clearly (over one pass of the four batches, first against last).
  for (const run of [f32, amp]) t.true(last(run) < 0.5 * first(run), `${first(run)} -> ${last(run)}`);
  // Dynamic loss scaling, no skipped step, the scale where it started.
  t.deepEqual(amp.status, { mode: 'dynamic', scale: 65536, skippedSteps: 0, goodSteps: STEPS });
  t.is(f32.status.mode, 'off');
  // The imported model's matmuls run in f16 under AMP (2 forward, 3 backward), in f32 otherwise.
  t.deepEqual(amp.matmuls, Array(5).fill('f16,f16'));
  t.deepEqual(f32.matmuls, Array(5).fill('f32,f32'));
  // AMP tracks f32: the loss of every step, and the tuned weights.
  let worstLoss = 0, worstWeight = 0;
  f32.losses.forEach((l, i) => (worstLoss = Math.max(worstLoss, Math.abs(amp.losses[i]! - l) / Math.max(Math.abs(l), 1e-3))));
  for (const p of PARAMS) f32.params[p]!.data.forEach((v, i) => (worstWeight = Math.max(worstWeight, Math.abs(amp.params[p]!.data[i]! - v))));
  t.log(`AMP vs f32: worst relative loss difference ${worstLoss.toExponential(2)}, worst weight difference ${worstWeight.toExponential(2)}`);
  t.true(worstLoss < 1e-2, `loss ${worstLoss}`);
  t.true(worstWeight < 5e-3, `weight ${worstWeight}`);

  // The tuned weights read back under the initializers' names and shapes, moved from the imported ones.
  const r = imported();
  t.deepEqual(Object.keys(f32.params).sort(), [...PARAMS].sort());
  for (const p of PARAMS) {
    t.deepEqual(f32.params[p]!.shape, r.values[p]!.shape, p);
    t.true(f32.params[p]!.data.some((v, i) => v !== r.values[p]!.data[i]), `${p} changed`);
  }
  // They are the model's state: the prediction is what the imported graph computes with them.
  const x = hostTensor('f32', [BATCH, IN], dataset()[0]!.x);
  const expected = interpret(r.graph, { input: x, ...f32.params })[0]!;
  expected.data.forEach((v, i) => t.true(Math.abs(f32.predicted.data[i]! - v) <= 1e-4 + 1e-4 * Math.abs(v), `logit ${i}: ${f32.predicted.data[i]} vs ${v}`));
  // And they go back into an ONNX file (PyTorch layout, as written) that imports with them.
  const tuned = Object.fromEntries(PARAMS.map((p) => [p, Float32Array.from(f32.params[p]!.data)]));
  const again = importOnnx(writeOnnx(mlpSpec(tuned)), { dims: { batch: BATCH } });
  for (const p of PARAMS) t.deepEqual([...again.values[p]!.data], [...f32.params[p]!.data], p);
});
