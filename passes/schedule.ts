// Learning-rate schedules computed in the train step from its step counter
// (`opt.step`, the number of steps taken before this one: t = 0, 1, ...):
// the update uses `opt.lr · factor(t)`, so a schedule costs no host round
// trip and no recompilation; `opt.lr` (the base rate) stays an input that
// setLearningRate changes. With `warmup: W > 0` the factor is t / W for
// t < W (as Hugging Face's get_*_schedule_with_warmup: the first step has
// rate 0), then:
//
//   constant  1
//   step      gamma ^ floor(t / stepSize)                       (torch StepLR)
//   cosine    min + (1 - min) · ½ (1 + cos(π · p)),  p = min((t - W) / (T - W), 1)
//   linear    end + (1 - end) · max(1 - (t - W) / (T - W), 0)
//
// with T = totalSteps, min = minFactor (default 0), end = endFactor
// (default 0). The factor is computed in f32 from the f32 step counter
// (exact up to 2^24 steps).

import { AmpcError } from '../ir/errors.ts';
import type { Value } from '../ir/graph.ts';
import type { UpdateBuilder } from './update-builder.ts';

export type LrSchedule =
  | { kind: 'constant'; warmup?: number }
  | { kind: 'step'; stepSize: number; gamma?: number; warmup?: number }
  | { kind: 'cosine'; totalSteps: number; warmup?: number; minFactor?: number }
  | { kind: 'linear'; totalSteps: number; warmup?: number; endFactor?: number };

export type ResolvedSchedule =
  | { kind: 'constant'; warmup: number }
  | { kind: 'step'; stepSize: number; gamma: number; warmup: number }
  | { kind: 'cosine'; totalSteps: number; warmup: number; minFactor: number }
  | { kind: 'linear'; totalSteps: number; warmup: number; endFactor: number };

const KINDS = ['constant', 'step', 'cosine', 'linear'] as const;
const KEYS: Readonly<Record<LrSchedule['kind'], readonly string[]>> = {
  constant: ['kind', 'warmup'],
  step: ['kind', 'stepSize', 'gamma', 'warmup'],
  cosine: ['kind', 'totalSteps', 'warmup', 'minFactor'],
  linear: ['kind', 'totalSteps', 'warmup', 'endFactor'],
};

function bad(detail: string): never {
  throw new AmpcError('E0609', `optimizer: schedule: ${detail}`);
}

function count(what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(`${what} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function fraction(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) bad(`${what} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  return v;
}

/** The schedule with defaults, checked (E0609). */
export function resolveSchedule(s: LrSchedule): ResolvedSchedule {
  if (!s || typeof s !== 'object' || !KINDS.includes(s.kind)) bad(`expected { kind: ${KINDS.map((k) => `'${k}'`).join(' | ')}, ... }, got ${JSON.stringify(s)}`);
  const unknown = Object.keys(s).filter((k) => !KEYS[s.kind].includes(k));
  if (unknown.length) bad(`${s.kind} takes ${KEYS[s.kind].join(', ')}; unknown: ${unknown.join(', ')}`);
  const warmup = count('warmup', s.warmup ?? 0, 0);
  switch (s.kind) {
    case 'constant':
      return { kind: 'constant', warmup };
    case 'step': {
      const gamma = s.gamma ?? 0.1;
      if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) bad(`gamma must be a finite number > 0, got ${JSON.stringify(gamma)}`);
      return { kind: 'step', stepSize: count('stepSize', s.stepSize, 1), gamma, warmup };
    }
    case 'cosine':
    case 'linear': {
      const totalSteps = count('totalSteps', s.totalSteps, 1);
      if (totalSteps <= warmup) bad(`totalSteps (${totalSteps}) must exceed warmup (${warmup})`);
      return s.kind === 'cosine'
        ? { kind: 'cosine', totalSteps, warmup, minFactor: fraction('minFactor', s.minFactor ?? 0) }
        : { kind: 'linear', totalSteps, warmup, endFactor: fraction('endFactor', s.endFactor ?? 0) };
    }
  }
}

/** The schedule's factor at 0-based step `t` in f64 (the reference the tests compare with). */
export function scheduleFactor(s: ResolvedSchedule, t: number): number {
  if (s.warmup > 0 && t < s.warmup) return t / s.warmup;
  switch (s.kind) {
    case 'constant': return 1;
    case 'step': return s.gamma ** Math.floor(t / s.stepSize);
    case 'cosine': {
      const p = Math.min((t - s.warmup) / (s.totalSteps - s.warmup), 1);
      return s.minFactor + (1 - s.minFactor) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case 'linear': return s.endFactor + (1 - s.endFactor) * Math.max(1 - (t - s.warmup) / (s.totalSteps - s.warmup), 0);
  }
}

/** The factor at step `t` (the step counter input, f32[]) as ops of the step, named `lr.factor`. */
export function scheduleFactorOps(b: UpdateBuilder, s: ResolvedSchedule, t: Value): Value {
  let body: Value;
  switch (s.kind) {
    case 'constant':
      body = b.c(1);
      break;
    case 'step':
      body = b.op('pow', [b.c(s.gamma), b.op('floor', [b.div(t, b.c(s.stepSize))])]);
      break;
    case 'cosine': {
      const p = b.op('minimum', [b.div(b.sub(t, b.c(s.warmup)), b.c(s.totalSteps - s.warmup)), b.c(1)]);
      const cosine = b.mul(b.c(0.5), b.add(b.c(1), b.op('cos', [b.mul(b.c(Math.PI), p)])));
      body = b.add(b.c(s.minFactor), b.mul(b.c(1 - s.minFactor), cosine));
      break;
    }
    case 'linear': {
      const left = b.op('maximum', [b.sub(b.c(1), b.div(b.sub(t, b.c(s.warmup)), b.c(s.totalSteps - s.warmup))), b.c(0)]);
      body = b.add(b.c(s.endFactor), b.mul(b.c(1 - s.endFactor), left));
      break;
    }
  }
  const factor = s.warmup > 0 ? b.op('select', [b.op('less', [t, b.c(s.warmup)]), b.div(t, b.c(s.warmup)), body]) : body;
  return b.named(factor, 'lr.factor');
}
