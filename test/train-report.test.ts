// The train step's reported outputs (StepReport in passes/optimizer.ts) and
// the Trainer's metrics log (compiler/train/metrics.ts): on the reference
// interpreter the reported gradients are autodiff's gradients (bitwise in
// f32; unscaled under loss scaling) and the norm is their global L2 norm
// (the clipping's own norm when clipping by norm); reporting adds outputs
// after every other one and changes nothing else; on the adapter
// Trainer.gradients()/gradNorm() read them back; the metrics log writes one
// line every N steps (JSONL or CSV, to a function or a file) whose losses
// are the steps' losses; bad options are E0609.

import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trainer } from '../compiler/train/index.ts';
import { parseMetricsLog } from '../compiler/train/metrics.ts';
import { AmpcError } from '../ir/errors.ts';
import type { ErrorCode } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { initialInputs, nextInputs } from '../passes/optimizer.ts';
import type { OptimizerSpec, StepReport } from '../passes/optimizer.ts';
import { resolveSchedule, scheduleFactor } from '../passes/schedule.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { seededValues } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ampc-report-'));

function linear(): Graph {
  return parseModule(`graph @lin(%x: f32[6,3], %y: f32[6,2], %w: f32[3,2] {param}, %b: f32[2] {param}) -> (f32[]) {
  %0 = matmul %x, %w : f32[6,2]
  %pred = add %0, %b : f32[6,2]
  %loss = mse_loss %pred, %y : f32[]
  return %loss
}`, 'lin.ir').main;
}

const INPUTS: Record<string, HostTensor> = {
  x: hostTensor('f32', [6, 3], seededValues(1, 18, -2, 2)),
  y: hostTensor('f32', [6, 2], seededValues(2, 12, -3, 3)),
  w: hostTensor('f32', [3, 2], seededValues(3, 6)),
  b: hostTensor('f32', [2], seededValues(4, 2)),
};
const values = (t: HostTensor) => [...t.data].map(Number);
const norm = (ts: readonly HostTensor[]) => Math.sqrt(ts.reduce((n, t) => n + values(t).reduce((a, v) => a + v * v, 0), 0));

function runStep(opt: OptimizerSpec, report: StepReport, lossScale?: number) {
  const step = trainStepGraph(linear(), opt, { report, ...(lossScale !== undefined ? { lossScale } : {}) });
  const inputs = { ...INPUTS, ...initialInputs(step, opt) };
  return { step, inputs, outputs: interpret(step.graph, inputs) };
}

test('the reported gradients are autodiff\'s, bitwise, and the norm their global L2 norm', (t) => {
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.01 };
  const { step, outputs } = runStep(opt, { gradNorm: true, gradients: true });
  const grads = interpret(gradientGraph(linear()), INPUTS).slice(1);
  t.deepEqual(step.reported.gradients!.map((g) => g.param), ['w', 'b']);
  step.reported.gradients!.forEach((g, i) => t.deepEqual(values(outputs[g.output]!), values(grads[i]!), g.param));
  const n = values(outputs[step.reported.gradNorm!]!)[0]!;
  t.true(Math.abs(n - norm(grads)) <= 1e-6 * norm(grads), `${n} vs ${norm(grads)}`);
  const names = step.graph.outputs.slice(-3).map((v) => v.name);
  t.deepEqual(names, ['report.grad.norm', 'report.grad.w', 'report.grad.b']);
});

test('reporting appends outputs and changes nothing else: same updates, same values', (t) => {
  const opt: OptimizerSpec = { kind: 'sgd', lr: 0.1, momentum: 0.9 };
  const plain = runStep(opt, {}, 1024);
  const reported = runStep(opt, { gradNorm: true, gradients: true }, 1024);
  t.deepEqual(reported.step.updates, plain.step.updates);
  t.is(reported.step.graph.outputs.length, plain.step.graph.outputs.length + 3);
  plain.outputs.forEach((o, i) => t.deepEqual(values(reported.outputs[i]!), values(o), `output ${i}`));
  t.deepEqual(plain.step.reported, {});
  const next = nextInputs(reported.step, { ...reported.inputs }, reported.outputs);
  t.deepEqual(values(next.w!), values(nextInputs(plain.step, { ...plain.inputs }, plain.outputs).w!));
});

