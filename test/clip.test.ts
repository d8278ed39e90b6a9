// Gradient clipping in the train step (passes/clip.ts), on the reference
// interpreter against a host computation from the gradients autodiff gives:
// by global norm (active and inactive) and by value, on the unscaled
// gradients (a power-of-two loss scale changes nothing, bitwise), skipped
// steps unaffected, bad specs refused (E0609), and the norm visible in dumps.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { printGraph } from '../ir/text/printer.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { CLIP_NORM_EPS } from '../passes/clip.ts';
import { initialInputs } from '../passes/optimizer.ts';
import type { OptimizerSpec } from '../passes/optimizer.ts';
import type { LossScaleSpec } from '../passes/loss-scaling.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { seededValues } from './helpers/compare.ts';
import { linearLoss } from './helpers/linear.ts';

const PARAMS = ['w', 'b'] as const;

function batch(bad = false): Record<string, HostTensor> {
  const x = seededValues(11, 15, -2, 2);
  if (bad) x[4] = Infinity;
  return { x: hostTensor('f32', [5, 3], x), y: hostTensor('f32', [5, 2], seededValues(12, 10, -3, 3)) };
}

function params(): Record<string, HostTensor> {
  return { w: hostTensor('f32', [3, 2], seededValues(13, 6)), b: hostTensor('f32', [2], seededValues(14, 2)) };
}

/** The loss graph's gradients on the interpreter (f64 values of f32 tensors). */
function gradients(g: Graph): number[][] {
  const out = interpret(gradientGraph(g), { ...params(), ...batch() });
  return out.slice(1).map((t) => [...t.data].map(Number));
}

/** New params after one SGD step with `opt` (and loss scale `ls`), on the interpreter. */
function stepOnce(g: Graph, opt: OptimizerSpec, ls?: LossScaleSpec, precision: 'f32' | 'amp' = 'f32', bad = false): Record<string, number[]> {
  const step = trainStepGraph(g, opt, { precision, ...(ls !== undefined ? { lossScale: ls } : {}) });
  const out = interpret(step.graph, { ...params(), ...batch(bad), ...initialInputs(step, opt) });
  const names = step.graph.outputs.map((v) => v.name);
  return Object.fromEntries(PARAMS.map((p) => [p, [...out[names.indexOf(`new.${p}`)]!.data].map(Number)]));
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

test('clipping by global norm scales every gradient by min(n / (norm + 1e-6), 1), as torch.nn.utils.clip_grad_norm_', (t) => {
  const g = linearLoss();
  const grads = gradients(g);
  const norm = Math.sqrt(grads.flat().reduce((s, x) => s + x * x, 0));
  t.true(norm > 0.1, `norm ${norm}`);
  const lr = 0.1;
  for (const maxNorm of [norm / 4, norm * 4]) {
    const coef = Math.min(maxNorm / (norm + CLIP_NORM_EPS), 1);
    const got = stepOnce(g, { kind: 'sgd', lr, clipGradNorm: maxNorm });
    PARAMS.forEach((p, i) => {
      const p0 = [...params()[p]!.data].map(Number);
      const want = p0.map((v, j) => v - lr * grads[i]![j]! * coef);
      t.true(got[p]!.every((v, j) => close(v, want[j]!)), `${p} (max norm ${maxNorm}): ${got[p]} vs ${want}`);
    });
    if (coef === 1) t.deepEqual(got, stepOnce(g, { kind: 'sgd', lr }), 'inactive: the unclipped step');
  }
});

test('clipping by value clamps each gradient element to [-v, v]', (t) => {
  const g = linearLoss();
  const grads = gradients(g);
  const v = Math.max(...grads.flat().map(Math.abs)) / 3;
  const lr = 0.05;
  const got = stepOnce(g, { kind: 'sgd', lr, clipGradValue: v });
  let clamped = 0;
  PARAMS.forEach((p, i) => {
    const p0 = [...params()[p]!.data].map(Number);
    const want = p0.map((x, j) => {
      const d = grads[i]![j]!;
      if (Math.abs(d) > v) clamped++;
      return x - lr * Math.min(Math.max(d, -v), v);
    });
    t.true(got[p]!.every((x, j) => close(x, want[j]!)), `${p}: ${got[p]} vs ${want}`);
  });
  t.true(clamped > 0, 'some elements were clamped');
});

test('clipping acts on the unscaled gradients: a power-of-two loss scale changes nothing, bitwise', (t) => {
  const g = linearLoss();
  const norm = Math.sqrt(gradients(g).flat().reduce((s, x) => s + x * x, 0));
  for (const opt of [{ kind: 'sgd', lr: 0.1, clipGradNorm: norm / 3 }, { kind: 'adam', lr: 0.01, clipGradNorm: norm / 3, clipGradValue: 0.5 }] as OptimizerSpec[]) {
    t.deepEqual(stepOnce(g, opt, 1024), stepOnce(g, opt, 'off'), opt.kind);
  }
});

test('a skipped step is skipped with clipping too: params unchanged', (t) => {
  const g = linearLoss();
  const got = stepOnce(g, { kind: 'adam', lr: 0.01, clipGradNorm: 1 }, 'dynamic', 'amp', true);
  PARAMS.forEach((p) => t.deepEqual(got[p], [...params()[p]!.data].map(Number), p));
});

test('the norm and the coefficient are values of the step; bad clip specs are E0609', (t) => {
  const step = trainStepGraph(linearLoss(), { kind: 'adam', lr: 0.01, clipGradNorm: 1, clipGradValue: 2 });
  const text = printGraph(step.graph);
  t.regex(text, /%grad\.norm = sqrt %\d+ : f32\[\]/);
  t.regex(text, /%clip\.coef = minimum %\d+, %\d+ : f32\[\]/);
  for (const bad of [{ clipGradNorm: 0 }, { clipGradNorm: -1 }, { clipGradValue: Number.NaN }, { clipGradNorm: Infinity }]) {
    const e = t.throws(() => trainStepGraph(linearLoss(), { kind: 'sgd', lr: 0.1, ...bad }), { instanceOf: AmpcError });
    t.is(e?.code, 'E0609');
    t.regex(e?.message ?? '', /optimizer: clipGrad(Norm|Value) must be a finite number > 0/);
  }
});
