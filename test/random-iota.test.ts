// random_uniform and iota on the reference interpreter and through the
// passes: known hash values (from an independent BigInt implementation of
// the formula, test/helpers/generated.ts), the statistics of the streams
// along the index and across seeds and salts, error codes, tracing, autodiff
// through a dropout mask, precision and fusion; u32 seed arithmetic.
import test from 'ava';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { evalOp, interpret } from '../ir/interp/interpret.ts';
import { hostTensor, scalar, toArray } from '../ir/interp/tensor.ts';
import { pcgHash } from '../ir/random.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { add, cast, f32, greaterEqual, iota, mean, randomUniform, trace, u32, where } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { fuseGraph } from '../passes/fusion.ts';
import { assignPrecision } from '../passes/precision.ts';
import { errorOf } from './helpers/errors.ts';
import { checkU32, dropoutChain, oneRoundRef, pcgRef, u32Graph, uniformRef } from './helpers/generated.ts';

const N = 2 ** 16;

/** random_uniform's values for one (seed, salt) on the interpreter. */
function stream(seed: number, salt: number, shape: readonly number[] = [N]): Float64Array {
  const out = evalOp('random_uniform', [scalar('u32', seed)], { shape: [...shape], salt })[0]!;
  return out.data as Float64Array;
}

function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

function varianceOf(a: ArrayLike<number>): number {
  const m = meanOf(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return s / a.length;
}

function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = meanOf(a), mb = meanOf(b);
  let c = 0, va = 0, vb = 0;
  for (let i = 0; i < a.length; i++) {
    c += (a[i]! - ma) * (b[i]! - mb);
    va += (a[i]! - ma) ** 2;
    vb += (b[i]! - mb) ** 2;
  }
  return c / Math.sqrt(va * vb);
}

/** Pearson's chi-square statistic of `a` (values in [0, 1)) over `bins` equal bins. */
function chiSquare(a: ArrayLike<number>, bins = 64): number {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < a.length; i++) counts[Math.floor(a[i]! * bins)]!++;
  const e = a.length / bins;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}

/** The 99.9% point of chi-square with 63 degrees of freedom (64 bins): a uniform stream exceeds it one time in 1000. */
const CHI2_63_999 = 103.4;

/** How many j have a[j], a[j+1] equal to some b[k], b[k+1]: about a.length for shifted copies, ~0 for independent streams. */
function sharedPairs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const at = new Map<number, number[]>();
  for (let k = 0; k + 1 < b.length; k++) {
    const l = at.get(b[k]!);
    if (l) l.push(k);
    else at.set(b[k]!, [k]);
  }
  let shared = 0;
  for (let j = 0; j + 1 < a.length; j++) for (const k of at.get(a[j]!) ?? []) if (b[k + 1] === a[j + 1]) shared++;
  return shared;
}

// ---------------------------------------------------------------- the hash

test('pcg and random_uniform give the values of an independent BigInt implementation', (t) => {
  // pcg(0) by hand: s = 2891336453, s >> 28 = 10, w = ((s >> 14) ^ s) * 277803737 mod 2^32 = 129708028, (w >> 22) ^ w = 129708002.
  t.is(pcgRef(0n), 129708002n);
  t.is(pcgHash(0), 129708002);
  for (const v of [1, 42, 2 ** 31, 2 ** 32 - 1, 0x9e3779b9]) t.is(pcgHash(v), Number(pcgRef(BigInt(v))), `pcg(${v})`);
  // Pinned (from the BigInt implementation; a Python one agrees): the hash of (seed 0, salt 0, index 0) is 1976207875.
  t.is(uniformRef(0, 0, 0), (1976207875 >>> 8) / 2 ** 24);
  t.is(stream(0, 0, [1])[0], 0.460121750831604);
  const cases: [number, number, readonly number[]][] = [
    [0, 0, [4]], [42, 7, [3, 11]], [2 ** 32 - 1, 2 ** 32 - 1, [5]], [123456789, 1, [2, 2, 2]],
  ];
  for (const [seed, salt, shape] of cases) {
    const got = [...stream(seed, salt, shape)];
    t.deepEqual(got, got.map((_, i) => uniformRef(seed, salt, i)), `seed ${seed}, salt ${salt}`);
  }
  // A high index: element 100000 of a longer stream.
  t.is(stream(2 ** 32 - 1, 2 ** 32 - 1, [100001])[100000], uniformRef(2 ** 32 - 1, 2 ** 32 - 1, 100000));
  t.is(stream(42, 7, [])[0], uniformRef(42, 7, 0), 'a scalar is element 0');
});

