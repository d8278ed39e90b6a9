// Gradient checks: the gradients `gradientGraph` computes, run on the
// reference interpreter, against central finite differences of the forward
// graph on the same interpreter. The interpreter holds f32 tensors in f64
// without rounding, so the differences are f64-accurate: a relative step of
// 1e-6 leaves a truncation error near 1e-12 and a rounding error near
// 1e-10 · |loss|; a gradient element passes when
//   |analytic - numeric| <= rtol · max(|analytic|, |numeric|) + atol · max(1, |loss|).
// Keep inputs away from kinks (relu, abs, maximum near 0 or ties; max and
// max-pool ties): the helpers below move random inputs there.

import type { Graph } from '../../ir/graph.ts';
import { interpret, randomInputs, seededRandom } from '../../ir/interp/index.ts';
import type { HostTensor } from '../../ir/interp/index.ts';
import { gradientGraph } from '../../passes/autodiff.ts';

export interface GradcheckOptions {
  /** Input tensors by name; default: randomInputs(graph, seed). */
  readonly inputs?: Record<string, HostTensor>;
  readonly seed?: number;
  /** Edits the inputs in place before the check (e.g. keeps them off kinks). */
  readonly prepare?: (inputs: Record<string, HostTensor>) => void;
  /** Params to check (default: every float param). */
  readonly wrt?: readonly string[];
  /** Output to differentiate (default 0). */
  readonly output?: number;
  /** Relative finite-difference step (default 1e-6). */
  readonly step?: number;
  readonly rtol?: number;
  readonly atol?: number;
}

