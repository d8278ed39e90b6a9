// Elementwise ONNX ops: unary math, binary arithmetic and comparisons (numpy
// broadcasting, as the IR's binary ops), variadic Max/Min/Sum/Mean, Where,
// boolean logic (as selects on bool constants), Cast/CastLike, Clip, and the
// activations that are exact compositions of IR ops (LeakyRelu, Elu, Selu,
// Celu, HardSigmoid, HardSwish, Softplus, Softsign, ThresholdedRelu, PRelu).
// On integer constants (shape arithmetic) they are evaluated at import.

import type { Value } from '../../../ir/graph.ts';
import type { OpName } from '../../../ir/ops.ts';
import type { NodeCtx } from '../context.ts';
import { castTarget, irDtype } from '../context.ts';
import { castTo, elementwise } from '../fold.ts';
import type { ConstTensor, ElemType } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { allIntegral, asDtype, lit, val } from './types.ts';

/** Integer fold of an elementwise op (result typed like input 0, or bool). */
function intFold(fn: (...xs: number[]) => number, bool = false) {
  return (_c: NodeCtx, ins: readonly (ConstTensor | undefined)[]): ConstTensor[] | undefined => {
    if (!allIntegral(ins)) return undefined;
    const ts = ins.filter((t): t is ConstTensor => t !== undefined);
    return [elementwise(ts, bool ? 'bool' : ts[0]!.type, fn)];
  };
}

const unary = (op: OpName, fold?: (x: number) => number): OpMapping => ({
  map: (c) => val(c.add(op, [c.value(0)])),
  ...(fold ? { fold: intFold(fold) } : {}),
});

/** Operand 1 in operand 0's dtype (ONNX Pow allows an integer exponent). */
function pair(c: NodeCtx): [Value, Value] {
  const a = c.value(0), b = c.value(1);
  return [a, asDtype(c, b, a.type.dtype)];
}

const binary = (op: OpName, fold: (a: number, b: number) => number): OpMapping => ({
  map: (c) => val(c.add(op, pair(c))),
  fold: intFold(fold),
});

/** Comparisons; bools are compared as i32 (the IR compares numbers). */
const compare = (op: OpName, fold: (a: number, b: number) => boolean): OpMapping => ({
  map: (c) => {
    let [a, b] = pair(c);
    if (a.type.dtype === 'bool') [a, b] = [asDtype(c, a, 'i32'), asDtype(c, b, 'i32')];
    return val(c.add(op, [a, b]));
  },
  fold: intFold((a, b) => (fold(a, b) ? 1 : 0), true),
});

/** Variadic ops folded left: Max, Min, Sum. */
const variadic = (op: OpName, fold: (a: number, b: number) => number): OpMapping => ({
  map: (c) => {
    let acc = c.value(0);
    for (let i = 1; i < (c.node.input ?? []).length; i++) acc = c.add(op, [acc, c.value(i)]);
    return val(acc);
  },
  fold: intFold((...xs) => xs.reduce(fold)),
});

const boolConst = (c: NodeCtx, v: boolean): Value => c.scalar(v ? 1 : 0, 'bool');
const not = (c: NodeCtx, x: Value): Value => c.add('select', [x, boolConst(c, false), boolConst(c, true)]);

/** select(x < 0, neg(x), pos(x)) for the piecewise activations. */
function piecewise(c: NodeCtx, neg: (x: Value) => Value, pos: (x: Value) => Value, strict = true): Value {
  const x = c.value(0);
  const cond = c.add(strict ? 'less' : 'less_equal', [x, lit(c, x, 0)]);
  return c.add('select', [cond, neg(x), pos(x)]);
}

function castMap(c: NodeCtx, to: ElemType): Value {
  const x = c.value(0);
  return asDtype(c, x, irDtype(to, `${c.op} to ${to}`));
}

function clampBetween(c: NodeCtx, x: Value, lo: Value | undefined, hi: Value | undefined): Value {
  let y = x;
  if (lo) y = c.add('maximum', [y, lo]);
  if (hi) y = c.add('minimum', [y, hi]);
  return y;
}

