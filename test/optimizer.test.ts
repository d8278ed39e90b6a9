// Optimizers in the IR (passes/optimizer.ts), on the reference interpreter:
// three steps of SGD (plain, momentum, nesterov, weight decay), Adam and
// AdamW on a tiny linear model, fed back output to input as the runtime does
// in place, against a hand-written f64 implementation of PyTorch's formulas;
// the structure of train-step graphs (inputs, outputs, names, updates, state,
// extra updates), the learning rate as an input, round trips through the
// text format, and errors.

import test from 'ava';
import { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { crossEntropy, f32, i32, initialValues, nn, traceModule } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { initialInputs, LR_INPUT, lrTensor, nextInputs, STEP_INPUT } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { OptimizerSpec, TrainStepGraph } from '../passes/optimizer.ts';
import { seededValues } from './helpers/compare.ts';
import { errorOf } from './helpers/errors.ts';

// ---------------------------------------------------------------- a tiny linear model and its f64 reference

const N = 5, K = 3, M = 2;
const LINEAR = `
graph @lin(%x: f32[${N},${K}], %y: f32[${N},${M}], %w: f32[${K},${M}] {param}, %b: f32[${M}] {param}) -> (f32[]) {
  %0 = matmul %x, %w : f32[${N},${M}]
  %pred = add %0, %b : f32[${N},${M}]
  %loss = mse_loss %pred, %y : f32[]
  return %loss
}
`;

const parse = (text: string) => parseModule(text, 'model.ir').main;

interface Batch {
  x: number[];
  y: number[];
}

const batches: Batch[] = [0, 1, 2].map((k) => ({ x: seededValues(10 + k, N * K), y: seededValues(20 + k, N * M) }));
const initialW = seededValues(1, K * M);
const initialB = seededValues(2, M);

/** Loss and gradients of mean((x·w + b - y)²) in f64. */
function linearGrads(w: Float64Array, b: Float64Array, { x, y }: Batch): { loss: number; gw: Float64Array; gb: Float64Array } {
  const gw = new Float64Array(K * M), gb = new Float64Array(M);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let pred = b[m]!;
      for (let k = 0; k < K; k++) pred += x[n * K + k]! * w[k * M + m]!;
      const r = pred - y[n * M + m]!;
      loss += (r * r) / (N * M);
      const d = (2 * r) / (N * M);
      gb[m]! += d;
      for (let k = 0; k < K; k++) gw[k * M + m]! += x[n * K + k]! * d;
    }
  }
  return { loss, gw, gb };
}

/** One optimizer, PyTorch's formulas in f64, over a list of parameters. */
class Reference {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private step = 0;

  constructor(
    private readonly opt: OptimizerSpec,
    readonly params: Float64Array[],
  ) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  update(grads: Float64Array[], lr = this.opt.lr): void {
    const o = this.opt;
    this.params.forEach((p, i) => {
      const g = Float64Array.from(grads[i]!);
      if (o.kind === 'sgd') {
        const wd = o.weightDecay ?? 0, mu = o.momentum ?? 0;
        for (let j = 0; j < p.length; j++) {
          let d = g[j]! + wd * p[j]!;
          if (mu !== 0) {
            const buf = this.step === 0 ? d : mu * this.m[i]![j]! + d;
            this.m[i]![j] = buf;
            d = o.nesterov ? d + mu * buf : buf;
          }
          p[j] = p[j]! - lr * d;
        }
      } else {
        const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8;
        const wd = o.weightDecay ?? (o.kind === 'adamw' ? 0.01 : 0);
        const t = this.step + 1;
        for (let j = 0; j < p.length; j++) {
          let d = g[j]!;
          let q = p[j]!;
          if (o.kind === 'adam') d += wd * q;
          else q -= lr * wd * q;
          const m = b1 * this.m[i]![j]! + (1 - b1) * d;
          const v = b2 * this.v[i]![j]! + (1 - b2) * d * d;
          this.m[i]![j] = m;
          this.v[i]![j] = v;
          const mhat = m / (1 - b1 ** t), vhat = v / (1 - b2 ** t);
          p[j] = q - (lr * mhat) / (Math.sqrt(vhat) + eps);
        }
      }
    });
    this.step++;
  }
}

