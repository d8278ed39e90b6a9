// Vjp rules of the elementwise ops: unary math, binary arithmetic with numpy
// broadcasting undone (reduce_sum over the broadcast axes, then a reshape to
// the operand's shape), select and cast. Rules reuse the forward result where
// that is cheaper (exp' = y, tanh' = 1 - y², sigmoid' = y(1 - y)).
//
// Kinks: relu'(0) = 0, abs'(0) = 0 (sign); maximum / minimum split the
// gradient evenly between equal operands (as PyTorch), like reduce_max does
// among equal elements.

import type { Value } from '../../ir/graph.ts';
import type { GradBuilder, VjpRule } from './builder.ts';

/** A unary rule from dx = f(g, x, y). */
function unaryRule(f: (b: GradBuilder, g: Value, x: Value, y: Value) => Value): VjpRule {
  return ({ b, g, x, y }) => [f(b, g, x[0]!, y[0]!)];
}

/** sign(x) as 0/±1 of x's dtype: cast(x > 0) - cast(x < 0). */
function signOf(b: GradBuilder, x: Value): Value {
  const zero = b.constant(0, x.type.dtype);
  const d = x.type.dtype;
  return b.sub(b.maskAs(b.op('greater', [x, zero]), d), b.maskAs(b.op('less', [x, zero]), d));
}

export const neg: VjpRule = unaryRule((b, g) => b.neg(g));
export const abs: VjpRule = unaryRule((b, g, x) => b.mul(g, signOf(b, x)));
export const exp: VjpRule = unaryRule((b, g, _x, y) => b.mul(g, y));
export const log: VjpRule = unaryRule((b, g, x) => b.div(g, x));
/** d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y. */
export const sqrt: VjpRule = unaryRule((b, g, _x, y) => b.div(b.scale(g, 0.5), y));
/** d x^(-1/2) = -0.5 x^(-3/2) = -0.5 · y / x. */
export const rsqrt: VjpRule = unaryRule((b, g, x, y) => b.scale(b.mul(g, b.div(y, x)), -0.5));
/** d (1/x) = -1/x² = -y². */
export const reciprocal: VjpRule = unaryRule((b, g, _x, y) => b.neg(b.mul(b.mul(g, y), y)));
/** tanh' = 1 - y². */
export const tanh: VjpRule = unaryRule((b, g, _x, y) => b.mul(g, b.sub(b.constant(1, y.type.dtype), b.mul(y, y))));
/** sin' = cos. */
export const sin: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('cos', [x])));
/** cos' = -sin. */
export const cos: VjpRule = unaryRule((b, g, x) => b.neg(b.mul(g, b.op('sin', [x]))));
/** floor' = 0 wherever it is differentiable (as PyTorch). */
export const floor: VjpRule = unaryRule((b, g) => b.zerosLike(g));
/** tan' = 1 + y². */
export const tan: VjpRule = unaryRule((b, g, _x, y) => b.mul(g, b.add(b.constant(1, y.type.dtype), b.mul(y, y))));
/** 1 - x², x² - 1 or 1 + x² (the radicands and denominators of the inverse functions). */
const oneMinusSq = (b: GradBuilder, x: Value) => b.sub(b.constant(1, x.type.dtype), b.mul(x, x));
const sqMinusOne = (b: GradBuilder, x: Value) => b.sub(b.mul(x, x), b.constant(1, x.type.dtype));
const onePlusSq = (b: GradBuilder, x: Value) => b.add(b.mul(x, x), b.constant(1, x.type.dtype));
/** asin' = 1 / √(1 - x²). */
export const asin: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('rsqrt', [oneMinusSq(b, x)])));
/** acos' = -1 / √(1 - x²). */
export const acos: VjpRule = unaryRule((b, g, x) => b.neg(b.mul(g, b.op('rsqrt', [oneMinusSq(b, x)]))));
/** atan' = 1 / (1 + x²). */
export const atan: VjpRule = unaryRule((b, g, x) => b.div(g, onePlusSq(b, x)));
/** sinh' = cosh. */
export const sinh: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('cosh', [x])));
/** cosh' = sinh. */
export const cosh: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('sinh', [x])));
/** asinh' = 1 / √(x² + 1). */
export const asinh: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('rsqrt', [onePlusSq(b, x)])));
/** acosh' = 1 / √(x² - 1). */
export const acosh: VjpRule = unaryRule((b, g, x) => b.mul(g, b.op('rsqrt', [sqMinusOne(b, x)])));
/** atanh' = 1 / (1 - x²). */
export const atanh: VjpRule = unaryRule((b, g, x) => b.div(g, oneMinusSq(b, x)));
/** erf' = 2/√π · e^(-x²). */
export const erf: VjpRule = unaryRule((b, g, x) => b.mul(g, b.scale(b.op('exp', [b.neg(b.mul(x, x))]), 2 / Math.sqrt(Math.PI))));
/** round', ceil', sign' = 0 wherever they are differentiable (as floor and PyTorch). */
export const round: VjpRule = unaryRule((b, g) => b.zerosLike(g));
export const ceil: VjpRule = unaryRule((b, g) => b.zerosLike(g));
export const sign: VjpRule = unaryRule((b, g) => b.zerosLike(g));
/** sigmoid' = y (1 - y). */
export const sigmoid: VjpRule = unaryRule((b, g, _x, y) => b.mul(b.mul(g, y), b.sub(b.constant(1, y.type.dtype), y)));
/**
 * g where x > 0, else 0 (relu'(0) = 0). The mask is taken from y = relu(x)
 * (y > 0 exactly where x > 0; NaN and -0 included), as PyTorch's
 * threshold_backward does, so the backward keeps the activation alive rather
 * than the pre-activation as well (and fusion writes one tensor, not two).
 */
