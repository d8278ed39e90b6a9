// Fuzzing the parser with a seeded PRNG: thousands of mutated versions of
// valid .ir sources (truncations, swapped / dropped / duplicated tokens, random
// characters including control and non-ASCII ones, odd and huge numbers,
// splices of two sources). Each input must either parse into a module that
// verifies and prints back unchanged, or fail with an AmpcError whose code is
// in ERROR_CODES and whose place lies inside the input. Nothing else may
// escape (no chevrotain error, RangeError or TypeError).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AmpcError, ERROR_CODES, parseModule, printModule, verifyModule } from '../ir/index.ts';
import { DESIGN_EXAMPLE } from './helpers/design-example.ts';

/** mulberry32: a tiny seeded PRNG giving floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 0x5eed_1234;
const rand = mulberry32(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

// ---------------------------------------------------------------- seed inputs

const SMALL = `graph @g(%x: f32[2,3] {param}, %l: i32[2]) -> (f32[], f32[2,3]) {
  %c = constant {value = -0.5} : f32[]
  %0 = mul %x, %c : f32[2,3]
  %1 = cross_entropy %0, %l {reduction = "sum"} : f32[]
  %t = transpose %0 {perm = [1, 0]} : f32[3,2]
  %r = reshape %t {shape = [2, 3]} : f32[2,3]
  return %1, %r
}
graph @h() -> () { return }
`;

const goldenDir = fileURLToPath(new URL('./golden/roundtrip/', import.meta.url));
const GOLDEN = readdirSync(goldenDir)
  .filter((f) => f.endsWith('.ir'))
  .sort()
  .flatMap((f) => readFileSync(goldenDir + f, 'utf8').split(/^\/\/ -----$/m))
  .filter((chunk) => !chunk.includes('expected-error'));

const SEEDS = [DESIGN_EXAMPLE, SMALL, ...GOLDEN];

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

const CHARS = [
  ...'{}[](),:=%@"-+.eE0123456789_ azAZ\t\n\r#$\\/;',
  '\u0000', '\u0007', '\u001b', '\u007f', '\u00a0', 'é', 'ß', '\u2028', '\ufeff', '\u{1F600}', '\ud800', '\u4e2d', 'ｆ',
];

const NUMBERS = [
  '0', '1', '-1', '-0', '00', '007', '1.5', '-2.5', '1e-7', '1e30', '-1e30', '1e309', '1.5E+30', '99999999999', '2147483647',
  '2147483648', '4294967296', '9007199254740993', '100000000000000000000000', 'nan', 'inf', '-inf', '0.0', '5e-324',
];

const WORDS = ['graph', 'return', 'param', 'f32', 'f16', 'i32', 'u32', 'bool', 'f64', 'true', 'false', 'matmul', 'relu', 'constant',
  'batch_norm', 'acc', 'axis', 'perm', 'shape', '%0', '%x', '%new', '@g', '@mlp', '->', '[]', '{}', '"tanh"', '[[1]]'];

type Mutator = (src: string) => string;

const MUTATORS: Record<string, Mutator> = {
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

const MUTATOR_NAMES = Object.keys(MUTATORS);

// ---------------------------------------------------------------- the property

const ERROR_CODE_SET = new Set(Object.keys(ERROR_CODES));

/** Checks one input; returns a description of the problem, or undefined. Counts outcomes in `stats`. */
function checkInput(src: string, stats: Map<string, number>): string | undefined {
  const bump = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  let mod;
  try {
    mod = parseModule(src, 'fuzz.ir');
  } catch (e) {
    if (!(e instanceof AmpcError)) return `threw a non-AmpcError: ${(e as Error)?.stack ?? String(e)}`;
    bump(e.code);
    if (!ERROR_CODE_SET.has(e.code)) return `unknown error code ${e.code}`;
    const loc = e.loc;
    if (!loc) return `error without a place: ${e.message}`;
    if (loc.file !== 'fuzz.ir') return `error placed in another file: ${e.message}`;
    const lines = src.split(/\r\n|\r|\n/);
    if (!Number.isInteger(loc.line) || !Number.isInteger(loc.col) || loc.line < 1 || loc.col < 1) return `bad place: ${e.message}`;
    if (loc.line > lines.length || loc.col > lines[loc.line - 1]!.length + 1) return `place outside the input: ${e.message}`;
    return undefined;
  }
  bump('ok');
  try {
    verifyModule(mod);
    const once = printModule(mod);
    const twice = printModule(parseModule(once, 'printed.ir'));
    if (once !== twice) return `round trip changed the text:\n${once}\n---\n${twice}`;
  } catch (e) {
    return `parsed, but verify/print/reparse failed: ${(e as Error)?.stack ?? String(e)}`;
  }
  return undefined;
}

