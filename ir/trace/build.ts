// The builders behind every tracing API. Tensor methods and free functions
// capture the caller's place once and pass it here; builders turn JS numbers
// into `constant` nodes, read parameters and buffers through the context, map
// camelCase options to the IR's snake_case attributes, and record the node.
// Shape and dtype checks are the op table's own, placed at the user's line.
// (build.ts and tensor.ts import each other; neither uses the other at load.)

import type { AttrValue } from '../attrs.ts';
import type { DType } from '../dtype.ts';
import { isDType } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';
import type { Value } from '../graph.ts';
import type { OpName } from '../ops.ts';
import { normalizeAxis } from '../shape-rules.ts';
import type { Shape, TensorType } from '../types.ts';
import { numel, shapeToString } from '../types.ts';
import type { TraceContext } from './context.ts';
import { currentContext } from './context.ts';
import { checkShape } from './spec.ts';
import { StateTensor } from './state.ts';
import { Tensor } from './tensor.ts';

/** Anything that stands for a tensor in a trace: a traced tensor, a parameter or a buffer. */
export type TensorLike = Tensor | StateTensor;
/** An operand: a tensor, or a JS number / boolean that becomes a scalar constant. */
export type Operand = TensorLike | number | boolean;

export type UnaryOpName = 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'reciprocal' | 'tanh' | 'sigmoid' | 'relu' | 'gelu' | 'sin' | 'cos' | 'floor'
  | 'tan' | 'asin' | 'acos' | 'atan' | 'sinh' | 'cosh' | 'asinh' | 'acosh' | 'atanh' | 'erf' | 'round' | 'ceil' | 'sign' | 'isinf' | 'isnan';
export type BinaryOpName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow' | 'mod';
export type CompareOpName = 'equal' | 'less' | 'greater' | 'less_equal' | 'greater_equal';
export type Reduction = 'mean' | 'sum' | 'none';
export type Pair = number | readonly [number, number];
/** `n`, `[h, w]` (both sides) or `[top, left, bottom, right]` (ONNX order). */
export type Padding = number | readonly [number, number] | readonly [number, number, number, number];

export interface MatmulOptions {
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
  /** Accumulator dtype (default f32). */
  readonly acc?: DType;
}

export interface Conv2dOptions {
  readonly stride?: Pair;
  /** A padding, or 'valid' (none) or 'same' (stride 1 only; extra padding goes bottom/right). */
  readonly padding?: Padding | 'valid' | 'same';
  readonly dilation?: Pair;
  readonly groups?: number;
  readonly acc?: DType;
}

export interface Pool2dOptions {
  /** Default: the kernel size (as PyTorch). */
  readonly stride?: Pair;
  readonly padding?: Padding;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  readonly countIncludePad?: boolean;
}

export interface ReduceOptions {
  readonly keepdims?: boolean;
  /** Accumulator dtype of sum and mean (default f32). */
  readonly acc?: DType;
}

export interface LayerNormOptions {
  /** First normalized axis (default -1). */
  readonly axis?: number;
  readonly eps?: number;
}

export interface BatchNormOptions {
  readonly eps?: number;
  readonly momentum?: number;
  /** true: normalize with batch statistics and return [y, newMean, newVar]. */
  readonly training?: boolean;
}

// ---------------------------------------------------------------- plumbing

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return `a ${(x as object).constructor?.name ?? 'object'}`;
  return `${typeof x} ${JSON.stringify(x)}`;
}

function foreignTensor(ctx: TraceContext | undefined, t: Tensor, what: string, loc: Loc | undefined): never {
  if (ctx) ctx.checkOwner(t.ctx, what, loc);
  throw new AmpcError('E0501', `${what} is a tensor of a trace that has ended (@${t.ctx.graph.name}); traced tensors are only valid inside their trace`, loc);
}

/** The active trace; every tensor operand must belong to it. */
export function contextOf(op: string, operands: readonly unknown[], loc: Loc | undefined): TraceContext {
  const ctx = currentContext();
  operands.forEach((x, i) => {
    if (x instanceof Tensor && x.ctx !== ctx) foreignTensor(ctx, x, operands.length > 1 ? `${op}: operand ${i}` : `${op}: the operand`, loc);
  });
  if (!ctx) throw new AmpcError('E0501', `${op}: called outside a trace (use it inside trace() or traceModule())`, loc);
  return ctx;
}

export function wrap(ctx: TraceContext, v: Value): Tensor {
  return new Tensor(v, ctx);
}