test('under loss scaling the reported gradients are unscaled; with clipping by norm the norm is the clipping\'s', (t) => {
  const grads = interpret(gradientGraph(linear()), INPUTS).slice(1);
  const scaled = runStep({ kind: 'adam', lr: 0.01 }, { gradients: true, gradNorm: true }, 1024);
  scaled.step.reported.gradients!.forEach((g, i) => {
    // The scale is a power of two: scaling and unscaling are exact in f32.
    t.deepEqual(values(scaled.outputs[g.output]!), values(grads[i]!), g.param);
  });
  const clipped = runStep({ kind: 'adam', lr: 0.01, clipGradNorm: 0.01 }, { gradNorm: true });
  const gn = clipped.step.graph.nodes.flatMap((n) => n.results).find((v) => v.name === 'grad.norm');
  t.truthy(gn, 'the clipping computes %grad.norm');
  const reportedNorm = clipped.step.graph.outputs[clipped.step.reported.gradNorm!]!;
  t.is(reportedNorm.def?.operands[0], gn, 'the reported norm is a copy of the clipping\'s norm, not a second reduction');
  t.true(Math.abs(values(clipped.outputs[clipped.step.reported.gradNorm!]!)[0]! - norm(grads)) <= 1e-6 * norm(grads));
});

test('report: bad values are E0609', (t) => {
  for (const report of [{ gradNorms: true }, { gradNorm: 1 }, [true], 'yes']) {
    const e = t.throws(() => trainStepGraph(linear(), { kind: 'adam', lr: 0.01 }, { report: report as StepReport }), { instanceOf: AmpcError });
    t.is(e?.code, 'E0609', String(e?.message));
  }
});

// ---------------------------------------------------------------- on the adapter

const BATCH = 16;
const images = Float32Array.from(seededValues(11, BATCH * 20, -1, 1));
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 5);
const net = () => new nn.Sequential(new nn.Linear(20, 12), new nn.ReLU(), new nn.Linear(12, 5));
const loss = (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y);

gpuTest('Trainer.gradients() and gradNorm() read the last step\'s unscaled gradients, as the reference computes them', async (t, ctx) => {
  for (const precision of ['f32', 'amp'] as const) {
    const trainer = await Trainer.create({
      model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'adam', lr: 1e-3 }, seed: 3, device: ctx, precision,
      report: { gradNorm: true, gradients: true },
    });
    try {
      const before = await trainer.parameters();
      await trainer.step([images, labels]);
      const grads = await trainer.gradients();
      t.deepEqual(Object.keys(grads), trainer.parameterNames);
      // The reference: autodiff of the traced loss at the parameters the step started from.
      const { traceModule } = await import('../ir/trace/trace.ts');
      const traced = traceModule(net(), [f32([BATCH, 20]), i32([BATCH])], { call: loss });
      const ref = interpret(gradientGraph(traced.graph), {
        [traced.graph.inputs[0]!.name!]: hostTensor('f32', [BATCH, 20], images),
        [traced.graph.inputs[1]!.name!]: hostTensor('i32', [BATCH], labels),
        ...before,
      }).slice(1);
      const tol = precision === 'f32' ? 1e-5 : 2e-2;
      trainer.parameterNames.forEach((p, i) => {
        const a = values(grads[p]!), e = values(ref[i]!);
        const scale = Math.max(...e.map(Math.abs));
        const worst = Math.max(...a.map((v, j) => Math.abs(v - e[j]!)));
        t.true(worst <= tol * scale, `${precision} ${p}: worst ${worst} vs max |g| ${scale}`);
      });
      const n = await trainer.gradNorm();
      const host = norm(Object.values(grads));
      t.true(Math.abs(n - host) <= 1e-5 * host, `${precision}: gradNorm ${n} vs ${host} from gradients()`);
    } finally {
      trainer.destroy();
    }
  }
});

gpuTest('gradNorm() and gradients() without report, or before a step, are E0609', async (t, ctx) => {
  const plain = await Trainer.create({ model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'sgd', lr: 0.1 }, device: ctx });
  const asked = await Trainer.create({ model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'sgd', lr: 0.1 }, device: ctx, report: { gradNorm: true } });
  try {
    for (const call of [() => plain.gradNorm(), () => plain.gradients(), () => asked.gradients(), () => asked.gradNorm()]) {
      const e = await t.throwsAsync(call(), { instanceOf: AmpcError });
      t.is(e?.code, 'E0609', String(e?.message));
    }
    await asked.step([images, labels]);
    t.true(Number.isFinite(await asked.gradNorm()));
  } finally {
    plain.destroy();
    asked.destroy();
  }
});