export const relu: VjpRule = unaryRule((b, g, _x, y) => {
  const zero = b.constant(0, y.type.dtype);
  return b.op('select', [b.op('greater', [y, zero]), g, zero]);
});
export const gelu: VjpRule = ({ b, g, x, attrs }) => [b.op('gelu_grad', [x[0]!, g], { approximate: attrs.approximate })];

// ---------------------------------------------------------------- binary

/** A binary rule from the cotangents (of the broadcast result's shape); broadcasting is undone here. */
function binaryRule(f: (b: GradBuilder, g: Value, a: Value, c: Value, y: Value, needs: readonly boolean[]) => [Value | undefined, Value | undefined]): VjpRule {
  return ({ b, g, x, y, needs }) => {
    const [a, c] = x as [Value, Value];
    const [da, dc] = f(b, g, a, c, y[0]!, needs);
    return [da && needs[0] ? b.sumTo(da, a.type.shape) : undefined, dc && needs[1] ? b.sumTo(dc, c.type.shape) : undefined];
  };
}

export const add: VjpRule = binaryRule((_b, g) => [g, g]);
export const sub: VjpRule = binaryRule((b, g, _a, _c, _y, needs) => [g, needs[1] ? b.neg(g) : undefined]);
export const mul: VjpRule = binaryRule((b, g, a, c, _y, needs) => [needs[0] ? b.mul(g, c) : undefined, needs[1] ? b.mul(g, a) : undefined]);
/** y = a / c: da = g / c, dc = -g · a / c² = -(g · y) / c. */
export const div: VjpRule = binaryRule((b, g, _a, c, y, needs) => [
  needs[0] ? b.div(g, c) : undefined,
  needs[1] ? b.neg(b.div(b.mul(g, y), c)) : undefined,
]);
/** y = a^c: da = g · c · a^(c-1), dc = g · y · log(a). */
export const pow: VjpRule = binaryRule((b, g, a, c, y, needs) => [
  needs[0] ? b.mul(b.mul(g, c), b.op('pow', [a, b.sub(c, b.constant(1, c.type.dtype))])) : undefined,
  needs[1] ? b.mul(b.mul(g, y), b.op('log', [a])) : undefined,
]);

/**
 * y = fmod(a, c) = a - trunc(a / c) · c: da = g, dc = -g · trunc(a / c), with the quotient
 * taken as (a - y) / c (exact where y is; as PyTorch's fmod, the jumps get no gradient).
 */
export const mod: VjpRule = binaryRule((b, g, a, c, y, needs) => [
  needs[0] ? g : undefined,
  needs[1] ? b.neg(b.mul(g, b.div(b.sub(a, y), c))) : undefined,
]);

/**
 * maximum / minimum: the operand that wins takes the gradient; equal
 * operands take half each. `wins` is greater (maximum) or less (minimum).
 */
function extremum(wins: 'greater' | 'less'): VjpRule {
  return binaryRule((b, g, a, c) => {
    const d = g.type.dtype;
    const weight = b.add(b.maskAs(b.op(wins, [a, c]), d), b.scale(b.maskAs(b.op('equal', [a, c]), d), 0.5));
    const ga = b.mul(g, weight);
    return [ga, b.sub(g, ga)];
  });
}
export const maximum: VjpRule = extremum('greater');
export const minimum: VjpRule = extremum('less');

/** select %c, %a, %b: a gets g where c, b gets g elsewhere; the condition gets nothing. */
export const select: VjpRule = ({ b, g, x, needs }) => {
  const [c, a, e] = x as [Value, Value, Value];
  const zero = b.constant(0, g.type.dtype);
  return [
    undefined,
    needs[1] ? b.sumTo(b.op('select', [c, g, zero]), a.type.shape) : undefined,
    needs[2] ? b.sumTo(b.op('select', [c, zero, g]), e.type.shape) : undefined,
  ];
};

/**
 * cast between floats: the cotangent is cast back to the operand's dtype.
 * (The driver never calls this for integer or bool operands or results:
 * those carry no gradient.)
 */
export const cast: VjpRule = ({ b, g, x }) => {
  const to = x[0]!.type.dtype;
  return [g.type.dtype === to ? g : b.op('cast', [g], { to })];
};