function run(inputs: Iterable<string>): { count: number; failures: string[]; stats: Map<string, number> } {
  const stats = new Map<string, number>();
  const failures: string[] = [];
  let count = 0;
  for (const src of inputs) {
    count++;
    const why = checkInput(src, stats);
    if (why && failures.length < 10) failures.push(`input ${JSON.stringify(src)}\n  ${why}`);
  }
  return { count, failures, stats };
}

function summary(stats: Map<string, number>): string {
  return [...stats.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(' ');
}

// ---------------------------------------------------------------- tests

test('the seeds themselves parse, verify and round-trip', (t) => {
  const { failures, stats } = run(SEEDS);
  t.deepEqual(failures, []);
  t.is(stats.get('ok'), SEEDS.length);
});

test('truncations at every offset of two sources', (t) => {
  function* inputs() {
    for (const s of [DESIGN_EXAMPLE, SMALL]) for (let i = 0; i <= s.length; i++) yield s.slice(0, i);
  }
  const { count, failures, stats } = run(inputs());
  t.log(`${count} truncations: ${summary(stats)}`);
  t.deepEqual(failures, []);
});

test('random mutations of every seed', (t) => {
  const PER_SEED = 300;
  function* inputs() {
    for (const seed of SEEDS) {
      for (let i = 0; i < PER_SEED; i++) {
        let s = seed;
        const rounds = 1 + int(3);
        for (let r = 0; r < rounds; r++) s = MUTATORS[pick(MUTATOR_NAMES)]!(s);
        yield s;
      }
    }
  }
  const started = Date.now();
  const { count, failures, stats } = run(inputs());
  t.log(`${count} mutated inputs in ${Date.now() - started} ms (seed ${SEED}): ${summary(stats)}`);
  t.deepEqual(failures, []);
  t.true((stats.get('ok') ?? 0) > 0, 'some mutations still parse');
});

test('each mutator on its own, with numbers in every shape', (t) => {
  function* inputs() {
    for (const name of MUTATOR_NAMES) {
      for (let i = 0; i < 150; i++) yield MUTATORS[name]!(pick(SEEDS));
    }
    // every number of NUMBERS in every extent of the small source
    const spots = [...SMALL.matchAll(/\b[0-9]+\b/g)];
    for (const m of spots) for (const n of NUMBERS) yield SMALL.slice(0, m.index) + n + SMALL.slice(m.index! + m[0].length);
  }
  const { count, failures, stats } = run(inputs());
  t.log(`${count} inputs: ${summary(stats)}`);
  t.deepEqual(failures, []);
});

test('pathological inputs stay fast and give placed errors', (t) => {
  const big = (n: number) => `graph @g(%x: f32[${Array(n).fill(1).join(',')}]) -> () { return }`;
  const chain = (n: number) => {
    const lines = ['graph @chain(%x: f32[2]) -> (f32[2]) {', '  %0 = relu %x : f32[2]'];
    for (let i = 1; i < n; i++) lines.push(`  %${i} = neg %${i - 1} : f32[2]`);
    lines.push(`  return %${n - 1}`, '}');
    return lines.join('\n');
  };
  const inputs = [
    `graph @g(%x: f32[4]) -> (f32[4]) { %0 = softmax %x {axis = ${'['.repeat(100000)}} : f32[4] return %0 }`,
    `graph @g(%x: f32[4]) -> (f32[4]) { %0 = softmax %x {axis = ${'['.repeat(30)}${']'.repeat(30)}} : f32[4] return %0 }`,
    '('.repeat(100000),
    '{'.repeat(100000),
    `graph @g(%x: f32[${'9'.repeat(10000)}]) -> () { return }`,
    big(5000),
    `graph @g(%x: f32[2147483647,2147483647,2147483647,2147483647]) -> (f32[2147483647,2147483647,2147483647,2147483647]) { return %x }`,
    `graph @g(%x: f32[65536,65536,65536,65536]) -> (f32[4294967296]) { %0 = reshape %x {shape = [4294967296]} : f32[4294967296] return %0 }`,
    `graph @g(%x: f32[65536,65536]) -> (f32[65536,65536]) { %0 = reshape %x {shape = [4294967296, 1, 1]} : f32[65536,65536] return %0 }`,
    `graph @g(%x: i32[4]) -> () { %0 = one_hot %x {classes = 99999999999} : f32[4,99999999999] return }`,
    chain(2000),
    `graph @g() -> () { return }\n`.repeat(2000),
    `"${'a'.repeat(100000)}`,
    `// ${'\u0000'.repeat(1000)}\n`,
  ];
  const started = Date.now();
  const { failures, stats } = run(inputs);
  const ms = Date.now() - started;
  t.log(`${inputs.length} pathological inputs in ${ms} ms: ${summary(stats)}`);
  t.deepEqual(failures, []);
  t.true(ms < 15000, `took ${ms} ms`);
});
