// Mixed-precision training (torch.amp semantics): the AMP train step of the
// MNIST MLP has f16 matmuls forward and backward (accumulating in f32), f32
// params, f32 gradients into an f32 optimizer, an f32 loss, and a static loss
// scale visible in the IR (the scaled loss and 1/scale in unscale_check); a
// power-of-two loss scale changes nothing in f32 on the reference
// interpreter; bad options are refused; Trainer steps under AMP on the
// committed sample lower the loss and stay close to f32 on the same batches;
// the example trains under AMP with dynamic loss scaling by default and
// refuses bad loss-scale flags. (Dynamic scaling itself: loss-scaling*.test.ts.)

import test from 'ava';
import { parseMetricsLog } from '../compiler/train/metrics.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trainer } from '../compiler/train/index.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { traceModule } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { DataLoader, FASHION_MNIST_PIXELS, loadFashionMnist } from '../compiler/train/data/index.ts';
import type { ShapedArray } from '../compiler/train/data/index.ts';
import { SAMPLE_DIR } from '../examples/mnist/data.ts';
import { batchSpecs, classificationLoss, mlp } from '../examples/mnist/models.ts';
import { initialInputs, nextInputs } from '../passes/optimizer.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { CastPrologues } from '../passes/pass.ts';
import type { GpuContext } from '../runtime/device.ts';
import { seededValues } from './helpers/compare.ts';
import { gpuF16Test } from './helpers/gpu.ts';
import { expectRefusals, runExample } from './helpers/example.ts';
import { LINEAR } from './helpers/linear.ts';

const data = loadFashionMnist(SAMPLE_DIR);

/** The sample's training batches as the example makes them: shuffled with `seed`, the last short batch dropped. */
function trainLoader(batchSize: number, seed = 0): DataLoader<readonly [ShapedArray<Float32Array>, Int32Array]> {
  return new DataLoader([{ data: data.train.images, shape: [data.train.count, FASHION_MNIST_PIXELS] }, data.train.labels], { batchSize, shuffle: true, seed, dropLast: true });
}

const PARAMS = ['0.weight', '0.bias', '2.weight', '2.bias'];

function mlpLossGraph(batch = 16): Graph {
  return traceModule(mlp(), batchSpecs('mlp', batch), { call: classificationLoss }).graph;
}

function byName(g: Graph, name: string): Value {
  for (const n of g.nodes) for (const r of n.results) if (r.name === name) return r;
  const v = g.inputs.find((i) => i.name === name);
  if (!v) throw new Error(`no value %${name}`);
  return v;
}

// ---------------------------------------------------------------- structure of the AMP train step