test('values are 24-bit fractions in [0, 1), exact in f32', (t) => {
  const a = stream(1234, 0);
  let lo = 1, hi = 0;
  for (const x of a) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
    if (!Number.isInteger(x * 2 ** 24) || Math.fround(x) !== x) return t.fail(`${x} is not k / 2^24`);
  }
  t.true(lo >= 0 && hi < 1, `range [${lo}, ${hi}]`);
  t.true(lo < 1e-3 && hi > 1 - 1e-3, `range [${lo}, ${hi}] covers [0, 1)`);
});

test('statistics along the index: mean, variance, chi-square over 64 bins, serial correlation', (t) => {
  for (const [seed, salt] of [[1234, 0], [0, 0], [7, 99], [2 ** 32 - 1, 5]] as const) {
    const a = stream(seed, salt);
    const what = `seed ${seed}, salt ${salt}`;
    t.true(Math.abs(meanOf(a) - 0.5) < 0.005, `${what}: mean ${meanOf(a)}`);
    // The variance estimate of 2^16 uniform values has a standard deviation of about 3e-4.
    t.true(Math.abs(varianceOf(a) - 1 / 12) < 0.002, `${what}: variance ${varianceOf(a)}`);
    t.true(chiSquare(a) < CHI2_63_999, `${what}: chi-square ${chiSquare(a)}`);
    t.true(Math.abs(corr(a.subarray(0, N - 1), a.subarray(1))) < 0.02, `${what}: lag-1 correlation`);
  }
});

test('statistics across seeds and across salts at one index (no element is fixed by its index)', (t) => {
  // Element i of the streams of seeds 0..2^16-1 (and of salts 0..2^16-1) must be uniform too:
  // a key schedule where element 0 of every salt-0 stream was the same value fails this.
  for (const [i, salt] of [[0, 0], [1, 0], [0, 3], [70000, 0]] as const) {
    const a = Float64Array.from({ length: N }, (_, s) => uniformRef(s, salt, i));
    t.true(chiSquare(a) < CHI2_63_999, `index ${i}, salt ${salt}, over seeds: chi-square ${chiSquare(a)}`);
  }
  const bySalt = Float64Array.from({ length: N }, (_, salt) => uniformRef(0, salt, 0));
  t.true(chiSquare(bySalt) < CHI2_63_999, `index 0, seed 0, over salts: chi-square ${chiSquare(bySalt)}`);
  // The interpreter agrees with the reference on a few of those.
  for (const s of [0, 1, 2, 65535]) t.is(stream(s, 0, [1])[0], uniformRef(s, 0, 0));
});

test('different seeds and different salts give uncorrelated streams', (t) => {
  const base = stream(1234, 0);
  for (const [seed, salt] of [[1235, 0], [1233, 0], [1234, 1], [1234, 2], [0, 1234], [1, 0]] as const) {
    const r = corr(base, stream(seed, salt));
    t.true(Math.abs(r) < 0.02, `seed ${seed}, salt ${salt}: correlation ${r}`);
  }
  t.not(stream(5, 0, [1])[0], stream(5, 1, [1])[0]);
});

test('adjacent seeds are not shifted copies of each other', (t) => {
  for (const seed of [0, 1, 1000, 2 ** 32 - 2]) {
    const a = stream(seed, 0), b = stream(seed + 1, 0);
    t.is(sharedPairs(b, a), 0, `seeds ${seed} and ${seed + 1}`);
  }
  // With one round, pcg(i + pcg(seed ^ pcg(salt))), seeds 1163 and 2838 give the same stream 14 elements apart.
  const n = 4096;
  const one = (seed: number, from: number) => Float64Array.from({ length: n }, (_, i) => oneRoundRef(seed, 0, i + from));
  t.deepEqual(one(1163, 0), one(2838, 14), 'the one-round hash this formula replaces');
  const a = stream(1163, 0, [n]), b = stream(2838, 0, [n + 14]).subarray(14);
  t.is(sharedPairs(a, stream(2838, 0, [n + 14])), 0);
  t.true(Math.abs(corr(a, b)) < 0.05, `correlation ${corr(a, b)}`);
});