function isTensorLike(x: unknown): x is TensorLike {
  return x instanceof Tensor || x instanceof StateTensor;
}

function typeOfLike(x: TensorLike): TensorType {
  return x instanceof Tensor ? x.type : x.type;
}

export function constantValue(ctx: TraceContext, value: number | boolean, type: TensorType, loc: Loc | undefined): Value {
  return ctx.emit('constant', [], { value: Number(value) }, loc, [type]).results[0]!;
}

/**
 * Values for operands; numbers become scalar constants of the dtype of the
 * first tensor operand (or `scalarDtype` when there is none).
 */
export function lift(op: string, ctx: TraceContext, xs: readonly unknown[], loc: Loc | undefined, scalarDtype?: DType): Value[] {
  const first = xs.find(isTensorLike);
  const dtype = first ? typeOfLike(first).dtype : scalarDtype;
  return xs.map((x, i) => {
    const what = xs.length > 1 ? `${op}: operand ${i}` : `${op}: the operand`;
    if (x instanceof Tensor) return x.value;
    if (x instanceof StateTensor) return ctx.readState(x, loc);
    if (typeof x === 'number' || typeof x === 'boolean') {
      if (!dtype) throw new AmpcError('E0501', `${op}: needs at least one tensor operand to know the dtype of ${JSON.stringify(x)}`, loc);
      return constantValue(ctx, x, { dtype, shape: [] }, loc);
    }
    throw new AmpcError('E0501', `${what} must be a tensor, a parameter or a number, got ${describe(x)}`, loc);
  });
}

/** Requires tensor operands (no numbers). */
function tensors(op: string, ctx: TraceContext, xs: readonly unknown[], loc: Loc | undefined): Value[] {
  xs.forEach((x, i) => {
    if (!isTensorLike(x)) {
      throw new AmpcError('E0501', `${op}: operand ${i} must be a tensor or a parameter, got ${describe(x)}`, loc);
    }
  });
  return lift(op, ctx, xs, loc);
}

function one(ctx: TraceContext, op: OpName, operands: readonly Value[], attrs: Record<string, AttrValue | undefined>, loc: Loc | undefined): Tensor {
  return wrap(ctx, ctx.emit(op, operands, attrs, loc).results[0]!);
}

/** Rejects option keys the API does not know (a typo would otherwise be ignored). */
export function checkOptions(op: string, opts: object | undefined, known: readonly string[], loc: Loc | undefined): void {
  if (opts === undefined || opts === null) return;
  if (typeof opts !== 'object') throw new AmpcError('E0102', `${op}: options must be an object, got ${describe(opts)}`, loc);
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) {
      throw new AmpcError('E0101', `${op}: unknown option '${k}' (known: ${known.join(', ')})`, loc);
    }
  }
}

function checkDtype(op: string, name: string, d: unknown, loc: Loc | undefined): DType | undefined {
  if (d === undefined) return undefined;
  if (typeof d !== 'string' || !isDType(d)) throw new AmpcError('E0102', `${op}: '${name}' must be a dtype (f32, f16, i32, u32, bool), got ${describe(d)}`, loc);
  return d;
}

function ints(op: string, name: string, v: unknown, loc: Loc | undefined): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new AmpcError('E0102', `${op}: '${name}' must be a list of integers, got ${describe(v)}`, loc);
  }
  return [...(v as number[])];
}

function pair(op: string, name: string, v: Pair | undefined, loc: Loc | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return [v, v];
  const l = ints(op, name, v, loc);
  if (l.length !== 2) throw new AmpcError('E0104', `${op}: '${name}' takes a number or [h, w], got [${l.join(', ')}]`, loc);
  return l;
}

function padding4(op: string, v: Padding | undefined, loc: Loc | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return [v, v, v, v];
  const l = ints(op, 'padding', v, loc);
  if (l.length === 2) return [l[0]!, l[1]!, l[0]!, l[1]!];
  if (l.length === 4) return l;
  throw new AmpcError('E0104', `${op}: 'padding' takes a number, [h, w] or [top, left, bottom, right], got [${l.join(', ')}]`, loc);
}

// ---------------------------------------------------------------- elementwise

export function unary(op: UnaryOpName, x: TensorLike, attrs: Record<string, AttrValue | undefined>, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [x], loc);
  return one(ctx, op, tensors(op, ctx, [x], loc), attrs, loc);
}

export function binary(op: BinaryOpName | CompareOpName, a: Operand, b: Operand, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [a, b], loc);
  return one(ctx, op, lift(op, ctx, [a, b], loc), {}, loc);
}

