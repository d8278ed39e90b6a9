// The counter-based random numbers of `random_uniform`: each element is a
// pure function of (seed, salt, row-major flat index), so the reference
// interpreter and every WGSL kernel (fused or not, any element order) give
// the same bits. Built from the PCG hash of Jarzynski & Olano, "Hash
// Functions for GPU Rendering" (JCGT 2020):
//
//   pcg(v)  = { s = v * 747796405 + 2891336453;
//               w = ((s >> ((s >> 28) + 4)) ^ s) * 277803737;
//               return (w >> 22) ^ w; }                      (u32, wrapping)
//   k1      = pcg(seed ^ pcg(salt))
//   k2      = pcg(salt ^ pcg(seed))
//   h(i)    = pcg(pcg(i + k1) ^ k2)
//   value   = f32(h(i) >> 8) * 2^-24                         (in [0, 1), exact in f32)
//
// Why two rounds and a second key, not just pcg(i + k1): with one round,
// every (seed, salt) stream is the one sequence pcg(0), pcg(1), ... read
// from offset k1, so two seeds whose k1 lie close are shifted copies of each
// other (among seeds 0..4095 at salt 0, 241 pairs are within 2^16 elements;
// seeds 1163 and 2838 are the same stream 14 elements apart). The outer
// round, keyed by k2, breaks that: within one salt (or one seed) different
// seeds (salts) give different k1 and different k2, so (seed, salt) ->
// (k1, k2) is one-to-one there, and no stream is a shift of another.
// Why k2 comes from the seed and the salt, not from k1: in every stream the
// element i* = pcg^-1(k2) - k1 is pcg(0); with k2 = pcg(k1 ^ salt), i* is 0
// for salt 0 whatever the seed (element 0 always 0.0302), so k2 = pcg(Y)
// needs a Y - k1 that no one can predict. test/random-iota.test.ts checks
// the statistics along the index and across seeds and salts at one index.
//
// JS has no u32 arithmetic: Math.imul multiplies mod 2^32 and `>>> 0`
// reinterprets as unsigned; sums of two u32 stay exact in f64.

/** The PCG hash of a u32 (returns a u32). */
export function pcgHash(v: number): number {
  const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The two keys of a (seed, salt) stream. */
export interface UniformKeys {
  readonly k1: number;
  readonly k2: number;
}

export function uniformKeys(seed: number, salt: number): UniformKeys {
  return { k1: pcgHash((seed ^ pcgHash(salt)) >>> 0), k2: pcgHash((salt ^ pcgHash(seed)) >>> 0) };
}

/** The 32-bit hash of element `index` of a stream. */
export function uniformBits(keys: UniformKeys, index: number): number {
  return pcgHash((pcgHash((index + keys.k1) >>> 0) ^ keys.k2) >>> 0);
}

/** The value of a hash: its top 24 bits as a fraction, in [0, 1) and exact in f32. */
export function uniformValue(bits: number): number {
  return (bits >>> 8) * 2 ** -24;
}

/** The largest salt (salts are u32). */
export const MAX_SALT = 2 ** 32 - 1;
