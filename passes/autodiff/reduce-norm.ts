// Vjp rules of the reductions and normalizations, written with core ops.
// Reductions broadcast the cotangent back over the reduced axes (mean
// divides by the count; max sends it to the positions equal to the maximum,
// split evenly among ties, as PyTorch's amax). softmax and log_softmax use
// their forward result. layer_norm and batch_norm (training mode) recompute
// the statistics the forward op does not expose and share one backward:
//   x̂ = (x - mean) · rstd,  dx̂ = g · γ,
//   dx = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂))   (means over the normalized axes)
// batch_norm's running-statistic results carry no gradient.

import type { Value } from '../../ir/graph.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import { numel } from '../../ir/types.ts';
import type { GradBuilder, VjpRule } from './builder.ts';
import { axesExcept, keptShape, reducedAxes } from './builder.ts';

/** The cotangent of a reduction, reshaped to the kept shape (reduced axes of extent 1). */
function keptCotangent(b: GradBuilder, g: Value, x: Value, axes: readonly number[]): Value {
  return b.reshape(g, keptShape(x.type.shape, axes));
}

export const reduceSum: VjpRule = ({ b, g, x, attrs }) => {
  const axes = reducedAxes('reduce_sum', attrs, x[0]!.type.shape.length);
  return [b.broadcastTo(keptCotangent(b, g, x[0]!, axes), x[0]!.type.shape)];
};

export const reduceMean: VjpRule = ({ b, g, x, attrs }) => {
  const xs = x[0]!.type.shape;
  const axes = reducedAxes('reduce_mean', attrs, xs.length);
  const count = numel(axes.map((a) => xs[a]!));
  return [b.broadcastTo(b.scale(keptCotangent(b, g, x[0]!, axes), 1 / count), xs)];
};

/** dx = [x == max] · g / (number of elements equal to the max). */
/**
 * d prod / dx_i = the product of the other elements, exact where x has zeros (no prod / x_i):
 * with p the product of the row's nonzero elements and z its count of zeros, it is p / x_i where
 * z = 0, p at the zero where z = 1, and 0 everywhere else.
 */
export const reduceProd: VjpRule = ({ b, g, x, attrs }) => {
  const xv = x[0]!;
  const d = xv.type.dtype;
  const axes = reducedAxes('reduce_prod', attrs, xv.type.shape.length);
  const zero = b.constant(0, d), one = b.constant(1, d);
  const isZero = b.op('equal', [xv, zero]);
  const p = b.op('reduce_prod', [b.op('select', [isZero, one, xv])], { axes: [...axes], keepdims: true });
  const z = b.sum(b.maskAs(isZero, d), axes, true);
  const none = b.op('equal', [z, zero]);
  const single = b.op('select', [b.op('equal', [z, one]), isZero, b.constant(0, 'bool')]);
  const others = b.op('select', [none, b.div(p, b.op('select', [isZero, one, xv])), b.op('select', [single, b.broadcastTo(p, xv.type.shape), b.zerosLike(xv)])]);
  return [b.mul(others, keptCotangent(b, g, xv, axes))];
};

export const reduceMax: VjpRule = ({ b, g, x, y, attrs }) => {
  const xv = x[0]!;
  const d = xv.type.dtype;
  const axes = reducedAxes('reduce_max', attrs, xv.type.shape.length);
  const mask = b.maskAs(b.op('equal', [xv, keptCotangent(b, y[0]!, xv, axes)]), d);
  const count = b.sum(mask, axes, true);
  return [b.mul(mask, b.div(keptCotangent(b, g, xv, axes), count))];
};

/** dx = y · (g - sum(g · y, axis)). */
export const softmax: VjpRule = ({ b, g, y, attrs }) => {
  const yv = y[0]!;
  const axis = normalizeAxis('softmax', attrs.axis as number, yv.type.shape.length);
  return [b.mul(yv, b.sub(g, b.sum(b.mul(g, yv), [axis], true)))];
};

/** dx = g - exp(y) · sum(g, axis). */
export const logSoftmax: VjpRule = ({ b, g, y, attrs }) => {
  const yv = y[0]!;
  const axis = normalizeAxis('log_softmax', attrs.axis as number, yv.type.shape.length);
  return [b.sub(g, b.mul(b.op('exp', [yv]), b.sum(g, [axis], true)))];
};

