// Learning-rate schedules in the train step (passes/schedule.ts): the rate a
// step uses, recovered from an SGD update on the reference interpreter at
// chosen values of the step counter, against each schedule's formula; a
// schedule leaves setLearningRate's base rate an input; bad schedules are E0609.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import { printGraph } from '../ir/text/printer.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { initialInputs } from '../passes/optimizer.ts';
import { resolveSchedule, scheduleFactor } from '../passes/schedule.ts';
import type { LrSchedule } from '../passes/schedule.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { mismatches, seededValues, TOLERANCES } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';
import { linearLoss } from './helpers/linear.ts';

const inputs = {
  x: hostTensor('f32', [5, 3], seededValues(21, 15, -2, 2)),
  y: hostTensor('f32', [5, 2], seededValues(22, 10, -3, 3)),
  w: hostTensor('f32', [3, 2], seededValues(23, 6)),
  b: hostTensor('f32', [2], seededValues(24, 2)),
};

/** The rate the step used at step counter `t`: (w - w') / g for the weight element with the largest gradient. */
function rateAt(schedule: LrSchedule, t: number, base = 0.5): number {
  const g = [...interpret(gradientGraph(linearLoss()), inputs)[1]!.data].map(Number);
  const j = g.reduce((best, v, i) => (Math.abs(v) > Math.abs(g[best]!) ? i : best), 0);
  const step = trainStepGraph(linearLoss(), { kind: 'sgd', lr: base, schedule });
  const out = interpret(step.graph, { ...inputs, ...initialInputs(step, { lr: base }), 'opt.step': hostTensor('f32', [], [t]) });
  const w1 = Number(out[step.graph.outputs.findIndex((v) => v.name === 'new.w')]!.data[j]);
  return (Number(inputs.w.data[j]) - w1) / g[j]!;
}

const CASES: [string, LrSchedule, number[]][] = [
  ['constant with warmup', { kind: 'constant', warmup: 4 }, [0, 1, 3, 4, 100]],
  ['step', { kind: 'step', stepSize: 3, gamma: 0.5 }, [0, 2, 3, 5, 6, 10]],
  ['cosine with warmup', { kind: 'cosine', totalSteps: 20, warmup: 5 }, [0, 2, 5, 9, 12.5, 19, 20, 40]],
  ['cosine to a floor', { kind: 'cosine', totalSteps: 10, minFactor: 0.1 }, [0, 5, 10, 11]],
  ['linear with warmup', { kind: 'linear', totalSteps: 10, warmup: 2 }, [0, 1, 2, 6, 10, 15]],
  ['linear to an end factor', { kind: 'linear', totalSteps: 8, endFactor: 0.25 }, [0, 4, 8, 9]],
];

for (const [name, schedule, steps] of CASES) {
  test(`the rate a step uses follows the schedule's formula: ${name}`, (t) => {
    const r = resolveSchedule(schedule);
    for (const s of steps) {
      const want = 0.5 * scheduleFactor(r, s);
      const got = rateAt(schedule, s);
      t.true(Math.abs(got - want) <= 2e-6 * Math.max(want, 1e-3) + 1e-7, `step ${s}: rate ${got}, formula ${want}`);
    }
  });
}

test('the formulas at their landmarks', (t) => {
  const cos = resolveSchedule({ kind: 'cosine', totalSteps: 20, warmup: 5 });
  t.is(scheduleFactor(cos, 0), 0);
  t.is(scheduleFactor(cos, 5), 1);
  t.true(Math.abs(scheduleFactor(cos, 12.5) - 0.5) < 1e-12);
  t.true(Math.abs(scheduleFactor(cos, 20)) < 1e-12);
  t.is(scheduleFactor(resolveSchedule({ kind: 'step', stepSize: 3, gamma: 0.5 }), 6), 0.25);
  t.is(scheduleFactor(resolveSchedule({ kind: 'linear', totalSteps: 8, endFactor: 0.25 }), 4), 0.625);
});

test('the base rate stays the opt.lr input; the scheduled rate and factor are named values', (t) => {
  const step = trainStepGraph(linearLoss(), { kind: 'adam', lr: 1e-3, schedule: { kind: 'cosine', totalSteps: 100, warmup: 10 } });
  const text = printGraph(step.graph);
  t.regex(text, /%lr\.factor = select %\d+, %\d+, %\d+ : f32\[\]/);
  t.regex(text, /%lr\.scheduled = mul %opt\.lr, %lr\.factor : f32\[\]/);
  t.true(step.graph.inputs.some((v) => v.name === 'opt.lr'));
  // Doubling the base rate doubles the scheduled rate.
  t.true(Math.abs(rateAt({ kind: 'step', stepSize: 2 }, 3, 1) - 2 * rateAt({ kind: 'step', stepSize: 2 }, 3, 0.5)) < 1e-6);
});

test('bad schedules are E0609 and say what is wrong', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ kind: 'exp' }, /expected \{ kind: 'constant' \| 'step' \| 'cosine' \| 'linear'/],
    [{ kind: 'cosine' }, /totalSteps must be a whole number >= 1, got undefined/],
    [{ kind: 'cosine', totalSteps: 10, warmup: 10 }, /totalSteps \(10\) must exceed warmup \(10\)/],
    [{ kind: 'step', stepSize: 0 }, /stepSize must be a whole number >= 1/],
    [{ kind: 'step', stepSize: 2, gamma: -1 }, /gamma must be a finite number > 0/],
    [{ kind: 'linear', totalSteps: 5, endFactor: 2 }, /endFactor must be a number in \[0, 1\]/],
    [{ kind: 'constant', warmup: 1.5 }, /warmup must be a whole number >= 0/],
    [{ kind: 'cosine', totalSteps: 5, minfactor: 0.1 }, /cosine takes kind, totalSteps, warmup, minFactor; unknown: minfactor/],
  ];
  for (const [schedule, message] of cases) {
    const e = t.throws(() => trainStepGraph(linearLoss(), { kind: 'sgd', lr: 0.1, schedule: schedule as LrSchedule }), { instanceOf: AmpcError });
    t.is(e?.code, 'E0609');
    t.regex(e?.message ?? '', message);
  }
});

gpuTest('on the adapter the scheduled step matches the reference (fused)', async (t, ctx) => {
  for (const schedule of [{ kind: 'cosine', totalSteps: 20, warmup: 5 }, { kind: 'step', stepSize: 3, gamma: 0.5 }, { kind: 'linear', totalSteps: 9, warmup: 2 }] as LrSchedule[]) {
    const step = trainStepGraph(linearLoss(), { kind: 'adam', lr: 0.01, schedule });
    for (const s of [1, 7, 12]) {
      const all = { ...inputs, ...initialInputs(step, { lr: 0.01 }), 'opt.step': hostTensor('f32', [], [s]) };
      const want = interpret(step.graph, all);
      const got = await runGraphOnGpu(step.graph, all, ctx);
      want.forEach((w, k) => {
        const bad = mismatches(got[k]!, w, TOLERANCES.f32);
        t.is(bad.length, 0, `${schedule.kind} step ${s} output ${k}: ${JSON.stringify(bad.slice(0, 3))}`);
      });
    }
  }
});