test('the AMP train step: f16 matmuls forward and backward, f32 params, gradients, optimizer and loss', (t) => {
  const step = trainStepGraph(mlpLossGraph(), { kind: 'adam', lr: 1e-3 }, { precision: 'amp', lossScale: 1024 });
  const g = step.graph;
  verifyGraph(g);
  const text = printGraph(g);

  // Params are f32 master weights, each cast to f16 once.
  for (const p of PARAMS) {
    const v = g.inputs.find((i) => i.name === p)!;
    t.true(v.isParam, p);
    t.is(v.type.dtype, 'f32', p);
    const casts = g.nodes.filter((n) => n.op === 'cast' && n.operands[0] === v);
    t.is(casts.length, 1, `one cast of %${p}`);
    t.is(casts[0]!.attrs.to, 'f16', p);
  }

  // Matmuls: 2 forward + 3 backward (the first layer's input gradient is not needed), all over f16
  // operands with acc f32; the two weight gradients write their f32 accumulators (no f16 rounding).
  const mms = g.nodes.filter((n) => n.op === 'matmul');
  t.is(mms.length, 5, text);
  for (const n of mms) {
    const weightGrad = n.results[0]!.name?.startsWith('grad.') ?? false;
    t.is(n.results[0]!.type.dtype, weightGrad ? 'f32' : 'f16', n.results[0]!.name);
    t.true(n.operands.every((v) => v.type.dtype === 'f16'));
    t.is(n.attrs.acc, 'f32');
  }
  t.deepEqual(mms.filter((n) => n.results[0]!.type.dtype === 'f32').map((n) => n.results[0]!.name).sort(), ['grad.0.weight', 'grad.2.weight']);
  t.is(mms.filter((n) => n.attrs.transpose_a === true || n.attrs.transpose_b === true).length, 3, 'three backward matmuls');

  // Gradients into the optimizer are f32 and unscaled by 1/1024 in f32, all in one unscale_check.
  for (const p of PARAMS) {
    t.is(byName(g, `grad.${p}`).type.dtype, 'f32', `grad.${p}`);
    const u = byName(g, `unscaled.grad.${p}`);
    t.is(u.type.dtype, 'f32');
    t.is(u.def!.op, 'unscale_check');
    t.is(u.def!.operands[0]!.def!.attrs.value, 1 / 1024);
  }
  t.regex(text, /%unscaled\.grad\.0\.weight, %unscaled\.grad\.0\.bias, %unscaled\.grad\.2\.weight, %unscaled\.grad\.2\.bias, %grads\.finite = unscale_check %\d+, %grad\.0\.weight, %grad\.0\.bias, %grad\.2\.weight, %grad\.2\.bias : f32\[784,256\], f32\[256\], f32\[256,10\], f32\[10\], bool\[\]/);
  t.regex(text, /%scaled\.loss = mul %loss, %\d+ : f32\[\]/);

  // The loss is f32, every output is f32, and every node after the gradients (the optimizer) is f32.
  t.is(g.outputs[0]!.name, 'loss');
  t.true(g.outputs.every((v) => v.type.dtype === 'f32' || v.name === 'new.amp.skipped'));
  const firstOpt = g.nodes.findIndex((n) => n.results.some((r) => r.name === 'candidate.opt.step'));
  t.true(firstOpt > 0);
  // (The skipped-step counter of loss scaling is i32.)
  for (const n of g.nodes.slice(firstOpt)) for (const r of n.results) t.true(['f32', 'bool', 'i32'].includes(r.type.dtype), `${n.op} %${r.name}`);
  // The forward ops carry the precision notes of the amp pipeline.
  t.regex(text, /matmul .* \/\/ f16: allow\(matmul\)/);
  t.regex(text, /cross_entropy .* \/\/ f32: deny\(cross_entropy\)/);
  t.log(`AMP MLP train step: ${g.nodes.length} nodes, ${g.nodes.filter((n) => n.op === 'cast').length} casts, ` +
    `${g.nodes.filter((n) => n.results.some((r) => r.type.dtype === 'f16')).length} f16 / ` +
    `${g.nodes.filter((n) => n.results.some((r) => r.type.dtype === 'f32')).length} f32 results`);
});

test('without amp or a loss scale the train step is as before: no casts, no unscaling', (t) => {
  const g = trainStepGraph(mlpLossGraph(), { kind: 'sgd', lr: 0.1 }).graph;
  t.false(g.nodes.some((n) => n.op === 'cast'));
  t.false(g.nodes.some((n) => n.results.some((r) => r.name?.startsWith('unscaled.'))));
  t.true(g.nodes.every((n) => n.results.every((r) => r.type.dtype !== 'f16')));
});

// ---------------------------------------------------------------- the loss scale on the reference interpreter


