// Free functions for every op, for code written in the functional style
// (`add(a, b)`, `matmul(x, w, { transposeB: true })`, `softmax(x, -1)`).
// Operands may be traced tensors, parameters, buffers, and — where it makes
// sense — JS numbers, which become scalar constants of the other operand's
// dtype (`sub(1, x)`). Each function captures the caller's place for errors.

import type { DType } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Shape } from '../types.ts';
import * as B from './build.ts';
import type {
  AvgPool2dOptions, BatchNormOptions, Conv2dOptions, LayerNormOptions, MatmulOptions, Operand, Pair, Pool2dOptions, RandomUniformOptions,
  Reduction, ReduceOptions, TensorLike,
} from './build.ts';
import { requireContext } from './context.ts';
import { callerLoc } from './loc.ts';
import type { Buffer } from './state.ts';
import { Buffer as BufferClass } from './state.ts';
import { Tensor } from './tensor.ts';

// ---------------------------------------------------------------- unary
export const neg = (x: TensorLike): Tensor => B.unary('neg', x, {}, callerLoc());
export const abs = (x: TensorLike): Tensor => B.unary('abs', x, {}, callerLoc());
export const exp = (x: TensorLike): Tensor => B.unary('exp', x, {}, callerLoc());
export const log = (x: TensorLike): Tensor => B.unary('log', x, {}, callerLoc());
export const sqrt = (x: TensorLike): Tensor => B.unary('sqrt', x, {}, callerLoc());
export const rsqrt = (x: TensorLike): Tensor => B.unary('rsqrt', x, {}, callerLoc());
export const reciprocal = (x: TensorLike): Tensor => B.unary('reciprocal', x, {}, callerLoc());
export const tanh = (x: TensorLike): Tensor => B.unary('tanh', x, {}, callerLoc());
export const sin = (x: TensorLike): Tensor => B.unary('sin', x, {}, callerLoc());
export const cos = (x: TensorLike): Tensor => B.unary('cos', x, {}, callerLoc());
export const floor = (x: TensorLike): Tensor => B.unary('floor', x, {}, callerLoc());
export const tan = (x: TensorLike): Tensor => B.unary('tan', x, {}, callerLoc());
export const asin = (x: TensorLike): Tensor => B.unary('asin', x, {}, callerLoc());
export const acos = (x: TensorLike): Tensor => B.unary('acos', x, {}, callerLoc());
export const atan = (x: TensorLike): Tensor => B.unary('atan', x, {}, callerLoc());
export const sinh = (x: TensorLike): Tensor => B.unary('sinh', x, {}, callerLoc());
export const cosh = (x: TensorLike): Tensor => B.unary('cosh', x, {}, callerLoc());
export const asinh = (x: TensorLike): Tensor => B.unary('asinh', x, {}, callerLoc());
export const acosh = (x: TensorLike): Tensor => B.unary('acosh', x, {}, callerLoc());
export const atanh = (x: TensorLike): Tensor => B.unary('atanh', x, {}, callerLoc());
export const erf = (x: TensorLike): Tensor => B.unary('erf', x, {}, callerLoc());
/** Half to even (numpy, torch.round). */ export const round = (x: TensorLike): Tensor => B.unary('round', x, {}, callerLoc());
export const ceil = (x: TensorLike): Tensor => B.unary('ceil', x, {}, callerLoc());
/** -1, 0 or 1 (NaN and -0 kept). */ export const sign = (x: TensorLike): Tensor => B.unary('sign', x, {}, callerLoc());
/** bool: x is ±inf. */ export const isinf = (x: TensorLike): Tensor => B.unary('isinf', x, {}, callerLoc());
/** bool: x is NaN. */ export const isnan = (x: TensorLike): Tensor => B.unary('isnan', x, {}, callerLoc());
export const sigmoid = (x: TensorLike): Tensor => B.unary('sigmoid', x, {}, callerLoc());
export const relu = (x: TensorLike): Tensor => B.unary('relu', x, {}, callerLoc());
export const gelu = (x: TensorLike, approximate?: 'none' | 'tanh'): Tensor => B.unary('gelu', x, { approximate }, callerLoc());
export const square = (x: TensorLike): Tensor => B.binary('mul', x, x, callerLoc());

