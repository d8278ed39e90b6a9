// The builder the train-step passes (passes/optimizer.ts, passes/loss-scaling.ts)
// emit their nodes with: arithmetic on values, shared scalar constants per
// dtype, and fresh printed names (`new.<p>`, `unscaled.grad.<p>`) that never
// collide with a name the graph already has.

import type { AttrValue } from '../ir/attrs.ts';
import type { DType } from '../ir/dtype.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import type { TensorType } from '../ir/types.ts';
import { tensorType } from '../ir/types.ts';

/** A state input of the train step (optimizer or loss-scale state) and the initial value of every element. */
export interface StateInput {
  readonly name: string;
  readonly type: TensorType;
  readonly init: number;
}

/** Emits the update's nodes into the train-step graph; scalar f32 constants are shared. */
export class UpdateBuilder {
  private readonly constants = new Map<string, Value>();
  private readonly names: Set<string>;

  constructor(private readonly g: Graph) {
    this.names = new Set<string>();
    for (const v of g.inputs) if (v.name !== undefined) this.names.add(v.name);
    for (const n of g.nodes) for (const r of n.results) if (r.name !== undefined) this.names.add(r.name);
  }

  op(op: OpName, operands: readonly Value[], attrs: Readonly<Record<string, AttrValue>> = {}): Value {
    return this.g.add(op, operands, attrs);
  }

  /** A node of several results, each given a fresh name from `names`. */
  multi(op: OpName, operands: readonly Value[], names: readonly string[]): Node {
    const node = this.g.addNode(op, operands);
    node.results.forEach((r, i) => (r.name = this.fresh(names[i]!)));
    return node;
  }

  /** `name`, or `name.k` when taken; reserved from now on. */
  fresh(name: string): string {
    let unique = name;
    for (let k = 1; this.names.has(unique); k++) unique = `${name}.${k}`;
    this.names.add(unique);
    return unique;
  }

  /** The scalar constant `value` of `dtype` (default f32), one node per value and dtype. */
  c(value: number, dtype: DType = 'f32'): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.g.add('constant', [], { value }, { declared: [tensorType(dtype, [])] });
      this.constants.set(key, v);
    }
    return v;
  }

  add(a: Value, b: Value): Value {
    return this.op('add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('div', [a, b]);
  }
  /** c · v for a number c. */
  scale(c: number, v: Value): Value {
    return c === 1 ? v : this.mul(this.c(c), v);
  }

  toF32(v: Value): Value {
    return v.type.dtype === 'f32' ? v : this.g.add('cast', [v], { to: 'f32' });
  }

  /** Names a result that has no printed name of its own (e.g. a traced loss) `name`, when that is free. */
  nameIfUnnamed(v: Value, name: string): void {
    if (!v.def || (v.name !== undefined && !/^\d+$/.test(v.name)) || this.names.has(name)) return;
    v.name = name;
    this.names.add(name);
  }

  /** `v` as a fresh value named `name` (or `name.k` when taken); an input or named value is copied first. */
  named(v: Value, name: string, dtype = v.type.dtype): Value {
    let r = v;
    if (dtype !== v.type.dtype) r = this.g.add('cast', [v], { to: dtype });
    else if (!r.def || (r.name !== undefined && !/^\d+$/.test(r.name))) r = this.g.add('reshape', [r], { shape: [...r.type.shape] });
    r.name = this.fresh(name);
    return r;
  }
}