test('a power-of-two loss scale changes nothing in f32: same losses and params after three SGD steps', (t) => {
  const lin = parseModule(LINEAR, 'lin.ir').main;
  const run = (lossScale: number) => {
    const step = trainStepGraph(lin, { kind: 'sgd', lr: 0.1, momentum: 0.9 }, { lossScale });
    let inputs: Record<string, HostTensor> = {
      w: hostTensor('f32', [3, 2], seededValues(1, 6)),
      b: hostTensor('f32', [2], seededValues(2, 2)),
      ...initialInputs(step, { lr: 0.1 }),
    };
    const losses: number[] = [];
    for (let k = 0; k < 3; k++) {
      inputs.x = hostTensor('f32', [5, 3], seededValues(10 + k, 15));
      inputs.y = hostTensor('f32', [5, 2], seededValues(20 + k, 10));
      const out = interpret(step.graph, inputs);
      losses.push(out[0]!.data[0]!);
      inputs = nextInputs(step, inputs, out);
    }
    return { losses, w: Array.from(inputs.w!.data), b: Array.from(inputs.b!.data), text: printGraph(step.graph) };
  };
  const one = run(1);
  const scaled = run(256);
  t.regex(scaled.text, /%unscaled\.grad\.w, %unscaled\.grad\.b, %grads\.finite = unscale_check/);
  t.regex(scaled.text, /constant \{value = 0\.00390625\}/);
  t.deepEqual(scaled.losses, one.losses);
  t.deepEqual(scaled.w, one.w);
  t.deepEqual(scaled.b, one.b);
});

test('bad loss scales and f16 params under amp are refused (E0609)', (t) => {
  const lin = parseModule(LINEAR, 'lin.ir').main;
  for (const bad of [0, -1, Infinity, NaN]) {
    const e = t.throws(() => trainStepGraph(lin, { kind: 'sgd', lr: 0.1 }, { lossScale: bad }), { instanceOf: AmpcError });
    t.is(e!.code, 'E0609');
  }
  const half = parseModule(LINEAR.replace('%w: f32[3,2] {param}', '%w: f16[3,2] {param}').replace('%0 = matmul %x, %w', '%xh = cast %x {to = f16} : f16[5,3]\n  %0h = matmul %xh, %w : f16[5,2]\n  %0 = cast %0h {to = f32}'), 'half.ir').main;
  const e = t.throws(() => trainStepGraph(half, { kind: 'sgd', lr: 0.1 }, { precision: 'amp' }), { instanceOf: AmpcError });
  t.regex(e!.message, /f32 master weights.*%w is f16\[3,2\]/);
});

// ---------------------------------------------------------------- Trainer under AMP on the device

async function losses(ctx: GpuContext, precision: 'f32' | 'amp', steps: number, lossScale?: number): Promise<number[]> {
  const trainer = await Trainer.create({
    model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', 64), optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0, device: ctx, precision, lossScale,
  });
  try {
    const batches = trainLoader(64, 0);
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      const [images, labels] = batches.batch(1, s);
      out.push((await trainer.step([images, labels], { readLoss: true }))!);
    }
    return out;
  } finally {
    trainer.destroy();
  }
}

gpuF16Test('Trainer under AMP (loss scale 1024) lowers the loss on the sample and stays close to f32 on the same batches', async (t, ctx) => {
  const amp = await losses(ctx, 'amp', 20, 1024);
  const f32 = await losses(ctx, 'f32', 20);
  t.log(`amp: ${amp.map((l) => l.toFixed(3)).join(' ')}`);
  t.log(`f32: ${f32.map((l) => l.toFixed(3)).join(' ')}`);
  t.true(amp.every(Number.isFinite));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.true(mean(amp.slice(-3)) < 0.7 * mean(amp.slice(0, 3)), `AMP loss fell from ${mean(amp.slice(0, 3))} to ${mean(amp.slice(-3))}`);
  t.true(Math.abs(amp[0]! - f32[0]!) < 0.01, `first losses ${amp[0]} vs ${f32[0]}`);
  for (let s = 0; s < 20; s++) t.true(Math.abs(amp[s]! - f32[s]!) < 0.1, `step ${s}: amp ${amp[s]} vs f32 ${f32[s]}`);
});