const tensor = (shape: number[], data: ArrayLike<number>) => hostTensor('f32', shape, data);
const values = (t: HostTensor) => Array.from(t.data);

/** |a - e| <= tol · max(1, |e|) everywhere. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): boolean {
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)))) return false;
  }
  return true;
}

/** The inputs of step 0: the batch, the params, the optimizer's state and lr. */
function firstInputs(ts: TrainStepGraph, opt: OptimizerSpec, batch: Batch): Record<string, HostTensor> {
  return {
    x: tensor([N, K], batch.x),
    y: tensor([N, M], batch.y),
    w: tensor([K, M], initialW),
    b: tensor([M], initialB),
    ...initialInputs(ts, opt),
  };
}

const CASES: [string, OptimizerSpec][] = [
  ['sgd', { kind: 'sgd', lr: 0.1 }],
  ['sgd, weight decay', { kind: 'sgd', lr: 0.1, weightDecay: 0.05 }],
  ['sgd, momentum', { kind: 'sgd', lr: 0.1, momentum: 0.9 }],
  ['sgd, nesterov momentum and weight decay', { kind: 'sgd', lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }],
  ['adam', { kind: 'adam', lr: 0.01 }],
  ['adam, weight decay and custom betas', { kind: 'adam', lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }],
  ['adamw (default weight decay 0.01)', { kind: 'adamw', lr: 0.01 }],
  ['adamw, weight decay 0.1 and custom betas', { kind: 'adamw', lr: 0.03, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.1 }],
];

for (const [title, opt] of CASES) {
  test(`${title}: three steps fed back match PyTorch's formulas in f64`, (t) => {
    const ts = trainStepGraph(parse(LINEAR), opt);
    verifyGraph(ts.graph);
    const ref = new Reference(opt, [Float64Array.from(initialW), Float64Array.from(initialB)]);
    let inputs = firstInputs(ts, opt, batches[0]!);
    for (let step = 0; step < 3; step++) {
      inputs = { ...inputs, x: tensor([N, K], batches[step]!.x), y: tensor([N, M], batches[step]!.y) };
      const outputs = interpret(ts.graph, inputs);
      const { loss, gw, gb } = linearGrads(ref.params[0]!, ref.params[1]!, batches[step]!);
      t.true(close([outputs[ts.loss]!.data[0]!], [loss]), `step ${step}: loss ${outputs[0]!.data[0]} vs ${loss}`);
      ref.update([gw, gb]);
      inputs = nextInputs(ts, inputs, outputs);
      t.true(close(inputs.w!.data, ref.params[0]!), `step ${step}: w ${values(inputs.w!)} vs ${Array.from(ref.params[0]!)}`);
      t.true(close(inputs.b!.data, ref.params[1]!), `step ${step}: b ${values(inputs.b!)} vs ${Array.from(ref.params[1]!)}`);
      t.deepEqual(values(inputs[STEP_INPUT]!), [step + 1]);
    }
  });
}

// ---------------------------------------------------------------- structure

