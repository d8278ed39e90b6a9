// Gradient accumulation in the train step (passes/accumulate.ts) on the
// reference interpreter: K micro-batches give the same update as one batch
// K times larger (f32, 1e-6 relative, SGD with momentum and Adam), nothing
// moves between updates, the loss scale is held fixed across the
// micro-batches and a non-finite one skips the whole update once; on the
// adapter the accumulating step matches the reference; bad values are E0609.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { initialInputs, nextInputs } from '../passes/optimizer.ts';
import type { OptimizerSpec } from '../passes/optimizer.ts';
import type { LossScaleSpec } from '../passes/loss-scaling.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { mismatches, seededValues, TOLERANCES } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

/** The linear regression loss (mean over the batch) for `n` rows. */
function linear(n: number): Graph {
  return parseModule(`graph @lin(%x: f32[${n},3], %y: f32[${n},2], %w: f32[3,2] {param}, %b: f32[2] {param}) -> (f32[]) {
  %0 = matmul %x, %w : f32[${n},2]
  %pred = add %0, %b : f32[${n},2]
  %loss = mse_loss %pred, %y : f32[]
  return %loss
}`, 'lin.ir').main;
}

const PARAMS = { w: hostTensor('f32', [3, 2], seededValues(31, 6)), b: hostTensor('f32', [2], seededValues(32, 2)) };
const X = seededValues(33, 12 * 3, -2, 2), Y = seededValues(34, 12 * 2, -3, 3);
/** Rows [from, from + n) of the data set. */
const rows = (from: number, n: number, bad = false): Record<string, HostTensor> => {
  const x = X.slice(from * 3, (from + n) * 3);
  if (bad) x[1] = Infinity;
  return { x: hostTensor('f32', [n, 3], x), y: hostTensor('f32', [n, 2], Y.slice(from * 2, (from + n) * 2)) };
};

/** Runs `batches` through the step of `g` with `opt`; returns every step's inputs after it. */
function train(g: Graph, opt: OptimizerSpec, batches: Record<string, HostTensor>[], lossScale?: LossScaleSpec): Record<string, HostTensor>[] {
  const step = trainStepGraph(g, opt, lossScale !== undefined ? { lossScale } : {});
  let inputs: Record<string, HostTensor> = { ...PARAMS, ...initialInputs(step, opt) };
  const after: Record<string, HostTensor>[] = [];
  for (const batch of batches) {
    const all = { ...inputs, ...batch };
    inputs = nextInputs(step, all, interpret(step.graph, all));
    after.push(inputs);
  }
  return after;
}

const values = (t: HostTensor) => [...t.data].map(Number);
const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 1e-6 * Math.max(1, Math.abs(b[i]!)));

for (const opt of [{ kind: 'sgd', lr: 0.05, momentum: 0.9 }, { kind: 'adam', lr: 0.01 }, { kind: 'adamw', lr: 0.01, clipGradNorm: 0.5 }] as OptimizerSpec[]) {
  test(`${opt.kind}${opt.clipGradNorm ? ' with clipping' : ''}: 3 micro-batches of 4 update as one batch of 12, twice; nothing moves in between`, (t) => {
    const micro = train(linear(4), { ...opt, accumulate: 3 }, [0, 4, 8, 0, 4, 8].map((r) => rows(r, 4)));
    const big = train(linear(12), opt, [rows(0, 12), rows(0, 12)]);
    for (const p of ['w', 'b']) {
      t.deepEqual(values(micro[0]![p]!), values(PARAMS[p as 'w' | 'b']), `${p} unchanged after micro-step 1`);
      t.deepEqual(values(micro[1]![p]!), values(PARAMS[p as 'w' | 'b']), `${p} unchanged after micro-step 2`);
      t.true(close(values(micro[2]![p]!), values(big[0]![p]!)), `${p} after the first update: ${values(micro[2]![p]!)} vs ${values(big[0]![p]!)}`);
      t.true(close(values(micro[5]![p]!), values(big[1]![p]!)), `${p} after the second update`);
    }
    t.deepEqual(values(micro[2]!['opt.step']!), [1]);
    t.deepEqual(values(micro[2]!['accum.count']!), [0]);
    t.deepEqual(values(micro[1]!['accum.count']!), [2]);
    t.true(values(micro[2]!['accum.w']!).every((v) => v === 0), 'the sums restart from 0');
  });
}

test('under dynamic loss scaling the scale is fixed across micro-batches; a non-finite one skips the whole update once', (t) => {
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.01, accumulate: 2 };
  const ls: LossScaleSpec = { init: 1024, interval: 2 };
  // Updates: (finite, finite), (bad, finite), (finite, finite).
  const after = train(linear(4), opt, [rows(0, 4), rows(4, 4), rows(0, 4, true), rows(4, 4), rows(0, 4), rows(4, 4)], ls);
  const scale = after.map((s) => values(s['amp.scale']!)[0]);
  const skipped = after.map((s) => values(s['amp.skipped']!)[0]);
  t.deepEqual(scale, [1024, 1024, 1024, 512, 512, 512]);
  t.deepEqual(skipped, [0, 0, 0, 1, 1, 1]);
  t.deepEqual(values(after[3]!.w!), values(after[1]!.w!), 'the update with a non-finite micro-batch changed nothing');
  t.notDeepEqual(values(after[5]!.w!), values(after[3]!.w!), 'the next update applies');
  t.deepEqual(values(after[3]!['opt.step']!), [1]);
  t.deepEqual(values(after[2]!['accum.skip']!), [1]);
  t.deepEqual(values(after[3]!['accum.skip']!), [0]);
  // And the finite updates equal unscaled f32 training (power-of-two scales are exact).
  const plain = train(linear(4), opt, [rows(0, 4), rows(4, 4)], 'off');
  t.deepEqual(values(after[1]!.w!), values(plain[1]!.w!));
});

test('bad accumulate values are E0609', (t) => {
  for (const accumulate of [0, 1.5, -2, Number.NaN]) {
    const e = t.throws(() => trainStepGraph(linear(4), { kind: 'sgd', lr: 0.1, accumulate }), { instanceOf: AmpcError });
    t.is(e?.code, 'E0609');
    t.regex(e?.message ?? '', /optimizer: accumulate must be a whole number of steps in \[1, 2\^24\]/);
  }
});

gpuTest('on the adapter a loss-scaled accumulating step matches the reference, micro-step by micro-step', async (t, ctx) => {
  const opt: OptimizerSpec = { kind: 'adam', lr: 0.01, accumulate: 2 };
  const step = trainStepGraph(linear(4), opt, { precision: 'f32', lossScale: 'dynamic' });
  let inputs: Record<string, HostTensor> = { ...PARAMS, ...initialInputs(step, opt) };
  for (const batch of [rows(0, 4), rows(4, 4), rows(8, 4)]) {
    const all = { ...inputs, ...batch };
    const want = interpret(step.graph, all);
    const got = await runGraphOnGpu(step.graph, all, ctx);
    want.forEach((w, k) => t.is(mismatches(got[k]!, w, TOLERANCES.f32).length, 0, `output ${k} (${step.graph.outputs[k]!.name})`));
    inputs = nextInputs(step, all, want);
  }
});
