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
// results are stored in the tensors' dtype.

import type { AttrSpec, Attrs } from './attrs.ts';
import type { DType } from './dtype.ts';
import { isFloat, isNumeric } from './dtype.ts';
import { AmpcError } from './errors.ts';
import { ampDefs } from './ops-amp.ts';
import { gradientDefs } from './ops-gradient.ts';
import {
  broadcastShapes, broadcastsTo, checkNonNegative, checkPositive, matmulDims, normalizeAxes, normalizeAxis, windowOutSize,
} from './shape-rules.ts';
import type { TensorType } from './types.ts';
import { numel, shapeToString, shapesEqual, typeToString } from './types.ts';

export type Trait =
  | 'elementwise' // result element i depends on operand elements at i (after broadcasting)
  | 'unary'
  | 'binary'
  | 'compare' // result is bool
  | 'commutative'
  | 'reduction'
  | 'shape' // moves data without arithmetic
  | 'matmul'
  | 'conv'
  | 'pool'
  | 'norm'
  | 'loss'
  | 'source' // no operands (constants)
  | 'gradient'; // emitted by autodiff (ir/ops-gradient.ts)

export interface OpDef {
  /** Exact operand count, or a minimum for variadic ops. */
  readonly operands: number | { readonly min: number };
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly traits: readonly Trait[];
  /**
   * Derives result types from operand types and (complete) attributes. Ops
   * without operands take their type from the declared one. Throws an
   * AmpcError without a place; callers add it.
   */
  readonly infer: (operands: readonly TensorType[], attrs: Attrs, declared?: readonly TensorType[]) => TensorType[];
}

// ---------------------------------------------------------------- helpers

const ACC: AttrSpec = { kind: 'dtype', default: 'f32', alwaysPrint: true };
const REDUCTION: AttrSpec = { kind: 'string', default: 'mean', oneOf: ['mean', 'sum', 'none'] };

function requireDtype(op: string, t: TensorType, ok: (d: DType) => boolean, what: string): void {
  if (!ok(t.dtype)) throw new AmpcError('E0206', `${op}: expects ${what} operands, got ${typeToString(t)}`);
}

function sameDtype(op: string, ts: readonly TensorType[]): DType {
  const d = ts[0]!.dtype;
  for (const t of ts) {
    if (t.dtype !== d) {
      throw new AmpcError('E0205', `${op}: operand dtypes differ (${ts.map(typeToString).join(' vs ')}); insert a cast`);
    }
  }
  return d;
}

function checkAcc(op: string, attrs: Attrs): void {
  if (!isFloat(attrs.acc as DType)) throw new AmpcError('E0104', `${op}: acc must be f32 or f16, got ${String(attrs.acc)}`);
}

function unary(accepts: (d: DType) => boolean, what: string, extraAttrs: Record<string, AttrSpec> = {}): OpDef {
  return {
    operands: 1,
    attrs: extraAttrs,
    traits: ['elementwise', 'unary'],
    infer: ([x], _a) => {
      requireDtype('unary op', x!, accepts, what);
      return [x!];
    },
  };
}

// Fix the op name into error messages after the table is built.
function named(name: string, def: OpDef): OpDef {
  return {
    ...def,
    infer: (operands, attrs, declared) => {
      try {
        return def.infer(operands, attrs, declared);
      } catch (e) {
        if (e instanceof AmpcError && /^(unary|binary|compare|reduce|pool) op:/.test(e.detail)) {
          throw new AmpcError(e.code, e.detail.replace(/^\w+ op:/, `${name}:`), e.loc);
        }
        throw e;
      }
    },
  };
}

function binary(accepts: (d: DType) => boolean, what: string, commutative: boolean): OpDef {
  return {
    operands: 2,
    attrs: {},
    traits: commutative ? ['elementwise', 'binary', 'commutative'] : ['elementwise', 'binary'],
    infer: (ts) => {
      const d = sameDtype('binary op', ts);
      requireDtype('binary op', ts[0]!, accepts, what);
      return [{ dtype: d, shape: broadcastShapes('binary op', ts.map((t) => t.shape)) }];
    },
  };
}

