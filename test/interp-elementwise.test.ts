// Reference interpreter, elementwise ops: f64 math with storeAs rounding,
// numpy broadcasting, WGSL integer semantics, casts, erf/GELU. Expected values
// are computed by hand (or are published constants), never by the interpreter.
import test from 'ava';
import type { DType } from '../ir/dtype.ts';
import type { OpName } from '../ir/ops.ts';
import type { AttrValue } from '../ir/attrs.ts';
import type { HostTensor, Nested } from '../ir/interp/tensor.ts';
import { fromNested, hostTensor, storeAs, toArray, toNested, floatToI32, floatToU32 } from '../ir/interp/tensor.ts';
import { evalOp } from '../ir/interp/interpret.ts';
import { erf, erfc } from '../ir/interp/math.ts';
import { near } from './helpers/near.ts';

const T = (dtype: DType, nested: Nested): HostTensor => fromNested(dtype, nested);

function run1(op: OpName, operands: HostTensor[], attrs: Record<string, AttrValue> = {}): HostTensor {
  return evalOp(op, operands, attrs)[0]!;
}

// ---------------------------------------------------------------- storeAs

test('storeAs f16 rounds to nearest even and overflows to inf', (t) => {
  t.is(storeAs('f16', 1 / 3), 0.333251953125);
  t.is(storeAs('f16', 0.1), 0.0999755859375);
  t.is(storeAs('f16', 65519), 65504);
  t.is(storeAs('f16', 65520), Infinity);
  t.is(storeAs('f16', -65520), -Infinity);
  t.is(storeAs('f16', 2049), 2048); // tie → even
  t.is(storeAs('f16', 2051), 2052); // tie → even
  t.is(storeAs('f16', 2 ** -24), 2 ** -24); // smallest subnormal
  t.is(storeAs('f16', 2 ** -25), 0); // tie between 0 and 2^-24 → 0
  t.is(storeAs('f16', 1.5 * 2 ** -25), 2 ** -24);
  t.true(Number.isNaN(storeAs('f16', NaN)));
});

test('storeAs f32 keeps the f64 value (no fround)', (t) => {
  t.is(storeAs('f32', 0.1), 0.1);
  t.is(storeAs('f32', 1 / 3), 1 / 3);
  t.is(storeAs('f32', 1e300), 1e300);
});

test('storeAs to integers truncates, saturates, NaN → 0; bool is x != 0', (t) => {
  t.is(storeAs('i32', 2.9), 2);
  t.is(storeAs('i32', -2.9), -2);
  t.is(storeAs('i32', 3e9), 2147483647);
  t.is(storeAs('i32', -3e9), -2147483648);
  t.is(storeAs('i32', NaN), 0);
  t.is(storeAs('i32', Infinity), 2147483647);
  t.is(storeAs('u32', -1), 0);
  t.is(storeAs('u32', 5.99), 5);
  t.is(storeAs('u32', 5e9), 4294967295);
  t.is(storeAs('u32', NaN), 0);
  t.is(storeAs('bool', 0), 0);
  t.is(storeAs('bool', -0), 0);
  t.is(storeAs('bool', NaN), 1);
  t.is(storeAs('bool', -0.5), 1);
  t.is(floatToI32(-0.5), 0);
  t.is(floatToU32(4294967295.5), 4294967295);
});

test('hostTensor stores through storeAs and checks the length', (t) => {
  const h = hostTensor('f16', [2], [0.1, 70000]);
  t.deepEqual(toArray(h), [0.0999755859375, Infinity]);
  t.true(h.data instanceof Float64Array);
  t.true(hostTensor('i32', [1], [1]).data instanceof Int32Array);
  t.true(hostTensor('u32', [1], [1]).data instanceof Uint32Array);
  t.true(hostTensor('bool', [1], [true]).data instanceof Uint8Array);
  t.throws(() => hostTensor('f32', [2, 2], [1, 2, 3]), { message: /needs 4 values, got 3/ });
  t.throws(() => fromNested('f32', [[1, 2], [3]]), { message: /ragged/ });
  t.deepEqual(toNested(T('bool', [[true, false]])), [[true, false]]);
  t.deepEqual(toNested(T('f32', 2.5)), 2.5);
});

