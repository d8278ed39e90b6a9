// The mutations of the .ir fuzzers, shared by test/fuzz.test.ts (bounded, in
// the suite) and scripts/fuzz.ts (`npm run fuzz -- --n N`, longer): valid
// seed sources (the design example, a small source, the round-trip goldens)
// and mutators that truncate, swap / drop / duplicate / replace tokens, insert
// or replace characters (control and non-ASCII ones too), delete ranges, put
// odd and huge numbers in, and splice two sources. Every random choice comes
// from the generator handed to `makeFuzzer`, so a seed gives the same inputs.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DESIGN_EXAMPLE } from './design-example.ts';

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- seed inputs

export const SMALL = `graph @g(%x: f32[2,3] {param}, %l: i32[2]) -> (f32[], f32[2,3]) {
  %c = constant {value = -0.5} : f32[]
  %0 = mul %x, %c : f32[2,3]
  %1 = cross_entropy %0, %l {reduction = "sum"} : f32[]
  %t = transpose %0 {perm = [1, 0]} : f32[3,2]
  %r = reshape %t {shape = [2, 3]} : f32[2,3]
  return %1, %r
}
graph @h() -> () { return }
`;

const goldenDir = fileURLToPath(new URL('../golden/roundtrip/', import.meta.url));
const GOLDEN = readdirSync(goldenDir)
  .filter((f) => f.endsWith('.ir'))
  .sort()
  .flatMap((f) => readFileSync(goldenDir + f, 'utf8').split(/^\/\/ -----$/m))
  .filter((chunk) => !chunk.includes('expected-error'));

/** The valid sources every mutation starts from. */
export const SEEDS: readonly string[] = [DESIGN_EXAMPLE, SMALL, ...GOLDEN];

// ---------------------------------------------------------------- mutations

const TOKEN_RE = /\/\/[^\n]*|%[A-Za-z0-9_.]+|@[A-Za-z0-9_.]+|->|-?[0-9][0-9.eE+-]*|[A-Za-z_][A-Za-z0-9_.]*|"(?:[^"\\\n]|\\.)*"|\s+|./gsu;

interface Tok {
  readonly text: string;
  readonly ws: boolean;
}

function tokens(src: string): Tok[] {
  return [...src.matchAll(TOKEN_RE)].map((m) => ({ text: m[0], ws: /^\s+$/.test(m[0]) }));
}

function solidIndices(ts: readonly Tok[]): number[] {
  return ts.flatMap((t, i) => (t.ws ? [] : [i]));
}

export const CHARS: readonly string[] = [
  ...'{}[](),:=%@"-+.eE0123456789_ azAZ\t\n\r#$\\/;',
  '\u0000', '\u0007', '\u001b', '\u007f', '\u00a0', 'é', 'ß', '\u2028', '\ufeff', '\u{1F600}', '\ud800', '\u4e2d', 'ｆ',
];

export const NUMBERS: readonly string[] = [
  '0', '1', '-1', '-0', '00', '007', '1.5', '-2.5', '1e-7', '1e30', '-1e30', '1e309', '1.5E+30', '99999999999', '2147483647',
  '2147483648', '4294967296', '9007199254740993', '100000000000000000000000', 'nan', 'inf', '-inf', '0.0', '5e-324',
];

export const WORDS: readonly string[] = ['graph', 'return', 'param', 'f32', 'f16', 'i32', 'u32', 'bool', 'f64', 'true', 'false', 'matmul', 'relu', 'constant',
  'batch_norm', 'acc', 'axis', 'perm', 'shape', '%0', '%x', '%new', '@g', '@mlp', '->', '[]', '{}', '"tanh"', '[[1]]'];

export type Mutator = (src: string) => string;

export interface Fuzzer {
  /** A whole number in [0, n). */
  readonly int: (n: number) => number;
  readonly pick: <T>(xs: readonly T[]) => T;
  readonly mutators: Readonly<Record<string, Mutator>>;
  readonly mutatorNames: readonly string[];
  /** `src` after 1 to 3 random mutations (the random-mutation case of the fuzzers). */
  readonly mutate: (src: string) => string;
}

/** The mutators, drawing every choice from `rand` (floats in [0, 1)). */
export function makeFuzzer(rand: () => number): Fuzzer {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

  const mutators: Record<string, Mutator> = {
    truncate: (s) => s.slice(0, int(s.length + 1)),
    swapTokens: (s) => {
      const ts = tokens(s);
      const solid = solidIndices(ts);
      if (solid.length < 2) return s;
      const k = int(solid.length - 1);
      const [i, j] = [solid[k]!, solid[k + 1]!];
      const out = ts.map((t) => t.text);
      [out[i], out[j]] = [out[j]!, out[i]!];
      return out.join('');
    },
    dropToken: (s) => {
      const ts = tokens(s);
      const solid = solidIndices(ts);
      if (!solid.length) return s;
      const i = pick(solid);
      return ts.map((t, k) => (k === i ? '' : t.text)).join('');
    },
    duplicateToken: (s) => {
      const ts = tokens(s);
      const solid = solidIndices(ts);
      if (!solid.length) return s;
      const i = pick(solid);
      return ts.map((t, k) => (k === i ? `${t.text}${rand() < 0.5 ? ' ' : ''}${t.text}` : t.text)).join('');
    },
    replaceToken: (s) => {
      const ts = tokens(s);
      const solid = solidIndices(ts);
      if (!solid.length) return s;
      const i = pick(solid);
      return ts.map((t, k) => (k === i ? pick(WORDS) : t.text)).join('');
    },
    insertChar: (s) => {
      const i = int(s.length + 1);
      return s.slice(0, i) + pick(CHARS) + s.slice(i);
    },
    replaceChar: (s) => {
      const i = int(s.length);
      return s.slice(0, i) + pick(CHARS) + s.slice(i + 1);
    },
    deleteRange: (s) => {
      const i = int(s.length);
      return s.slice(0, i) + s.slice(i + 1 + int(20));
    },
    number: (s) => {
      const spots = [...s.matchAll(/-?\b[0-9][0-9.eE+-]*/g)];
      if (!spots.length) return s;
      const m = pick(spots);
      return s.slice(0, m.index) + pick(NUMBERS) + s.slice(m.index! + m[0].length);
    },
    splice: (s) => {
      const other = pick(SEEDS);
      const i = int(s.length + 1);
      const j = int(other.length + 1);
      return s.slice(0, i) + other.slice(j);
    },
  };
  const mutatorNames = Object.keys(mutators);

  const mutate = (src: string): string => {
    let s = src;
    const rounds = 1 + int(3);
    for (let r = 0; r < rounds; r++) s = mutators[pick(mutatorNames)]!(s);
    return s;
  };

  return { int, pick, mutators, mutatorNames, mutate };
}