// ---------------------------------------------------------------- binary
export const add = (a: Operand, b: Operand): Tensor => B.binary('add', a, b, callerLoc());
export const sub = (a: Operand, b: Operand): Tensor => B.binary('sub', a, b, callerLoc());
export const mul = (a: Operand, b: Operand): Tensor => B.binary('mul', a, b, callerLoc());
export const div = (a: Operand, b: Operand): Tensor => B.binary('div', a, b, callerLoc());
export const maximum = (a: Operand, b: Operand): Tensor => B.binary('maximum', a, b, callerLoc());
export const minimum = (a: Operand, b: Operand): Tensor => B.binary('minimum', a, b, callerLoc());
export const pow = (a: Operand, b: Operand): Tensor => B.binary('pow', a, b, callerLoc());
/** C's fmod (torch.fmod): a - trunc(a / b) · b, with the sign of a (IR op `mod`). */
export const fmod = (a: Operand, b: Operand): Tensor => B.binary('mod', a, b, callerLoc());
export const equal = (a: Operand, b: Operand): Tensor => B.binary('equal', a, b, callerLoc());
export const less = (a: Operand, b: Operand): Tensor => B.binary('less', a, b, callerLoc());
export const greater = (a: Operand, b: Operand): Tensor => B.binary('greater', a, b, callerLoc());
export const lessEqual = (a: Operand, b: Operand): Tensor => B.binary('less_equal', a, b, callerLoc());
export const greaterEqual = (a: Operand, b: Operand): Tensor => B.binary('greater_equal', a, b, callerLoc());

/** `cond ? a : b` elementwise; numbers take the other branch's dtype (f32 if both are numbers). */
export const where = (cond: TensorLike, a: Operand, b: Operand): Tensor => B.select(cond, a, b, callerLoc());
export const select = (cond: TensorLike, a: Operand, b: Operand): Tensor => B.select(cond, a, b, callerLoc());

export const cast = (x: TensorLike, to: DType): Tensor => B.cast(x, to, callerLoc());
export const astype = (x: TensorLike, to: DType): Tensor => B.cast(x, to, callerLoc());

// ---------------------------------------------------------------- constants
/** A `constant` splat of `value`; only inside a trace. */
export const full = (shape: Shape, value: number | boolean, dtype: DType = 'f32'): Tensor => B.full(shape, value, dtype, callerLoc());
export const zeros = (shape: Shape, dtype: DType = 'f32'): Tensor => B.full(shape, 0, dtype, callerLoc());
export const ones = (shape: Shape, dtype: DType = 'f32'): Tensor => B.full(shape, 1, dtype, callerLoc());
export const scalar = (value: number | boolean, dtype: DType = 'f32'): Tensor => B.full([], value, dtype, callerLoc());
export const fullLike = (x: TensorLike, value: number | boolean): Tensor => B.full(x.shape, value, x.dtype, callerLoc());
export const zerosLike = (x: TensorLike): Tensor => B.full(x.shape, 0, x.dtype, callerLoc());
export const onesLike = (x: TensorLike): Tensor => B.full(x.shape, 1, x.dtype, callerLoc());

// ---------------------------------------------------------------- generated values
/**
 * f32 values uniform in [0, 1) of `shape`, a pure function of the u32 scalar
 * `seed`, `salt` and each element's flat index (ir/random.ts): the same seed
 * gives the same values; add 1 to it for the next step. Call sites sharing
 * a seed take different salts. Not differentiable (a mask made from it is a
 * constant to autodiff).
 */
export const randomUniform = (seed: TensorLike, shape: readonly number[], opts?: RandomUniformOptions): Tensor =>
  B.randomUniform(seed, shape, opts, callerLoc());