function compare(): OpDef {
  return {
    operands: 2,
    attrs: {},
    traits: ['elementwise', 'binary', 'compare'],
    infer: (ts) => {
      sameDtype('compare op', ts);
      requireDtype('compare op', ts[0]!, isNumeric, 'numeric');
      return [{ dtype: 'bool', shape: broadcastShapes('compare op', ts.map((t) => t.shape)) }];
    },
  };
}

function reduction(withAcc: boolean, accepts: (d: DType) => boolean, what: string): OpDef {
  const attrs: Record<string, AttrSpec> = { axes: { kind: 'ints' }, keepdims: { kind: 'bool', default: false } };
  if (withAcc) attrs.acc = ACC;
  return {
    operands: 1,
    attrs,
    traits: ['reduction'],
    infer: ([x], a) => {
      requireDtype('reduce op', x!, accepts, what);
      if (withAcc && x!.dtype !== 'i32' && x!.dtype !== 'u32') checkAcc('reduce op', a);
      const axes = normalizeAxes('reduce op', a.axes as number[], x!.shape.length);
      const shape = a.keepdims
        ? x!.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x!.shape.filter((_, i) => !axes.includes(i));
      return [{ dtype: x!.dtype, shape }];
    },
  };
}

function pool(name: string, extra: Record<string, AttrSpec>): OpDef {
  return {
    operands: 1,
    attrs: {
      kernel: { kind: 'ints' },
      stride: { kind: 'ints', default: [1, 1] },
      padding: { kind: 'ints', default: [0, 0, 0, 0] },
      ...extra,
    },
    traits: ['pool'],
    infer: ([x], a) => {
      requireDtype(name, x!, isFloat, 'float');
      if (x!.shape.length !== 4) throw new AmpcError('E0203', `${name}: expects NCHW input of rank 4, got ${typeToString(x!)}`);
      const k = a.kernel as number[], s = a.stride as number[], p = a.padding as number[];
      checkPositive(name, 'kernel', k, 2);
      checkPositive(name, 'stride', s, 2);
      checkNonNegative(name, 'padding', p, 4);
      if (p[0]! >= k[0]! || p[2]! >= k[0]! || p[1]! >= k[1]! || p[3]! >= k[1]!) {
        throw new AmpcError('E0104', `${name}: padding [${p.join(', ')}] must be smaller than the kernel [${k.join(', ')}]`);
      }
      const [n, c, h, w] = x!.shape as [number, number, number, number];
      const oh = windowOutSize(name, h, k[0]!, s[0]!, p[0]!, p[2]!, 1);
      const ow = windowOutSize(name, w, k[1]!, s[1]!, p[1]!, p[3]!, 1);
      return [{ dtype: x!.dtype, shape: [n, c, oh, ow] }];
    },
  };
}

function softmaxLike(name: string): OpDef {
  return {
    operands: 1,
    attrs: { axis: { kind: 'int', default: -1 } },
    traits: ['norm'],
    infer: ([x], a) => {
      requireDtype(name, x!, isFloat, 'float');
      normalizeAxis(name, a.axis as number, x!.shape.length);
      return [x!];
    },
  };
}

// ---------------------------------------------------------------- the table

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
    infer: ([a, b], at) => {
      const d = sameDtype('matmul', [a!, b!]);
      requireDtype('matmul', a!, isFlt, 'float');
      checkAcc('matmul', at);
      const { batch, m, n } = matmulDims(a!.shape, b!.shape, at.transpose_a as boolean, at.transpose_b as boolean);
      return [{ dtype: d, shape: [...batch, m, n] }];
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
  ...gradientDefs({ conv2d: CORE_DEFS.conv2d.infer, max_pool2d: CORE_DEFS.max_pool2d.infer, avg_pool2d: CORE_DEFS.avg_pool2d.infer }),
  ...ampDefs(),
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