test('inputs: the loss graph inputs, then the state, then opt.lr; outputs: the loss, new params, new state', (t) => {
  const g = parse(LINEAR);
  const ts = trainStepGraph(g, { kind: 'adam', lr: 1e-3 });
  const ins = ts.graph.inputs.map((v) => [v.name, v.isParam]);
  t.deepEqual(ins.slice(0, 4), g.inputs.map((v) => [v.name, v.isParam]));
  t.deepEqual(ins.slice(4), [['adam.m.w', false], ['adam.v.w', false], ['adam.m.b', false], ['adam.v.b', false], ['opt.step', false], ['opt.lr', false]]);
  t.deepEqual(ts.graph.outputs.map((v) => v.name), ['loss', 'new.w', 'new.b', 'new.adam.m.w', 'new.adam.v.w', 'new.adam.m.b', 'new.adam.v.b', 'new.opt.step']);
  t.is(ts.loss, 0);
  t.deepEqual(ts.state, [
    { name: 'adam.m.w', type: { dtype: 'f32', shape: [K, M] }, init: 0 },
    { name: 'adam.v.w', type: { dtype: 'f32', shape: [K, M] }, init: 0 },
    { name: 'adam.m.b', type: { dtype: 'f32', shape: [M] }, init: 0 },
    { name: 'adam.v.b', type: { dtype: 'f32', shape: [M] }, init: 0 },
    { name: 'opt.step', type: { dtype: 'f32', shape: [] }, init: 0 },
  ]);
  t.deepEqual(ts.updates, [
    { output: 1, input: 'w' }, { output: 2, input: 'b' },
    { output: 3, input: 'adam.m.w' }, { output: 4, input: 'adam.v.w' }, { output: 5, input: 'adam.m.b' }, { output: 6, input: 'adam.v.b' },
    { output: 7, input: 'opt.step' },
  ]);
  for (const u of ts.updates) {
    const input = ts.graph.inputs.find((v) => v.name === u.input)!;
    t.deepEqual(ts.graph.outputs[u.output]!.type, input.type, `update of %${u.input}`);
  }
  const lr = ts.graph.inputs.find((v) => v.name === LR_INPUT)!;
  t.deepEqual(lr.type, { dtype: 'f32', shape: [] });
  t.false(ts.updates.some((u) => u.input === LR_INPUT), 'the learning rate is not updated by the step');
  t.is(ts.graph.inputs.at(-1), lr);
});

test('state: sgd without momentum has only the step counter; with momentum one buffer per param', (t) => {
  const plain = trainStepGraph(parse(LINEAR), { kind: 'sgd', lr: 0.1 });
  t.deepEqual(plain.state.map((s) => s.name), ['opt.step']);
  t.deepEqual(plain.graph.outputs.map((v) => v.name), ['loss', 'new.w', 'new.b', 'new.opt.step']);
  const mom = trainStepGraph(parse(LINEAR), { kind: 'sgd', lr: 0.1, momentum: 0.9 });
  t.deepEqual(mom.state.map((s) => s.name), ['sgd.momentum.w', 'sgd.momentum.b', 'opt.step']);
  t.deepEqual(mom.graph.outputs.map((v) => v.name), ['loss', 'new.w', 'new.b', 'new.sgd.momentum.w', 'new.sgd.momentum.b', 'new.opt.step']);
  const aw = trainStepGraph(parse(LINEAR), { kind: 'adamw', lr: 0.1 });
  t.deepEqual(aw.state.map((s) => s.name), ['adam.m.w', 'adam.v.w', 'adam.m.b', 'adam.v.b', 'opt.step']);
});

test('initialInputs: zeros for the state, the spec lr as opt.lr', (t) => {
  const ts = trainStepGraph(parse(LINEAR), { kind: 'sgd', lr: 0.1, momentum: 0.9 });
  const init = initialInputs(ts, { kind: 'sgd', lr: 0.25 });
  t.deepEqual(Object.keys(init), ['sgd.momentum.w', 'sgd.momentum.b', 'opt.step', 'opt.lr']);
  t.deepEqual(values(init['sgd.momentum.w']!), [0, 0, 0, 0, 0, 0]);
  t.deepEqual(init['opt.lr'], lrTensor(0.25));
  t.deepEqual(values(init['opt.lr']!), [0.25]);
});

test('the learning rate is an input: doubling it doubles the step; 0 leaves params alone but counts the step', (t) => {
  const opt: OptimizerSpec = { kind: 'sgd', lr: 0.1 };
  const ts = trainStepGraph(parse(LINEAR), opt);
  const inputs = firstInputs(ts, opt, batches[0]!);
  const run = (lr: number) => nextInputs(ts, { ...inputs, [LR_INPUT]: lrTensor(lr) }, interpret(ts.graph, { ...inputs, [LR_INPUT]: lrTensor(lr) }));
  const a = run(0.1), b = run(0.2), z = run(0);
  const delta = (next: Record<string, HostTensor>) => values(next.w!).map((v, i) => v - initialW[i]!);
  t.true(close(delta(b), delta(a).map((d) => 2 * d)));
  t.true(delta(a).some((d) => Math.abs(d) > 1e-3));
  t.deepEqual(values(z.w!), values(inputs.w!));
  t.deepEqual(values(z[STEP_INPUT]!), [1]);
});

