// Checkpoints resume exactly: N steps, save, load into a fresh Trainer, M
// more steps give bit for bit the losses and parameters of N+M uninterrupted
// steps, under f32 and under AMP (where the loss scale, its good-step count
// and the skipped count must come back too). Loading is strict.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trainer } from '../compiler/train/index.ts';
import type { TrainerOptions } from '../compiler/train/index.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import type { GpuContext } from '../runtime/device.ts';
import { readSafetensors, writeSafetensors } from '../runtime/safetensors.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ampc-checkpoint-'));
const B = 16, D = 20, C = 4;

function batch(s: number): [Float32Array, Int32Array] {
  const x = Float32Array.from({ length: B * D }, (_, i) => Math.sin(i * 0.731 + s * 1.37) * 1.5);
  const y = Int32Array.from({ length: B }, (_, i) => (i * 7 + s) % C);
  return [x, y];
}

function options(ctx: GpuContext, precision: 'f32' | 'amp', seed: number): TrainerOptions<nn.Sequential> {
  return {
    model: new nn.Sequential(new nn.Linear(D, 32), new nn.ReLU(), new nn.Linear(32, C)),
    loss: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x) as Tensor, y),
    inputs: [f32([B, D]), i32([B])],
    optimizer: { kind: 'adam', lr: 3e-3 },
    precision,
    // A small growth interval, so the scale moves during the test.
    ...(precision === 'amp' ? { lossScale: { init: 2 ** 10, interval: 3 } } : {}),
    seed,
    device: ctx,
  };
}

async function steps(trainer: Trainer<nn.Sequential>, from: number, count: number): Promise<number[]> {
  const losses: number[] = [];
  for (let s = from; s < from + count; s++) losses.push((await trainer.step(batch(s), { readLoss: true }))!);
  return losses;
}

async function resumesExactly(t: ExecutionContext, ctx: GpuContext, precision: 'f32' | 'amp'): Promise<void> {
  const N = 4, M = 5;
  const straight = await Trainer.create(options(ctx, precision, 0));
  const first = await Trainer.create(options(ctx, precision, 0));
  const resumed = await Trainer.create(options(ctx, precision, 99)); // other initial values: all must come from the file
  try {
    const want = await steps(straight, 0, N + M);
    const got = await steps(first, 0, N);
    const file = join(tmp, `${precision}.safetensors`);
    await first.save(file);
    t.deepEqual(readdirSync(tmp).filter((f) => f.startsWith(precision)), [`${precision}.safetensors`], 'no temporary file left');
    await resumed.load(file);
    t.is(resumed.steps, N);
    got.push(...(await steps(resumed, N, M)));
    t.deepEqual(got, want);
    t.deepEqual(await resumed.stateDict(), await straight.stateDict());
    t.deepEqual(await resumed.optimizerState(), await straight.optimizerState());
    t.deepEqual(await resumed.lossScaleStatus(), await straight.lossScaleStatus());
    if (precision === 'amp') t.not((await resumed.lossScaleStatus()).scale, 2 ** 10, 'the scale moved, so its state mattered');
    // The file holds all of it, with readable metadata.
    const saved = readSafetensors(new Uint8Array(readFileSync(file)), file);
    t.is(saved.metadata.format, 'ampc-checkpoint');
    t.is(saved.metadata.steps, String(N));
    for (const name of ['0.weight', '2.bias', 'adam.m.0.weight', 'opt.step', 'opt.lr', ...(precision === 'amp' ? ['amp.scale', 'amp.good_steps', 'amp.skipped'] : [])]) {
      t.true(saved.tensors.has(name), name);
    }
  } finally {
    straight.destroy();
    first.destroy();
    resumed.destroy();
  }
}

gpuTest('f32: save after N steps, load into a fresh trainer, M more steps = N+M steps, bit for bit', (t, ctx) => resumesExactly(t, ctx, 'f32'));
gpuF16Test('AMP: the loss-scale state resumes too, bit for bit', (t, ctx) => resumesExactly(t, ctx, 'amp'));

gpuTest('checkpoints are strict: weights-only files keep the optimizer state; a different optimizer or shape is refused', async (t, ctx) => {
  const a = await Trainer.create(options(ctx, 'f32', 0));
  const sgd = await Trainer.create({ ...options(ctx, 'f32', 1), optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } });
  try {
    await steps(a, 0, 2);
    const bytes = await a.checkpoint();
    // Another optimizer: refused, naming what is missing, and nothing changes.
    const before = await sgd.stateDict();
    const e = await t.throwsAsync(sgd.restore(bytes, 'a.safetensors'));
    t.regex(e!.message, /E0603: a\.safetensors: the model has no state named 'adam\.m\.0\.bias', .*; the checkpoint was trained with \{"kind":"adam","lr":0\.003\} under f32$/);
    t.deepEqual(await sgd.stateDict(), before);
    // A weights-only file (params and buffers): loads into the SGD trainer, its own state kept.
    const weightsOnly = writeSafetensors(await a.stateDict());
    await sgd.restore(weightsOnly, 'weights.safetensors');
    t.deepEqual(await sgd.stateDict(), await a.stateDict());
    t.is(sgd.steps, 0);
    // A missing or misshapen parameter.
    const model = await a.stateDict();
    const { ['2.bias']: _, ...lacking } = model;
    t.regex((await t.throwsAsync(a.restore(writeSafetensors(lacking), 'x')))!.message, /E0603: x: missing '2\.bias'/);
    const wrong = { ...model, '2.bias': { dtype: 'f32' as const, shape: [C + 1], data: new Float64Array(C + 1) } };
    t.regex((await t.throwsAsync(a.restore(writeSafetensors(wrong), 'x')))!.message, /'2\.bias' is f32\[5\]; the model's is f32\[4\]/);
    // A Linear weight in PyTorch's layout ([out, in]): refused, naming it and the layout (issue #12).
    const w = model['2.weight']!;
    const torchLayout = { ...model, '2.weight': { dtype: 'f32' as const, shape: [w.shape[1]!, w.shape[0]!], data: new Float64Array(w.data.length) } };
    t.regex((await t.throwsAsync(a.restore(writeSafetensors(torchLayout), 'torch.safetensors')))!.message,
      /E0603: torch\.safetensors: '2\.weight' is f32\[\d+,\d+\]; the model's is f32\[\d+,\d+\] \(its transpose: ampc's nn\.Linear weight is \[in, out\], PyTorch's is \[out, in\]/);
    // Part of the train-step state: refused.
    const partial = readSafetensors(bytes, 'c');
    const tensors = new Map(partial.tensors);
    tensors.delete('adam.v.0.weight');
    t.regex((await t.throwsAsync(a.restore(writeSafetensors(tensors), 'p')))!.message, /has train-step state, but not this trainer's 'adam\.v\.0\.weight'/);
    // Damaged bytes: E0605; a missing file: E0601.
    t.regex((await t.throwsAsync(a.restore(bytes.subarray(0, 100), 'cut')))!.message, /E0605: cut: /);
    t.regex((await t.throwsAsync(a.load(join(tmp, 'absent.safetensors'))))!.message, /E0601: cannot read .*absent\.safetensors: no such file/);
    writeFileSync(join(tmp, 'garbage.safetensors'), 'not a checkpoint at all');
    t.regex((await t.throwsAsync(a.load(join(tmp, 'garbage.safetensors'))))!.message, /E0605/);
  } finally {
    a.destroy();
    sgd.destroy();
  }
});
