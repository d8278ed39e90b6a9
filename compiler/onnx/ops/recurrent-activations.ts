// The activation functions of ONNX's LSTM, GRU and RNN (their `activations`,
// `activation_alpha`, `activation_beta` and `clip` attributes) as IR ops.
// Every function ONNX lists is an exact composition of IR ops: Relu, Tanh,
// Sigmoid, Affine (alpha·x + beta), LeakyRelu, ThresholdedRelu (x if
// x >= alpha else 0, as the RNN spec writes it), ScaledTanh
// (alpha·tanh(beta·x)), HardSigmoid, Elu, Softsign, Softplus. Names match
// case-insensitively. Defaults are those of the ONNX ops of the same name
// (Affine 1, 0); ScaledTanh has none and needs both values given.
// The spec says alpha / beta values "are consumed in the order of activation
// functions", which reads two ways: one slot per activation (positional), or
// one value per activation that takes one (consumed). Where the two readings
// give an activation different parameters the node is refused (E0901) rather
// than guessed. `clip` bounds every activation's input to [-clip, clip].

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { lit } from './types.ts';

export type Act = (x: Value) => Value;

interface ActDef {
  /** Default alpha (null: takes alpha but has no default; undefined: takes none). */
  readonly alpha?: number | null;
  readonly beta?: number | null;
  build(c: NodeCtx, x: Value, alpha: number, beta: number): Value;
}

const mulBy = (c: NodeCtx, x: Value, k: number): Value => c.add('mul', [x, lit(c, x, k)]);

const ACTS: Readonly<Record<string, ActDef>> = {
  relu: { build: (c, x) => c.add('relu', [x]) },
  tanh: { build: (c, x) => c.add('tanh', [x]) },
  sigmoid: { build: (c, x) => c.add('sigmoid', [x]) },
  affine: { alpha: 1, beta: 0, build: (c, x, a, b) => c.add('add', [mulBy(c, x, a), lit(c, x, b)]) },
  leakyrelu: { alpha: 0.01, build: (c, x, a) => c.add('select', [c.add('less', [x, lit(c, x, 0)]), mulBy(c, x, a), x]) },
  thresholdedrelu: { alpha: 1, build: (c, x, a) => c.add('select', [c.add('greater_equal', [x, lit(c, x, a)]), x, lit(c, x, 0)]) },
  scaledtanh: { alpha: null, beta: null, build: (c, x, a, b) => mulBy(c, c.add('tanh', [mulBy(c, x, b)]), a) },
  hardsigmoid: {
    alpha: 0.2, beta: 0.5,
    build: (c, x, a, b) => c.add('minimum', [c.add('maximum', [c.add('add', [mulBy(c, x, a), lit(c, x, b)]), lit(c, x, 0)]), lit(c, x, 1)]),
  },
  elu: {
    alpha: 1,
    build: (c, x, a) => c.add('select', [c.add('less', [x, lit(c, x, 0)]), mulBy(c, c.add('sub', [c.add('exp', [x]), lit(c, x, 1)]), a), x]),
  },
  softsign: { build: (c, x) => c.add('div', [x, c.add('add', [c.add('abs', [x]), lit(c, x, 1)])]) },
  softplus: { build: (c, x) => c.add('log', [c.add('add', [c.add('exp', [x]), lit(c, x, 1)])]) },
};

/** The parameter of each activation under one reading of the alpha (or beta) list. */
function readParams(defs: readonly ActDef[], key: 'alpha' | 'beta', list: readonly number[], positional: boolean): (number | null | undefined)[] {
  let next = 0;
  return defs.map((d, k) => {
    if (d[key] === undefined) return undefined;
    const idx = positional ? k : next++;
    return idx < list.length ? list[idx]! : d[key];
  });
}

/**
 * The activation functions of each direction (`perDir` of them, e.g. f, g, h
 * for LSTM), from the `activations` attribute or `defaults`, with alpha,
 * beta and clip applied.
 */
export function activations(c: NodeCtx, defaults: readonly string[], dirs: number, clip: number | undefined): Act[][] {
  const perDir = defaults.length;
  c.ignore('activations'); // read here: NodeCtx has no string-list reader
  const given = c.attrs.get('activations')?.strings?.map((b) => new TextDecoder().decode(b));
  let names = given ?? Array.from({ length: dirs }, () => defaults).flat();
  // RNN's schema default is ["Tanh", "Tanh"] whatever the direction: a forward or reverse RNN uses the first.
  if (c.op === 'RNN' && dirs === 1 && names.length === 2) names = names.slice(0, 1);
  if (names.length !== perDir * dirs) c.bad(`activations lists ${names.length} functions, expected ${perDir * dirs}`);
  const defs = names.map((n) => ACTS[n.toLowerCase()] ?? c.unsupported(`activation '${n}' (one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)`));
  const params = (['alpha', 'beta'] as const).map((key) => {
    const list = c.floatList(`activation_${key}`) ?? [];
    const pos = readParams(defs, key, list, true), used = readParams(defs, key, list, false);
    pos.forEach((p, k) => {
      if (p !== used[k]) {
        c.unsupported(`activation_${key} is ambiguous: activation ${k} ('${names[k]}') gets ${p} with one value per activation and ${used[k]} with values consumed only by the activations that take one`);
      }
      if (p === null) c.unsupported(`activation '${names[k]}' needs an activation_${key} value (it has no default)`);
    });
    return pos;
  });
  const acts = defs.map((d, k): Act => (x) => {
    const xin = clip === undefined ? x : c.add('minimum', [c.add('maximum', [x, lit(c, x, -clip)]), lit(c, x, clip)]);
    return d.build(c, xin, params[0]![k] ?? 0, params[1]![k] ?? 0);
  });
  return Array.from({ length: dirs }, (_, d) => acts.slice(d * perDir, (d + 1) * perDir));
}