/** `cond ? a : b` elementwise; numbers take the dtype of the other branch (f32 if both are numbers). */
export function select(cond: TensorLike, a: Operand, b: Operand, loc: Loc | undefined): Tensor {
  const ctx = contextOf('select', [cond, a, b], loc);
  const [c] = tensors('select', ctx, [cond], loc);
  const [va, vb] = lift('select', ctx, [a, b], loc, 'f32');
  return one(ctx, 'select', [c!, va!, vb!], {}, loc);
}

export function cast(x: TensorLike, to: DType, loc: Loc | undefined): Tensor {
  const ctx = contextOf('cast', [x], loc);
  const dtype = checkDtype('cast', 'to', to, loc)!;
  const [v] = tensors('cast', ctx, [x], loc);
  if (v!.type.dtype === dtype) return wrap(ctx, v!);
  return one(ctx, 'cast', [v!], { to: dtype }, loc);
}

/** A splat constant of any shape. */
export function full(shape: Shape, value: number | boolean, dtype: DType, loc: Loc | undefined): Tensor {
  const ctx = contextOf('constant', [], loc);
  checkShape('constant', shape, loc);
  checkDtype('constant', 'dtype', dtype, loc);
  if (typeof value !== 'number' && typeof value !== 'boolean') {
    throw new AmpcError('E0102', `constant: value must be a number or a boolean, got ${describe(value)}`, loc);
  }
  return wrap(ctx, constantValue(ctx, value, { dtype, shape: [...shape] }, loc));
}

/** Options of randomUniform. */
export interface RandomUniformOptions {
  /** Keeps call sites that share a seed apart: a u32 (default 0). */
  readonly salt?: number;
  /** The values' dtype: f32 (the only one). */
  readonly dtype?: 'f32';
}

/** Values uniform in [0, 1) from a u32 scalar seed (the op table's random_uniform). */
export function randomUniform(seed: TensorLike, shape: readonly number[], opts: RandomUniformOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('random_uniform', [seed], loc);
  checkOptions('random_uniform', opts, ['salt', 'dtype'], loc);
  checkShape('random_uniform', shape, loc);
  if (opts?.dtype !== undefined && opts.dtype !== 'f32') {
    throw new AmpcError('E0206', `random_uniform: dtype must be f32 (the only dtype it generates), got ${describe(opts.dtype)}`, loc);
  }
  return one(ctx, 'random_uniform', tensors('random_uniform', ctx, [seed], loc), { shape: [...shape], salt: opts?.salt }, loc);
}

/** Each element's index along `axis` (the op table's iota). */
export function iota(shape: readonly number[], axis: number, dtype: DType, loc: Loc | undefined): Tensor {
  const ctx = contextOf('iota', [], loc);
  checkShape('iota', shape, loc);
  return one(ctx, 'iota', [], { shape: [...shape], axis, dtype: checkDtype('iota', 'dtype', dtype, loc) }, loc);
}

// ---------------------------------------------------------------- linear algebra

export function matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('matmul', [a, b], loc);
  checkOptions('matmul', opts, ['transposeA', 'transposeB', 'acc'], loc);
  return one(ctx, 'matmul', tensors('matmul', ctx, [a, b], loc), {
    transpose_a: opts?.transposeA,
    transpose_b: opts?.transposeB,
    acc: checkDtype('matmul', 'acc', opts?.acc, loc),
  }, loc);
}

