// Fuzzing the parser with a seeded PRNG: thousands of mutated versions of
// valid .ir sources (truncations, swapped / dropped / duplicated tokens, random
// characters including control and non-ASCII ones, odd and huge numbers,
// splices of two sources). Each input must either parse into a module that
// verifies and prints back unchanged, or fail with an AmpcError whose code is
// in ERROR_CODES and whose place lies inside the input. Nothing else may
// escape (no chevrotain error, RangeError or TypeError).
// The seeds and mutators live in test/helpers/fuzz-mutations.ts, shared with
// the longer fuzz command (scripts/fuzz.ts, `npm run fuzz -- --n N`), which
// also runs the passes, lowering and the interpreter on what parses.
import test from 'ava';
import { AmpcError, ERROR_CODES, parseModule, printModule, verifyModule } from '../ir/index.ts';
import { DESIGN_EXAMPLE } from './helpers/design-example.ts';
import { makeFuzzer, mulberry32, NUMBERS, SEEDS, SMALL } from './helpers/fuzz-mutations.ts';

const SEED = 0x5eed_1234;
const { pick, mutators: MUTATORS, mutatorNames: MUTATOR_NAMES, mutate } = makeFuzzer(mulberry32(SEED));

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
        yield mutate(seed);
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