test('the train step verifies, prints, parses back unchanged and runs the same after the round trip', (t) => {
  for (const [, opt] of CASES) {
    const ts = trainStepGraph(parse(LINEAR), opt);
    verifyGraph(ts.graph);
    const text = printGraph(ts.graph);
    const again = parseModule(text, 'step.ir').main;
    verifyGraph(again);
    t.is(printGraph(again), text);
    const inputs = firstInputs(ts, opt, batches[1]!);
    t.deepEqual(interpret(again, inputs).map(values), interpret(ts.graph, inputs).map(values));
  }
  const text = printGraph(trainStepGraph(parse(LINEAR), { kind: 'adam', lr: 1e-3 }).graph);
  t.regex(text, /^graph @lin_step\(/);
  t.regex(text, /%new\.w = sub %w, %\d+ : f32\[3,2\]/);
  t.regex(text, /pow %\d+, %new\.opt\.step : f32\[\]/);
});

test('the loss graph is not changed', (t) => {
  const g = parse(LINEAR);
  const before = printGraph(g);
  trainStepGraph(g, { kind: 'adamw', lr: 0.1 });
  t.is(printGraph(g), before);
});

test('extra outputs stay outputs at their indices; extra updates (BatchNorm running stats) map to them', (t) => {
  const net = new nn.Sequential(new nn.BatchNorm2d(2), new nn.Flatten(), new nn.Linear(2 * 2 * 2, 3));
  const traced = traceModule(net, [f32([4, 2, 2, 2]), i32([4])], { call: (m, x, labels) => crossEntropy(m.forward(x), labels) });
  t.deepEqual(traced.stateUpdates.map((u) => u.name), ['0.running_mean', '0.running_var']);
  const extraUpdates = traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
  const opt: OptimizerSpec = { kind: 'sgd', lr: 0.1, momentum: 0.5 };
  const ts = trainStepGraph(traced.graph, opt, { extraUpdates });
  const nOut = traced.graph.outputs.length;
  t.is(nOut, 3);
  t.deepEqual(ts.graph.outputs.slice(0, nOut).map((v) => v.type), traced.graph.outputs.map((v) => v.type));
  const params = traced.params.map((p) => p.name);
  t.deepEqual(params, ['0.weight', '0.bias', '2.weight', '2.bias']);
  t.deepEqual(ts.updates.slice(-2), [{ output: 1, input: '0.running_mean' }, { output: 2, input: '0.running_var' }]);
  t.deepEqual(ts.updates.slice(0, 4), params.map((p, i) => ({ output: nOut + i, input: p })));
  t.deepEqual(new Set(ts.updates.map((u) => u.input)).size, ts.updates.length);

  // Two steps on the interpreter: the running stats follow the extra outputs, the params the optimizer.
  let inputs: Record<string, HostTensor> = {
    x: hostTensor('f32', [4, 2, 2, 2], seededValues(5, 32)),
    labels: hostTensor('i32', [4], [0, 2, 1, 2]),
    ...Object.fromEntries([...traced.params, ...traced.buffers].map((s) => [s.name, hostTensor(s.type.dtype, s.type.shape, initialValues(s, 7))])),
    ...initialInputs(ts, opt),
  };
  for (let step = 0; step < 2; step++) {
    const outputs = interpret(ts.graph, inputs);
    const next = nextInputs(ts, inputs, outputs);
    t.deepEqual(values(next['0.running_mean']!), values(outputs[1]!));
    t.deepEqual(values(next['0.running_var']!), values(outputs[2]!));
    t.notDeepEqual(values(next['0.running_mean']!), values(inputs['0.running_mean']!));
    t.notDeepEqual(values(next['2.weight']!), values(inputs['2.weight']!));
    inputs = next;
  }
});

test('f16 params: the update runs in f32 and the new param is cast back; the state is f32', (t) => {
  const g = new Graph('half');
  const w = g.addInput('w', { dtype: 'f16', shape: [3] }, { param: true });
  const sq = g.add('mul', [w, w]);
  const loss = g.add('cast', [g.add('reduce_sum', [sq], { axes: [0] })], { to: 'f32' });
  g.setOutputs([loss]);
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.125 };
  const ts = trainStepGraph(g, opt);
  verifyGraph(ts.graph);
  t.deepEqual(ts.graph.outputs[1]!.type, { dtype: 'f16', shape: [3] });
  t.is(ts.graph.outputs[1]!.def!.op, 'cast');
  t.deepEqual(ts.state.map((s) => s.type.dtype), ['f32', 'f32', 'f32']);
  const inputs = { w: hostTensor('f16', [3], [0.5, -1, 2]), ...initialInputs(ts, opt) };
  const next = nextInputs(ts, inputs, interpret(ts.graph, inputs));
  // Adam's first step moves every param by lr·sign(g) (up to eps).
  t.deepEqual(values(next.w!), [0.375, -0.875, 1.875]);
});

