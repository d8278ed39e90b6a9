// What an op mapping sees of one ONNX node (NodeCtx): its inputs as IR values
// or import-time constants, its attributes (each read is recorded, and an
// attribute no mapping read is refused: nothing is silently ignored), the
// opset of its domain, and helpers that add IR nodes placed at the ONNX node
// (its name and op type are the place of every IR node it becomes).

import type { DType } from '../../ir/dtype.ts';
import { AmpcError } from '../../ir/errors.ts';
import type { Loc } from '../../ir/errors.ts';
import type { AttrValue } from '../../ir/attrs.ts';
import type { Graph, Value } from '../../ir/graph.ts';
import type { OpName } from '../../ir/ops.ts';
import type { AttributeProto, ConstTensor, ElemType, GraphProto, NodeProto } from './proto.ts';
import { elemType, tensorValues, toNumber } from './proto.ts';

/** An ONNX value during import: an IR value, or a tensor known at import time. */
export type Entry = { readonly kind: 'value'; readonly v: Value } | { readonly kind: 'const'; readonly t: ConstTensor };

/** The IR dtype that holds values of an ONNX element type at run time (E0901 where none does). */
export function irDtype(t: ElemType, where: string): DType {
  switch (t) {
    case 'float': return 'f32';
    case 'float16': return 'f16';
    case 'bool': return 'bool';
    case 'int8': case 'int16': case 'int32': case 'int64': case 'uint8': case 'uint16': return 'i32';
    case 'uint32': return 'u32';
    default:
      throw new AmpcError('E0901', `${where}: element type ${t} has no IR dtype (the IR holds f32, f16, i32, u32 and bool)`);
  }
}

/** The ONNX element type a value of an IR dtype is taken for (i32 stands for ONNX's integer types). */
export function elemOfDtype(d: DType): ElemType {
  return ({ f32: 'float', f16: 'float16', bool: 'bool', i32: 'int64', u32: 'uint32' } as const)[d];
}

/** The names a node sees: its graph's, then the enclosing graphs' (a subgraph's outer-scope references). */
export interface Scope {
  lookup(name: string): Entry | undefined;
}

const NO_SCOPE: Scope = { lookup: () => undefined };

/** The importer's services a NodeCtx uses (implemented in import.ts). */
export interface ImportHost {
  readonly g: Graph;
  /** An IR value for an entry: a constant becomes a splat `constant` op or an extra graph input with its value. */
  materialize(e: Entry, nameHint: string, loc: Loc): Value;
  /**
   * Imports a subgraph inline: its inputs bound to `inputs`, names it does not
   * define looked up in `outer`, its nodes placed at `loc` after `where`;
   * returns its outputs.
   */
  inline(body: GraphProto, inputs: readonly Entry[], outer: Scope, where: string, loc: Loc): Entry[];
}

export class NodeCtx {
  readonly used = new Set<string>();
  readonly attrs = new Map<string, AttributeProto>();

  constructor(
    readonly host: ImportHost,
    readonly node: NodeProto,
    readonly op: string,
    readonly opset: number,
    readonly inputs: readonly (Entry | undefined)[],
    readonly loc: Loc,
    /** The names visible at this node (for the subgraphs of control-flow ops). */
    readonly scope: Scope = NO_SCOPE,
  ) {
    for (const a of node.attribute ?? []) this.attrs.set(a.name ?? '', a);
  }

  get g(): Graph {
    return this.host.g;
  }

  get name(): string {
    return this.node.name || `#${this.loc.line}`;
  }

  /** E0901 naming the node, its op and opset. */
  unsupported(what: string): never {
    throw new AmpcError('E0901', `${this.op} (opset ${this.opset}): ${what}`, this.loc);
  }

  bad(what: string): never {
    throw new AmpcError('E0902', `${this.op} (opset ${this.opset}): ${what}`, this.loc);
  }

  get outputCount(): number {
    return (this.node.output ?? []).filter((o) => o !== '').length;
  }

  /** Refuses optional outputs past the first `n` that the model uses. */
  onlyOutputs(n: number, why = 'is not supported'): void {
    const outs = this.node.output ?? [];
    outs.forEach((o, i) => {
      if (i >= n && o !== '') this.unsupported(`output ${i} ('${o}') ${why}`);
    });
  }

  has(i: number): boolean {
    return this.inputs[i] !== undefined;
  }

  entry(i: number): Entry {
    const e = this.inputs[i];
    if (!e) this.bad(`input ${i} is missing`);
    return e;
  }

