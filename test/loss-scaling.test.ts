// passes/loss-scaling.ts without a device: the options (defaults, checks,
// E0609), the structure of the scaled train step (the scaled loss, one
// unscale_check over every gradient, every update guarded by the finite flag,
// the loss-scale state as inputs updated in place), and its semantics on the
// reference interpreter against an independent host model of the algorithm:
// backoff and counter reset on overflow, growth after `interval` finite
// steps, the floor and the ceiling, skipped steps that leave params,
// optimizer state and BatchNorm statistics bitwise unchanged, and finite
// steps identical to unscaled training (power-of-two scales are exact).

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { printGraph } from '../ir/text/printer.ts';
import { crossEntropy, f32, i32, initialValues, nn, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { batchSpecs, classificationLoss, mlp } from '../examples/mnist/models.ts';
import { DYNAMIC_DEFAULTS, resolveLossScale } from '../passes/loss-scaling.ts';
import type { LossScaleSpec } from '../passes/loss-scaling.ts';
import { initialInputs, nextInputs } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { OptimizerSpec, TrainStepGraph } from '../passes/optimizer.ts';
import { seededValues } from './helpers/compare.ts';
import { linearLoss } from './helpers/linear.ts';

// ---------------------------------------------------------------- options

test('options: dynamic by default under amp, off under f32; numbers are static; objects are dynamic with defaults', (t) => {
  t.deepEqual(resolveLossScale(undefined, 'amp'), { mode: 'dynamic', ...DYNAMIC_DEFAULTS });
  t.deepEqual(DYNAMIC_DEFAULTS, { init: 65536, growth: 2, backoff: 0.5, interval: 2000, min: 1, max: 16777216 });
  t.deepEqual(resolveLossScale(undefined, 'f32'), { mode: 'off' });
  t.deepEqual(resolveLossScale('off', 'amp'), { mode: 'off' });
  t.deepEqual(resolveLossScale('dynamic', 'f32'), { mode: 'dynamic', ...DYNAMIC_DEFAULTS });
  t.deepEqual(resolveLossScale(128, 'amp'), { mode: 'static', scale: 128 });
  t.deepEqual(resolveLossScale({ init: 8, interval: 3 }, 'amp'), { mode: 'dynamic', ...DYNAMIC_DEFAULTS, init: 8, interval: 3 });
});

test('options: bad loss scales are refused with E0609 and say what is wrong', (t) => {
  const cases: [unknown, RegExp][] = [
    [0, /static scale must be a finite number > 0/],
    [-1, /static scale/],
    [Infinity, /static scale/],
    [NaN, /static scale/],
    [1e300, /a static scale must be in \[1, 2\^24 = 16777216\], got 1e\+300 \(outside it every step overflows or underflows and is skipped\)/],
    [1e-300, /a static scale must be in \[1, 2\^24/],
    ['dyn', /expected 'dynamic', 'off', a positive number/],
    [{ init: 0 }, /init must be a finite number > 0/],
    [{ growth: 0.5 }, /growth must be a finite number >= 1/],
    [{ backoff: 0 }, /backoff must be a number in \(0, 1\]/],
    [{ backoff: 2 }, /backoff/],
    [{ interval: 1.5 }, /interval must be an integer/],
    [{ interval: 0 }, /interval/],
    [{ min: 4, max: 2 }, /max \(2\) is below min \(4\)/],
    [{ init: 2 ** 25 }, /init \(33554432\) is outside \[min, max\]/],
    [{ max: 1e39 }, /beyond f32's range/],
    [{ scale: 2 }, /unknown option 'scale'/],
  ];
  for (const [spec, want] of cases) {
    const e = t.throws(() => resolveLossScale(spec as LossScaleSpec, 'amp'), { instanceOf: AmpcError }, JSON.stringify(spec));
    t.is(e!.code, 'E0609');
    t.regex(e!.message, want, JSON.stringify(spec));
  }
});

// ---------------------------------------------------------------- structure

const MLP_PARAMS = ['0.weight', '0.bias', '2.weight', '2.bias'];

test('the dynamic AMP train step: scaled loss, one unscale_check, every update guarded, state updated in place', (t) => {
  const loss = traceModule(mlp(), batchSpecs('mlp', 16), { call: classificationLoss }).graph;
  const step = trainStepGraph(loss, { kind: 'adam', lr: 1e-3 }, { precision: 'amp' });
  const g = step.graph;
  verifyGraph(g);
  const text = printGraph(g);
  t.is(step.lossScaling.mode, 'dynamic');

  // State: the loss-scale state first (scale 2^16, counters 0), then Adam's.
  t.deepEqual(step.state.slice(0, 3).map((s) => [s.name, s.type.dtype, s.init]), [['amp.scale', 'f32', 65536], ['amp.good_steps', 'i32', 0], ['amp.skipped', 'i32', 0]]);
  t.deepEqual(g.inputs.slice(2, 6).map((v) => v.name), MLP_PARAMS);
  t.deepEqual(g.inputs.slice(6, 9).map((v) => v.name), ['amp.scale', 'amp.good_steps', 'amp.skipped']);

  // The backward differentiates loss * scale; the loss output stays unscaled.
  t.regex(text, /%scaled\.loss = mul %loss, %amp\.scale : f32\[\]/);
  t.is(g.outputs[0]!.name, 'loss');

  // One unscale_check: 1/scale and the four f32 gradients in, the unscaled gradients and the flag out.
  const checks = g.nodes.filter((n) => n.op === 'unscale_check');
  t.is(checks.length, 1);
  const check = checks[0]!;
  t.is(check.operands[0]!.def!.op, 'reciprocal');
  t.is(check.operands[0]!.def!.operands[0]!.name, 'amp.scale');
  t.deepEqual(check.operands.slice(1).map((v) => v.name), MLP_PARAMS.map((p) => `grad.${p}`));
  t.deepEqual(check.results.map((v) => v.name), [...MLP_PARAMS.map((p) => `unscaled.grad.${p}`), 'grads.finite']);

  // Every updated param and optimizer state: select(finite, candidate, old).
  for (const u of step.updates) {
    const out = g.outputs[u.output]!;
    if (u.input.startsWith('amp.')) continue;
    t.is(out.def!.op, 'select', u.input);
    t.is(out.def!.operands[0]!.name, 'grads.finite', u.input);
    t.is(out.def!.operands[2]!.name, u.input, `%${u.input} keeps its value on a skipped step`);
    t.is(out.name, `new.${u.input}`);
  }
  // The loss-scale state is updated in place too.
  for (const s of ['amp.scale', 'amp.good_steps', 'amp.skipped']) {
    const u = step.updates.find((x) => x.input === s)!;
    t.is(g.outputs[u.output]!.name, `new.${s}`);
  }
  t.is(step.updates.length, 4 + 8 + 1 + 3);
  t.log(`dynamic AMP MLP train step: ${g.nodes.length} nodes, ${g.nodes.filter((n) => n.op === 'select').length} selects, ` +
    `${g.nodes.filter((n) => n.op === 'cast').length} casts`);
});

const lin = linearLoss;

test('a static scale is a constant in the forward; only the skipped count is state; off adds nothing', (t) => {
  const st = trainStepGraph(lin(), { kind: 'sgd', lr: 0.1 }, { lossScale: 256 });
  const text = printGraph(st.graph);
  t.regex(text, /%\d+ = constant \{value = 256\.0\} : f32\[\]\n  %scaled\.loss = mul %loss, %\d+/);
  t.regex(text, /= unscale_check %\d+, %grad\.w, %grad\.b/);
  t.regex(text, /constant \{value = 0\.00390625\}/);
  t.deepEqual(st.state.map((s) => s.name), ['amp.skipped', 'opt.step']);
  const off = trainStepGraph(lin(), { kind: 'sgd', lr: 0.1 }, { precision: 'amp', lossScale: 'off' });
  t.false(off.graph.nodes.some((n) => n.op === 'unscale_check' || n.op === 'select'));
  t.false(off.graph.inputs.some((v) => v.name!.startsWith('amp.')));
  const f32 = trainStepGraph(lin(), { kind: 'sgd', lr: 0.1 });
  t.is(f32.lossScaling.mode, 'off');
});

// ---------------------------------------------------------------- semantics on the reference interpreter

/** The algorithm of design.md, written out independently of the pass. */
class HostScaler {
  scale: number;
  good = 0;
  skipped = 0;
  constructor(private readonly o: typeof DYNAMIC_DEFAULTS) {
    this.scale = o.init;
  }
  update(finite: boolean): void {
    if (!finite) {
      this.good = 0;
      this.skipped++;
      this.scale = Math.max(this.scale * this.o.backoff, this.o.min);
      return;
    }
    this.good = (this.good + 1) % this.o.interval;
    if (this.good === 0) this.scale = Math.min(this.scale * this.o.growth, this.o.max);
  }
}

interface Run {
  step: TrainStepGraph;
  inputs: Record<string, HostTensor>;
}

function start(g: Graph, opt: OptimizerSpec, lossScale: LossScaleSpec, params: Record<string, HostTensor>): Run {
  const step = trainStepGraph(g, opt, { lossScale });
  return { step, inputs: { ...params, ...initialInputs(step, opt) } };
}

function advance(r: Run, batch: Record<string, HostTensor>): HostTensor[] {
  const inputs = { ...r.inputs, ...batch };
  const out = interpret(r.step.graph, inputs);
  r.inputs = nextInputs(r.step, inputs, out);
  return out;
}

const bits = (t: HostTensor) => Array.from(new Float32Array(Float64Array.from(t.data)));

test('reference: backoff and reset on overflow, growth after interval, floor and ceiling, skipped steps change nothing', (t) => {
  const o = { ...DYNAMIC_DEFAULTS, init: 4, interval: 3, growth: 2, backoff: 0.5, min: 1, max: 16 };
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.05 };
  const params = { w: hostTensor('f32', [3, 2], seededValues(1, 6)), b: hostTensor('f32', [2], seededValues(2, 2)) };
  const scaled = start(lin(), opt, o, params);
  const plain = start(lin(), opt, 'off', params);
  const host = new HostScaler(o);
  // Overflow (an inf in the batch) at these steps: backoff from 4 to the floor 1 and beyond; growth to the ceiling 16 and beyond.
  const overflowAt = new Set([2, 5, 6, 7, 8]);
  const trace: string[] = [];
  for (let k = 0; k < 30; k++) {
    const xs = seededValues(100 + k, 15);
    if (overflowAt.has(k)) xs[4] = k % 2 ? Infinity : NaN;
    const batch = { x: hostTensor('f32', [5, 3], xs), y: hostTensor('f32', [5, 2], seededValues(200 + k, 10)) };
    const before = { ...scaled.inputs };
    advance(scaled, batch);
    const finite = !overflowAt.has(k);
    host.update(finite);
    if (finite) advance(plain, batch);
    const now = scaled.inputs;
    trace.push(`${now['amp.scale']!.data[0]}/${now['amp.good_steps']!.data[0]}/${now['amp.skipped']!.data[0]}`);
    t.is(now['amp.scale']!.data[0], host.scale, `step ${k}: scale`);
    t.is(now['amp.good_steps']!.data[0], host.good, `step ${k}: good steps`);
    t.is(now['amp.skipped']!.data[0], host.skipped, `step ${k}: skipped`);
    for (const name of ['w', 'b', 'adam.m.w', 'adam.v.w', 'adam.m.b', 'adam.v.b', 'opt.step']) {
      if (!finite) t.deepEqual(bits(now[name]!), bits(before[name]!), `step ${k}: %${name} unchanged on a skipped step`);
      // Power-of-two scales are exact: a finite step is the unscaled step.
      t.deepEqual(Array.from(now[name]!.data), Array.from(plain.inputs[name]!.data), `step ${k}: %${name} as without scaling`);
    }
  }
  t.log(trace.join(' '));
  t.true(trace.includes('1/0/5'), 'the floor held');
  t.true(trace.some((s) => s.startsWith('16/')), 'the ceiling was reached');
  t.is(Math.max(...trace.map((s) => Number(s.split('/')[0]))), 16, 'the ceiling held');
});

test('reference: a skipped step leaves BatchNorm running statistics unchanged; a finite one updates them', (t) => {
  const model = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU(), new nn.Flatten(), new nn.Linear(2 * 4 * 4, 3));
  const traced = traceModule(model, [f32([4, 1, 6, 6]), i32([4])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
  const extraUpdates = traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
  const opt: OptimizerSpec = { kind: 'sgd', lr: 0.1 };
  const step = trainStepGraph(traced.graph, opt, { extraUpdates, lossScale: 'dynamic' });
  const state = Object.fromEntries([...traced.params, ...traced.buffers].map((s) => [s.name, hostTensor(s.type.dtype, s.type.shape, initialValues(s, 1))]));
  const r: Run = { step, inputs: { ...state, ...initialInputs(step, opt) } };
  const [xName, yName] = traced.graph.inputs.map((v) => v.name!);
  const batch = (bad: boolean) => {
    const xs = seededValues(7, 144);
    if (bad) xs[10] = Infinity;
    return { [xName!]: hostTensor('f32', [4, 1, 6, 6], xs), [yName!]: hostTensor('i32', [4], [0, 1, 2, 1]) };
  };
  const stats = traced.buffers.map((b) => b.name);
  t.true(stats.length >= 2);
  const before = Object.fromEntries(stats.map((s) => [s, bits(r.inputs[s]!)]));
  advance(r, batch(true));
  t.is(r.inputs['amp.skipped']!.data[0], 1);
  for (const s of stats) t.deepEqual(bits(r.inputs[s]!), before[s], `%${s} unchanged on a skipped step`);
  advance(r, batch(false));
  t.is(r.inputs['amp.skipped']!.data[0], 1);
  t.true(stats.some((s) => bits(r.inputs[s]!).some((v, i) => v !== before[s]![i])), 'a finite step moves the running statistics');
});