export function conv2d(x: TensorLike, w: TensorLike, opts: Conv2dOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('conv2d', [x, w], loc);
  checkOptions('conv2d', opts, ['stride', 'padding', 'dilation', 'groups', 'acc'], loc);
  const [vx, vw] = tensors('conv2d', ctx, [x, w], loc);
  const stride = pair('conv2d', 'stride', opts?.stride, loc);
  const dilation = pair('conv2d', 'dilation', opts?.dilation, loc);
  let padding: number[] | undefined;
  if (opts?.padding === 'valid') padding = [0, 0, 0, 0];
  else if (opts?.padding === 'same') {
    if (stride && (stride[0] !== 1 || stride[1] !== 1)) {
      throw new AmpcError('E0104', `conv2d: padding 'same' needs stride 1, got [${stride.join(', ')}]`, loc);
    }
    const ws = vw!.type.shape;
    if (ws.length !== 4) throw new AmpcError('E0203', `conv2d: weight must be OIHW (rank 4), got ${shapeToString(ws)}`, loc);
    const d = dilation ?? [1, 1];
    const th = d[0]! * (ws[2]! - 1), tw = d[1]! * (ws[3]! - 1);
    padding = [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
  } else padding = padding4('conv2d', opts?.padding, loc);
  return one(ctx, 'conv2d', [vx!, vw!], {
    stride, padding, dilation, groups: opts?.groups, acc: checkDtype('conv2d', 'acc', opts?.acc, loc),
  }, loc);
}

export function pool2d(op: 'max_pool2d' | 'avg_pool2d', x: TensorLike, kernel: Pair, opts: AvgPool2dOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [x], loc);
  checkOptions(op, opts, op === 'avg_pool2d' ? ['stride', 'padding', 'countIncludePad'] : ['stride', 'padding'], loc);
  const k = pair(op, 'kernel', kernel, loc);
  const attrs: Record<string, AttrValue | undefined> = {
    kernel: k,
    stride: pair(op, 'stride', opts?.stride, loc) ?? k,
    padding: padding4(op, opts?.padding, loc),
  };
  if (op === 'avg_pool2d') attrs.count_include_pad = opts?.countIncludePad;
  return one(ctx, op, tensors(op, ctx, [x], loc), attrs, loc);
}

// ---------------------------------------------------------------- reductions and normalization

export function reduce(
  op: 'reduce_sum' | 'reduce_mean' | 'reduce_max' | 'reduce_prod',
  x: TensorLike,
  axes: number | readonly number[] | undefined,
  opts: boolean | ReduceOptions | undefined,
  loc: Loc | undefined,
): Tensor {
  const ctx = contextOf(op, [x], loc);
  const o: ReduceOptions = typeof opts === 'boolean' ? { keepdims: opts } : (opts ?? {});
  const noAcc = op === 'reduce_max' || op === 'reduce_prod';
  checkOptions(op, o, noAcc ? ['keepdims'] : ['keepdims', 'acc'], loc);
  const [v] = tensors(op, ctx, [x], loc);
  const rank = v!.type.shape.length;
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : ints(op, 'axes', axes, loc);
  const attrs: Record<string, AttrValue | undefined> = { axes: list, keepdims: o.keepdims };
  if (!noAcc) attrs.acc = checkDtype(op, 'acc', o.acc, loc);
  return one(ctx, op, [v!], attrs, loc);
}

export function softmax(op: 'softmax' | 'log_softmax', x: TensorLike, axis: number | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [x], loc);
  return one(ctx, op, tensors(op, ctx, [x], loc), { axis }, loc);
}

export function layerNorm(x: TensorLike, gamma: TensorLike, beta: TensorLike, opts: LayerNormOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('layer_norm', [x, gamma, beta], loc);
  checkOptions('layer_norm', opts, ['axis', 'eps'], loc);
  return one(ctx, 'layer_norm', tensors('layer_norm', ctx, [x, gamma, beta], loc), { axis: opts?.axis, epsilon: opts?.eps }, loc);
}

export function batchNorm(
  x: TensorLike, gamma: TensorLike, beta: TensorLike, mean: TensorLike, variance: TensorLike,
  opts: BatchNormOptions | undefined, loc: Loc | undefined,
): Tensor[] {
  const ctx = contextOf('batch_norm', [x, gamma, beta, mean, variance], loc);
  checkOptions('batch_norm', opts, ['eps', 'momentum', 'training'], loc);
  const node = ctx.emit('batch_norm', tensors('batch_norm', ctx, [x, gamma, beta, mean, variance], loc), {
    epsilon: opts?.eps, momentum: opts?.momentum, training: opts?.training,
  }, loc);
  return node.results.map((v) => wrap(ctx, v));
}

export function loss(op: 'cross_entropy' | 'mse_loss', a: TensorLike, b: TensorLike, reduction: Reduction | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [a, b], loc);
  return one(ctx, op, tensors(op, ctx, [a, b], loc), { reduction }, loc);
}

export interface ArgOptions {
  readonly keepdims?: boolean;
  /** The last extreme position rather than the first. */
  readonly selectLastIndex?: boolean;
}

export function argReduce(op: 'argmax' | 'argmin', x: TensorLike, axis: number | undefined, opts: ArgOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf(op, [x], loc);
  checkOptions(op, opts ?? {}, ['keepdims', 'selectLastIndex'], loc);
  return one(ctx, op, tensors(op, ctx, [x], loc), { axis, keepdims: opts?.keepdims, select_last_index: opts?.selectLastIndex }, loc);
}

