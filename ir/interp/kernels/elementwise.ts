// Elementwise kernels: unary math, binary arithmetic with numpy broadcasting
// (integer ops wrap and divide as WGSL does), comparisons, select, cast and
// constant splats.

import type { Attrs } from '../../attrs.ts';
import type { DType } from '../../dtype.ts';
import { isFloat, isInteger } from '../../dtype.ts';
import type { TensorType } from '../../types.ts';
import { numel, shapesEqual } from '../../types.ts';
import { erf as erfScalar, geluErf, geluTanh, powC, sigmoid } from '../math.ts';
import type { HostTensor } from '../tensor.ts';
import { allocData, storeAs } from '../tensor.ts';
import { broadcastOffsets, makeTensor } from './util.ts';

export type Kernel = (inputs: HostTensor[], attrs: Attrs, results: TensorType[]) => HostTensor[];

const I32_MIN = -2147483648;

// ---------------------------------------------------------------- unary

/** f applies to every element; the result has the type the op table derived. */
export function mapUnary(x: HostTensor, out: TensorType, f: (v: number) => number): HostTensor {
  const n = x.data.length;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = f(x.data[i]!);
  return makeTensor(out, values);
}

/** A unary kernel with a float form and, for ops that take integers, an integer form. */
function unary(float: (v: number) => number, int?: (v: number, d: DType) => number): Kernel {
  return ([x], _a, [out]) => {
    if (isFloat(x!.dtype) || !int) return [mapUnary(x!, out!, float)];
    const d = x!.dtype;
    return [mapUnary(x!, out!, (v) => int(v, d))];
  };
}

const wrap = (v: number, d: DType): number => (d === 'u32' ? v >>> 0 : v | 0);

export const neg = unary((v) => -v, (v, d) => wrap(-v, d));
// abs of the most negative i32 is itself (two's complement), as in WGSL.
export const abs = unary(Math.abs, (v, d) => wrap(Math.abs(v), d));
export const exp = unary(Math.exp);
export const log = unary(Math.log);
export const sqrt = unary(Math.sqrt);
export const rsqrt = unary((v) => 1 / Math.sqrt(v));
export const reciprocal = unary((v) => 1 / v);
export const tanh = unary(Math.tanh);
export const sin = unary(Math.sin);
export const cos = unary(Math.cos);
export const floor = unary(Math.floor);
export const tan = unary(Math.tan);
export const asin = unary(Math.asin);
export const acos = unary(Math.acos);
export const atan = unary(Math.atan);
export const sinh = unary(Math.sinh);
export const cosh = unary(Math.cosh);
export const asinh = unary(Math.asinh);
export const acosh = unary(Math.acosh);
export const atanh = unary(Math.atanh);
export const erf = unary(erfScalar);
/** Half to even: ties go to the even neighbour (Math.round sends them up). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
export const round = unary(roundHalfEven);
export const ceil = unary(Math.ceil);
// sign(NaN) = NaN and sign(-0) = -0 (numpy); Math.sign does both.
export const sign = unary(Math.sign, (v) => Math.sign(v));
export const isinf = unary((v) => (v === Infinity || v === -Infinity ? 1 : 0));
export const isnan = unary((v) => (Number.isNaN(v) ? 1 : 0));
export const sigmoidKernel = unary(sigmoid);
// relu(NaN) = NaN; relu(-0) = 0.
export const relu = unary((v) => (Number.isNaN(v) ? v : v > 0 ? v : 0), (v) => (v > 0 ? v : 0));

export const gelu: Kernel = ([x], a, [out]) => [mapUnary(x!, out!, a.approximate === 'tanh' ? geluTanh : geluErf)];

// ---------------------------------------------------------------- binary

/** f applies to the broadcast operands; the result has the type the op table derived. */
export function mapBroadcast(inputs: readonly HostTensor[], out: TensorType, f: (xs: number[]) => number): HostTensor {
  const n = numel(out.shape);
  const offsets = inputs.map((t) => (shapesEqual(t.shape, out.shape) ? null : broadcastOffsets(t.shape, out.shape)));
  const values = new Float64Array(n);
  const args = new Array<number>(inputs.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inputs.length; k++) {
      const o = offsets[k];
      args[k] = inputs[k]!.data[o ? o[i]! : i]!;
    }
    values[i] = f(args);
  }
  return makeTensor(out, values);
}