/** Each element's index along `axis` (negative counts from the end), as `dtype` (i32, u32, f32 or f16). */
export const iota = (shape: readonly number[], axis: number, dtype: DType = 'i32'): Tensor => B.iota(shape, axis, dtype, callerLoc());

// ---------------------------------------------------------------- linear algebra, windows
export const matmul = (a: TensorLike, b: TensorLike, opts?: MatmulOptions): Tensor => B.matmul(a, b, opts, callerLoc());
export const conv2d = (x: TensorLike, weight: TensorLike, opts?: Conv2dOptions): Tensor => B.conv2d(x, weight, opts, callerLoc());
export const maxPool2d = (x: TensorLike, kernel: Pair, opts?: Pool2dOptions): Tensor => B.pool2d('max_pool2d', x, kernel, opts, callerLoc());
export const avgPool2d = (x: TensorLike, kernel: Pair, opts?: AvgPool2dOptions): Tensor => B.pool2d('avg_pool2d', x, kernel, opts, callerLoc());

// ---------------------------------------------------------------- reductions, normalization, losses
export const sum = (x: TensorLike, axes?: number | readonly number[], opts?: boolean | ReduceOptions): Tensor => B.reduce('reduce_sum', x, axes, opts, callerLoc());
export const mean = (x: TensorLike, axes?: number | readonly number[], opts?: boolean | ReduceOptions): Tensor => B.reduce('reduce_mean', x, axes, opts, callerLoc());
export const max = (x: TensorLike, axes?: number | readonly number[], opts?: boolean | { readonly keepdims?: boolean }): Tensor =>
  B.reduce('reduce_max', x, axes, opts, callerLoc());
/** The product over `axes` (all by default). */
export const prod = (x: TensorLike, axes?: number | readonly number[], opts?: boolean | { readonly keepdims?: boolean }): Tensor =>
  B.reduce('reduce_prod', x, axes, opts, callerLoc());
export const softmax = (x: TensorLike, axis = -1): Tensor => B.softmax('softmax', x, axis, callerLoc());
export const logSoftmax = (x: TensorLike, axis = -1): Tensor => B.softmax('log_softmax', x, axis, callerLoc());
export const layerNorm = (x: TensorLike, gamma: TensorLike, beta: TensorLike, opts?: LayerNormOptions): Tensor =>
  B.layerNorm(x, gamma, beta, opts, callerLoc());

export function batchNorm(
  x: TensorLike, gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions & { readonly training?: false },
): Tensor;
export function batchNorm(
  x: TensorLike, gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts: BatchNormOptions & { readonly training: true },
): [Tensor, Tensor, Tensor];
export function batchNorm(
  x: TensorLike, gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions,
): Tensor | [Tensor, Tensor, Tensor];
export function batchNorm(
  x: TensorLike, gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions,
): Tensor | [Tensor, Tensor, Tensor] {
  const rs = B.batchNorm(x, gamma, beta, mean, variance, opts, callerLoc());
  return rs.length === 1 ? rs[0]! : (rs as [Tensor, Tensor, Tensor]);
}

export const crossEntropy = (logits: TensorLike, labels: TensorLike, reduction?: Reduction): Tensor =>
  B.loss('cross_entropy', logits, labels, reduction, callerLoc());