export function gatherElements(x: TensorLike, indices: TensorLike, axis: number | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('gather_elements', [x, indices], loc);
  return one(ctx, 'gather_elements', tensors('gather_elements', ctx, [x, indices], loc), { axis }, loc);
}

export function gather(x: TensorLike, indices: TensorLike, axis: number | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('gather', [x, indices], loc);
  return one(ctx, 'gather', tensors('gather', ctx, [x, indices], loc), { axis }, loc);
}

export type ScatterReduction = 'none' | 'add' | 'mul' | 'max' | 'min';

export function scatterElements(
  x: TensorLike, indices: TensorLike, updates: TensorLike, axis: number | undefined, reduction: ScatterReduction | undefined, loc: Loc | undefined,
): Tensor {
  const ctx = contextOf('scatter_elements', [x, indices, updates], loc);
  return one(ctx, 'scatter_elements', tensors('scatter_elements', ctx, [x, indices, updates], loc), { axis, reduction }, loc);
}

/** cumsum's direction settings (ONNX CumSum's attributes): exclude the element itself, sum from the end. */
export interface CumsumOptions {
  readonly exclusive?: boolean;
  readonly reverse?: boolean;
}

export function cumsum(x: TensorLike, axis: number | undefined, opts: CumsumOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('cumsum', [x], loc);
  return one(ctx, 'cumsum', tensors('cumsum', ctx, [x], loc), { axis, exclusive: opts?.exclusive, reverse: opts?.reverse }, loc);
}

/** The interpolation settings of `resize` (ONNX Resize's attributes; ir/resize.ts). */
export interface ResizeOptions {
  /** Per-axis scales the coordinates divide by (default sizes / input extents). */
  readonly scales?: readonly number[];
  readonly mode?: 'nearest' | 'linear' | 'cubic';
  readonly coordinateTransformationMode?: 'half_pixel' | 'half_pixel_symmetric' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_crop_and_resize' | 'tf_half_pixel_for_nn';
  readonly nearestMode?: 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
  readonly cubicCoeffA?: number;
  readonly excludeOutside?: boolean;
  readonly extrapolationValue?: number;
  /** tf_crop_and_resize: normalized starts, then ends, one per axis. */
  readonly roi?: readonly number[];
}

export function resize(x: TensorLike, sizes: readonly number[], opts: ResizeOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('resize', [x], loc);
  const o = opts ?? {};
  checkOptions('resize', o, ['scales', 'mode', 'coordinateTransformationMode', 'nearestMode', 'cubicCoeffA', 'excludeOutside', 'extrapolationValue', 'roi'], loc);
  return one(ctx, 'resize', tensors('resize', ctx, [x], loc), {
    sizes: [...sizes], scales: o.scales ? [...o.scales] : undefined, mode: o.mode, coordinate_transformation_mode: o.coordinateTransformationMode,
    nearest_mode: o.nearestMode, cubic_coeff_a: o.cubicCoeffA, exclude_outside: o.excludeOutside, extrapolation_value: o.extrapolationValue,
    roi: o.roi ? [...o.roi] : undefined,
  }, loc);
}

/** The settings of `grid_sample` (ONNX GridSample / PyTorch grid_sample; ir/grid-sample.ts). */
export interface GridSampleOptions {
  readonly mode?: 'bilinear' | 'nearest' | 'bicubic';
  readonly paddingMode?: 'zeros' | 'border' | 'reflection';
  readonly alignCorners?: boolean;
}

export function gridSample(x: TensorLike, grid: TensorLike, opts: GridSampleOptions | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('grid_sample', [x, grid], loc);
  const o = opts ?? {};
  checkOptions('grid_sample', o, ['mode', 'paddingMode', 'alignCorners'], loc);
  return one(ctx, 'grid_sample', tensors('grid_sample', ctx, [x, grid], loc), {
    mode: o.mode, padding_mode: o.paddingMode, align_corners: o.alignCorners,
  }, loc);
}

export function oneHot(labels: TensorLike, classes: number, dtype: DType | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('one_hot', [labels], loc);
  return one(ctx, 'one_hot', tensors('one_hot', ctx, [labels], loc), { classes, dtype: checkDtype('one_hot', 'dtype', dtype, loc) }, loc);
}

// ---------------------------------------------------------------- shapes