// ---------------------------------------------------------------- iota

test('iota: the index along an axis, negative axes, every dtype', (t) => {
  const run = (shape: number[], axis: number, dtype: DType = 'i32') => evalOp('iota', [], { shape, axis, dtype })[0]!;
  t.deepEqual(toArray(run([3, 4], 1)), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  t.deepEqual(toArray(run([3, 4], -1)), toArray(run([3, 4], 1)));
  t.deepEqual(toArray(run([3, 4], 0, 'u32')), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  t.deepEqual(toArray(run([2, 3, 2], -2, 'f32')), [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
  t.deepEqual(toArray(run([5], 0, 'f16')), [0, 1, 2, 3, 4]);
  // f16 holds large indices as a cast does: 2049 rounds to 2048 (ties to even), 2051 to 2052.
  const big = run([2052], 0, 'f16');
  t.deepEqual([big.data[2049], big.data[2050], big.data[2051]], [2048, 2050, 2052]);
  t.is(run([2052], 0, 'f16').dtype, 'f16');
  t.deepEqual(toArray(run([2, 1, 3], 1)), [0, 0, 0, 0, 0, 0]);
  t.deepEqual(run([0, 3], 1).shape, [0, 3]);
});

// ---------------------------------------------------------------- errors

test('errors: the seed must be u32[], salt a u32, axis in range, shapes non-negative, iota not bool', (t) => {
  const g = new Graph('e');
  const f = g.addInput('f', { dtype: 'f32', shape: [] });
  const v = g.addInput('v', { dtype: 'u32', shape: [1] });
  const s = g.addInput('s', { dtype: 'u32', shape: [] });
  const i = g.addInput('i', { dtype: 'i32', shape: [] });
  const code = (fn: () => unknown) => errorOf(fn).code;
  t.is(code(() => g.add('random_uniform', [f], { shape: [2] })), 'E0206');
  t.is(code(() => g.add('random_uniform', [i], { shape: [2] })), 'E0206');
  t.is(code(() => g.add('random_uniform', [v], { shape: [2] })), 'E0203');
  t.regex(errorOf(() => g.add('random_uniform', [v], { shape: [2] })).message, /seed must be a u32 scalar \(u32\[\]\), got u32\[1\]/);
  t.is(code(() => g.add('random_uniform', [s], { shape: [2], salt: -1 })), 'E0104');
  t.is(code(() => g.add('random_uniform', [s], { shape: [2], salt: 2 ** 32 })), 'E0104');
  t.is(code(() => g.add('random_uniform', [s], { shape: [2], salt: 0.5 })), 'E0102');
  t.is(code(() => g.add('random_uniform', [s], { shape: [-2] })), 'E0104');
  t.is(code(() => g.add('random_uniform', [s], {})), 'E0103');
  t.is(code(() => g.add('random_uniform', [], { shape: [2] })), 'E0303');
  g.add('random_uniform', [s], { shape: [2], salt: 2 ** 32 - 1 });
  t.is(code(() => g.add('iota', [], { shape: [3, 4], axis: 2 })), 'E0204');
  t.is(code(() => g.add('iota', [], { shape: [3, 4], axis: -3 })), 'E0204');
  t.is(code(() => g.add('iota', [], { shape: [], axis: 0 })), 'E0204');
  t.is(code(() => g.add('iota', [], { shape: [3], axis: 0, dtype: 'bool' })), 'E0206');
  t.is(code(() => g.add('iota', [], { shape: [3] })), 'E0103');
  t.is(code(() => g.add('iota', [s], { shape: [3], axis: 0 })), 'E0303');
  // In text, with the place of the op.
  const e = errorOf(() => parseModule('graph @g(%s: f32[]) -> (f32[2]) {\n  %r = random_uniform %s {shape = [2]} : f32[2]\n  return %r\n}', 'x.ir'));
  t.is(e.code, 'E0206');
  t.deepEqual(e.loc, { file: 'x.ir', line: 2, col: 8 });
  t.is(errorOf(() => parseModule('graph @g() -> (i32[2]) {\n  %r = iota {shape = [2], axis = 0} : f32[2]\n  return %r\n}')).code, 'E0301');
  // Through the tracer, at the caller's line.
  t.is(errorOf(() => trace((x) => randomUniform(x, [2]), [f32([])])).code, 'E0206');
  t.is(errorOf(() => trace((x) => randomUniform(x, [2], { salt: -3 }), [u32([])])).code, 'E0104');
  t.is(errorOf(() => trace((x) => randomUniform(x, [2], { dtype: 'f16' as 'f32' }), [u32([])])).code, 'E0206');
  t.is(errorOf(() => trace((x) => randomUniform(x, [2], { seed: 1 } as object), [u32([])])).code, 'E0101');
  t.is(errorOf(() => trace(() => iota([2, 2], 5), [])).code, 'E0204');
  t.is(errorOf(() => trace(() => iota([2, -2], 0), [])).code, 'E0006');
  t.is(errorOf(() => iota([2], 0)).code, 'E0501');
});

// ---------------------------------------------------------------- text, tracing, passes

test('text: both ops parse, print back unchanged and evaluate', (t) => {
  const text = [
    'graph @g(%seed: u32[]) -> (f32[4,8], i32[3,4], f16[3,4]) {',
    '  %r = random_uniform %seed {shape = [4, 8], salt = 7} : f32[4,8]',
    '  %i = iota {shape = [3, 4], axis = -1} : i32[3,4]',
    '  %h = iota {shape = [3, 4], axis = 0, dtype = f16} : f16[3,4]',
    '  return %r, %i, %h',
    '}',
    '',
  ].join('\n');
  const g = parseModule(text).main;
  t.is(printGraph(g), text);
  const [r, i, h] = interpret(g, { seed: scalar('u32', 42) });
  t.deepEqual([...r!.data], Array.from({ length: 32 }, (_, k) => uniformRef(42, 7, k)));
  t.deepEqual(toArray(i!), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  t.deepEqual(toArray(h!), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
});

test('a traced function using both ops (a causal-style mask of random values) and the seed update', (t) => {
  const g = trace((seed) => {
    const r = randomUniform(seed, [4, 6], { salt: 3 });
    const causal = iota([4, 6], 1).lessEqual(iota([4, 6], 0));
    return [r, where(causal, r, 0), add(seed, 1)];
  }, [u32([], 'seed')]);
  verifyGraph(g);
  t.deepEqual(g.nodes.filter((n) => n.op === 'random_uniform' || n.op === 'iota').map((n) => [n.op, n.attrs]), [
    ['random_uniform', { shape: [4, 6], salt: 3 }],
    ['iota', { shape: [4, 6], axis: 1, dtype: 'i32' }],
    ['iota', { shape: [4, 6], axis: 0, dtype: 'i32' }],
  ]);
  const [r, m, next] = interpret(g, { seed: scalar('u32', 9) });
  t.deepEqual([...r!.data], Array.from({ length: 24 }, (_, k) => uniformRef(9, 3, k)));
  t.deepEqual([...m!.data], Array.from({ length: 24 }, (_, k) => (k % 6 <= Math.floor(k / 6) ? uniformRef(9, 3, k) : 0)));
  // The next step's seed: the 1 becomes a u32 constant, and the sum wraps.
  t.deepEqual([next!.dtype, toArray(next!)], ['u32', [10]]);
  t.deepEqual(toArray(interpret(g, { seed: scalar('u32', 2 ** 32 - 1) })[2]!), [0]);
});

test('autodiff: the gradient of mean(x * (random_uniform(seed) >= 0.5)) is the mask / N', (t) => {
  const shape = [4, 8], n = 32;
  const g = trace((seed, x) => mean(x.mul(cast(greaterEqual(randomUniform(seed, shape), 0.5), 'f32'))), [u32([], 'seed'), f32(shape, { name: 'x', param: true })]);
  const grad = gradientGraph(g);
  verifyGraph(grad);
  t.is(grad.nodes.filter((nd) => nd.op === 'random_uniform').length, 1, 'the mask is computed once, forward');
  const x = hostTensor('f32', shape, Array.from({ length: n }, (_, k) => k - 10));
  for (const seed of [0, 77, 2 ** 32 - 1]) {
    const [loss, dx] = interpret(grad, { seed: scalar('u32', seed), x });
    const mask = Array.from({ length: n }, (_, k) => (uniformRef(seed, 0, k) >= 0.5 ? 1 : 0));
    t.deepEqual([...dx!.data], mask.map((m) => m / n), `seed ${seed}`);
    t.is(loss!.data[0], mask.reduce<number>((s, m, k) => s + m * (k - 10), 0) / n);
  }
});

test('AMP keeps random_uniform f32 with no cast on its seed; iota keeps its dtype', (t) => {
  const g = dropoutChain('f32', [4, 8], { withRandom: true });
  const iotaOut = g.add('iota', [], { shape: [4, 8], axis: 1, dtype: 'f32' });
  g.setOutputs([...g.outputs, g.add('less', [iotaOut, g.inputs[1]!])]);
  const { graph } = assignPrecision(g, {});
  verifyGraph(graph);
  const r = graph.nodes.find((n) => n.op === 'random_uniform')!;
  t.is(r.results[0]!.type.dtype, 'f32');
  t.is(r.operands[0], graph.inputs[0], 'the seed is read as it is');
  t.regex(r.note ?? '', /f32: deny\(random_uniform\)/);
  t.is(graph.nodes.find((n) => n.op === 'iota')!.results[0]!.type.dtype, 'f32');
  t.false(graph.nodes.some((n) => n.op === 'cast' && n.operands[0]!.type.dtype === 'u32'));
  // A node override makes a float iota f16 (as it does a one_hot).
  const name = g.nodes.find((n) => n.op === 'iota')!.results[0]!;
  name.name = 'pos';
  const over = assignPrecision(g, { ampNodes: { pos: 'f16' } }).graph;
  t.is(over.nodes.find((n) => n.op === 'iota')!.results[0]!.type.dtype, 'f16');
});

test('fusion: the dropout chain is one kernel, random_uniform inside, with the values of the unfused graph', (t) => {
  for (const dtype of ['f32', 'f16'] as const) {
    const g = dropoutChain(dtype, [5, 13], { withRandom: false });
    const { graph, stats } = fuseGraph(g);
    verifyGraph(graph);
    t.is(stats.kernelsAfter, 1, printGraph(graph));
    const fused = graph.nodes.find((n) => n.op === 'fused')!;
    t.deepEqual(fused.body!.nodes.filter((n) => n.op !== 'constant').map((n) => n.op), ['random_uniform', 'greater_equal', 'select', 'mul']);
    const inputs = { seed: scalar('u32', 31), x: hostTensor(dtype, [5, 13], Array.from({ length: 65 }, (_, k) => (k % 7) - 3.5)) };
    t.deepEqual(interpret(graph, inputs).map((o) => [...o.data]), interpret(g, inputs).map((o) => [...o.data]));
  }
  // iota fuses into a mask chain too.
  const m = new Graph('mask');
  const x = m.addInput('x', { dtype: 'f32', shape: [6, 6] });
  const keep = m.add('less_equal', [m.add('iota', [], { shape: [6, 6], axis: 1 }), m.add('iota', [], { shape: [6, 6], axis: 0 })]);
  m.setOutputs([m.add('select', [keep, x, m.add('constant', [], { value: -Infinity }, { declared: [{ dtype: 'f32', shape: [] }] })])]);
  const fm = fuseGraph(m);
  t.is(fm.stats.kernelsAfter, 1);
  const xs = { x: hostTensor('f32', [6, 6], Array.from({ length: 36 }, (_, k) => k)) };
  t.deepEqual([...interpret(fm.graph, xs)[0]!.data], [...interpret(m, xs)[0]!.data]);
});

// ---------------------------------------------------------------- u32 seed arithmetic

test('u32 seed arithmetic: add wraps mod 2^32; casts to f32 and back keep exact values', (t) => {
  const { g, values } = u32Graph();
  for (const seed of [0, 41, 2 ** 32 - 1]) {
    checkU32(t, interpret(g, { seed: scalar('u32', seed), v: hostTensor('u32', [6], values) }), seed, values);
  }
  t.deepEqual(toArray(evalOp('cast', [hostTensor('f32', [3], [-1, 4294967296, 2.75])], { to: 'u32' })[0]!), [0, 4294967295, 2]);
});