export const ELEMENTWISE_OPS: Record<string, OpMapping> = {
  Neg: unary('neg', (x) => -x),
  Abs: unary('abs', Math.abs),
  Exp: unary('exp'),
  Log: unary('log'),
  Sqrt: unary('sqrt'),
  Reciprocal: unary('reciprocal'),
  Tanh: unary('tanh'),
  Sigmoid: unary('sigmoid'),
  Relu: unary('relu', (x) => Math.max(x, 0)),
  Sin: unary('sin'),
  Cos: unary('cos'),
  Floor: unary('floor'),
  Ceil: unary('ceil'),
  Round: unary('round'),
  Sign: unary('sign', Math.sign),
  Tan: unary('tan'),
  Asin: unary('asin'),
  Acos: unary('acos'),
  Atan: unary('atan'),
  Sinh: unary('sinh'),
  Cosh: unary('cosh'),
  Asinh: unary('asinh'),
  Acosh: unary('acosh'),
  Atanh: unary('atanh'),
  Erf: unary('erf'),
  IsNaN: { map: (c) => val(c.add('isnan', [c.value(0)])) },
  IsInf: {
    // detect_negative / detect_positive (default 1) narrow the test to one sign.
    map: (c) => {
      const x = c.value(0);
      const neg = c.int('detect_negative', 1) !== 0, pos = c.int('detect_positive', 1) !== 0;
      const inf = c.add('isinf', [x]);
      if (neg && pos) return val(inf);
      if (!neg && !pos) return val(c.add('select', [inf, boolConst(c, false), boolConst(c, false)]));
      return val(c.add('select', [inf, c.add(pos ? 'greater' : 'less', [x, lit(c, x, 0)]), boolConst(c, false)]));
    },
  },
  Identity: { map: (c) => [c.entry(0)], fold: (_c, ins) => [ins[0]!] },

  Add: binary('add', (a, b) => a + b),
  Sub: binary('sub', (a, b) => a - b),
  Mul: binary('mul', (a, b) => a * b),
  // ONNX integer division truncates toward zero (as C and WGSL do).
  Div: binary('div', (a, b) => Math.trunc(a / b)),
  Pow: { map: (c) => val(c.add('pow', pair(c))) },
  // fmod=1: C's fmod (the IR's mod); fmod=0 (integers only in the spec; floats too here): the sign of the
  // divisor (Python's %), fmod's remainder plus b where it is nonzero and of the other sign. Integers fold.
  Mod: {
    map: (c) => {
      const [a, b] = pair(c);
      if (a.type.dtype !== 'f32' && a.type.dtype !== 'f16') c.unsupported(`${a.type.dtype} operands must be known at import time`);
      const r = c.add('mod', [a, b]);
      if (c.int('fmod', 0) !== 0) return val(r);
      const zero = lit(c, r, 0);
      const bNeg = c.add('less', [b, lit(c, b, 0)]);
      const differ = c.add('select', [c.add('less', [r, zero]), not(c, bNeg), bNeg]);
      const fix = c.add('select', [c.add('equal', [r, zero]), boolConst(c, false), differ]);
      return val(c.add('select', [fix, c.add('add', [r, b]), r]));
    },
    fold: (c, ins) => {
      if (!allIntegral(ins)) return undefined;
      const f = c.int('fmod', 0) !== 0;
      return [elementwise([ins[0]!, ins[1]!], ins[0]!.type, (a, b) => {
        if (b === 0) return 0;
        const r = a % b;
        return f || r === 0 || (r < 0) === (b < 0) ? r : r + b;
      })];
    },
  },

  Equal: compare('equal', (a, b) => a === b),
  Less: compare('less', (a, b) => a < b),
  Greater: compare('greater', (a, b) => a > b),
  LessOrEqual: compare('less_equal', (a, b) => a <= b),
  GreaterOrEqual: compare('greater_equal', (a, b) => a >= b),

  Max: variadic('maximum', Math.max),
  Min: variadic('minimum', Math.min),
  Sum: variadic('add', (a, b) => a + b),
  Mean: {
    map: (c) => {
      const n = (c.node.input ?? []).length;
      let acc = c.value(0);
      for (let i = 1; i < n; i++) acc = c.add('add', [acc, c.value(i)]);
      return val(n === 1 ? acc : c.add('div', [acc, lit(c, acc, n)]));
    },
  },

  Where: {
    map: (c) => {
      const a = c.value(1);
      return val(c.add('select', [c.value(0), a, asDtype(c, c.value(2), a.type.dtype)]));
    },
    fold: (_c, ins) => (allIntegral(ins.slice(1)) ? [elementwise([ins[0]!, ins[1]!, ins[2]!], ins[1]!.type, (k, a, b) => (k ? a : b))] : undefined),
  },
  Not: { map: (c) => val(not(c, c.value(0))), fold: intFold((x) => (x ? 0 : 1), true) },
  And: { map: (c) => val(c.add('select', [c.value(0), c.value(1), boolConst(c, false)])), fold: intFold((a, b) => (a && b ? 1 : 0), true) },
  Or: { map: (c) => val(c.add('select', [c.value(0), boolConst(c, true), c.value(1)])), fold: intFold((a, b) => (a || b ? 1 : 0), true) },
  Xor: {
    map: (c) => {
      const b = c.value(1);
      return val(c.add('select', [c.value(0), not(c, b), b]));
    },
    fold: intFold((a, b) => (!!a !== !!b ? 1 : 0), true),
  },

  Cast: {
    map: (c) => val(castMap(c, castTarget(c, c.int('to', 0)))),
    fold: (c, ins) => {
      c.ignore('saturate');
      return [castTo(ins[0]!, castTarget(c, c.int('to', 0)))];
    },
  },
  CastLike: {
    map: (c) => val(castMap(c, c.elem(1))),
    fold: (c, ins) => [castTo(ins[0]!, ins[1]!.type)],
  },

  Clip: {
    map: (c) => {
      const x = c.value(0);
      if (c.opset < 11) {
        const lo = c.float('min', -Infinity), hi = c.float('max', Infinity);
        return val(clampBetween(c, x, lo === -Infinity ? undefined : lit(c, x, lo), hi === Infinity ? undefined : lit(c, x, hi)));
      }
      return val(clampBetween(c, x, c.has(1) ? c.value(1) : undefined, c.has(2) ? c.value(2) : undefined));
    },
  },

  LeakyRelu: {
    map: (c) => {
      const alpha = c.float('alpha', 0.01);
      return val(piecewise(c, (x) => c.add('mul', [x, lit(c, x, alpha)]), (x) => x));
    },
  },
  PRelu: {
    map: (c) => {
      const slope = c.value(1);
      return val(piecewise(c, (x) => c.add('mul', [x, asDtype(c, slope, x.type.dtype)]), (x) => x));
    },
  },
  Elu: {
    map: (c) => {
      const alpha = c.float('alpha', 1);
      return val(piecewise(c, (x) => c.add('mul', [lit(c, x, alpha), c.add('sub', [c.add('exp', [x]), lit(c, x, 1)])]), (x) => x));
    },
  },
  Selu: {
    map: (c) => {
      const alpha = c.float('alpha', 1.67326319217681884765625), gamma = c.float('gamma', 1.05070102214813232421875);
      const y = piecewise(c, (x) => c.add('sub', [c.add('mul', [lit(c, x, alpha), c.add('exp', [x])]), lit(c, x, alpha)]), (x) => x, false);
      return val(c.add('mul', [y, lit(c, y, gamma)]));
    },
  },
  Celu: {
    // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    map: (c) => {
      const alpha = c.float('alpha', 1);
      const x = c.value(0);
      const e = c.add('mul', [lit(c, x, alpha), c.add('sub', [c.add('exp', [c.add('div', [x, lit(c, x, alpha)])]), lit(c, x, 1)])]);
      return val(c.add('add', [c.add('maximum', [x, lit(c, x, 0)]), c.add('minimum', [e, lit(c, x, 0)])]));
    },
  },
  HardSigmoid: {
    map: (c) => {
      const alpha = c.float('alpha', 0.2), beta = c.float('beta', 0.5);
      const x = c.value(0);
      const y = c.add('add', [c.add('mul', [x, lit(c, x, alpha)]), lit(c, x, beta)]);
      return val(clampBetween(c, y, lit(c, x, 0), lit(c, x, 1)));
    },
  },
  HardSwish: {
    map: (c) => {
      const x = c.value(0);
      const y = c.add('add', [c.add('mul', [x, lit(c, x, 1 / 6)]), lit(c, x, 0.5)]);
      return val(c.add('mul', [x, clampBetween(c, y, lit(c, x, 0), lit(c, x, 1))]));
    },
  },
  Softplus: {
    map: (c) => {
      const x = c.value(0);
      return val(c.add('log', [c.add('add', [c.add('exp', [x]), lit(c, x, 1)])]));
    },
  },
  Softsign: {
    map: (c) => {
      const x = c.value(0);
      return val(c.add('div', [x, c.add('add', [c.add('abs', [x]), lit(c, x, 1)])]));
    },
  },
  ThresholdedRelu: {
    map: (c) => {
      const alpha = c.float('alpha', 1);
      const x = c.value(0);
      return val(c.add('select', [c.add('greater', [x, lit(c, x, alpha)]), x, lit(c, x, 0)]));
    },
  },
};
