// Dynamic loss scaling on the real adapter:
// - the unscale_check op against the reference (several kernels' worth of
//   gradients, a grid split over y, inf / NaN / overflow of the product);
// - forced overflow (a huge initial scale, or an inf injected after finite
//   steps): the step is skipped, params and optimizer state stay bitwise
//   unchanged, the scale backs off, the counter resets; growth after
//   `interval` finite steps; the floor and the ceiling;
// - 1000 steps with an injected inf every 50 steps: no NaN or inf in the
//   params, every injection skipped, the loss still falls;
// - no read-back while stepping: 100 steps map no buffer, and the status
//   read maps one;
// - why scaling exists: a model whose f16 gradients underflow to zero does
//   not move without scaling and trains with it.

import type { ExecutionContext } from 'ava';
import { Trainer } from '../compiler/train/index.ts';
import type { LossScaleSpec } from '../compiler/train/index.ts';
import { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { crossEntropy, f32, i32, mseLoss, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import type { GpuContext } from '../runtime/device.ts';
import { checkAgainstReference, seededValues } from './helpers/compare.ts';
import { gpuF16Test, gpuTest, withMaxWorkgroups } from './helpers/gpu.ts';
import { countMaps } from './helpers/map-counter.ts';

// ---------------------------------------------------------------- the op

function unscaleGraph(shapes: number[][]): Graph {
  const g = new Graph('unscale');
  const inv = g.addInput('inv', { dtype: 'f32', shape: [] });
  const grads = shapes.map((s, i) => g.addInput(`g${i}`, { dtype: 'f32', shape: s }));
  g.setOutputs(g.addNode('unscale_check', [inv, ...grads]).results);
  return g;
}

const SHAPES = [[300, 7], [1], [5000], [64, 33], [2, 3, 4]];

function unscaleInputs(inv: number, poke?: (gs: number[][]) => void): Record<string, HostTensor> {
  const gs = SHAPES.map((s, i) => seededValues(10 + i, s.reduce((a, b) => a * b, 1), -3e4, 3e4));
  poke?.(gs);
  return { inv: hostTensor('f32', [], [inv]), ...Object.fromEntries(gs.map((d, i) => [`g${i}`, hostTensor('f32', SHAPES[i]!, d)])) };
}

async function checkUnscale(t: ExecutionContext, ctx: GpuContext, inputs: Record<string, HostTensor>, finite: boolean): Promise<void> {
  const g = unscaleGraph(SHAPES);
  await checkAgainstReference(t, ctx, g, inputs, 'native');
  // The reference says `finite`; checkAgainstReference compared the device's flag with it.
  t.is(interpret(g, inputs).at(-1)!.data[0], finite ? 1 : 0);
}

gpuTest('unscale_check: five gradients over two kernels, all finite, match the reference', async (t, ctx) => {
  await checkUnscale(t, ctx, unscaleInputs(1 / 1024), true);
  await checkUnscale(t, withMaxWorkgroups(ctx, 8), unscaleInputs(0.5), true);
});

gpuTest('unscale_check: an inf, a NaN, or a product beyond f32 clears the flag wherever it is', async (t, ctx) => {
  await checkUnscale(t, ctx, unscaleInputs(1 / 8, (gs) => (gs[4]![23] = Infinity)), false);
  await checkUnscale(t, ctx, unscaleInputs(1 / 8, (gs) => (gs[0]![0] = NaN)), false);
  await checkUnscale(t, ctx, unscaleInputs(1 / 8, (gs) => (gs[2]![4999] = -Infinity)), false);
  await checkUnscale(t, ctx, unscaleInputs(2 ** 120, () => undefined), false);
});

// ---------------------------------------------------------------- a small model under AMP

const IN = 16, HIDDEN = 32, CLASSES = 4, BATCH = 8;

function smallTrainer(ctx: GpuContext, lossScale: LossScaleSpec, seed = 0): Promise<Trainer<nn.Sequential>> {
  return Trainer.create({
    model: new nn.Sequential(new nn.Linear(IN, HIDDEN), new nn.ReLU(), new nn.Linear(HIDDEN, CLASSES)),
    loss: (m, x, y) => crossEntropy(m.forward(x), y),
    inputs: [f32([BATCH, IN]), i32([BATCH])],
    optimizer: { kind: 'adam', lr: 0.01 },
    seed,
    device: ctx,
    precision: 'amp',
    lossScale,
  });
}

/** A fixed-size batch; `poison` puts an inf in the first image. */
function batch(k: number, poison = false): [Float32Array, Int32Array] {
  const x = Float32Array.from(seededValues(1000 + (k % 10), BATCH * IN, -2, 2));
  if (poison) x[0] = Infinity;
  const y = Int32Array.from(seededValues(2000 + (k % 10), BATCH, 0, CLASSES).map(Math.floor));
  return [x, y];
}

/** Every param and every optimizer state tensor of the trainer (not the loss-scale state), as f32 bit patterns. */
async function stateBytes(trainer: Trainer<nn.Sequential>): Promise<Map<string, number[]>> {
  const all = { ...(await trainer.parameters()), ...(await trainer.optimizerState()) };
  return new Map(Object.entries(all).filter(([k]) => !k.startsWith('amp.')).map(([k, v]) => [k, Array.from(new Uint32Array(Float32Array.from(v.data).buffer))]));
}

gpuF16Test('forced overflow: a huge initial scale skips the step, changes no param, backs off and resets the counter', async (t, ctx) => {
  const trainer = await smallTrainer(ctx, { init: 2 ** 24, interval: 3 });
  try {
    const before = await stateBytes(trainer);
    const loss = await trainer.step(batch(0), { readLoss: true });
    t.true(Number.isFinite(loss), 'the loss output is unscaled and finite');
    let s = await trainer.lossScaleStatus();
    t.deepEqual(s, { mode: 'dynamic', scale: 2 ** 23, skippedSteps: 1, goodSteps: 0 });
    const after = await stateBytes(trainer);
    for (const [k, v] of before) t.deepEqual(after.get(k), v, `%${k} bitwise unchanged`);
    // It keeps backing off until the gradients fit, then trains.
    for (let k = 1; k < 12; k++) await trainer.step(batch(k));
    s = await trainer.lossScaleStatus();
    t.log(`after 12 steps from 2^24: scale ${s.scale}, skipped ${s.skippedSteps}, good ${s.goodSteps}`);
    t.true(s.skippedSteps >= 1 && s.skippedSteps < 12);
    t.is(s.scale, 2 ** (24 - s.skippedSteps) * 2 ** Math.floor((12 - s.skippedSteps) / 3), 'halved per skip, doubled per 3 finite steps');
    const moved = await stateBytes(trainer);
    t.true([...moved].some(([k, v]) => v.some((x, i) => x !== before.get(k)![i])), 'finite steps update the params');
  } finally {
    trainer.destroy();
  }
});

gpuF16Test('an injected inf after two finite steps: skipped, params and state bitwise unchanged, scale halved, counter reset', async (t, ctx) => {
  const trainer = await smallTrainer(ctx, { init: 1024, interval: 5 });
  try {
    await trainer.step(batch(1));
    await trainer.step(batch(2));
    t.deepEqual(await trainer.lossScaleStatus(), { mode: 'dynamic', scale: 1024, skippedSteps: 0, goodSteps: 2 });
    const before = await stateBytes(trainer);
    t.is(before.get('opt.step')![0], new Uint32Array(Float32Array.of(2).buffer)[0], 'two updates taken');
    await trainer.step(batch(3, true));
    t.deepEqual(await trainer.lossScaleStatus(), { mode: 'dynamic', scale: 512, skippedSteps: 1, goodSteps: 0 });
    const after = await stateBytes(trainer);
    for (const [k, v] of before) t.deepEqual(after.get(k), v, `%${k} bitwise unchanged`);
    await trainer.step(batch(4));
    t.deepEqual(await trainer.lossScaleStatus(), { mode: 'dynamic', scale: 512, skippedSteps: 1, goodSteps: 1 });
  } finally {
    trainer.destroy();
  }
});

gpuF16Test('the loss-scale state carries over when the batch size changes (a second compiled step)', async (t, ctx) => {
  const trainer = await smallTrainer(ctx, { init: 256, interval: 3 });
  try {
    await trainer.step(batch(1, true));
    await trainer.step(batch(2));
    const half = batch(3);
    await trainer.step([half[0].subarray(0, (BATCH / 2) * IN), half[1].subarray(0, BATCH / 2)]);
    t.deepEqual(await trainer.lossScaleStatus(), { mode: 'dynamic', scale: 128, skippedSteps: 1, goodSteps: 2 });
    await trainer.step(batch(4));
    t.deepEqual(await trainer.lossScaleStatus(), { mode: 'dynamic', scale: 256, skippedSteps: 1, goodSteps: 0 }, 'the third finite step in a row grows the scale, whatever the batch size');
  } finally {
    trainer.destroy();
  }
});

gpuF16Test('growth after interval finite steps, up to the ceiling; backoff down to the floor', async (t, ctx) => {
  const up = await smallTrainer(ctx, { init: 2, interval: 4, max: 16 });
  try {
    const seen: number[] = [];
    for (let k = 1; k <= 24; k++) {
      await up.step(batch(k));
      if (k % 4 === 0) seen.push((await up.lossScaleStatus()).scale);
    }
    t.deepEqual(seen, [4, 8, 16, 16, 16, 16], 'doubles every 4 finite steps, capped at max 16');
    t.is((await up.lossScaleStatus()).skippedSteps, 0);
  } finally {
    up.destroy();
  }
  const down = await smallTrainer(ctx, { init: 64, min: 8 });
  try {
    const before = await stateBytes(down);
    const seen: number[] = [];
    for (let k = 0; k < 6; k++) {
      await down.step(batch(k, true));
      seen.push((await down.lossScaleStatus()).scale);
    }
    t.deepEqual(seen, [32, 16, 8, 8, 8, 8], 'halves per overflow, floored at min 8');
    t.is((await down.lossScaleStatus()).skippedSteps, 6);
    const after = await stateBytes(down);
    for (const [k, v] of before) t.deepEqual(after.get(k), v, `%${k} unchanged after 6 skipped steps`);
  } finally {
    down.destroy();
  }
});

gpuF16Test('1000 steps with an inf injected every 50 steps: every injection skipped, params finite, loss falls', async (t, ctx) => {
  const trainer = await smallTrainer(ctx, { init: 1024, interval: 20 });
  try {
    const first = (await trainer.step(batch(0), { readLoss: true }))!;
    let injected = 0;
    for (let k = 1; k < 1000; k++) {
      const poison = k % 50 === 25;
      if (poison) injected++;
      await trainer.step(batch(k, poison));
    }
    const last = (await trainer.step(batch(0), { readLoss: true }))!;
    const s = await trainer.lossScaleStatus();
    t.log(`1001 steps, ${injected} injected: skipped ${s.skippedSteps}, final scale ${s.scale}, loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
    t.true(s.skippedSteps >= injected, `skipped ${s.skippedSteps} >= injected ${injected}`);
    t.true(s.skippedSteps <= injected + 16, `few natural overflows (${s.skippedSteps - injected})`);
    const params = await trainer.parameters();
    for (const [k, v] of Object.entries(params)) t.true(Array.from(v.data).every(Number.isFinite), `%${k} finite`);
    t.true(last < 0.5 * first, `loss ${first} -> ${last}`);
  } finally {
    trainer.destroy();
  }
});

gpuF16Test('no host round trip per step: 100 steps map no buffer; the status read maps one', async (t, ctx) => {
  const trainer = await smallTrainer(ctx, { init: 2 ** 20, interval: 10 });
  const maps = countMaps(ctx);
  try {
    for (let k = 0; k < 100; k++) await trainer.step(batch(k, k % 30 === 7));
    t.is(maps.count, 0, 'no map while stepping (scale, counters and skips stay on the device)');
    const s = await trainer.lossScaleStatus();
    t.is(maps.count, 1, 'one map reads scale, counter and skipped count together');
    t.true(s.skippedSteps >= 4, `skipped ${s.skippedSteps} (4 injected)`);
  } finally {
    maps.restore();
    trainer.destroy();
  }
});

// ---------------------------------------------------------------- why scaling exists

gpuF16Test('underflow: with the loss scaled by 1e-7, f16 gradients are zero and nothing trains without scaling; dynamic scaling trains', async (t, ctx) => {
  const make = (lossScale: LossScaleSpec) => Trainer.create({
    model: new nn.Sequential(new nn.Linear(IN, CLASSES)),
    // A tiny loss weight: d loss / d pred ~ 1e-8, below f16's smallest subnormal (6e-8).
    loss: (m: nn.Sequential, x: Tensor, y: Tensor) => mseLoss(m.forward(x), y).mul(1e-7),
    inputs: [f32([BATCH, IN]), f32([BATCH, CLASSES])],
    optimizer: { kind: 'adam', lr: 0.01 },
    seed: 5,
    device: ctx,
    precision: 'amp',
    lossScale,
  });
  const x = Float32Array.from(seededValues(1, BATCH * IN, -1, 1));
  const y = Float32Array.from(seededValues(2, BATCH * CLASSES, -1, 1));
  const run = async (lossScale: LossScaleSpec) => {
    const trainer = await make(lossScale);
    try {
      const p0 = await trainer.parameters();
      const first = (await trainer.step([x, y], { readLoss: true }))!;
      for (let k = 0; k < 40; k++) await trainer.step([x, y]);
      const last = (await trainer.step([x, y], { readLoss: true }))!;
      const p1 = await trainer.parameters();
      const moved = Object.keys(p0).some((k) => Array.from(p0[k]!.data).some((v, i) => v !== p1[k]!.data[i]));
      return { first, last, moved, status: await trainer.lossScaleStatus() };
    } finally {
      trainer.destroy();
    }
  };
  const off = await run('off');
  const dyn = await run('dynamic');
  t.log(`off: loss ${off.first} -> ${off.last}, params moved: ${off.moved}`);
  t.log(`dynamic: loss ${dyn.first} -> ${dyn.last}, scale ${dyn.status.scale}, skipped ${dyn.status.skippedSteps}`);
  t.false(off.moved, 'without scaling every f16 gradient underflowed to zero');
  t.is(off.last, off.first);
  t.true(dyn.moved);
  t.true(dyn.last < 0.8 * dyn.first, `with scaling the loss falls: ${dyn.first} -> ${dyn.last}`);
});