gpuF16Test('Trainer: AMP with the default (dynamic) loss scale trains as well; predict under AMP gives f32 logits', async (t, ctx) => {
  const trainer = await Trainer.create({
    model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', 64), optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, seed: 1, device: ctx, precision: 'amp',
  });
  try {
    const batches = trainLoader(64, 1);
    const ls: number[] = [];
    for (let s = 0; s < 15; s++) {
      const [images, labels] = batches.batch(1, s);
      ls.push((await trainer.step([images, labels], { readLoss: true }))!);
    }
    t.true(ls.every(Number.isFinite));
    t.true(ls[14]! < ls[0]!, `loss ${ls[0]} -> ${ls[14]}`);
    const out = await trainer.predict(data.test.images.subarray(0, 7 * 784));
    t.is(out.dtype, 'f32');
    t.deepEqual(out.shape, [7, 10]);
    t.true(Array.from(out.data).every(Number.isFinite));
  } finally {
    trainer.destroy();
  }
});

gpuF16Test('Trainer castPrologues: weights (and batches) converted as the matmuls load them, or f16 copies kept across steps; the same losses every way', async (t, ctx) => {
  const run = async (castPrologues: CastPrologues) => {
    const trainer = await Trainer.create({
      model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', 16), optimizer: { kind: 'adam', lr: 1e-3 }, seed: 2, device: ctx, precision: 'amp', castPrologues,
    });
    try {
      const batches = trainLoader(16, 2);
      const ls: number[] = [];
      for (let s = 0; s < 4; s++) ls.push((await trainer.step(batches.batch(1, s), { readLoss: true }))!);
      return { ls, dispatches: trainer.compileStats.trainDispatches, bytes: trainer.gpuBufferBytesByKind.train };
    } finally {
      trainer.destroy();
    }
  };
  const on = await run(true), params = await run('params'), off = await run(false);
  t.deepEqual(on.ls, off.ls);
  t.deepEqual(params.ls, off.ls);
  // Without prologues each matmul weight's f16 copy is a buffer of its own, written by the weight's update (no cast dispatch).
  t.true(off.bytes > on.bytes, `${off.bytes} bytes with copies, ${on.bytes} with prologues`);
  t.true(off.bytes > params.bytes, `${off.bytes} bytes with copies, ${params.bytes} with the weights' prologues`);
  t.not(on.dispatches, off.dispatches);
  // 'params': the batch's cast is a kernel of its own (one more dispatch than converting it on load too).
  t.is(params.dispatches, on.dispatches + 1);
  const e = await t.throwsAsync(
    Trainer.create({ model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', 8), optimizer: { kind: 'adam', lr: 1e-3 }, precision: 'amp', castPrologues: 'yes' as unknown as boolean }),
    { instanceOf: AmpcError },
  );
  t.regex(e!.message, /castPrologues must be true, false or 'params'/);
});

test('Trainer.create refuses bad loss scales (E0609)', async (t) => {
  for (const [lossScale, want] of [[0, /Trainer\.create: loss scaling: a static scale must be a finite number > 0/], [{ growth: 0.5 }, /growth must be a finite number >= 1/]] as const) {
    const e = await t.throwsAsync(
      Trainer.create({ model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', 8), optimizer: { kind: 'adam', lr: 1e-3 }, precision: 'amp', lossScale }),
      { instanceOf: AmpcError },
    );
    t.is(e!.code, 'E0609');
    t.regex(e!.message, want);
  }
});

// ---------------------------------------------------------------- the example

gpuF16Test('the example trains 20 steps under AMP with dynamic loss scaling by default and reports accuracy, skips and scale', async (t) => {
  const plot = join(mkdtempSync(join(tmpdir(), 'ampc-plot-')), 'curve.svg');
  const r = await runExample('--data', SAMPLE_DIR, '--max-steps', '20', '--seed', '3', '--init-scale', '4096', '--plot', plot);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /precision amp \(dynamic loss scale: init 4096, growth 2, backoff 0\.5, interval 2000, min 1, max 16777216\)/);
  const m = /^test accuracy: (0\.\d{4}|1\.0000)\nskipped steps: (\d+)\nfinal loss scale: (\d+)$/m.exec(r.stdout);
  t.truthy(m, r.stdout);
  t.true(Number(m![1]) > 0.5, `accuracy ${m![1]}`);
  t.is(Number(m![3]), 4096 / 2 ** Number(m![2]), 'halved once per skipped step (no growth within 20 steps)');
  t.regex(r.stdout, /^GPU buffers: [\d.]+ MiB \(train step [\d.]+ MiB, evaluation in batches of 500 [\d.]+ MiB\)$/m);
  t.regex(r.stdout, /^loss curve: .*curve\.svg$/m);
  const svg = readFileSync(plot, 'utf8');
  t.regex(svg, /^<svg /);
  t.regex(svg, /mlp, amp: training loss \(test accuracy 0\.\d{4}\)/);
  t.regex(svg, /loss scale \(\d+ skipped steps?\)/);
});

gpuF16Test('the example writes its metrics log (--log, CSV here) and draws --plot from it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ampc-log-'));
  const log = join(dir, 'metrics.csv'), plot = join(dir, 'curve.svg');
  const r = await runExample('--data', SAMPLE_DIR, '--max-steps', '40', '--seed', '1', '--lr-schedule', 'linear', '--log', log, '--plot', plot);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^metrics log: .*metrics\.csv$/m);
  const rows = parseMetricsLog(readFileSync(log, 'utf8'), log);
  t.deepEqual(rows.map((x) => x.step), [20, 40]);
  t.deepEqual(Object.keys(rows[0]!), ['step', 'loss', 'scale', 'skipped', 'updates', 'lr', 'grad_norm', 'samples_per_s', 'elapsed_s']);
  t.true(rows[1]!.lr! < rows[0]!.lr!, 'the linear schedule decays');
  t.true(rows.every((x) => x.grad_norm! > 0 && Number.isFinite(x.loss)));
  const svg = readFileSync(plot, 'utf8');
  t.regex(svg, /learning rate of the next update/);
  t.regex(svg, /gradient norm \(unscaled, before clipping\)/);
  const bad = await runExample('--data', SAMPLE_DIR, '--max-steps', '1', '--log', join(dir, 'missing', 'm.jsonl'));
  t.is(bad.code, 1);
  t.regex(bad.stderr, /E0601: --log .*missing.*does not exist/);
  t.notRegex(bad.stderr, /\n\s+at /);
});