export const mseLoss = (input: TensorLike, target: TensorLike, reduction?: Reduction): Tensor => B.loss('mse_loss', input, target, reduction, callerLoc());
/** i32 position of the maximum along `axis` (0 by default; NaN counts as the maximum). */
export const argmax = (x: TensorLike, axis?: number, opts?: B.ArgOptions): Tensor => B.argReduce('argmax', x, axis, opts, callerLoc());
/** i32 position of the minimum along `axis` (0 by default; NaN counts as the minimum). */
export const argmin = (x: TensorLike, axis?: number, opts?: B.ArgOptions): Tensor => B.argReduce('argmin', x, axis, opts, callerLoc());
/** y[c] = x[c with c[axis] = indices[c]] (ONNX GatherElements, torch.gather); i32 indices, negative from the end. */
export const gatherElements = (x: TensorLike, indices: TensorLike, axis?: number): Tensor => B.gatherElements(x, indices, axis, callerLoc());
/** y[a, j, b] = x[a, indices[j], b] (ONNX Gather, numpy take); i32 indices of any shape, negative from the end, out of range gives 0. */
export const gather = (x: TensorLike, indices: TensorLike, axis?: number): Tensor => B.gather(x, indices, axis, callerLoc());
/** A copy of x with updates[c] put at c with c[axis] = indices[c] (ONNX ScatterElements); duplicates apply in order (none: the last wins). */
export const scatterElements = (x: TensorLike, indices: TensorLike, updates: TensorLike, axis?: number, reduction?: B.ScatterReduction): Tensor =>
  B.scatterElements(x, indices, updates, axis, reduction, callerLoc());
/** The running sum of x along `axis` (0 by default; ONNX CumSum, torch.cumsum): exclusive leaves the element itself out, reverse sums from the end; f32 accumulation. */
export const cumsum = (x: TensorLike, axis?: number, opts?: B.CumsumOptions): Tensor => B.cumsum(x, axis, opts, callerLoc());
/** x interpolated to shape `sizes` (ONNX Resize: nearest / n-linear / n-cubic, its coordinate modes; f32 arithmetic). */
export const resize = (x: TensorLike, sizes: readonly number[], opts?: B.ResizeOptions): Tensor => B.resize(x, sizes, opts, callerLoc());
/** x [N, C, H, W] sampled at grid [N, Ho, Wo, 2] of normalized (x, y) (ONNX GridSample, torch grid_sample; f32 arithmetic). */
export const gridSample = (x: TensorLike, grid: TensorLike, opts?: B.GridSampleOptions): Tensor => B.gridSample(x, grid, opts, callerLoc());
export const oneHot = (labels: TensorLike, classes: number, dtype?: DType): Tensor => B.oneHot(labels, classes, dtype, callerLoc());

// ---------------------------------------------------------------- shapes
export const reshape = (x: TensorLike, shape: readonly number[]): Tensor => B.reshape(x, shape, callerLoc());
export const transpose = (x: TensorLike, perm?: readonly number[]): Tensor => B.transpose(x, perm, callerLoc());
export const broadcastTo = (x: TensorLike, shape: readonly number[]): Tensor => B.broadcastTo(x, shape, callerLoc());
export const slice = (x: TensorLike, starts: readonly number[], ends?: readonly number[]): Tensor => B.slice(x, starts, ends, callerLoc());
export const concat = (xs: readonly TensorLike[], axis = 0): Tensor => B.concat(xs, axis, callerLoc());
export const flatten = (x: TensorLike, startDim = 0, endDim = -1): Tensor => B.flatten(x, startDim, endDim, callerLoc());

// ---------------------------------------------------------------- state
/** The traced value of a parameter or buffer (its graph input, or its latest update). */
export function read(s: TensorLike): Tensor {
  const loc = callerLoc();
  if (s instanceof Tensor) return s;
  const ctx = requireContext('reading a parameter', loc);
  return B.wrap(ctx, ctx.readState(s, loc));
}

/** Gives a buffer its value after this step; it becomes an extra graph output (a state update). */
export function updateBuffer(buffer: Buffer, value: Tensor): void {
  const loc = callerLoc();
  if (!(buffer instanceof BufferClass)) throw new AmpcError('E0501', 'updateBuffer: only buffers can be updated in a trace', loc);
  const ctx = B.contextOf('updateBuffer', [value], loc);
  if (!(value instanceof Tensor)) throw new AmpcError('E0501', 'updateBuffer: the new value must be a traced tensor', loc);
  ctx.writeBuffer(buffer, value.value, loc);
}
