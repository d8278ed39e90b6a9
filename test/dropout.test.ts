// nn.Dropout: in training mode the traced graph zeroes about p of the
// elements and scales the rest by 1/(1-p), with the mask from random_uniform
// of the layer's u32 seed buffer, which the step advances by one; in eval
// mode it is the identity; its gradient passes through the kept elements
// only; two layers draw different masks; on the adapter a Trainer draws a new
// mask every step, predict is deterministic, and a checkpoint resumes the
// stream; p outside [0, 1] is E0104 at the user's line.

import test from 'ava';
import { Trainer } from '../compiler/train/index.ts';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { f32, initialValues, mseLoss, nn, sum, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { uniformKeys, uniformBits, uniformValue } from '../ir/random.ts';
import { seededValues } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

const N = 4096;

test('training: about p zeroed, the rest scaled by 1/(1-p), exactly where random_uniform(seed) < p; the seed advances by one', (t) => {
  const drop = new nn.Dropout(0.3);
  const traced = traceModule(drop, [f32([N])]);
  t.deepEqual(traced.buffers.map((b) => `${b.name}: ${b.type.dtype}[${b.type.shape.join(',')}]`), ['seed: u32[]']);
  t.is(traced.stateUpdates.length, 1);
  const x = seededValues(5, N, 0.5, 2);
  const seed = initialValues(traced.buffers[0]!, 7)[0]!;
  t.true(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
  const outs = interpret(traced.graph, { [traced.graph.inputs[0]!.name!]: hostTensor('f32', [N], x), seed: hostTensor('u32', [], [seed]) });
  const y = [...outs[0]!.data].map(Number);
  const keys = uniformKeys(seed, 0);
  let zeros = 0;
  y.forEach((v, i) => {
    const kept = uniformValue(uniformBits(keys, i)) >= 0.3;
    if (!kept) zeros++;
    t.is(v, kept ? x[i]! * (1 / 0.7) : 0, `element ${i}`);
  });
  t.true(Math.abs(zeros / N - 0.3) < 0.03, `${zeros} of ${N} zeroed`);
  t.deepEqual([...outs[traced.stateUpdates[0]!.outputIndex]!.data].map(Number), [(seed + 1) % 2 ** 32]);
});

test('eval mode is the identity (no random op, no buffer update); p = 0 too', (t) => {
  const drop = new nn.Dropout(0.5).eval();
  const traced = traceModule(drop, [f32([8])]);
  t.is(traced.graph.nodes.filter((n) => n.op === 'random_uniform').length, 0);
  t.is(traced.stateUpdates.length, 0);
  t.is(traceModule(new nn.Dropout(0), [f32([8])]).graph.nodes.length, 0);
});

test('the gradient passes through the kept elements, scaled; two layers draw different masks', (t) => {
  class Two extends nn.Module {
    a = this.register('a', new nn.Dropout(0.5));
    b = this.register('b', new nn.Dropout(0.5));
    lin = this.register('lin', new nn.Linear(16, 16));
    forward(x: Tensor): Tensor {
      return this.b.forward(this.a.forward(this.lin.forward(x)));
    }
  }
  const m = new Two();
  const traced = traceModule(m, [f32([4, 16])], { call: (mod, x: Tensor) => sum(mod.forward(x)) });
  const seeds = traced.buffers.map((b) => initialValues(b, 3)[0]!);
  t.deepEqual(traced.buffers.map((b) => b.name), ['a.seed', 'b.seed']);
  t.not(seeds[0], seeds[1], 'each layer starts from its own seed');
  const inputs: Record<string, HostTensor> = { [traced.graph.inputs[0]!.name!]: hostTensor('f32', [4, 16], seededValues(9, 64)) };
  for (const p of traced.params) inputs[p.name] = hostTensor('f32', [...p.type.shape], initialValues(p, 3));
  traced.buffers.forEach((b, i) => (inputs[b.name] = hostTensor('u32', [], [seeds[i]!])));
  const grads = interpret(gradientGraph(traced.graph), inputs);
  // d sum / d bias_j = Σ_rows mask_a · mask_b · 4 (1/(1-p) twice).
  const ka = uniformKeys(seeds[0]!, 0), kb = uniformKeys(seeds[1]!, 0);
  const bias = grads[grads.length - 1]!;
  for (let j = 0; j < 16; j++) {
    let want = 0;
    for (let r = 0; r < 4; r++) {
      const i = r * 16 + j;
      if (uniformValue(uniformBits(ka, i)) >= 0.5 && uniformValue(uniformBits(kb, i)) >= 0.5) want += 4;
    }
    t.is(Number(bias.data[j]), want, `bias ${j}`);
  }
});

test('p outside [0, 1] is E0104 at the user\'s line', (t) => {
  for (const p of [-0.1, 1.5, NaN]) {
    const e = t.throws(() => new nn.Dropout(p), { instanceOf: AmpcError });
    t.is(e?.code, 'E0104');
    t.regex(e!.message, /dropout\.test\.ts:\d+:\d+/);
  }
});

gpuTest('a Trainer draws a new mask every step (the seed buffer advances), predict is deterministic, a checkpoint resumes the stream', async (t, ctx) => {
  const model = () => new nn.Sequential(new nn.Linear(8, 32), new nn.Dropout(0.5), new nn.Linear(32, 1));
  const x = Float32Array.from(seededValues(21, 16 * 8, -1, 1));
  const y = Float32Array.from(seededValues(22, 16, -1, 1));
  const make = () => Trainer.create({
    model: model(), loss: (m, a: Tensor, b: Tensor) => mseLoss(m.forward(a).reshape([16]), b), inputs: [f32([16, 8]), f32([16])],
    optimizer: { kind: 'sgd', lr: 0 }, seed: 4, device: ctx, precision: 'amp',
  });
  const trainer = await make();
  const other = await make();
  try {
    t.deepEqual(trainer.bufferNames, ['1.seed']);
    const seed0 = Number((await trainer.stateDict())['1.seed']!.data[0]);
    const losses: number[] = [];
    for (let s = 0; s < 3; s++) losses.push((await trainer.step([x, y], { readLoss: true }))!);
    t.is(Number((await trainer.stateDict())['1.seed']!.data[0]), (seed0 + 3) % 2 ** 32);
    t.is(new Set(losses).size, 3, `lr 0: the loss changes only through the mask: ${losses}`);
    const a = await trainer.predict(x), b = await trainer.predict(x);
    t.deepEqual([...a.data], [...b.data], 'eval mode: no dropout');
    // Resuming from a checkpoint taken after step 1 replays steps 2 and 3 exactly.
    await other.step([x, y]);
    const ckpt = await other.checkpoint();
    const again = await make();
    try {
      await again.restore(ckpt);
      const replay = [(await again.step([x, y], { readLoss: true }))!, (await again.step([x, y], { readLoss: true }))!];
      t.deepEqual(replay, losses.slice(1));
    } finally {
      again.destroy();
    }
  } finally {
    trainer.destroy();
    other.destroy();
  }
});