// ---------------------------------------------------------------- errors

test('bad optimizer specs are E0609', (t) => {
  const g = parse(LINEAR);
  const bad = (opt: unknown, re: RegExp) => {
    const e = errorOf(() => trainStepGraph(g, opt as OptimizerSpec));
    t.is(e.code, 'E0609');
    t.regex(e.detail, re);
  };
  bad({ kind: 'sgd', lr: 0.1, nesterov: true }, /nesterov momentum requires a momentum > 0/);
  bad({ kind: 'sgd', lr: -1 }, /lr must be a finite number >= 0/);
  bad({ kind: 'sgd', lr: Number.NaN }, /lr must be/);
  bad({ kind: 'sgd', lr: 0.1, momentum: -0.5 }, /momentum must be/);
  bad({ kind: 'adam', lr: 0.1, beta1: 1 }, /beta1 must be a finite number in \[0, 1\)/);
  bad({ kind: 'adamw', lr: 0.1, eps: -1 }, /eps must be/);
  bad({ kind: 'adagrad', lr: 0.1 }, /unknown optimizer kind "adagrad" \(known: sgd, adam, adamw\)/);
});

test('bad extra updates are E0603', (t) => {
  const g = parse(`
graph @bn(%x: f32[4], %w: f32[4] {param}, %r: f32[4], %k: i32[]) -> (f32[], f32[4]) {
  %0 = mul %x, %w : f32[4]
  %loss = reduce_sum %0 {axes = [0]} : f32[]
  %r2 = add %r, %x : f32[4]
  return %loss, %r2
}`);
  const bad = (extraUpdates: { output: number; input: string }[], re: RegExp) => {
    const e = errorOf(() => trainStepGraph(g, { kind: 'sgd', lr: 0.1 }, { extraUpdates }));
    t.is(e.code, 'E0603');
    t.regex(e.detail, re);
  };
  bad([{ output: 2, input: 'r' }], /names output 2, but @bn has 2 output\(s\)/);
  bad([{ output: 1, input: 'q' }], /@bn has no such input/);
  bad([{ output: 1, input: 'w' }], /it is a param the optimizer updates/);
  bad([{ output: 1, input: 'r' }, { output: 1, input: 'r' }], /%r is updated twice/);
  bad([{ output: 0, input: 'r' }], /output 0 \(f32\[\]\) cannot update %r \(f32\[4\]\)/);
  const ok = trainStepGraph(g, { kind: 'sgd', lr: 0.1 }, { extraUpdates: [{ output: 1, input: 'r' }] });
  t.deepEqual(ok.updates.at(-1), { output: 1, input: 'r' });
});

test('a loss graph input named like an optimizer input is E0005', (t) => {
  const g = parse(`
graph @clash(%opt.lr: f32[], %w: f32[2] {param}) -> (f32[]) {
  %0 = mul %w, %opt.lr : f32[2]
  %loss = reduce_sum %0 {axes = [0]} : f32[]
  return %loss
}`);
  t.is(errorOf(() => trainStepGraph(g, { kind: 'sgd', lr: 0.1 })).code, 'E0005');
});

test('a loss that is not a scalar float is E0405 (from autodiff)', (t) => {
  const g = parse(`
graph @vec(%w: f32[2] {param}) -> (f32[2]) {
  %0 = mul %w, %w : f32[2]
  return %0
}`);
  t.is(errorOf(() => trainStepGraph(g, { kind: 'adam', lr: 0.1 })).code, 'E0405');
});