/** Batch statistics over `axes` as the forward op computes them (biased variance). */
function normalize(b: GradBuilder, x: Value, axes: readonly number[], epsilon: number): { xhat: Value; rstd: Value } {
  const xc = b.sub(x, b.mean(x, axes, true));
  const variance = b.mean(b.mul(xc, xc), axes, true);
  const rstd = b.op('rsqrt', [b.add(variance, b.constant(epsilon, x.type.dtype))]);
  return { xhat: b.mul(xc, rstd), rstd };
}

/** dx of y = x̂ · γ + β where x̂ is normalized with batch statistics over `axes`. */
function normalizedInputGrad(b: GradBuilder, dxhat: Value, xhat: Value, rstd: Value, axes: readonly number[]): Value {
  const centered = b.sub(dxhat, b.mean(dxhat, axes, true));
  return b.mul(rstd, b.sub(centered, b.mul(xhat, b.mean(b.mul(dxhat, xhat), axes, true))));
}

/** layer_norm %x, %gamma, %beta {axis, epsilon}: normalized over axes axis..end. */
export const layerNorm: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [xv, gamma] = x as [Value, Value, Value];
  const rank = xv.type.shape.length;
  const axis = normalizeAxis('layer_norm', attrs.axis as number, rank);
  const normAxes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const outerAxes = axesExcept(rank, normAxes);
  const { xhat, rstd } = normalize(b, xv, normAxes, attrs.epsilon as number);
  return [
    needs[0] ? normalizedInputGrad(b, b.mul(g, gamma), xhat, rstd, normAxes) : undefined,
    needs[1] ? b.sum(b.mul(g, xhat), outerAxes) : undefined,
    needs[2] ? b.sum(g, outerAxes) : undefined,
  ];
};

/**
 * batch_norm %x, %gamma, %beta, %mean, %var over every axis but 1.
 * training: x̂ uses the batch statistics (dx flows through them); the
 * running mean and variance operands get no gradient (the forward y does not
 * use them), nor do the new running statistics (results 1 and 2).
 * inference: y = (x - mean) · γ · rstd + β with rstd = 1/sqrt(var + eps); the
 * running statistics are ordinary differentiable operands.
 */
export const batchNorm: VjpRule = ({ b, gs, x, attrs, needs }) => {
  const g = gs[0];
  if (!g) return [undefined, undefined, undefined, undefined, undefined];
  const [xv, gamma, , runMean, runVar] = x as [Value, Value, Value, Value, Value];
  const rank = xv.type.shape.length;
  const axes = axesExcept(rank, [1]);
  const chan = keptShape(xv.type.shape, axes); // [1, C, 1, ...]
  const gammaB = b.reshape(gamma, chan);
  const eps = attrs.epsilon as number;
  if (attrs.training) {
    const { xhat, rstd } = normalize(b, xv, axes, eps);
    return [
      needs[0] ? normalizedInputGrad(b, b.mul(g, gammaB), xhat, rstd, axes) : undefined,
      needs[1] ? b.sum(b.mul(g, xhat), axes) : undefined,
      needs[2] ? b.sum(g, axes) : undefined,
      undefined,
      undefined,
    ];
  }
  const d = xv.type.dtype;
  const rstd = b.op('rsqrt', [b.add(runVar, b.constant(eps, d))]); // [C]
  const rstdB = b.reshape(rstd, chan);
  const xc = b.sub(xv, b.reshape(runMean, chan));
  const gsum = needs[2] || needs[3] ? b.sum(g, axes) : undefined; // [C]
  const gxc = needs[1] || needs[4] ? b.sum(b.mul(g, xc), axes) : undefined; // [C]: Σ g · (x - mean)
  return [
    needs[0] ? b.mul(g, b.mul(gammaB, rstdB)) : undefined,
    needs[1] ? b.mul(gxc!, rstd) : undefined,
    needs[2] ? gsum : undefined,
    needs[3] ? b.neg(b.mul(gsum!, b.mul(gamma, rstd))) : undefined,
    // d/dvar of (x - m) · γ · (var + eps)^(-1/2) = -0.5 · (x - m) · γ · rstd³
    needs[4] ? b.scale(b.mul(b.mul(gxc!, gamma), b.mul(rstd, b.mul(rstd, rstd))), -0.5) : undefined,
  ];
};
