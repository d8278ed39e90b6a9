// The training API on the real adapter: Trainer steps on the committed
// Fashion-MNIST sample lower the loss; predictions have the right shapes and
// padded evaluation counts every image; save/load round-trips the state
// exactly; the learning rate is a live input; a second batch size picks up
// the current state; BatchNorm's running statistics are updated in training
// and used by predict. And the example runs end to end as a process.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accuracy, argmax, predictInBatches, Trainer } from '../compiler/train/index.ts';
import { AmpcError } from '../ir/errors.ts';
import type { ErrorCode } from '../ir/errors.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { DataLoader, FASHION_MNIST_PIXELS, loadFashionMnist } from '../compiler/train/data/index.ts';
import type { ShapedArray } from '../compiler/train/data/index.ts';
import { SAMPLE_DIR } from '../examples/mnist/data.ts';
import { batchSpecs, classificationLoss, mlp } from '../examples/mnist/models.ts';
import type { GpuContext } from '../runtime/device.ts';
import { gpuTest } from './helpers/gpu.ts';
import { TinyCnn } from './helpers/tiny-cnn.ts';
import { sourceMarks } from './helpers/source-marks.ts';

const { lineOf: lineOfMark } = sourceMarks(import.meta.url);
import { expectRefusals, runExample } from './helpers/example.ts';

const data = loadFashionMnist(SAMPLE_DIR);

/** The sample's training batches as the example makes them: shuffled with `seed`, the last short batch dropped. */
function trainLoader(batchSize: number, seed = 0): DataLoader<readonly [ShapedArray<Float32Array>, Int32Array]> {
  return new DataLoader([{ data: data.train.images, shape: [data.train.count, FASHION_MNIST_PIXELS] }, data.train.labels], { batchSize, shuffle: true, seed, dropLast: true });
}
const tmp = mkdtempSync(join(tmpdir(), 'ampc-train-'));

function mlpTrainer(ctx: GpuContext, batch = 64): Promise<Trainer<nn.Sequential>> {
  return Trainer.create({ model: mlp(), loss: classificationLoss, inputs: batchSpecs('mlp', batch), optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0, device: ctx });
}

async function trainSteps(trainer: Trainer<nn.Sequential>, steps: number, epoch = 1, batch = 64): Promise<number[]> {
  const batches = trainLoader(batch);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const [images, labels] = batches.batch(epoch, s);
    losses.push((await trainer.step([images, labels], { readLoss: true }))!);
  }
  return losses;
}

function sameState(t: ExecutionContext, a: Record<string, HostTensor>, b: Record<string, HostTensor>, what: string): void {
  t.deepEqual(Object.keys(a), Object.keys(b), what);
  for (const k of Object.keys(a)) t.deepEqual(Array.from(a[k]!.data), Array.from(b[k]!.data), `${what}: ${k}`);
}