export interface ElementError {
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export interface ParamCheck {
  readonly name: string;
  readonly ok: boolean;
  /** Largest |analytic - numeric| / max(|analytic|, |numeric|) over elements well above the absolute floor (x100). */
  readonly maxRelErr: number;
  readonly maxAbsErr: number;
  /** The first failing element, if any. */
  readonly failure?: ElementError;
}

export interface GradcheckReport {
  readonly ok: boolean;
  readonly loss: number;
  readonly params: readonly ParamCheck[];
  /** One line per param, for test messages. */
  readonly text: string;
}

function withValue(t: HostTensor, i: number, v: number): HostTensor {
  const data = t.data.slice();
  data[i] = v;
  return { dtype: t.dtype, shape: t.shape, data };
}

/** Checks every element of every requested param's gradient against central differences. */
export function gradcheck(graph: Graph, opts: GradcheckOptions = {}): GradcheckReport {
  const inputs: Record<string, HostTensor> = { ...(opts.inputs ?? randomInputs(graph, opts.seed ?? 1)) };
  opts.prepare?.(inputs);
  const output = opts.output ?? 0;
  const step = opts.step ?? 1e-6, rtol = opts.rtol ?? 1e-6, atol = opts.atol ?? 1e-8;
  const grad = gradientGraph(graph, { wrt: opts.wrt, output });
  const results = interpret(grad, inputs);
  const loss = results[output]!.data[0]!;
  const names = opts.wrt ?? graph.params.filter((p) => p.type.dtype === 'f32' || p.type.dtype === 'f16').map((p) => p.name!);
  const floor = atol * Math.max(1, Math.abs(loss));
  const f = (ins: Record<string, HostTensor>) => interpret(graph, ins)[output]!.data[0]!;

  const params = names.map((name, k): ParamCheck => {
    const x = inputs[name]!;
    if (x.dtype !== 'f32') throw new Error(`gradcheck: %${name} is ${x.dtype}; finite differences need f32 params`);
    const analytic = results[graph.outputs.length + k]!;
    let maxRelErr = 0, maxAbsErr = 0;
    let failure: ElementError | undefined;
    for (let i = 0; i < x.data.length; i++) {
      const xi = x.data[i]!;
      const h = step * Math.max(1, Math.abs(xi));
      const up = f({ ...inputs, [name]: withValue(x, i, xi + h) });
      const down = f({ ...inputs, [name]: withValue(x, i, xi - h) });
      const numeric = (up - down) / (2 * h);
      const a = analytic.data[i]!;
      const err = Math.abs(a - numeric);
      const scale = Math.max(Math.abs(a), Math.abs(numeric));
      maxAbsErr = Math.max(maxAbsErr, err);
      if (scale > 100 * floor) maxRelErr = Math.max(maxRelErr, err / scale);
      if (!(err <= rtol * scale + floor) && !failure) failure = { index: i, analytic: a, numeric };
    }
    return { name, ok: !failure, maxRelErr, maxAbsErr, failure };
  });
  const text = params
    .map((p) => {
      const head = `%${p.name}: ${p.ok ? 'ok' : 'FAILED'} (max rel err ${p.maxRelErr.toExponential(2)}, max abs err ${p.maxAbsErr.toExponential(2)})`;
      const fail = p.failure;
      return fail ? `${head}; element ${fail.index}: analytic ${fail.analytic}, numeric ${fail.numeric}` : head;
    })
    .join('\n');
  return { ok: params.every((p) => p.ok), loss, params, text };
}

// ---------------------------------------------------------------- input shaping

function mapInput(inputs: Record<string, HostTensor>, name: string, f: (v: number, i: number) => number): void {
  const t = inputs[name];
  if (!t) throw new Error(`gradcheck: no input %${name}`);
  const data = t.data.slice();
  for (let i = 0; i < data.length; i++) data[i] = f(data[i]!, i);
  inputs[name] = { dtype: t.dtype, shape: t.shape, data };
}

/** Values in [lo, lo + 1): for log, sqrt, rsqrt, pow bases, variances. */
export const positive = (name: string, lo = 0.5) => (inputs: Record<string, HostTensor>) =>
  mapInput(inputs, name, (v) => lo + Math.abs(v));

/** Values at least `margin` away from 0 (relu, abs, denominators). */
export const awayFromZero = (name: string, margin = 0.2) => (inputs: Record<string, HostTensor>) =>
  mapInput(inputs, name, (v) => (v < 0 ? v - margin : v + margin));

/** Values moved to the middle of their unit interval (k + 0.25 .. k + 0.75): no integer within a finite-difference step. */
export const awayFromIntegers = (name: string) => (inputs: Record<string, HostTensor>) =>
  mapInput(inputs, name, (v) => Math.floor(v * 3) + 0.25 + 0.5 * ((v * 3) - Math.floor(v * 3)));

/** Values of [-1, 1] mapped linearly onto [lo, hi] (asin, atanh, acosh domains; fmod divisors). */
export const within = (name: string, lo: number, hi: number) => (inputs: Record<string, HostTensor>) =>
  mapInput(inputs, name, (v) => lo + ((hi - lo) * (Math.min(1, Math.max(-1, v)) + 1)) / 2);

/** Values moved to k + 0.75 .. k + 1.25: no half-integer (where round jumps) within a finite-difference step. */
export const awayFromHalfIntegers = (name: string) => (inputs: Record<string, HostTensor>) =>
  mapInput(inputs, name, (v) => Math.floor(v * 3) + 0.75 + 0.5 * ((v * 3) - Math.floor(v * 3)));

/** Distinct values, evenly spaced in [-1, 1] and shuffled (no near-ties for max and max-pool). */
export const distinct = (name: string, seed = 7) => (inputs: Record<string, HostTensor>) => {
  const n = inputs[name]!.data.length;
  const values = Array.from({ length: n }, (_, i) => (n === 1 ? 0.5 : -1 + (2 * i) / (n - 1)));
  const rand = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  mapInput(inputs, name, (_, i) => values[i]!);
};

/** Runs several input edits in order. */
export const all = (...fs: ((inputs: Record<string, HostTensor>) => void)[]) => (inputs: Record<string, HostTensor>) => {
  for (const f of fs) f(inputs);
};
