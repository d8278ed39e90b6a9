// Initial values of parameters and buffers from their specs, deterministically:
// `initialValues(spec, seed)` draws from a PRNG seeded by the seed and the
// state's name, so each parameter has its own stream and adding one does not
// shift the others. Defaults follow PyTorch: Linear and Conv2d weights and
// biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).

import { numel } from '../../types.ts';
import type { TensorType } from '../../types.ts';
import type { Init } from '../state.ts';
import { uniformInit } from '../state.ts';

/** PyTorch's default bound for Linear / Conv2d weights and biases. */
export function fanInInit(fanIn: number): Init {
  return uniformInit(fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0);
}

/** 32-bit FNV-1a hash of a string. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small, fast, seeded PRNG (sfc32) giving doubles in [0, 1) with 53 random bits. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, stream = '') {
    const s = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    this.#a = hashString(stream) ^ 0x9e3779b9;
    this.#b = s;
    this.#c = hi ^ 0x243f6a88;
    this.#d = 1;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

export interface InitSpec {
  readonly name: string;
  readonly type: TensorType;
  readonly init: Init;
}

/** The initial values of one parameter or buffer (row-major), deterministic in (name, seed). */
export function initialValues(spec: InitSpec, seed: number): Float64Array {
  const out = new Float64Array(numel(spec.type.shape));
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'uniform': {
      const rng = new Rng(seed, spec.name);
      for (let i = 0; i < out.length; i++) out[i] = (rng.next() * 2 - 1) * init.bound;
      break;
    }
    case 'normal': {
      // Box-Muller: two uniforms give two independent standard normals.
      const rng = new Rng(seed, spec.name);
      for (let i = 0; i < out.length; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - rng.next())), a = 2 * Math.PI * rng.next();
        out[i] = r * Math.cos(a) * init.std;
        if (i + 1 < out.length) out[i + 1] = r * Math.sin(a) * init.std;
      }
      break;
    }
    case 'bits': {
      const rng = new Rng(seed, spec.name);
      for (let i = 0; i < out.length; i++) out[i] = rng.nextUint32();
      break;
    }
    case 'values':
      if (init.data.length !== out.length) throw new Error(`initialValues: '${spec.name}' has ${init.data.length} given value(s), its shape needs ${out.length}`);
      for (let i = 0; i < out.length; i++) out[i] = init.data[i]!;
      break;
  }
  return out;
}
