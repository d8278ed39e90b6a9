// The op table: every IR op defined once — operand arity, attributes with
// kinds and defaults, the rule that derives result types, and traits.
// Transforms keep their rules in tables typed over `OpName`, so the type
// checker rejects an op that lacks a rule.
//
// Accumulation: matmul, conv2d, reduce_sum and reduce_mean accumulate as their
// `acc` attribute says (f32 by default; integer sums wrap in their own type).
// The statistics of softmax, log_softmax, layer_norm, batch_norm, the losses
// avg_pool2d and the pool gradient ops (maxima, sums, means, variances) are defined to be computed
// in f32 whatever the tensors' dtype, as PyTorch's acc_type does; only their
// results are stored in the tensors' dtype. (The OpDef type and the builders
// the table is written with: ir/op-def.ts.)

import type { DType } from './dtype.ts';
import { isFloat, isNumeric } from './dtype.ts';
import { AmpcError } from './errors.ts';
import { ACC, accumulatorResult, binary, checkAcc, compare, named, pool, reduction, REDUCTION, requireDtype, sameDtype, softmaxLike, unary } from './op-def.ts';
import type { OpDef, Trait } from './op-def.ts';

export type { OpDef, Trait } from './op-def.ts';
import { ampDefs } from './ops-amp.ts';
import { fusedDefs } from './ops-fused.ts';
import { gradientDefs } from './ops-gradient.ts';
import {
  broadcastShapes, broadcastsTo, checkNonNegative, checkPositive, matmulDims, normalizeAxis, windowOutSize,
} from './shape-rules.ts';
import { numel, shapeToString, shapesEqual, typeToString } from './types.ts';
import { MAX_SALT } from './random.ts';
import { GRID_SAMPLE_ATTRS, gridSampleInfer } from './grid-sample.ts';
import { RESIZE_ATTRS, resizeInfer } from './resize.ts';

// ---------------------------------------------------------------- the table

/** The `shape` attribute of an op that generates values (E0104 for a negative extent). */
function generatedShape(op: string, shape: readonly number[]): number[] {
  if (shape.some((d) => d < 0)) throw new AmpcError('E0104', `${op}: shape [${shape.join(', ')}] has a negative extent`);
  return [...shape];
}

/**
 * argmax / argmin along one axis (i32 positions; keepdims leaves the axis at extent 1): the first
 * extreme position, or the last with select_last_index; NaN counts as the extreme (numpy).
 */
function argReduction(op: string): OpDef {
  return {
    operands: 1,
    attrs: { axis: { kind: 'int', default: 0 }, keepdims: { kind: 'bool', default: false }, select_last_index: { kind: 'bool', default: false } },
    traits: [],
    infer: ([x], a) => {
      requireDtype(op, x!, isNumeric, 'numeric');
      const axis = normalizeAxis(op, a.axis as number, x!.shape.length);
      if (x!.shape[axis] === 0) throw new AmpcError('E0201', `${op}: axis ${axis} of ${shapeToString(x!.shape)} is empty`);
      const shape = a.keepdims ? x!.shape.map((d, i) => (i === axis ? 1 : d)) : x!.shape.filter((_, i) => i !== axis);
      return [{ dtype: 'i32', shape }];
    },
  };
}

/** A float → bool elementwise test (isinf, isnan). */
function floatPredicate(): OpDef {
  return {
    operands: 1,
    attrs: {},
    traits: ['elementwise', 'unary'],
    infer: ([x]) => {
      requireDtype('unary op', x!, isFloat, 'float');
      return [{ dtype: 'bool', shape: x!.shape }];
    },
  };
}

const isNum = isNumeric;
const isFlt = isFloat;
const isSigned = (d: DType) => d === 'f32' || d === 'f16' || d === 'i32';