type Binary = (a: number, b: number) => number;

function binary(float: Binary, i32: Binary, u32: Binary): Kernel {
  return ([a, b], _attrs, [out]) => {
    const f = a!.dtype === 'i32' ? i32 : a!.dtype === 'u32' ? u32 : float;
    return [mapBroadcast([a!, b!], out!, (xs) => f(xs[0]!, xs[1]!))];
  };
}

/** WGSL i32 division: truncates toward zero; x / 0 = x; MIN / -1 = MIN. */
export function divI32(a: number, b: number): number {
  if (b === 0) return a;
  if (a === I32_MIN && b === -1) return a;
  return Math.trunc(a / b) | 0;
}

/** WGSL u32 division: truncates; x / 0 = x. */
export function divU32(a: number, b: number): number {
  return b === 0 ? a : Math.floor(a / b) >>> 0;
}

export const add = binary((a, b) => a + b, (a, b) => (a + b) | 0, (a, b) => (a + b) >>> 0);
export const sub = binary((a, b) => a - b, (a, b) => (a - b) | 0, (a, b) => (a - b) >>> 0);
export const mul = binary((a, b) => a * b, (a, b) => Math.imul(a, b), (a, b) => Math.imul(a, b) >>> 0);
export const div = binary((a, b) => a / b, divI32, divU32);
// NaN propagates (numpy maximum/minimum); Math.max/min do exactly that.
export const maximum = binary(Math.max, Math.max, Math.max);
export const minimum = binary(Math.min, Math.min, Math.min);
export const pow = binary(powC, powC, powC);
// JavaScript's % is C's fmod: the sign of the dividend, NaN for a zero divisor, a for an infinite one.
export const mod = binary((a, b) => a % b, (a, b) => a % b, (a, b) => a % b);

// ---------------------------------------------------------------- compare and select

function compare(f: (a: number, b: number) => boolean): Kernel {
  return ([a, b], _attrs, [out]) => [mapBroadcast([a!, b!], out!, (xs) => (f(xs[0]!, xs[1]!) ? 1 : 0))];
}

// Every comparison with NaN is false (IEEE), as JavaScript's operators give.
export const equal = compare((a, b) => a === b);
export const less = compare((a, b) => a < b);
export const greater = compare((a, b) => a > b);
export const lessEqual = compare((a, b) => a <= b);
export const greaterEqual = compare((a, b) => a >= b);

export const select: Kernel = ([c, a, b], _attrs, [out]) => [mapBroadcast([c!, a!, b!], out!, (xs) => (xs[0] !== 0 ? xs[1]! : xs[2]!))];

// ---------------------------------------------------------------- cast and constant

/**
 * One element converted from `from` to `to`: anything → bool is x != 0
 * (NaN → true); bool → number is 0/1; i32 ↔ u32 keeps the bits (WGSL);
 * everything else goes through storeAs (f16 rounds, float → int truncates
 * and saturates, NaN → 0).
 */
export function castValue(from: DType, to: DType, x: number): number {
  if (to === 'bool') return x !== 0 ? 1 : 0;
  if (isInteger(from) && isInteger(to)) return to === 'u32' ? x >>> 0 : x | 0;
  return storeAs(to, x);
}

export const cast: Kernel = ([x], _attrs, [out]) => {
  const from = x!.dtype, to = out!.dtype;
  const data = allocData(to, x!.data.length);
  for (let i = 0; i < data.length; i++) data[i] = castValue(from, to, x!.data[i]!);
  return [{ dtype: to, shape: [...out!.shape], data }];
};

export const constant: Kernel = (_inputs, a, [out]) => {
  const data = allocData(out!.dtype, numel(out!.shape));
  data.fill(storeAs(out!.dtype, a.value as number));
  return [{ dtype: out!.dtype, shape: [...out!.shape], data }];
};