gpuTest('the metrics log: a line every N steps with the steps\' losses, scale, updates and scheduled lr; JSONL to a function, CSV to a file', async (t, ctx) => {
  const lines: string[] = [];
  const schedule = { kind: 'cosine', totalSteps: 10, warmup: 2 } as const;
  const trainer = await Trainer.create({
    model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'adam', lr: 1e-2, schedule }, seed: 1, device: ctx,
    precision: 'amp', report: { gradNorm: true }, metrics: { to: (l) => lines.push(l), every: 2 },
  });
  const losses: number[] = [];
  try {
    for (let s = 0; s < 6; s++) losses.push((await trainer.step([images, labels], { readLoss: true }))!);
  } finally {
    trainer.destroy();
  }
  t.is(lines.length, 3);
  const rows = parseMetricsLog(lines.join('\n'));
  t.deepEqual(Object.keys(rows[0]!), ['step', 'loss', 'scale', 'skipped', 'updates', 'lr', 'grad_norm', 'samples_per_s', 'elapsed_s']);
  t.deepEqual(rows.map((r) => r.step), [2, 4, 6]);
  t.deepEqual(rows.map((r) => Math.fround(r.loss!)), [losses[1], losses[3], losses[5]], 'each logged loss reads back as the f32 loss of its step');
  t.deepEqual(rows.map((r) => r.scale), [65536, 65536, 65536]);
  t.deepEqual(rows.map((r) => r.updates), [2, 4, 6]);
  const factor = (u: number) => scheduleFactor(resolveSchedule(schedule), u);
  rows.forEach((r) => t.true(Math.abs(r.lr! - 1e-2 * factor(r.updates!)) <= 1e-9, `lr ${r.lr} at ${r.updates}`));
  t.true(rows.every((r) => r.grad_norm! > 0 && r.samples_per_s! > 0 && r.elapsed_s! > 0));
  t.true(rows[2]!.elapsed_s! >= rows[0]!.elapsed_s!);

  const path = join(tmp, 'log.csv');
  const f = await Trainer.create({ model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'sgd', lr: 0.1 }, device: ctx, metrics: { to: path, every: 1 } });
  try {
    for (let s = 0; s < 3; s++) await f.step([images, labels]);
  } finally {
    f.destroy();
  }
  const text = readFileSync(path, 'utf8');
  t.true(text.startsWith('step,loss,scale,skipped,updates,lr,samples_per_s,elapsed_s\n'), text);
  t.true(text.endsWith('\n'));
  const csv = parseMetricsLog(text, path);
  t.deepEqual(csv.map((r) => [r.step, r.scale, r.skipped, r.updates, r.lr]), [[1, 1, 0, 1, 0.1], [2, 1, 0, 2, 0.1], [3, 1, 0, 3, 0.1]]);
});

gpuTest('metrics and report options: bad values are E0609, an unwritable path E0601', async (t, ctx) => {
  const base = { model: net(), loss, inputs: [f32([BATCH, 20]), i32([BATCH])], optimizer: { kind: 'sgd', lr: 0.1 } as OptimizerSpec, device: ctx };
  const bad: [object, ErrorCode][] = [
    [{ metrics: { to: 3 } }, 'E0609'], [{ metrics: { to: 'a.jsonl', every: 0 } }, 'E0609'], [{ metrics: { to: 'a.jsonl', format: 'xml' } }, 'E0609'],
    [{ metrics: { to: 'a.jsonl', often: 2 } }, 'E0609'], [{ report: { norm: true } }, 'E0609'],
    [{ metrics: { to: join(tmp, 'no-such-dir', 'log.jsonl') } }, 'E0601'],
  ];
  for (const [extra, code] of bad) {
    const e = await t.throwsAsync(Trainer.create({ ...base, ...extra }), { instanceOf: AmpcError });
    t.is(e?.code, code, `${JSON.stringify(extra)}: ${e?.message}`);
  }
});

test('parseMetricsLog reads JSONL and CSV, and names the line of a malformed one', (t) => {
  t.deepEqual(parseMetricsLog('{"step":1,"loss":0.5}\n{"step":2,"loss":"NaN"}\n'), [{ step: 1, loss: 0.5 }, { step: 2, loss: NaN }]);
  t.deepEqual(parseMetricsLog('step,loss\n1,0.5\n2,Infinity\n'), [{ step: 1, loss: 0.5 }, { step: 2, loss: Infinity }]);
  const e = t.throws(() => parseMetricsLog('step,loss\n1,0.5,3\n', 'log.csv'), { instanceOf: AmpcError });
  t.is(e?.code, 'E0602');
  t.regex(e!.message, /log\.csv:2/);
});