/** Resolves one -1 in a target shape from the element count. */
export function resolveShape(from: Shape, shape: readonly number[], loc: Loc | undefined): number[] {
  const out = ints('reshape', 'shape', shape, loc);
  const holes = out.filter((d) => d === -1).length;
  if (holes > 1) throw new AmpcError('E0104', `reshape: shape [${out.join(', ')}] has more than one -1`, loc);
  const bad = out.find((d) => d < -1);
  if (bad !== undefined) throw new AmpcError('E0104', `reshape: shape [${out.join(', ')}] has a negative extent ${bad} (only one -1 may stand for the rest)`, loc);
  if (holes === 0) return out;
  const known = numel(out.filter((d) => d !== -1));
  const total = numel(from);
  if (known === 0 || total % known !== 0) {
    throw new AmpcError('E0201', `reshape: cannot reshape ${shapeToString(from)} (${total} elements) to [${out.join(', ')}]`, loc);
  }
  return out.map((d) => (d === -1 ? total / known : d));
}

export function reshape(x: TensorLike, shape: readonly number[], loc: Loc | undefined): Tensor {
  const ctx = contextOf('reshape', [x], loc);
  const [v] = tensors('reshape', ctx, [x], loc);
  return one(ctx, 'reshape', [v!], { shape: resolveShape(v!.type.shape, shape, loc) }, loc);
}

/** `perm` default: the dimensions reversed; negative entries count from the end. */
export function transpose(x: TensorLike, perm: readonly number[] | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('transpose', [x], loc);
  const [v] = tensors('transpose', ctx, [x], loc);
  const rank = v!.type.shape.length;
  const p = perm === undefined ? [...Array(rank).keys()].reverse() : ints('transpose', 'perm', perm, loc).map((a) => (a < 0 && a >= -rank ? a + rank : a));
  return one(ctx, 'transpose', [v!], { perm: p }, loc);
}

export function broadcastTo(x: TensorLike, shape: readonly number[], loc: Loc | undefined): Tensor {
  const ctx = contextOf('broadcast_to', [x], loc);
  return one(ctx, 'broadcast_to', tensors('broadcast_to', ctx, [x], loc), { shape: ints('broadcast_to', 'shape', shape, loc) }, loc);
}

/**
 * `starts`/`ends` may be shorter than the rank (the rest is taken whole) and
 * negative (counted from the end of the dimension, as in Python).
 */
export function slice(x: TensorLike, starts: readonly number[], ends: readonly number[] | undefined, loc: Loc | undefined): Tensor {
  const ctx = contextOf('slice', [x], loc);
  const [v] = tensors('slice', ctx, [x], loc);
  const shape = v!.type.shape;
  const st = ints('slice', 'starts', starts, loc);
  const en = ints('slice', 'ends', ends ?? [], loc);
  if (st.length > shape.length || en.length > shape.length) {
    throw new AmpcError('E0104', `slice: ${st.length} starts and ${en.length} ends for a tensor of rank ${shape.length}`, loc);
  }
  const norm = (i: number, n: number | undefined, dflt: number) => (n === undefined ? dflt : n < 0 ? n + shape[i]! : n);
  return one(ctx, 'slice', [v!], {
    starts: shape.map((_, i) => norm(i, st[i], 0)),
    ends: shape.map((d, i) => norm(i, en[i], d)),
  }, loc);
}

export function concat(xs: readonly TensorLike[], axis: number, loc: Loc | undefined): Tensor {
  if (!Array.isArray(xs)) throw new AmpcError('E0501', `concat: expects a list of tensors, got ${describe(xs)}`, loc);
  const ctx = contextOf('concat', xs, loc);
  return one(ctx, 'concat', tensors('concat', ctx, xs, loc), { axis }, loc);
}

/** Merges dimensions startDim..endDim into one. */
export function flatten(x: TensorLike, startDim: number, endDim: number, loc: Loc | undefined): Tensor {
  const shape = x.shape;
  const rank = shape.length;
  if (rank === 0) return reshape(x, [1], loc);
  const s = normalizeAxisAt('flatten', startDim, rank, loc);
  const e = normalizeAxisAt('flatten', endDim, rank, loc);
  if (s > e) throw new AmpcError('E0204', `flatten: startDim ${startDim} comes after endDim ${endDim}`, loc);
  return reshape(x, [...shape.slice(0, s), numel(shape.slice(s, e + 1)), ...shape.slice(e + 1)], loc);
}

export function normalizeAxisAt(op: string, axis: number, rank: number, loc: Loc | undefined): number {
  try {
    return normalizeAxis(op, axis, rank);
  } catch (e) {
    throw e instanceof AmpcError ? e.at(loc) : e;
  }
}
