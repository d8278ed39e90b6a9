// What an op of the table is (OpDef: arity, attributes, the type rule,
// traits) and the builders ir/ops.ts writes the table with (unary, binary,
// compare, reduction, pool, softmax-like ops, and dtype checks shared by the
// rules). ir/ops-gradient.ts and ir/ops-amp.ts define their ops with the same
// OpDef.

import type { AttrSpec, Attrs } from './attrs.ts';
import type { DType } from './dtype.ts';
import { isFloat, isNumeric } from './dtype.ts';
import { AmpcError } from './errors.ts';
import { broadcastShapes, checkNonNegative, checkPositive, normalizeAxes, normalizeAxis, windowOutSize } from './shape-rules.ts';
import type { TensorType } from './types.ts';
import { typeToString } from './types.ts';

export type Trait =
  | 'elementwise' // result element i depends on operand elements at i (after broadcasting); random_uniform and iota on i itself
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
  | 'source' // no operands (constants, iota)
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

export const ACC: AttrSpec = { kind: 'dtype', default: 'f32', alwaysPrint: true };
export const REDUCTION: AttrSpec = { kind: 'string', default: 'mean', oneOf: ['mean', 'sum', 'none'] };

export function requireDtype(op: string, t: TensorType, ok: (d: DType) => boolean, what: string): void {
  if (!ok(t.dtype)) throw new AmpcError('E0206', `${op}: expects ${what} operands, got ${typeToString(t)}`);
}

export function sameDtype(op: string, ts: readonly TensorType[]): DType {
  const d = ts[0]!.dtype;
  for (const t of ts) {
    if (t.dtype !== d) {
      throw new AmpcError('E0205', `${op}: operand dtypes differ (${ts.map(typeToString).join(' vs ')}); insert a cast`);
    }
  }
  return d;
}

export function checkAcc(op: string, attrs: Attrs): void {
  if (!isFloat(attrs.acc as DType)) throw new AmpcError('E0104', `${op}: acc must be f32 or f16, got ${String(attrs.acc)}`);
}

/**
 * The result dtype of an op that accumulates (matmul, reduce_sum,
 * reduce_mean): its operands' dtype, or, when the result is declared so, its
 * accumulator's — f16 operands with `acc = f32` may write the f32
 * accumulator unrounded (as XLA's `preferred_element_type`, cuBLAS's f32 C
 * with f16 A and B). The train step does this for a weight gradient that was
 * only ever widened to f32 (passes/loss-scaling.ts, widenGradientAccumulators).
 */
export function accumulatorResult(operand: DType, attrs: Attrs, declared?: readonly TensorType[]): DType {
  const want = declared?.[0]?.dtype;
  return want !== undefined && want !== operand && want === attrs.acc && operand === 'f16' ? want : operand;
}

export function unary(accepts: (d: DType) => boolean, what: string, extraAttrs: Record<string, AttrSpec> = {}): OpDef {
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
export function named(name: string, def: OpDef): OpDef {
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

export function binary(accepts: (d: DType) => boolean, what: string, commutative: boolean): OpDef {
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

export function compare(): OpDef {
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

export function reduction(withAcc: boolean, accepts: (d: DType) => boolean, what: string): OpDef {
  const attrs: Record<string, AttrSpec> = { axes: { kind: 'ints' }, keepdims: { kind: 'bool', default: false } };
  if (withAcc) attrs.acc = ACC;
  return {
    operands: 1,
    attrs,
    traits: ['reduction'],
    infer: ([x], a, declared) => {
      requireDtype('reduce op', x!, accepts, what);
      if (withAcc && x!.dtype !== 'i32' && x!.dtype !== 'u32') checkAcc('reduce op', a);
      const axes = normalizeAxes('reduce op', a.axes as number[], x!.shape.length);
      const shape = a.keepdims
        ? x!.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x!.shape.filter((_, i) => !axes.includes(i));
      return [{ dtype: withAcc ? accumulatorResult(x!.dtype, a, declared) : x!.dtype, shape }];
    },
  };
}

export function pool(name: string, extra: Record<string, AttrSpec>): OpDef {
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

export function softmaxLike(name: string): OpDef {
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
