// The symbolic tensor of a trace. It wraps one IR value of one trace and has a
// method for every op of the core set (plus conveniences: `.T`, flatten,
// square, squeeze/unsqueeze). Methods capture the caller's place and record a
// node through the builders; JS numbers become scalar constants of this
// tensor's dtype, and binary ops broadcast as numpy does. JS operators do not
// work on tensors: `x + 1` throws; write `x.add(1)`.

import type { DType } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Value } from '../graph.ts';
import type { Shape, TensorType } from '../types.ts';
import { numel, typeToString } from '../types.ts';
import * as B from './build.ts';
import type {
  AvgPool2dOptions, BatchNormOptions, Conv2dOptions, LayerNormOptions, MatmulOptions, Operand, Pair, Pool2dOptions, Reduction,
  ReduceOptions, TensorLike,
} from './build.ts';
import type { TraceContext } from './context.ts';
import { callerLoc } from './loc.ts';

export class Tensor {
  /** Made by the tracer only. */
  constructor(
    readonly value: Value,
    readonly ctx: TraceContext,
  ) {}

  get type(): TensorType {
    return this.value.type;
  }
  get shape(): Shape {
    return this.value.type.shape;
  }
  get dtype(): DType {
    return this.value.type.dtype;
  }
  get rank(): number {
    return this.value.type.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.value.type.shape);
  }

  toString(): string {
    return `Tensor(${this.value.name !== undefined ? '%' + this.value.name + ': ' : ''}${typeToString(this.type)})`;
  }

  [Symbol.toPrimitive](hint: string): string {
    if (hint === 'string') return this.toString();
    throw new AmpcError('E0501', `JS operators do not work on traced tensors (${this.toString()}); use methods such as x.add(y), x.mul(2)`, callerLoc());
  }

  // ---------------------------------------------------------------- unary
  neg(): Tensor { return B.unary('neg', this, {}, callerLoc()); }
  abs(): Tensor { return B.unary('abs', this, {}, callerLoc()); }
  exp(): Tensor { return B.unary('exp', this, {}, callerLoc()); }
  log(): Tensor { return B.unary('log', this, {}, callerLoc()); }
  sqrt(): Tensor { return B.unary('sqrt', this, {}, callerLoc()); }
  rsqrt(): Tensor { return B.unary('rsqrt', this, {}, callerLoc()); }
  reciprocal(): Tensor { return B.unary('reciprocal', this, {}, callerLoc()); }
  tanh(): Tensor { return B.unary('tanh', this, {}, callerLoc()); }
  sin(): Tensor { return B.unary('sin', this, {}, callerLoc()); }
  cos(): Tensor { return B.unary('cos', this, {}, callerLoc()); }
  floor(): Tensor { return B.unary('floor', this, {}, callerLoc()); }
  tan(): Tensor { return B.unary('tan', this, {}, callerLoc()); }
  asin(): Tensor { return B.unary('asin', this, {}, callerLoc()); }
  acos(): Tensor { return B.unary('acos', this, {}, callerLoc()); }
  atan(): Tensor { return B.unary('atan', this, {}, callerLoc()); }
  sinh(): Tensor { return B.unary('sinh', this, {}, callerLoc()); }
  cosh(): Tensor { return B.unary('cosh', this, {}, callerLoc()); }
  asinh(): Tensor { return B.unary('asinh', this, {}, callerLoc()); }
  acosh(): Tensor { return B.unary('acosh', this, {}, callerLoc()); }
  atanh(): Tensor { return B.unary('atanh', this, {}, callerLoc()); }
  erf(): Tensor { return B.unary('erf', this, {}, callerLoc()); }
  /** Half to even (numpy, torch.round). */ round(): Tensor { return B.unary('round', this, {}, callerLoc()); }
  ceil(): Tensor { return B.unary('ceil', this, {}, callerLoc()); }
  /** -1, 0 or 1 (NaN and -0 kept). */ sign(): Tensor { return B.unary('sign', this, {}, callerLoc()); }
  /** bool: x is ±inf. */ isinf(): Tensor { return B.unary('isinf', this, {}, callerLoc()); }
  /** bool: x is NaN. */ isnan(): Tensor { return B.unary('isnan', this, {}, callerLoc()); }
  sigmoid(): Tensor { return B.unary('sigmoid', this, {}, callerLoc()); }
  relu(): Tensor { return B.unary('relu', this, {}, callerLoc()); }
  /** `approximate`: 'none' (erf, the default) or 'tanh'. */
  gelu(approximate?: 'none' | 'tanh'): Tensor { return B.unary('gelu', this, { approximate }, callerLoc()); }
  /** x * x (one `mul`). */
  square(): Tensor { return B.binary('mul', this, this, callerLoc()); }

  // ---------------------------------------------------------------- binary
  add(other: Operand): Tensor { return B.binary('add', this, other, callerLoc()); }
  sub(other: Operand): Tensor { return B.binary('sub', this, other, callerLoc()); }
  mul(other: Operand): Tensor { return B.binary('mul', this, other, callerLoc()); }
  div(other: Operand): Tensor { return B.binary('div', this, other, callerLoc()); }
  maximum(other: Operand): Tensor { return B.binary('maximum', this, other, callerLoc()); }
  minimum(other: Operand): Tensor { return B.binary('minimum', this, other, callerLoc()); }
  pow(exponent: Operand): Tensor { return B.binary('pow', this, exponent, callerLoc()); }
  /** C's fmod (torch.fmod): the sign of this tensor. */
  fmod(divisor: Operand): Tensor { return B.binary('mod', this, divisor, callerLoc()); }

  equal(other: Operand): Tensor { return B.binary('equal', this, other, callerLoc()); }
  less(other: Operand): Tensor { return B.binary('less', this, other, callerLoc()); }
  greater(other: Operand): Tensor { return B.binary('greater', this, other, callerLoc()); }
  lessEqual(other: Operand): Tensor { return B.binary('less_equal', this, other, callerLoc()); }
  greaterEqual(other: Operand): Tensor { return B.binary('greater_equal', this, other, callerLoc()); }

  /**
   * On a bool tensor: `this ? a : b` elementwise (`select` in the IR). There is
   * deliberately no `x.where(cond, y)` (PyTorch's receiver order differs); use
   * the free function `where(cond, a, b)`.
   */
  select(a: Operand, b: Operand): Tensor { return B.select(this, a, b, callerLoc()); }

  /** A `cast` node; no node when the dtype is already `to`. */
  cast(to: DType): Tensor { return B.cast(this, to, callerLoc()); }
  astype(to: DType): Tensor { return B.cast(this, to, callerLoc()); }

  // ---------------------------------------------------------------- linear algebra, windows
  matmul(other: TensorLike, opts?: MatmulOptions): Tensor { return B.matmul(this, other, opts, callerLoc()); }
  /** NCHW input, OIHW weight. */
  conv2d(weight: TensorLike, opts?: Conv2dOptions): Tensor { return B.conv2d(this, weight, opts, callerLoc()); }
  maxPool2d(kernel: Pair, opts?: Pool2dOptions): Tensor { return B.pool2d('max_pool2d', this, kernel, opts, callerLoc()); }
  avgPool2d(kernel: Pair, opts?: AvgPool2dOptions): Tensor { return B.pool2d('avg_pool2d', this, kernel, opts, callerLoc()); }

  // ---------------------------------------------------------------- reductions, normalization, losses
  /** Sum over `axes` (default: all); the second argument is `keepdims` or `{ keepdims, acc }`. */
  sum(axes?: number | readonly number[], opts?: boolean | ReduceOptions): Tensor { return B.reduce('reduce_sum', this, axes, opts, callerLoc()); }
  mean(axes?: number | readonly number[], opts?: boolean | ReduceOptions): Tensor { return B.reduce('reduce_mean', this, axes, opts, callerLoc()); }
  max(axes?: number | readonly number[], opts?: boolean | { readonly keepdims?: boolean }): Tensor { return B.reduce('reduce_max', this, axes, opts, callerLoc()); }
  /** The product over `axes` (all by default). */
  prod(axes?: number | readonly number[], opts?: boolean | { readonly keepdims?: boolean }): Tensor { return B.reduce('reduce_prod', this, axes, opts, callerLoc()); }

  softmax(axis = -1): Tensor { return B.softmax('softmax', this, axis, callerLoc()); }
  logSoftmax(axis = -1): Tensor { return B.softmax('log_softmax', this, axis, callerLoc()); }
  /** Normalizes over dimensions `axis..end` (default the last); gamma and beta have those dimensions. */
  layerNorm(gamma: TensorLike, beta: TensorLike, opts?: LayerNormOptions): Tensor { return B.layerNorm(this, gamma, beta, opts, callerLoc()); }

  /** Inference form (training false): normalizes with the given statistics. */
  batchNorm(gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions & { readonly training?: false }): Tensor;
  /** Training form: batch statistics; returns [y, new running mean, new running var]. */
  batchNorm(gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts: BatchNormOptions & { readonly training: true }): [Tensor, Tensor, Tensor];
  batchNorm(gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions): Tensor | [Tensor, Tensor, Tensor];
  batchNorm(gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike, opts?: BatchNormOptions): Tensor | [Tensor, Tensor, Tensor] {
    const rs = B.batchNorm(this, gamma, beta, mean, variance, opts, callerLoc());
    return rs.length === 1 ? rs[0]! : (rs as [Tensor, Tensor, Tensor]);
  }

  /** On logits [N, C] with i32 labels [N]. */
  crossEntropy(labels: TensorLike, reduction?: Reduction): Tensor { return B.loss('cross_entropy', this, labels, reduction, callerLoc()); }
  mseLoss(target: TensorLike, reduction?: Reduction): Tensor { return B.loss('mse_loss', this, target, reduction, callerLoc()); }
  /** On i32 labels: a new last dimension of `classes` entries. */
  /** i32 position of the maximum along `axis` (0 by default). */
  argmax(axis?: number, opts?: B.ArgOptions): Tensor { return B.argReduce('argmax', this, axis, opts, callerLoc()); }
  /** i32 position of the minimum along `axis` (0 by default). */
  argmin(axis?: number, opts?: B.ArgOptions): Tensor { return B.argReduce('argmin', this, axis, opts, callerLoc()); }
  /** y[c] = this[c with c[axis] = indices[c]] (ONNX GatherElements, torch.gather). */
  gatherElements(indices: TensorLike, axis?: number): Tensor { return B.gatherElements(this, indices, axis, callerLoc()); }
  /** y[a, j, b] = this[a, indices[j], b] (ONNX Gather, numpy take; out of range gives 0). */
  gather(indices: TensorLike, axis?: number): Tensor { return B.gather(this, indices, axis, callerLoc()); }
  /** A copy with updates[c] put at c with c[axis] = indices[c] (ONNX ScatterElements; none: the last duplicate wins). */
  scatterElements(indices: TensorLike, updates: TensorLike, axis?: number, reduction?: B.ScatterReduction): Tensor {
    return B.scatterElements(this, indices, updates, axis, reduction, callerLoc());
  }
  /** The running sum along `axis` (0 by default; ONNX CumSum, torch.cumsum; exclusive / reverse as ONNX's). */
  cumsum(axis?: number, opts?: B.CumsumOptions): Tensor { return B.cumsum(this, axis, opts, callerLoc()); }
  /** Interpolated to shape `sizes` (ONNX Resize: nearest / n-linear / n-cubic). */
  resize(sizes: readonly number[], opts?: B.ResizeOptions): Tensor { return B.resize(this, sizes, opts, callerLoc()); }
  /** This [N, C, H, W] sampled at grid [N, Ho, Wo, 2] of normalized (x, y) (ONNX GridSample, torch grid_sample). */
  gridSample(grid: TensorLike, opts?: B.GridSampleOptions): Tensor { return B.gridSample(this, grid, opts, callerLoc()); }
  oneHot(classes: number, dtype?: DType): Tensor { return B.oneHot(this, classes, dtype, callerLoc()); }

  // ---------------------------------------------------------------- shapes
  /** One entry may be -1: it is resolved from the element count. */
  reshape(shape: readonly number[]): Tensor { return B.reshape(this, shape, callerLoc()); }
  /** Default: all dimensions reversed. */
  transpose(perm?: readonly number[]): Tensor { return B.transpose(this, perm, callerLoc()); }
  /** The last two dimensions swapped; a tensor of rank < 2 is returned as is (as numpy). */
  get T(): Tensor {
    if (this.rank < 2) return this;
    const loc = callerLoc();
    const perm = [...Array(this.rank).keys()];
    [perm[this.rank - 2], perm[this.rank - 1]] = [perm[this.rank - 1]!, perm[this.rank - 2]!];
    return B.transpose(this, perm, loc);
  }
  broadcastTo(shape: readonly number[]): Tensor { return B.broadcastTo(this, shape, callerLoc()); }
  /** Python-style: short lists take the rest whole, negative indices count from the end. */
  slice(starts: readonly number[], ends?: readonly number[]): Tensor { return B.slice(this, starts, ends, callerLoc()); }
  /** This tensor followed by `others` along `axis`. */
  concat(others: TensorLike | readonly TensorLike[], axis = 0): Tensor {
    return B.concat([this, ...(Array.isArray(others) ? others : [others as TensorLike])], axis, callerLoc());
  }
  /** Merges dimensions startDim..endDim (default: all) into one, as torch.flatten. */
  flatten(startDim = 0, endDim = -1): Tensor { return B.flatten(this, startDim, endDim, callerLoc()); }
  /** Inserts a dimension of extent 1 at `axis`. */
  unsqueeze(axis: number): Tensor {
    const loc = callerLoc();
    const a = B.normalizeAxisAt('unsqueeze', axis, this.rank + 1, loc);
    return B.reshape(this, [...this.shape.slice(0, a), 1, ...this.shape.slice(a)], loc);
  }
  /** Removes dimensions of extent 1 (`axis` given: only that one, which must be 1). */
  squeeze(axis?: number): Tensor {
    const loc = callerLoc();
    if (axis === undefined) return B.reshape(this, this.shape.filter((d) => d !== 1), loc);
    const a = B.normalizeAxisAt('squeeze', axis, this.rank, loc);
    if (this.shape[a] !== 1) throw new AmpcError('E0201', `squeeze: axis ${axis} has extent ${this.shape[a]}, not 1`, loc);
    return B.reshape(this, this.shape.filter((_, i) => i !== a), loc);
  }
}