  /** Input `i` as an IR value (constants materialized). */
  value(i: number): Value {
    return this.host.materialize(this.entry(i), (this.node.input ?? [])[i] ?? 'c', this.loc);
  }

  /** Input `i`'s values, which must be known at import time (`what` says what it is). */
  constant(i: number, what: string): ConstTensor {
    const e = this.entry(i);
    if (e.kind !== 'const') this.unsupported(`input ${i} (${what}) must be known at import time (an initializer, a Constant, or shape arithmetic on them)`);
    return e.t;
  }

  /** Input `i` as a list of integers known at import time. */
  ints(i: number, what: string): number[] {
    return [...this.constant(i, what).data];
  }

  /** The ONNX element type of input `i`. */
  elem(i: number): ElemType {
    const e = this.entry(i);
    return e.kind === 'const' ? e.t.type : elemOfDtype(e.v.type.dtype);
  }

  shape(i: number): readonly number[] {
    const e = this.entry(i);
    return e.kind === 'const' ? e.t.shape : e.v.type.shape;
  }

  // ------------------------------------------------------------ attributes

  private attr(name: string): AttributeProto | undefined {
    this.used.add(name);
    return this.attrs.get(name);
  }

  hasAttr(name: string): boolean {
    return this.attrs.has(name);
  }

  int(name: string, dflt: number): number;
  int(name: string, dflt?: number): number | undefined;
  int(name: string, dflt?: number): number | undefined {
    const a = this.attr(name);
    return a ? toNumber(a.i) : dflt;
  }

  float(name: string, dflt: number): number {
    const a = this.attr(name);
    return a ? (a.f ?? 0) : dflt;
  }

  intList(name: string): number[] | undefined {
    const a = this.attr(name);
    return a ? (a.ints ?? []).map(toNumber) : undefined;
  }

  floatList(name: string): number[] | undefined {
    const a = this.attr(name);
    return a ? [...(a.floats ?? [])] : undefined;
  }

  string(name: string, dflt: string): string {
    const a = this.attr(name);
    return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : dflt;
  }

  tensor(name: string): ConstTensor | undefined {
    const a = this.attr(name);
    return a?.t ? tensorValues(a.t, `node '${this.name}' attribute ${name}`) : undefined;
  }

  /** A graph attribute (If's branches, Scan's and Loop's body); E0902 when it is missing. */
  graph(name: string): GraphProto {
    const a = this.attr(name);
    if (!a?.g) this.bad(`attribute '${name}' (a graph) is missing`);
    return a.g;
  }

  /** Imports subgraph `body` inline with its inputs bound to `inputs`; `label` names it in places (`then_branch`, `body iteration 2`). */
  inline(body: GraphProto, inputs: readonly Entry[], label: string): Entry[] {
    return this.host.inline(body, inputs, this.scope, `${this.loc.node ?? `node '${this.name}' (${this.op})`} ${label}`, this.loc);
  }

  /** Marks an attribute as read without using it (documented as having no effect here). */
  ignore(...names: string[]): void {
    for (const n of names) this.used.add(n);
  }

  /** E0901 for the first attribute no mapping read. */
  checkAllAttrsRead(): void {
    for (const name of this.attrs.keys()) if (!this.used.has(name)) this.unsupported(`attribute '${name}' is not supported`);
  }

  // ------------------------------------------------------------ building

  add(op: OpName, operands: readonly Value[], attrs: Readonly<Record<string, AttrValue | undefined>> = {}): Value {
    const v = this.g.add(op, operands, attrs, { loc: this.loc });
    v.def!.note = `onnx ${this.op} '${this.name}'`;
    return v;
  }

  /** A splat constant of `dtype` and `shape` (default a scalar). */
  scalar(value: number, dtype: DType, shape: readonly number[] = []): Value {
    const n = this.g.addNode('constant', [], { value }, { loc: this.loc, declared: [{ dtype, shape }] });
    n.note = `onnx ${this.op} '${this.name}'`;
    return n.results[0]!;
  }

  /** A constant tensor as an IR value. */
  materialize(t: ConstTensor, hint: string): Value {
    return this.host.materialize({ kind: 'const', t }, hint, this.loc);
  }
}

/** The element type named by a `to` attribute (Cast), with its IR dtype. */
export function castTarget(c: NodeCtx, n: number): ElemType {
  return elemType(n, `node '${c.name}' (${c.op})`);
}
