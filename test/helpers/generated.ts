// Shared by the random_uniform / iota tests: an independent BigInt
// implementation of the hash of ir/random.ts (written from the formula, not
// from the code under test) and the dropout-like chain Dropout will emit.

import type { ExecutionContext } from 'ava';
import type { DType } from '../../ir/dtype.ts';
import { Graph } from '../../ir/graph.ts';
import type { Value } from '../../ir/graph.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { toArray } from '../../ir/interp/tensor.ts';

const M32 = (1n << 32n) - 1n;

/** pcg of Jarzynski & Olano 2020, in BigInt with explicit masking. */
export function pcgRef(v: bigint): bigint {
  const s = (v * 747796405n + 2891336453n) & M32;
  const w = (((s >> ((s >> 28n) + 4n)) ^ s) * 277803737n) & M32;
  return ((w >> 22n) ^ w) & M32;
}

/** The 32-bit hash of element `i`: k1 = pcg(seed ^ pcg(salt)), k2 = pcg(salt ^ pcg(seed)), pcg(pcg(i + k1) ^ k2). */
export function bitsRef(seed: number, salt: number, i: number): bigint {
  const k1 = pcgRef(BigInt(seed) ^ pcgRef(BigInt(salt)));
  const k2 = pcgRef(BigInt(salt) ^ pcgRef(BigInt(seed)));
  return pcgRef(pcgRef((BigInt(i) + k1) & M32) ^ k2);
}

/** random_uniform's value: the top 24 bits over 2^24. */
export function uniformRef(seed: number, salt: number, i: number): number {
  return Number(bitsRef(seed, salt, i) >> 8n) / 2 ** 24;
}

/** The one-round hash pcg(i + pcg(seed ^ pcg(salt))) that ir/random.ts rejects (its streams are shifts of each other). */
export function oneRoundRef(seed: number, salt: number, i: number): number {
  const k = pcgRef(BigInt(seed) ^ pcgRef(BigInt(salt)));
  return Number(pcgRef((BigInt(i) + k) & M32) >> 8n) / 2 ** 24;
}

/**
 * `where(random_uniform(seed) >= p, x, 0) * (1 / (1 - p))`, Dropout's chain,
 * over `x: dtype[shape]`; outputs the result (and the random values when
 * `withRandom`).
 */
export function dropoutChain(dtype: DType, shape: readonly number[], opts: { p?: number; salt?: number; withRandom?: boolean } = {}): Graph {
  const p = opts.p ?? 0.5;
  const g = new Graph('dropout');
  const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
  const x = g.addInput('x', { dtype, shape });
  const scalar = (value: number, d: DType): Value => g.add('constant', [], { value }, { declared: [{ dtype: d, shape: [] }] });
  const r = g.add('random_uniform', [seed], { shape: [...shape], salt: opts.salt ?? 0 }, { names: ['r'] });
  const keep = g.add('greater_equal', [r, scalar(p, 'f32')], {}, { names: ['keep'] });
  const kept = g.add('select', [keep, x, scalar(0, dtype)]);
  const y = g.add('mul', [kept, scalar(1 / (1 - p), dtype)], {}, { names: ['y'] });
  g.setOutputs(opts.withRandom ? [y, r] : [y]);
  return g;
}

/** u32 arithmetic a seed update needs: seed + 1 (wrapping), and u32 -> f32 -> u32 of f32-exact values. */
export function u32Graph(): { g: Graph; values: number[] } {
  const g = new Graph('u32');
  const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
  const v = g.addInput('v', { dtype: 'u32', shape: [6] });
  const one = g.add('constant', [], { value: 1 }, { declared: [{ dtype: 'u32', shape: [] }] });
  const asF = g.add('cast', [v], { to: 'f32' });
  g.setOutputs([g.add('add', [seed, one]), g.add('add', [v, one]), asF, g.add('cast', [asF], { to: 'u32' })]);
  return { g, values: [0, 1, 7, 2 ** 24, 2 ** 31, 2 ** 32 - 256] };
}

/** The results of u32Graph for `seed` and `values`. */
export function checkU32(t: ExecutionContext, out: readonly HostTensor[], seed: number, values: readonly number[]): void {
  t.deepEqual(toArray(out[0]!), [(seed + 1) % 2 ** 32]);
  t.deepEqual(toArray(out[1]!), values.map((v) => (v + 1) % 2 ** 32));
  t.deepEqual(toArray(out[2]!), [...values]);
  t.deepEqual(toArray(out[3]!), [...values]);
}