gpuF16Test('the example with a static scale and with f32 ends with the same three lines', async (t) => {
  const [st, f32] = await Promise.all([
    runExample('--data', SAMPLE_DIR, '--max-steps', '5', '--loss-scale', '1024'),
    runExample('--data', SAMPLE_DIR, '--max-steps', '5', '--precision', 'f32'),
  ]);
  t.is(st.code, 0, st.stderr);
  t.regex(st.stdout, /precision amp \(static loss scale 1024\)/);
  t.regex(st.stdout, /^skipped steps: \d+\nfinal loss scale: 1024$/m);
  t.is(f32.code, 0, f32.stderr);
  t.regex(f32.stdout, /precision f32,/);
  t.regex(f32.stdout, /^skipped steps: 0\nfinal loss scale: 1$/m);
});

test('the example refuses bad loss-scale flags (exit 1, no stack trace)', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--loss-scale', 'off', '--init-scale', '1024'], /E0604: --init-scale applies to dynamic loss scaling, but the loss scale is off/],
    [['--precision', 'f32', '--init-scale', '8'], /--init-scale applies to dynamic loss scaling.*under --precision f32; add --loss-scale dynamic/],
    [['--init-scale', '1e9'], /E0609: loss scaling: init \(1000000000\) is outside \[min, max\]/],
    [['--loss-scale', '0'], /--loss-scale.*'dynamic', 'off' or a positive number/],
    [['--plot', '/no/such/dir/curve.svg'], /E0601: --plot \/no\/such\/dir\/curve\.svg: directory \/no\/such\/dir does not exist/],
  ];
  await expectRefusals(t, cases);
});
