// The builder vjp rules emit gradient nodes with, and the rule signature.
// Every node a rule emits goes into the gradient graph with the `loc` of the
// forward node it differentiates, so an error in a gradient op points at the
// op of the user's model. Helpers cover what many rules share: scalar
// constants, undoing numpy broadcasting (`sumTo`), re-inserting reduced axes.

import type { AttrValue, Attrs } from '../../ir/attrs.ts';
import type { DType } from '../../ir/dtype.ts';
import type { Loc } from '../../ir/errors.ts';
import type { Graph, Node, Value } from '../../ir/graph.ts';
import type { OpName } from '../../ir/ops.ts';
import { broadcastShapes, normalizeAxes } from '../../ir/shape-rules.ts';
import type { Shape } from '../../ir/types.ts';
import { shapesEqual } from '../../ir/types.ts';

/** What a vjp rule receives; operands and results are values of the gradient graph. */
export interface VjpArgs {
  readonly b: GradBuilder;
  /** The forward node (of the input graph); read its attributes from `attrs`. */
  readonly node: Node;
  readonly attrs: Attrs;
  /** The node's operands and results, mapped into the gradient graph. */
  readonly x: readonly Value[];
  readonly y: readonly Value[];
  /**
   * Incoming cotangent of each result (undefined where none flows in). The
   * driver calls a rule only when at least one is defined.
   */
  readonly gs: readonly (Value | undefined)[];
  /** The cotangent of result 0 (a zero constant if none flows into it). */
  readonly g: Value;
  /** Which operands need a gradient (float and depending on a requested param). */
  readonly needs: readonly boolean[];
}

/**
 * A vjp rule: returns one cotangent per operand, of the operand's exact type,
 * or undefined where the operand gets no gradient (integers, labels, or not
 * needed). Nodes it emits but the result does not use are removed afterwards.
 */
export type VjpRule = (a: VjpArgs) => readonly (Value | undefined)[];

type AttrsIn = Readonly<Record<string, AttrValue | undefined>>;

/** Emits nodes into the gradient graph, placed at the forward node being differentiated. */
export class GradBuilder {
  /** The forward op's place; every emitted node gets it. */
  loc: Loc | undefined = undefined;
  /** Nodes emitted by this builder (the backward part of the graph). */
  readonly emitted = new Set<Node>();

  constructor(readonly graph: Graph) {}

  /** A single-result op. */
  op(op: OpName, operands: readonly Value[], attrs: AttrsIn = {}): Value {
    return this.node(op, operands, attrs).results[0]!;
  }

  node(op: OpName, operands: readonly Value[], attrs: AttrsIn = {}, declared?: { dtype: DType; shape: Shape }[]): Node {
    const n = this.graph.addNode(op, operands, attrs, { loc: this.loc, declared });
    this.emitted.add(n);
    return n;
  }

  /** `constant {value} : dtype[shape]` (a splat); shape [] by default, broadcast by binary ops. */
  constant(value: number, dtype: DType, shape: Shape = []): Value {
    return this.node('constant', [], { value }, [{ dtype, shape: [...shape] }]).results[0]!;
  }

  /** A zero tensor of `v`'s type. */
  zerosLike(v: Value): Value {
    return this.constant(0, v.type.dtype, v.type.shape);
  }

  add(a: Value, b: Value): Value {
    return this.op('add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('sub', [a, b]);
  }
  /** a · b; a multiplication by a scalar constant 1 (e.g. the seed) is skipped. */
  mul(a: Value, b: Value): Value {
    if (isScalarOne(a) && shapesEqual(b.type.shape, broadcastShapes('mul', [a.type.shape, b.type.shape]))) return b;
    if (isScalarOne(b) && shapesEqual(a.type.shape, broadcastShapes('mul', [a.type.shape, b.type.shape]))) return a;
    return this.op('mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('div', [a, b]);
  }
  neg(a: Value): Value {
    return this.op('neg', [a]);
  }
  /** a · c for a scalar constant c of a's dtype (folded when a is itself a constant). */
  scale(a: Value, c: number): Value {
    if (c === 1) return a;
    if (a.def?.op === 'constant') return this.constant((a.def.attrs.value as number) * c, a.type.dtype, a.type.shape);
    return this.mul(a, this.constant(c, a.type.dtype));
  }

  reshape(v: Value, shape: Shape): Value {
    return shapesEqual(v.type.shape, shape) ? v : this.op('reshape', [v], { shape: [...shape] });
  }

  broadcastTo(v: Value, shape: Shape): Value {
    return shapesEqual(v.type.shape, shape) ? v : this.op('broadcast_to', [v], { shape: [...shape] });
  }

  /** reduce_sum over `axes` (skipped when there are none). */
  sum(v: Value, axes: readonly number[], keepdims = false): Value {
    return axes.length === 0 ? v : this.op('reduce_sum', [v], { axes: [...axes], keepdims });
  }

  /** reduce_mean over `axes` (skipped when there are none). */
  mean(v: Value, axes: readonly number[], keepdims = false): Value {
    return axes.length === 0 ? v : this.op('reduce_mean', [v], { axes: [...axes], keepdims });
  }

  /** A bool mask as 0/1 of `dtype`. */
  maskAs(mask: Value, dtype: DType): Value {
    return this.op('cast', [mask], { to: dtype });
  }

  /**
   * Undoes numpy broadcasting: sums `v` (of a broadcast result's shape) over
   * the axes on which `shape` was broadcast, then reshapes to `shape`.
   */
  sumTo(v: Value, shape: Shape): Value {
    const from = v.type.shape;
    if (shapesEqual(from, shape)) return v;
    const lead = from.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && from[i] !== 1)) axes.push(i);
    }
    return this.reshape(this.sum(v, axes), shape);
  }
}

/** True for the result of `constant {value = 1.0} : dtype[]`. */
function isScalarOne(v: Value): boolean {
  return v.def?.op === 'constant' && v.def.attrs.value === 1 && v.type.shape.length === 0;
}

/** The shape `x` has after reducing `axes` with keepdims (reduced extents set to 1). */
export function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** A reduction's axes, normalized and sorted. */
export function reducedAxes(op: string, attrs: Attrs, rank: number): number[] {
  return normalizeAxes(op, attrs.axes as number[], rank);
}

/** Axes 0..rank-1 without `skip`. */
export function axesExcept(rank: number, skip: readonly number[]): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => !skip.includes(i));
}