const CORE_DEFS = {
  // unary
  neg: unary(isSigned, 'signed numeric'),
  abs: unary(isSigned, 'signed numeric'),
  exp: unary(isFlt, 'float'),
  log: unary(isFlt, 'float'),
  sqrt: unary(isFlt, 'float'),
  rsqrt: unary(isFlt, 'float'),
  reciprocal: unary(isFlt, 'float'),
  tanh: unary(isFlt, 'float'),
  sin: unary(isFlt, 'float'),
  cos: unary(isFlt, 'float'),
  floor: unary(isFlt, 'float'),
  tan: unary(isFlt, 'float'),
  asin: unary(isFlt, 'float'),
  acos: unary(isFlt, 'float'),
  atan: unary(isFlt, 'float'),
  sinh: unary(isFlt, 'float'),
  cosh: unary(isFlt, 'float'),
  asinh: unary(isFlt, 'float'),
  acosh: unary(isFlt, 'float'),
  atanh: unary(isFlt, 'float'),
  erf: unary(isFlt, 'float'),
  /** Rounds half to even (numpy, ONNX Round). */
  round: unary(isFlt, 'float'),
  ceil: unary(isFlt, 'float'),
  /** -1, 0 or 1 (NaN stays NaN, -0 stays -0). */
  sign: unary(isSigned, 'signed numeric'),
  isinf: floatPredicate(),
  isnan: floatPredicate(),
  sigmoid: unary(isFlt, 'float'),
  relu: unary(isSigned, 'signed numeric'),
  gelu: unary(isFlt, 'float', { approximate: { kind: 'string', default: 'none', oneOf: ['none', 'tanh'] } }),

  // binary arithmetic
  add: binary(isNum, 'numeric', true),
  sub: binary(isNum, 'numeric', false),
  mul: binary(isNum, 'numeric', true),
  div: binary(isNum, 'numeric', false),
  maximum: binary(isNum, 'numeric', true),
  minimum: binary(isNum, 'numeric', true),
  pow: binary(isFlt, 'float', false),
  /** Remainder of truncated division (C fmod, ONNX Mod with fmod=1): the sign of the dividend; mod(a, 0) = NaN. */
  mod: binary(isFlt, 'float', false),

  // comparisons
  equal: compare(),
  less: compare(),
  greater: compare(),
  less_equal: compare(),
  greater_equal: compare(),

  select: {
    operands: 3,
    attrs: {},
    traits: ['elementwise'],
    infer: ([c, a, b]) => {
      if (c!.dtype !== 'bool') throw new AmpcError('E0206', `select: condition must be bool, got ${typeToString(c!)}`);
      const d = sameDtype('select', [a!, b!]);
      return [{ dtype: d, shape: broadcastShapes('select', [c!.shape, a!.shape, b!.shape]) }];
    },
  },

  cast: {
    operands: 1,
    attrs: { to: { kind: 'dtype' } },
    traits: ['elementwise', 'unary'],
    infer: ([x], a) => [{ dtype: a.to as DType, shape: x!.shape }],
  },

  constant: {
    operands: 0,
    attrs: { value: { kind: 'float' } },
    traits: ['source'],
    infer: (_ops, a, declared) => {
      if (!declared || declared.length !== 1) throw new AmpcError('E0302', 'constant: needs exactly one declared result type');
      const t = declared[0]!;
      const v = a.value as number;
      if (!isFloat(t.dtype) && !Number.isFinite(v)) {
        throw new AmpcError('E0104', `constant: value ${v} is not representable in ${t.dtype}`);
      }
      if ((t.dtype === 'i32' || t.dtype === 'u32') && !Number.isInteger(v)) {
        throw new AmpcError('E0104', `constant: value ${v} is not an integer, but the type is ${t.dtype}`);
      }
      if (t.dtype === 'bool' && v !== 0 && v !== 1) throw new AmpcError('E0104', `constant: a bool constant is 0 or 1, got ${v}`);
      if ((t.dtype === 'i32' && (v < -(2 ** 31) || v > 2 ** 31 - 1)) || (t.dtype === 'u32' && (v < 0 || v > 2 ** 32 - 1))) {
        throw new AmpcError('E0104', `constant: value ${v} is out of the range of ${t.dtype}`);
      }
      return [t];
    },
  },

  matmul: {
    operands: 2,
    attrs: {
      transpose_a: { kind: 'bool', default: false },
      transpose_b: { kind: 'bool', default: false },
      acc: ACC,
    },
    traits: ['matmul'],
    infer: ([a, b], at, declared) => {
      const d = sameDtype('matmul', [a!, b!]);
      requireDtype('matmul', a!, isFlt, 'float');
      checkAcc('matmul', at);
      const { batch, m, n } = matmulDims(a!.shape, b!.shape, at.transpose_a as boolean, at.transpose_b as boolean);
      return [{ dtype: accumulatorResult(d, at, declared), shape: [...batch, m, n] }];
    },
  },

  conv2d: {
    operands: 2,
    attrs: {
      stride: { kind: 'ints', default: [1, 1] },
      padding: { kind: 'ints', default: [0, 0, 0, 0] },
      dilation: { kind: 'ints', default: [1, 1] },
      groups: { kind: 'int', default: 1 },
      acc: ACC,
    },
    traits: ['conv'],
    infer: ([x, w], a) => {
      const d = sameDtype('conv2d', [x!, w!]);
      requireDtype('conv2d', x!, isFlt, 'float');
      checkAcc('conv2d', a);
      if (x!.shape.length !== 4) throw new AmpcError('E0203', `conv2d: input must be NCHW (rank 4), got ${typeToString(x!)}`);
      if (w!.shape.length !== 4) throw new AmpcError('E0203', `conv2d: weight must be OIHW (rank 4), got ${typeToString(w!)}`);
      const s = a.stride as number[], p = a.padding as number[], dl = a.dilation as number[], g = a.groups as number;
      checkPositive('conv2d', 'stride', s, 2);
      checkPositive('conv2d', 'dilation', dl, 2);
      checkNonNegative('conv2d', 'padding', p, 4);
      if (g < 1) throw new AmpcError('E0104', `conv2d: groups must be >= 1, got ${g}`);
      const [n, c, h, wd] = x!.shape as [number, number, number, number];
      const [o, ci, kh, kw] = w!.shape as [number, number, number, number];
      if (c % g !== 0 || o % g !== 0) {
        throw new AmpcError('E0201', `conv2d: channels (${c} in, ${o} out) must be divisible by groups (${g})`);
      }
      if (ci * g !== c) {
        throw new AmpcError('E0201', `conv2d: weight has ${ci} input channels per group, input has ${c} channels in ${g} group(s)`);
      }
      const oh = windowOutSize('conv2d', h, kh, s[0]!, p[0]!, p[2]!, dl[0]!);
      const ow = windowOutSize('conv2d', wd, kw, s[1]!, p[1]!, p[3]!, dl[1]!);
      return [{ dtype: d, shape: [n, o, oh, ow] }];
    },
  },

  max_pool2d: pool('max_pool2d', {}),
  avg_pool2d: pool('avg_pool2d', { count_include_pad: { kind: 'bool', default: false } }),

  reduce_sum: reduction(true, isNum, 'numeric'),
  reduce_mean: reduction(true, isFlt, 'float'),
  reduce_max: reduction(false, isNum, 'numeric'),
  /** The product over `axes` (1 for none): floats multiply in f32 (f16 too), integers wrap in their own type. */
  reduce_prod: reduction(false, isNum, 'numeric'),

  argmax: argReduction('argmax'),
  argmin: argReduction('argmin'),

  softmax: softmaxLike('softmax'),
  log_softmax: softmaxLike('log_softmax'),

  layer_norm: {
    operands: 3,
    attrs: { axis: { kind: 'int', default: -1 }, epsilon: { kind: 'float', default: 1e-5 } },
    traits: ['norm'],
    infer: ([x, g, b], a) => {
      requireDtype('layer_norm', x!, isFlt, 'float');
      sameDtype('layer_norm', [x!, g!, b!]);
      const axis = normalizeAxis('layer_norm', a.axis as number, x!.shape.length);
      const normShape = x!.shape.slice(axis);
      for (const [nm, t] of [['gamma', g!], ['beta', b!]] as const) {
        if (!shapesEqual(t.shape, normShape)) {
          throw new AmpcError('E0201', `layer_norm: ${nm} must have shape ${shapeToString(normShape)}, got ${shapeToString(t.shape)}`);
        }
      }
      return [x!];
    },
  },

  batch_norm: {
    operands: 5,
    attrs: {
      epsilon: { kind: 'float', default: 1e-5 },
      momentum: { kind: 'float', default: 0.1 },
      training: { kind: 'bool', default: false, alwaysPrint: true },
    },
    traits: ['norm'],
    infer: ([x, g, b, m, v], a) => {
      requireDtype('batch_norm', x!, isFlt, 'float');
      sameDtype('batch_norm', [g!, b!, m!, v!]);
      requireDtype('batch_norm', g!, isFlt, 'float');
      if (x!.shape.length < 2) throw new AmpcError('E0203', `batch_norm: input needs rank >= 2 (N, C, ...), got ${typeToString(x!)}`);
      const c = x!.shape[1]!;
      for (const [nm, t] of [['gamma', g!], ['beta', b!], ['mean', m!], ['var', v!]] as const) {
        if (!shapesEqual(t.shape, [c])) throw new AmpcError('E0201', `batch_norm: ${nm} must have shape [${c}], got ${shapeToString(t.shape)}`);
      }
      if (a.training && numel(x!.shape) / c <= 1) {
        throw new AmpcError('E0201', `batch_norm: training needs more than one value per channel, got ${typeToString(x!)}`);
      }
      return a.training ? [x!, m!, v!] : [x!];
    },
  },

  cross_entropy: {
    operands: 2,
    attrs: { reduction: REDUCTION },
    traits: ['loss'],
    infer: ([logits, labels], a) => {
      requireDtype('cross_entropy', logits!, isFlt, 'float');
      if (logits!.shape.length !== 2) throw new AmpcError('E0203', `cross_entropy: logits must be [N, C], got ${typeToString(logits!)}`);
      if (labels!.dtype !== 'i32') throw new AmpcError('E0206', `cross_entropy: labels must be i32 class indices, got ${typeToString(labels!)}`);
      if (!shapesEqual(labels!.shape, [logits!.shape[0]!])) {
        throw new AmpcError('E0201', `cross_entropy: labels must have shape [${logits!.shape[0]}], got ${shapeToString(labels!.shape)}`);
      }
      return [{ dtype: logits!.dtype, shape: a.reduction === 'none' ? [logits!.shape[0]!] : [] }];
    },
  },

  mse_loss: {
    operands: 2,
    attrs: { reduction: REDUCTION },
    traits: ['loss'],
    infer: ([x, y], a) => {
      const d = sameDtype('mse_loss', [x!, y!]);
      requireDtype('mse_loss', x!, isFlt, 'float');
      if (!shapesEqual(x!.shape, y!.shape)) {
        throw new AmpcError('E0201', `mse_loss: shapes differ (${shapeToString(x!.shape)} vs ${shapeToString(y!.shape)})`);
      }
      return [{ dtype: d, shape: a.reduction === 'none' ? x!.shape : [] }];
    },
  },

  // gather_elements (ONNX GatherElements, torch.gather): y[c] = x[c with c[axis] = indices[c]];
  // the result has the shape of the i32 indices (same rank as x, no larger on the other axes);
  // a negative index counts from the end; one outside [-n, n) gives 0.
  gather_elements: {
    operands: 2,
    attrs: { axis: { kind: 'int', default: 0 } },
    traits: [],
    infer: ([x, idx], a) => {
      requireDtype('gather_elements', x!, isNum, 'numeric');
      if (idx!.dtype !== 'i32') throw new AmpcError('E0206', `gather_elements: indices must be i32, got ${typeToString(idx!)}`);
      const r = x!.shape.length;
      if (idx!.shape.length !== r) {
        throw new AmpcError('E0203', `gather_elements: indices must have the rank of the data (${r}), got ${typeToString(idx!)}`);
      }
      const axis = normalizeAxis('gather_elements', a.axis as number, r);
      x!.shape.forEach((d, k) => {
        if (k !== axis && idx!.shape[k]! > d) {
          throw new AmpcError('E0201', `gather_elements: indices ${shapeToString(idx!.shape)} exceed the data ${shapeToString(x!.shape)} on axis ${k}`);
        }
      });
      if (x!.shape[axis] === 0 && numel(idx!.shape) > 0) {
        throw new AmpcError('E0201', `gather_elements: nothing to gather from: axis ${axis} of ${shapeToString(x!.shape)} is empty`);
      }
      return [{ dtype: x!.dtype, shape: [...idx!.shape] }];
    },
  },

  // gather (ONNX Gather, numpy take): y[a, j, b] = x[a, indices[j], b] with a the axes before
  // `axis` and b those after: y.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:];
  // i32 indices of any rank, negative from the end; one outside [-n, n) gives 0 (as gather_elements).
  gather: {
    operands: 2,
    attrs: { axis: { kind: 'int', default: 0 } },
    traits: [],
    infer: ([x, idx], a) => {
      requireDtype('gather', x!, isNum, 'numeric');
      if (idx!.dtype !== 'i32') throw new AmpcError('E0206', `gather: indices must be i32, got ${typeToString(idx!)}`);
      if (x!.shape.length === 0) throw new AmpcError('E0203', `gather: the data needs rank >= 1, got ${typeToString(x!)}`);
      const axis = normalizeAxis('gather', a.axis as number, x!.shape.length);
      if (x!.shape[axis] === 0 && numel(idx!.shape) > 0) {
        throw new AmpcError('E0201', `gather: nothing to gather from: axis ${axis} of ${shapeToString(x!.shape)} is empty`);
      }
      return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
    },
  },

  // scatter_elements (ONNX ScatterElements): y = copy of x, then for every element u of updates
  // at c, y[c with c[axis] = indices[c]] (reduction)= u. indices (i32) and updates have one shape,
  // of x's rank and no larger than x on the other axes; negative indices count from the end and
  // one outside [-n, n) is dropped. Updates that meet on one element apply in order along `axis`
  // (for `none` the last one wins), so results are deterministic.
  scatter_elements: {
    operands: 3,
    attrs: { axis: { kind: 'int', default: 0 }, reduction: { kind: 'string', default: 'none', oneOf: ['none', 'add', 'mul', 'max', 'min'] } },
    traits: [],
    infer: ([x, idx, u], a) => {
      requireDtype('scatter_elements', x!, isNum, 'numeric');
      sameDtype('scatter_elements', [x!, u!]);
      if (idx!.dtype !== 'i32') throw new AmpcError('E0206', `scatter_elements: indices must be i32, got ${typeToString(idx!)}`);
      const r = x!.shape.length;
      if (idx!.shape.length !== r) {
        throw new AmpcError('E0203', `scatter_elements: indices must have the rank of the data (${r}), got ${typeToString(idx!)}`);
      }
      if (!shapesEqual(idx!.shape, u!.shape)) {
        throw new AmpcError('E0201', `scatter_elements: updates ${shapeToString(u!.shape)} must have the shape of the indices ${shapeToString(idx!.shape)}`);
      }
      const axis = normalizeAxis('scatter_elements', a.axis as number, r);
      x!.shape.forEach((d, k) => {
        if (k !== axis && idx!.shape[k]! > d) {
          throw new AmpcError('E0201', `scatter_elements: indices ${shapeToString(idx!.shape)} exceed the data ${shapeToString(x!.shape)} on axis ${k}`);
        }
      });
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
  },

  // cumsum (ONNX CumSum): the running sum along `axis` (negative from the end), of x's shape and
  // dtype. y[c] = sum of x[c with c[axis] = k] over k <= c[axis] (k < c[axis] when exclusive; with
  // reverse, k >= c[axis] / k > c[axis]). Floats accumulate in f32 whatever the dtype (f16 too),
  // in order along the axis, and are stored once; integers wrap in their own type.
  cumsum: {
    operands: 1,
    attrs: { axis: { kind: 'int', default: 0 }, exclusive: { kind: 'bool', default: false }, reverse: { kind: 'bool', default: false } },
    traits: [],
    infer: ([x], a) => {
      requireDtype('cumsum', x!, isNum, 'numeric');
      if (x!.shape.length === 0) throw new AmpcError('E0203', `cumsum: the data needs rank >= 1, got ${typeToString(x!)}`);
      normalizeAxis('cumsum', a.axis as number, x!.shape.length);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
  },

  // resize (ONNX Resize in its static form: output sizes, scales for the coordinates, the
  // interpolation settings): nearest / n-linear / n-cubic interpolation; ir/resize.ts says how.
  resize: { operands: 1, attrs: RESIZE_ATTRS, traits: [], infer: resizeInfer },

  // grid_sample (ONNX GridSample, 4-D): x [N, C, H, W] sampled at grid [N, Ho, Wo, 2] (normalized (x, y));
  // nearest / bilinear / bicubic with zeros / border / reflection padding; ir/grid-sample.ts says how.
  grid_sample: { operands: 2, attrs: GRID_SAMPLE_ATTRS, traits: [], infer: gridSampleInfer },

  one_hot: {
    operands: 1,
    attrs: { classes: { kind: 'int' }, dtype: { kind: 'dtype', default: 'f32' } },
    traits: [],
    infer: ([x], a) => {
      if (x!.dtype !== 'i32') throw new AmpcError('E0206', `one_hot: labels must be i32, got ${typeToString(x!)}`);
      if ((a.classes as number) < 1) throw new AmpcError('E0104', `one_hot: classes must be >= 1, got ${String(a.classes)}`);
      return [{ dtype: a.dtype as DType, shape: [...x!.shape, a.classes as number] }];
    },
  },

  // Generated values, elementwise in their own row-major flat index (kernels,
  // fused or not, compute them from it: compiler/kernels/generate.ts).
  // random_uniform: f32 values uniform in [0, 1), a pure function of (seed,
  // salt, index): k1 = pcg(seed ^ pcg(salt)), k2 = pcg(salt ^ pcg(seed)),
  // h = pcg(pcg(index + k1) ^ k2), value = f32(h >> 8) * 2^-24, with pcg the
  // PCG hash of Jarzynski & Olano 2020 (ir/random.ts says why this form).
  // The seed is a u32 scalar (a train step adds 1 to it); `salt` (a u32)
  // keeps call sites that share a seed apart. f32 only: rounding to f16
  // would turn values near 1 into 1.0.
  random_uniform: {
    operands: 1,
    attrs: { shape: { kind: 'ints' }, salt: { kind: 'int', default: 0 } },
    traits: ['elementwise'],
    infer: ([seed], a) => {
      if (seed!.dtype !== 'u32') throw new AmpcError('E0206', `random_uniform: the seed must be a u32 scalar (u32[]), got ${typeToString(seed!)}`);
      if (seed!.shape.length !== 0) throw new AmpcError('E0203', `random_uniform: the seed must be a u32 scalar (u32[]), got ${typeToString(seed!)}`);
      const salt = a.salt as number;
      if (salt < 0 || salt > MAX_SALT) throw new AmpcError('E0104', `random_uniform: salt must be an integer from 0 to ${MAX_SALT}, got ${salt}`);
      return [{ dtype: 'f32', shape: generatedShape('random_uniform', a.shape as number[]) }];
    },
  },
  // iota: each element's index along `axis` (negative counts from the end),
  // in `dtype`; float dtypes hold the index as a cast from an integer would.
  iota: {
    operands: 0,
    attrs: { shape: { kind: 'ints' }, axis: { kind: 'int' }, dtype: { kind: 'dtype', default: 'i32' } },
    traits: ['source', 'elementwise'],
    infer: (_ops, a) => {
      const d = a.dtype as DType;
      if (d === 'bool') throw new AmpcError('E0206', 'iota: dtype must be i32, u32, f32 or f16, got bool');
      const shape = generatedShape('iota', a.shape as number[]);
      normalizeAxis('iota', a.axis as number, shape.length);
      return [{ dtype: d, shape }];
    },
  },

  // shape ops
  reshape: {
    operands: 1,
    attrs: { shape: { kind: 'ints' } },
    traits: ['shape'],
    infer: ([x], a) => {
      const shape = a.shape as number[];
      if (shape.some((d) => d < 0)) throw new AmpcError('E0104', `reshape: shape [${shape.join(', ')}] has a negative extent (write it out; -1 is not supported)`);
      if (numel(shape) !== numel(x!.shape)) {
        throw new AmpcError('E0201', `reshape: cannot reshape ${shapeToString(x!.shape)} (${numel(x!.shape)} elements) to [${shape.join(', ')}] (${numel(shape)} elements)`);
      }
      return [{ dtype: x!.dtype, shape }];
    },
  },

  transpose: {
    operands: 1,
    attrs: { perm: { kind: 'ints' } },
    traits: ['shape'],
    infer: ([x], a) => {
      const perm = a.perm as number[];
      const r = x!.shape.length;
      const sorted = [...perm].sort((p, q) => p - q);
      if (perm.length !== r || !sorted.every((p, i) => p === i)) {
        throw new AmpcError('E0104', `transpose: perm [${perm.join(', ')}] is not a permutation of 0..${r - 1}`);
      }
      return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
    },
  },

  broadcast_to: {
    operands: 1,
    attrs: { shape: { kind: 'ints' } },
    traits: ['shape'],
    infer: ([x], a) => {
      const shape = a.shape as number[];
      if (!broadcastsTo(x!.shape, shape)) {
        throw new AmpcError('E0202', `broadcast_to: ${shapeToString(x!.shape)} does not broadcast to [${shape.join(', ')}]`);
      }
      return [{ dtype: x!.dtype, shape }];
    },
  },

  slice: {
    operands: 1,
    attrs: { starts: { kind: 'ints' }, ends: { kind: 'ints' } },
    traits: ['shape'],
    infer: ([x], a) => {
      const st = a.starts as number[], en = a.ends as number[];
      const r = x!.shape.length;
      if (st.length !== r || en.length !== r) {
        throw new AmpcError('E0104', `slice: starts and ends need one entry per dimension (${r}), got ${st.length} and ${en.length}`);
      }
      const shape = x!.shape.map((d, i) => {
        if (st[i]! < 0 || en[i]! > d || st[i]! > en[i]!) {
          throw new AmpcError('E0104', `slice: range ${st[i]}..${en[i]} is not within 0..${d} on axis ${i}`);
        }
        return en[i]! - st[i]!;
      });
      return [{ dtype: x!.dtype, shape }];
    },
  },

  concat: {
    operands: { min: 1 },
    attrs: { axis: { kind: 'int' } },
    traits: ['shape'],
    infer: (ts, a) => {
      const d = sameDtype('concat', ts);
      const first = ts[0]!;
      const axis = normalizeAxis('concat', a.axis as number, first.shape.length);
      let total = 0;
      for (const t of ts) {
        if (t.shape.length !== first.shape.length || t.shape.some((e, i) => i !== axis && e !== first.shape[i])) {
          throw new AmpcError('E0201', `concat: shapes ${ts.map((x) => shapeToString(x.shape)).join(', ')} differ off axis ${axis}`);
        }
        total += t.shape[axis]!;
      }
      const shape = [...first.shape];
      shape[axis] = total;
      return [{ dtype: d, shape }];
    },
  },
} satisfies Record<string, OpDef>;

const DEFS = {
  ...CORE_DEFS,
  ...gradientDefs({ conv2d: CORE_DEFS.conv2d.infer, max_pool2d: CORE_DEFS.max_pool2d.infer, avg_pool2d: CORE_DEFS.avg_pool2d.infer, resize: CORE_DEFS.resize.infer, grid_sample: CORE_DEFS.grid_sample.infer }),
  ...ampDefs(),
  ...fusedDefs(),
};

export type OpName = keyof typeof DEFS;

export const OPS: { readonly [P in OpName]: OpDef } = Object.fromEntries(
  Object.entries(DEFS).map(([name, def]) => [name, named(name, def)]),
) as { [P in OpName]: OpDef };

export const OP_NAMES = Object.keys(DEFS) as OpName[];

export function isOpName(s: string): s is OpName {
  return Object.prototype.hasOwnProperty.call(DEFS, s);
}

export function hasTrait(op: OpName, t: Trait): boolean {
  return OPS[op].traits.includes(t);
}