// ---------------------------------------------------------------- erf

test('erf and erfc agree with published values to ~1e-15', (t) => {
  const cases: [number, number][] = [
    [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [2, 0.9953222650189527], [-3, -0.9999779095030014], [3.5, 0.9999992569016276], [-0.5, -0.5204998778130465],
  ];
  for (const [x, want] of cases) t.true(Math.abs(erf(x) - want) <= 2e-16 * Math.max(1, Math.abs(want)), `erf(${x}) = ${erf(x)}`);
  const tails: [number, number][] = [[1, 0.15729920705028513], [3, 2.2090496998585438e-5], [5, 1.5374597944280351e-12], [10, 2.088487583762545e-45]];
  for (const [x, want] of tails) t.true(Math.abs(erfc(x) - want) <= 3e-15 * want, `erfc(${x}) = ${erfc(x)}`);
  t.is(erf(Infinity), 1);
  t.is(erf(-Infinity), -1);
  t.is(erf(10), 1);
  t.is(erfc(-Infinity), 2);
  t.true(Number.isNaN(erf(NaN)));
});

// ---------------------------------------------------------------- unary

test('unary float math', (t) => {
  near(t, run1('exp', [T('f32', [0, 1, -Infinity, 1000])]), [1, Math.E, 0, Infinity]);
  near(t, run1('log', [T('f32', [1, Math.E, 0, -1])]), [0, 1, -Infinity, NaN]);
  near(t, run1('sqrt', [T('f32', [4, 2, 0, -1])]), [2, Math.SQRT2, 0, NaN]);
  near(t, run1('rsqrt', [T('f32', [4, 0.25, 0])]), [0.5, 2, Infinity]);
  near(t, run1('reciprocal', [T('f32', [4, 0, -0, -0.5])]), [0.25, Infinity, -Infinity, -2]);
  near(t, run1('tanh', [T('f32', [0, 100, -100])]), [0, 1, -1]);
  near(t, run1('neg', [T('f32', [1.5, -2])]), [-1.5, 2]);
  near(t, run1('abs', [T('f32', [-1.5, 2, -Infinity])]), [1.5, 2, Infinity]);
});

test('sigmoid is stable for large |x|', (t) => {
  near(t, run1('sigmoid', [T('f32', [0, 1, 1000, -1000, -30, NaN])]), [0.5, 0.7310585786300049, 1, 0, 9.3576229688393e-14, NaN], 1e-14);
});

test('relu keeps NaN, zeroes negatives; integer relu', (t) => {
  near(t, run1('relu', [T('f32', [-1, 0, 2.5, NaN, -Infinity, Infinity])]), [0, 0, 2.5, NaN, 0, Infinity]);
  t.deepEqual(toArray(run1('relu', [T('i32', [-5, 0, 7])])), [0, 0, 7]);
});

test('sin, cos and floor', (t) => {
  near(t, run1('sin', [T('f32', [0, Math.PI / 2, -Math.PI / 6])]), [0, 1, -0.5]);
  near(t, run1('cos', [T('f32', [0, Math.PI, Math.PI / 3])]), [1, -1, 0.5]);
  t.deepEqual([...run1('floor', [T('f32', [1.5, -1.5, 2, -0.25])]).data], [1, -2, 2, -1]);
});

test('tan, inverse and hyperbolic functions at known points', (t) => {
  near(t, run1('tan', [T('f32', [0, Math.PI / 4, -Math.PI / 3])]), [0, 1, -Math.sqrt(3)], 1e-14);
  near(t, run1('asin', [T('f32', [0, 0.5, -1])]), [0, Math.PI / 6, -Math.PI / 2], 1e-14);
  near(t, run1('acos', [T('f32', [1, 0.5, -1])]), [0, Math.PI / 3, Math.PI], 1e-14);
  near(t, run1('atan', [T('f32', [0, 1, -Math.sqrt(3)])]), [0, Math.PI / 4, -Math.PI / 3], 1e-14);
  // sinh(ln 2) = 3/4, cosh(ln 2) = 5/4; the inverses give ln 2 back.
  near(t, run1('sinh', [T('f32', [0, Math.LN2, -Math.LN2])]), [0, 0.75, -0.75], 1e-14);
  near(t, run1('cosh', [T('f32', [0, Math.LN2, -Math.LN2])]), [1, 1.25, 1.25], 1e-14);
  near(t, run1('asinh', [T('f32', [0, 0.75, -0.75])]), [0, Math.LN2, -Math.LN2], 1e-14);
  near(t, run1('acosh', [T('f32', [1, 1.25])]), [0, Math.LN2], 1e-14);
  near(t, run1('atanh', [T('f32', [0, 1 / 3, -1 / 3])]), [0, Math.LN2 / 2, -Math.LN2 / 2], 1e-14);
  t.true(Number.isNaN(run1('asin', [T('f32', [1.5])]).data[0]!));
  t.true(Number.isNaN(run1('acosh', [T('f32', [0.5])]).data[0]!));
  t.deepEqual([...run1('atanh', [T('f32', [1, -1])]).data], [Infinity, -Infinity]);
});

test('erf at published values', (t) => {
  // erf(0.5), erf(1), erf(2) from Abramowitz & Stegun table 7.1.
  near(t, run1('erf', [T('f32', [0, 0.5, -1, 2, 10])]), [0, 0.5204998778130465, -0.8427007929497149, 0.9953222650189527, 1], 1e-15);
  t.deepEqual([...run1('erf', [T('f32', [Infinity, -Infinity])]).data], [1, -1]);
});

test('round is half to even; ceil; sign keeps NaN and -0', (t) => {
  t.deepEqual([...run1('round', [T('f32', [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6, 3.5])]).data], [0, 2, 2, -0, -2, -2, 2, -3, 4]);
  t.true(Object.is(run1('round', [T('f32', [-0.5])]).data[0], -0));
  t.deepEqual([...run1('ceil', [T('f32', [1.5, -1.5, 2, -0.25])]).data], [2, -1, 2, -0]);
  const s = run1('sign', [T('f32', [3, -0.5, 0, -0, NaN, -Infinity])]).data;
  t.deepEqual([...s.slice(0, 3)], [1, -1, 0]);
  t.true(Object.is(s[3], -0));
  t.true(Number.isNaN(s[4]!));
  t.is(s[5], -1);
  t.deepEqual(toArray(run1('sign', [T('i32', [-7, 0, 9])])), [-1, 0, 1]);
});

test('isinf and isnan give bool', (t) => {
  const x = T('f32', [1, Infinity, -Infinity, NaN, 0]);
  const a = run1('isinf', [x]), b = run1('isnan', [x]);
  t.is(a.dtype, 'bool');
  t.deepEqual(toArray(a), [0, 1, 1, 0, 0]);
  t.deepEqual(toArray(b), [0, 0, 0, 1, 0]);
  t.deepEqual(toArray(run1('isinf', [T('f16', [65504, 70000])])), [0, 1]);
});

test('mod is C fmod: the sign of the dividend', (t) => {
  const r = run1('mod', [T('f32', [5.5, -5.5, 5.5, -5.5, 3, 1, 7, -0]), T('f32', [2, 2, -2, -2, 0, Infinity, 3.5, 3])]).data;
  t.deepEqual([...r.slice(0, 4)], [1.5, -1.5, 1.5, -1.5]);
  t.true(Number.isNaN(r[4]!));
  t.deepEqual([...r.slice(5, 7)], [1, 0]);
  t.true(Object.is(r[7], -0));
  t.deepEqual([...run1('mod', [T('f32', [[7], [-7]]), T('f32', [3, -3])]).data], [1, 1, -1, -1]);
});

test('gelu, erf form and tanh form', (t) => {
  near(t, run1('gelu', [T('f32', [1, -1, 2, -3, 0.5, 0])]),
    [0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.00404969409489031, 0.34573123063700656, 0], 1e-14);
  near(t, run1('gelu', [T('f32', [1, -1, 2, -3])], { approximate: 'tanh' }),
    [0.8411919906082768, -0.15880800939172324, 1.954597694087775, -0.0036373920817729943], 1e-14);
  near(t, run1('gelu', [T('f32', [Infinity, -Infinity, NaN])]), [Infinity, 0, NaN]);
  // f16 result: gelu(1) = 0.84134... rounds to the f16 0.84130859375
  t.deepEqual(toArray(run1('gelu', [T('f16', [1])])), [0.84130859375]);
});

test('integer neg and abs wrap like two\'s complement', (t) => {
  t.deepEqual(toArray(run1('neg', [T('i32', [5, -2147483648, 0])])), [-5, -2147483648, 0]);
  t.deepEqual(toArray(run1('abs', [T('i32', [-5, -2147483648, 7])])), [5, -2147483648, 7]);
});

// ---------------------------------------------------------------- binary

test('binary arithmetic with numpy broadcasting', (t) => {
  const a = T('f32', [[1], [2]]); // [2,1]
  const b = T('f32', [10, 20, 30]); // [3]
  const s = run1('add', [a, b]);
  t.deepEqual(s.shape, [2, 3]);
  t.deepEqual(toNested(s), [[11, 21, 31], [12, 22, 32]]);
  t.deepEqual(toNested(run1('sub', [a, b])), [[-9, -19, -29], [-8, -18, -28]]);
  t.deepEqual(toNested(run1('mul', [b, a])), [[10, 20, 30], [20, 40, 60]]);
  t.deepEqual(toNested(run1('div', [b, a])), [[10, 20, 30], [5, 10, 15]]);
  const sc = run1('mul', [T('f32', 2), T('f32', [[1, 2], [3, 4]])]);
  t.deepEqual(toNested(sc), [[2, 4], [6, 8]]);
  const r3 = run1('add', [T('f32', [[[1, 2]]]), T('f32', [[10], [20], [30]])]); // [1,1,2] + [3,1] → [1,3,2]
  t.deepEqual(r3.shape, [1, 3, 2]);
  t.deepEqual(toNested(r3), [[[11, 12], [21, 22], [31, 32]]]);
});

test('f32 arithmetic is f64 (no fround); f16 rounds every stored result', (t) => {
  t.deepEqual(toArray(run1('add', [T('f32', [0.1]), T('f32', [0.2])])), [0.1 + 0.2]);
  t.deepEqual(toArray(run1('div', [T('f16', [1]), T('f16', [3])])), [0.333251953125]);
  // f16(0.1) + f16(0.2) = 0.2999267578125, a tie between f16 neighbours → 0.2998046875
  t.deepEqual(toArray(run1('add', [T('f16', [0.1]), T('f16', [0.2])])), [0.2998046875]);
  t.deepEqual(toArray(run1('add', [T('f16', [2048]), T('f16', [1])])), [2048]);
  t.deepEqual(toArray(run1('mul', [T('f16', [256]), T('f16', [256])])), [Infinity]);
  t.deepEqual(toArray(run1('add', [T('f16', [65504]), T('f16', [16])])), [Infinity]); // 65520 → inf
  t.deepEqual(toArray(run1('add', [T('f16', [65504]), T('f16', [15])])), [65504]);
});

test('float division by zero is IEEE', (t) => {
  near(t, run1('div', [T('f32', [1, -1, 0]), T('f32', [0, 0, 0])]), [Infinity, -Infinity, NaN]);
});

test('maximum and minimum propagate NaN', (t) => {
  near(t, run1('maximum', [T('f32', [1, NaN, 3, -0.5]), T('f32', [2, 0, NaN, -1])]), [2, NaN, NaN, -0.5]);
  near(t, run1('minimum', [T('f32', [1, NaN, 3, -0.5]), T('f32', [2, 0, NaN, -1])]), [1, NaN, NaN, -1]);
  t.deepEqual(toArray(run1('maximum', [T('i32', [-3, 4]), T('i32', [2])])), [2, 4]);
  t.deepEqual(toArray(run1('minimum', [T('u32', [3, 4000000000]), T('u32', [3500000000])])), [3, 3500000000]);
});

test('pow, with C special cases', (t) => {
  near(t, run1('pow', [T('f32', [2, 4, -2, 1, NaN, 0, -8, -1]), T('f32', [10, 0.5, 3, NaN, 0, -1, 1 / 3, Infinity])]),
    [1024, 2, -8, 1, 1, Infinity, NaN, 1]);
  t.deepEqual(toArray(run1('pow', [T('f16', [2]), T('f16', [16])])), [Infinity]);
});

test('i32 arithmetic wraps', (t) => {
  const i = (v: number[]) => T('i32', v);
  t.deepEqual(toArray(run1('add', [i([2147483647, -2147483648]), i([1, -1])])), [-2147483648, 2147483647]);
  t.deepEqual(toArray(run1('sub', [i([-2147483648, 0]), i([1, -2147483648])])), [2147483647, -2147483648]);
  t.deepEqual(toArray(run1('mul', [i([65536, 2147483647, -7]), i([65536, 2, 3])])), [0, -2, -21]);
});

test('u32 arithmetic wraps', (t) => {
  const u = (v: number[]) => T('u32', v);
  t.deepEqual(toArray(run1('sub', [u([0, 5]), u([1, 3])])), [4294967295, 2]);
  t.deepEqual(toArray(run1('add', [u([4294967295]), u([1])])), [0]);
  t.deepEqual(toArray(run1('mul', [u([4294967295, 65536]), u([2, 65536])])), [4294967294, 0]);
});

test('integer division truncates toward zero; x / 0 = x; MIN / -1 = MIN', (t) => {
  const i = (v: number[]) => T('i32', v);
  t.deepEqual(toArray(run1('div', [i([7, -7, 7, -7, 5, -5, 0, -2147483648, 1]), i([2, 2, -2, -2, 0, 0, 0, -1, 3])])),
    [3, -3, -3, 3, 5, -5, 0, -2147483648, 0]);
  const u = (v: number[]) => T('u32', v);
  t.deepEqual(toArray(run1('div', [u([7, 7, 4294967295, 1]), u([2, 0, 2, 3])])), [3, 7, 2147483647, 0]);
});

// ---------------------------------------------------------------- compare and select

test('comparisons return bool, broadcast, and are false for NaN', (t) => {
  const a = T('f32', [1, 2, NaN, 3]);
  const b = T('f32', [2]);
  const eq = run1('equal', [a, b]);
  t.is(eq.dtype, 'bool');
  t.true(eq.data instanceof Uint8Array);
  t.deepEqual(toNested(eq), [false, true, false, false]);
  t.deepEqual(toNested(run1('less', [a, b])), [true, false, false, false]);
  t.deepEqual(toNested(run1('greater', [a, b])), [false, false, false, true]);
  t.deepEqual(toNested(run1('less_equal', [a, b])), [true, true, false, false]);
  t.deepEqual(toNested(run1('greater_equal', [a, b])), [false, true, false, true]);
  t.deepEqual(toNested(run1('equal', [T('f32', [NaN]), T('f32', [NaN])])), [false]);
  t.deepEqual(toNested(run1('equal', [T('f32', [0]), T('f32', [-0])])), [true]);
  t.deepEqual(toNested(run1('less', [T('i32', [[-1], [1]]), T('i32', [0, 2])])), [[true, true], [false, true]]);
  t.deepEqual(toNested(run1('greater', [T('u32', [4294967295]), T('u32', [0])])), [true]);
});

test('select broadcasts its three operands', (t) => {
  const c = T('bool', [[true], [false]]); // [2,1]
  const a = T('f32', [1, 2, 3]); // [3]
  const b = T('f32', -1); // []
  const r = run1('select', [c, a, b]);
  t.deepEqual(r.shape, [2, 3]);
  t.deepEqual(toNested(r), [[1, 2, 3], [-1, -1, -1]]);
  near(t, run1('select', [T('bool', [true, false]), T('f32', [NaN, 1]), T('f32', [5, NaN])]), [NaN, NaN]);
  t.deepEqual(toNested(run1('select', [T('bool', [false, true]), T('bool', [true, true]), T('bool', [false, false])])), [false, true]);
});

// ---------------------------------------------------------------- cast and constant

test('cast float → integers truncates and saturates; NaN → 0', (t) => {
  const x = T('f32', [2.7, -2.7, 3e9, -3e9, NaN, Infinity, -Infinity, -0.9]);
  t.deepEqual(toArray(run1('cast', [x], { to: 'i32' })), [2, -2, 2147483647, -2147483648, 0, 2147483647, -2147483648, 0]);
  t.deepEqual(toArray(run1('cast', [x], { to: 'u32' })), [2, 0, 3e9, 0, 0, 4294967295, 0, 0]);
});

test('cast → bool is x != 0 (NaN → true); bool → numbers is 0/1', (t) => {
  t.deepEqual(toNested(run1('cast', [T('f32', [0, -0, NaN, 0.1, -Infinity])], { to: 'bool' })), [false, false, true, true, true]);
  t.deepEqual(toNested(run1('cast', [T('i32', [0, -3])], { to: 'bool' })), [false, true]);
  t.deepEqual(toArray(run1('cast', [T('bool', [true, false])], { to: 'f32' })), [1, 0]);
  t.deepEqual(toArray(run1('cast', [T('bool', [true, false])], { to: 'i32' })), [1, 0]);
  t.deepEqual(toArray(run1('cast', [T('bool', [true])], { to: 'f16' })), [1]);
});

test('cast between i32 and u32 keeps the bits; to f16 rounds', (t) => {
  t.deepEqual(toArray(run1('cast', [T('i32', [-1, 5, -2147483648])], { to: 'u32' })), [4294967295, 5, 2147483648]);
  t.deepEqual(toArray(run1('cast', [T('u32', [4294967295, 2147483648])], { to: 'i32' })), [-1, -2147483648]);
  t.deepEqual(toArray(run1('cast', [T('f32', [0.1, 70000, 1 / 3])], { to: 'f16' })), [0.0999755859375, Infinity, 0.333251953125]);
  t.deepEqual(toArray(run1('cast', [T('i32', [2049, 65519])], { to: 'f16' })), [2048, 65504]);
  // f16 → f32 is exact; f16 → i32 truncates
  t.deepEqual(toArray(run1('cast', [T('f16', [0.1])], { to: 'f32' })), [0.0999755859375]);
  t.deepEqual(toArray(run1('cast', [T('f16', [-2.5])], { to: 'i32' })), [-2]);
});

test('constant splats its value in the declared type', (t) => {
  const c = evalOp('constant', [], { value: 0.5 }, [{ dtype: 'f32', shape: [2, 2] }])[0]!;
  t.deepEqual(c.shape, [2, 2]);
  t.deepEqual(toNested(c), [[0.5, 0.5], [0.5, 0.5]]);
  t.deepEqual(toArray(evalOp('constant', [], { value: 0.1 }, [{ dtype: 'f16', shape: [3] }])[0]!), [0.0999755859375, 0.0999755859375, 0.0999755859375]);
  t.deepEqual(toArray(evalOp('constant', [], { value: -7 }, [{ dtype: 'i32', shape: [1] }])[0]!), [-7]);
  t.deepEqual(toNested(evalOp('constant', [], { value: 1 }, [{ dtype: 'bool', shape: [] }])[0]!), true);
  const inf = evalOp('constant', [], { value: -Infinity }, [{ dtype: 'f32', shape: [] }])[0]!;
  t.deepEqual(toArray(inf), [-Infinity]);
});