gpuTest('Adam steps of the MLP on the committed sample lower the loss', async (t, ctx) => {
  const trainer = await mlpTrainer(ctx);
  try {
    t.deepEqual(trainer.parameterNames, ['0.weight', '0.bias', '2.weight', '2.bias']);
    const losses = await trainSteps(trainer, 15);
    t.log(`losses: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    t.true(losses.every(Number.isFinite));
    t.true(Math.abs(losses[0]! - Math.log(10)) < 0.5, `the first loss ${losses[0]} is near ln 10`);
    const head = (losses[0]! + losses[1]! + losses[2]!) / 3;
    const tail = (losses[12]! + losses[13]! + losses[14]!) / 3;
    t.true(tail < 0.7 * head, `loss fell from ${head} to ${tail}`);
    t.is(trainer.steps, 15);
    // A step that does not read the loss returns undefined.
    const [images, labels] = trainLoader(64).batch(2, 0);
    t.is(await trainer.step([images, labels]), undefined);
  } finally {
    trainer.destroy();
  }
});

gpuTest('predict: shapes for any batch size, typed arrays and HostTensors; padded evaluation counts every image', async (t, ctx) => {
  const trainer = await mlpTrainer(ctx);
  try {
    await trainSteps(trainer, 5);
    const five = data.test.images.subarray(800 * 784, 805 * 784);
    const a = await trainer.predict(five);
    t.is(a.dtype, 'f32');
    t.deepEqual(a.shape, [5, 10]);
    const b = await trainer.predict(hostTensor('f32', [5, 784], five));
    t.deepEqual(b.shape, [5, 10]);
    t.deepEqual(Array.from(b.data), Array.from(a.data));
    // 1000 test images in batches of 400: 400, 400, then 200 padded to 400. Every image once,
    // and a padded batch predicts its real rows as an unpadded one does.
    const covered: number[] = [];
    await predictInBatches(trainer, data.test.images, data.test.count, 400, (out, start, n) => {
      t.deepEqual(out.shape, [400, 10]);
      for (let k = 0; k < n; k++) covered.push(start + k);
      if (start === 800) for (let i = 0; i < 50; i++) t.true(Math.abs(out.data[i]! - a.data[i]!) < 1e-4, `logit ${i}`);
    });
    t.deepEqual(covered, Array.from({ length: 1000 }, (_, i) => i));
    const acc = await accuracy(trainer, data.test.images, data.test.labels, 400);
    let correct = 0;
    await predictInBatches(trainer, data.test.images, data.test.count, 400, (out, start, n) => {
      for (let k = 0; k < n; k++) if (argmax(out.data, k * 10, 10) === data.test.labels[start + k]) correct++;
    });
    t.is(acc, correct / 1000);
    t.true(acc > 0.3, `accuracy after 5 steps: ${acc}`);
  } finally {
    trainer.destroy();
  }
});

gpuTest('inputs that do not match the declared ones are clear errors', async (t, ctx) => {
  const trainer = await mlpTrainer(ctx);
  try {
    const x = new Float32Array(64 * 784);
    const y = new Int32Array(64);
    const code = async (p: Promise<unknown>, want: ErrorCode, fragment: string) => {
      const e = await t.throwsAsync(p, { instanceOf: AmpcError });
      t.is(e?.code, want, e?.message);
      t.true(e!.message.includes(fragment), e?.message);
    };
    await code(trainer.step([new Int32Array(64 * 784), y]), 'E0603', 'Float32Array');
    await code(trainer.step([new Float32Array(64 * 783), y]), 'E0603', 'whole number of samples of 784');
    await code(trainer.step([x, new Float32Array(64)]), 'E0603', 'Int32Array');
    await code(trainer.step([hostTensor('f32', [64, 28, 28], x), y]), 'E0603', 'f32[64,784]');
    await code(trainer.step([x]), 'E0603', 'expects 2 input(s)');
    // Placed at the caller's line, not in ampc (issue #12).
    const line = Number(new Error().stack!.split('\n')[1]!.match(/:(\d+):\d+\)?$/)![1]) + 1;
    const wrong = await t.throwsAsync(trainer.step([x]), { instanceOf: AmpcError });
    t.is(wrong?.loc?.line, line, wrong?.message);
    t.regex(wrong?.loc?.file ?? '', /train-api\.test\.ts$/);
    const wrongPredict = await t.throwsAsync(trainer.predict(x, y, x), { instanceOf: AmpcError });
    t.is(wrongPredict?.code, 'E0603');
    t.regex(wrongPredict?.message ?? '', /train-api\.test\.ts:\d+:\d+: error E0603: predict: expects 1\.\.2 input\(s\)/);
    t.throws(() => trainer.setLearningRate(Number.NaN), { instanceOf: AmpcError });
    // The trainer still works after refused calls.
    t.true(Number.isFinite((await trainer.step([x, y], { readLoss: true }))!));
  } finally {
    trainer.destroy();
  }
  await t.throwsAsync(trainer.step([new Float32Array(64 * 784), new Int32Array(64)]), { message: /destroyed/ });
});

gpuTest('save and load round-trip the parameters exactly, atomically and strictly', async (t, ctx) => {
  const trainer = await mlpTrainer(ctx);
  try {
    await trainSteps(trainer, 3);
    const saved = await trainer.parameters();
    const file = join(tmp, 'params.json');
    await trainer.save(file);
    t.deepEqual(readdirSync(tmp).filter((f) => f.includes('params')), ['params.json'], 'no temporary file is left behind');
    await trainSteps(trainer, 3, 2);
    const moved = await trainer.parameters();
    t.notDeepEqual(Array.from(moved['0.weight']!.data.subarray(0, 50)), Array.from(saved['0.weight']!.data.subarray(0, 50)));
    await trainer.load(file);
    sameState(t, await trainer.parameters(), saved, 'after load');
    // Predictions use the loaded parameters too.
    const x = data.test.images.subarray(0, 5 * 784);
    const fresh = await mlpTrainer(ctx);
    try {
      await fresh.load(file);
      sameState(t, await fresh.parameters(), saved, 'a fresh trainer after load');
      t.deepEqual(Array.from((await fresh.predict(x)).data), Array.from((await trainer.predict(x)).data));
    } finally {
      fresh.destroy();
    }
    // Strict: a missing or misshapen entry is refused and changes nothing.
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { shape: number[] }>;
    delete json['2.bias'];
    writeFileSync(join(tmp, 'missing.json'), JSON.stringify(json));
    const missing = await t.throwsAsync(trainer.load(join(tmp, 'missing.json')), { instanceOf: AmpcError });
    t.is(missing?.code, 'E0603');
    t.true(missing!.message.includes("'2.bias'"));
    const wrong = { '0.weight': { dtype: 'f32', shape: [1], data: [0] } };
    writeFileSync(join(tmp, 'wrong.json'), JSON.stringify(wrong));
    t.is((await t.throwsAsync(trainer.load(join(tmp, 'wrong.json')), { instanceOf: AmpcError }))?.code, 'E0603');
    t.is((await t.throwsAsync(trainer.load(join(tmp, 'absent.json')), { instanceOf: AmpcError }))?.code, 'E0601');
    sameState(t, await trainer.parameters(), saved, 'after refused loads');
  } finally {
    trainer.destroy();
  }
});

gpuTest('the learning rate is a live input; a step with another batch size continues from the current state', async (t, ctx) => {
  const trainer = await mlpTrainer(ctx);
  try {
    await trainSteps(trainer, 3);
    const before = await trainer.parameters();
    trainer.setLearningRate(0);
    t.is(trainer.learningRate, 0);
    // Batch 32 compiles a second train step; it must start from the trained parameters.
    const [images, labels] = trainLoader(32).batch(3, 0);
    t.true(Number.isFinite((await trainer.step([images, labels], { readLoss: true }))!));
    sameState(t, await trainer.parameters(), before, 'lr 0 leaves the parameters as they were');
    trainer.setLearningRate(1e-3);
    await trainer.step([images, labels]);
    const after = await trainer.parameters();
    t.notDeepEqual(Array.from(after['2.bias']!.data), Array.from(before['2.bias']!.data));
    // Back to batch 64: the state moves with it.
    await trainSteps(trainer, 1, 4);
    t.notDeepEqual(Array.from((await trainer.parameters())['2.bias']!.data), Array.from(after['2.bias']!.data));
  } finally {
    trainer.destroy();
  }
});

gpuTest('BatchNorm: training updates the running statistics in place; predict uses them (eval mode)', async (t, ctx) => {
  const model = new TinyCnn();
  const trainer = await Trainer.create({
    model, loss: (m: TinyCnn, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y),
    inputs: [f32([8, 1, 8, 8]), i32([8])], optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 }, seed: 1, device: ctx,
  });
  try {
    t.deepEqual(trainer.bufferNames, ['bn.running_mean', 'bn.running_var']);
    const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37) * 2 + 0.5);
    const y = Int32Array.from({ length: 8 }, (_, i) => i % 3);
    const losses: number[] = [];
    for (let s = 0; s < 6; s++) losses.push((await trainer.step([x, y], { readLoss: true }))!);
    t.true(losses[5]! < losses[0]!, `losses ${losses.join(' ')}`);
    const state = await trainer.stateDict();
    t.true(Array.from(state['bn.running_mean']!.data).some((v) => Math.abs(v) > 1e-3), 'running mean moved from 0');
    t.true(Array.from(state['bn.running_var']!.data).some((v) => Math.abs(v - 1) > 1e-3), 'running var moved from 1');
    t.true(model.training, "the model's own mode is kept");
    // In eval mode an image's logits do not depend on the rest of the batch.
    const alone = await trainer.predict(x.subarray(0, 64));
    const inBatch = await trainer.predict(x);
    t.deepEqual(inBatch.shape, [8, 3]);
    for (let j = 0; j < 3; j++) t.true(Math.abs(alone.data[j]! - inBatch.data[j]!) < 1e-4, `logit ${j}`);
  } finally {
    trainer.destroy();
  }
});

gpuTest('the example trains 20 steps on the sample and reports the test accuracy', async (t) => {
  const r = await runExample('--data', SAMPLE_DIR, '--max-steps', '20', '--seed', '3');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^data: .*\(3000 train, 1000 test images/m);
  const m = /^test accuracy: (0\.\d{4}|1\.0000)$/m.exec(r.stdout);
  t.truthy(m, r.stdout);
  t.true(Number(m![1]) > 0.5, `accuracy ${m![1]}`);
});

test('the example refuses bad flags and unsupported options with exit code 1 and no stack trace', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--epochs', '0'], /--epochs.*positive integer/],
    [['--model', 'rnn'], /--model.*rnn.*mlp, cnn/s],
    [['--lr', 'fast'], /--lr.*positive number/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--data', join(tmp, 'no-such-dir')], /E0601: cannot read .*no-such-dir/],
    [['--data', SAMPLE_DIR, '--batch-size', '5000'], /larger than the training set \(3000 images\)/],
    [['--data', SAMPLE_DIR, '--lr-schedule', 'cosine', '--warmup', '500', '--epochs', '1'], /E0609: optimizer: schedule: totalSteps \(46\) must exceed warmup \(500\)/],
    [['--lr-schedule', 'exp'], /--lr-schedule.*constant, step, cosine, linear/s],
    [['--clip-grad-norm', '0'], /--clip-grad-norm.*positive number/],
  ];
  await expectRefusals(t, cases);
});

gpuTest('a loss that is not a scalar is E0405 at the loss function\'s line, naming the value as dumps do (issue #12)', async (t, ctx) => {
  const e = await t.throwsAsync(Trainer.create({
    model: new nn.Sequential(new nn.Linear(4, 3)),
    loss: (m: nn.Sequential, x: Tensor, _y: Tensor) => m.forward(x) as Tensor, // @not-a-scalar
    inputs: [f32([2, 4]), i32([2])], optimizer: { kind: 'sgd', lr: 0.1 }, device: ctx,
  }), { instanceOf: AmpcError });
  t.is(e!.code, 'E0405');
  t.is(e!.loc?.line, lineOfMark('not-a-scalar'));
  t.regex(e!.message, /error E0405: train step: the first output of @Sequential \(%1: f32\[2,3\]\) is not a scalar float loss/);
});
