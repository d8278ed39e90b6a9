// Graphs in SSA form: values, nodes (one op application each), graphs with
// inputs (some marked {param}) and outputs, and modules holding graphs.
// `Graph.addNode` completes attributes and derives result types through the
// op table, so every graph built this way is well typed by construction.

import type { AttrValue, Attrs } from './attrs.ts';
import { completeAttrs } from './attrs.ts';
import { AmpcError } from './errors.ts';
import type { Loc } from './errors.ts';
import type { OpName } from './ops.ts';
import { OPS } from './ops.ts';
import { checkShape } from './shape-rules.ts';
import type { TensorType } from './types.ts';
import { tensorType, typesEqual, typeToString } from './types.ts';

export type ValueRole = 'input' | 'param' | 'result';

let nextValueId = 0;

export class Value {
  readonly id = nextValueId++;
  constructor(
    readonly type: TensorType,
    readonly role: ValueRole,
    /** Printed name without `%`; a numeric or missing name is renumbered when printed. */
    public name: string | undefined,
    /** The node that defines it; undefined for graph inputs. */
    public def: Node | undefined,
  ) {}

  get isParam(): boolean {
    return this.role === 'param';
  }
}

export interface Node {
  readonly op: OpName;
  operands: Value[];
  attrs: Attrs;
  results: Value[];
  loc?: Loc;
  /** Explanatory comment a pass may attach; the printer writes it after the op. */
  note?: string;
  /**
   * Where tracing recorded the node: the dotted path of the nn module whose
   * forward ran it (`encoder.attention`), or of a `scope()` block. Passes that
   * copy nodes keep it; the text format does not carry it.
   */
  scope?: string;
  /** The body of a `fused` node (ir/ops-fused.ts); no other op has one. */
  body?: Graph;
}

export interface AddNodeOptions {
  loc?: Loc;
  /** Declared result types (required for ops without operands, checked otherwise). */
  declared?: readonly TensorType[];
  /** Names for the results. */
  names?: readonly (string | undefined)[];
  /** Trace scope of the node (see Node.scope). */
  scope?: string;
  /** The body of a `fused` node; its outputs give the result types. */
  body?: Graph;
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly nodes: Node[] = [];
  outputs: Value[] = [];
  /** Names of `inputs`, for addInput's duplicate check. */
  #inputNames = new Set<string>();

  constructor(
    public name: string,
    public loc?: Loc,
  ) {}

  get params(): Value[] {
    return this.inputs.filter((v) => v.isParam);
  }

  addInput(name: string, type: TensorType, opts: { param?: boolean; loc?: Loc } = {}): Value {
    try {
      checkShape(`input %${name}`, type.shape);
    } catch (e) {
      throw e instanceof AmpcError ? e.at(opts.loc) : e;
    }
    // A set of the input names keeps this O(1) (a scan made parsing 50k inputs quadratic);
    // it is rebuilt if `inputs` was changed behind its back, and a hit is confirmed by a scan.
    if (this.#inputNames.size !== this.inputs.length) this.#inputNames = new Set(this.inputs.map((v) => v.name!));
    if (this.#inputNames.has(name) && this.inputs.some((v) => v.name === name)) {
      throw new AmpcError('E0005', `graph @${this.name}: input %${name} is defined twice`, opts.loc);
    }
    const v = new Value(tensorType(type.dtype, type.shape), opts.param ? 'param' : 'input', name, undefined);
    this.inputs.push(v);
    this.#inputNames.add(name);
    return v;
  }

  /** Appends a node; completes attributes and derives result types. Errors carry `opts.loc`. */
  addNode(op: OpName, operands: readonly Value[], attrs: Readonly<Record<string, AttrValue | undefined>> = {}, opts: AddNodeOptions = {}): Node {
    try {
      const def = OPS[op];
      checkArity(op, operands.length);
      if ((op === 'fused') !== (opts.body !== undefined)) {
        throw new AmpcError('E0404', op === 'fused' ? 'fused: needs a body graph' : `${op}: only a fused node has a body`);
      }
      if (opts.body) {
        checkFusedSignature(opts.body, operands.map((v) => v.type));
        const bodyTypes = opts.body.outputs.map((v) => v.type);
        if (opts.declared) checkDeclared(op, bodyTypes, opts.declared);
        opts = { ...opts, declared: bodyTypes };
      }
      const complete = completeAttrs(op, def.attrs, attrs);
      const types = def.infer(operands.map((v) => v.type), complete, opts.declared);
      if (opts.declared) checkDeclared(op, types, opts.declared);
      for (const t of types) checkShape(op, t.shape);
      const node: Node = { op, operands: [...operands], attrs: complete, results: [], loc: opts.loc };
      if (opts.scope !== undefined) node.scope = opts.scope;
      if (opts.body) node.body = opts.body;
      node.results = types.map((t, i) => new Value(tensorType(t.dtype, t.shape), 'result', opts.names?.[i], node));
      this.nodes.push(node);
      return node;
    } catch (e) {
      throw e instanceof AmpcError ? e.at(opts.loc) : e;
    }
  }

  /** Convenience for single-result ops. */
  add(op: OpName, operands: readonly Value[], attrs: Readonly<Record<string, AttrValue | undefined>> = {}, opts: AddNodeOptions = {}): Value {
    const n = this.addNode(op, operands, attrs, opts);
    if (n.results.length !== 1) throw new AmpcError('E0302', `${op}: has ${n.results.length} results; use addNode`, opts.loc);
    return n.results[0]!;
  }

  setOutputs(values: readonly Value[]): void {
    this.outputs = [...values];
  }
}

/**
 * A copy of `g` (same inputs, nodes, attributes, names, places, notes and scopes);
 * `map` receives each value of `g` and its copy.
 */
export function cloneGraph(g: Graph, map = new Map<Value, Value>()): Graph {
  const out = new Graph(g.name, g.loc);
  for (const v of g.inputs) map.set(v, out.addInput(v.name!, v.type, { param: v.isParam }));
  for (const n of g.nodes) {
    const copy = out.addNode(n.op, n.operands.map((v) => map.get(v)!), n.attrs, {
      loc: n.loc,
      declared: n.results.map((r) => r.type),
      names: n.results.map((r) => r.name),
      scope: n.scope,
      ...(n.body ? { body: cloneGraph(n.body) } : {}),
    });
    if (n.note !== undefined) copy.note = n.note;
    n.results.forEach((r, i) => map.set(r, copy.results[i]!));
  }
  out.setOutputs(g.outputs.map((v) => map.get(v)!));
  return out;
}

/** A fused node's operands are its body's inputs: as many, of the same types (E0404 otherwise). */
export function checkFusedSignature(body: Graph, operands: readonly TensorType[]): void {
  if (body.inputs.length !== operands.length) {
    throw new AmpcError('E0404', `fused: ${operands.length} operand(s) but the body @${body.name} takes ${body.inputs.length} input(s)`);
  }
  body.inputs.forEach((v, i) => {
    if (!typesEqual(v.type, operands[i]!)) {
      throw new AmpcError('E0404', `fused: operand ${i} is ${typeToString(operands[i]!)} but body input %${v.name} is ${typeToString(v.type)}`);
    }
  });
}

export function checkArity(op: OpName, count: number): void {
  const want = OPS[op].operands;
  if (typeof want === 'number' ? count !== want : count < want.min) {
    const text = typeof want === 'number' ? `${want}` : `at least ${want.min}`;
    throw new AmpcError('E0303', `${op}: expects ${text} operand(s), got ${count}`);
  }
}

export function checkDeclared(op: OpName, inferred: readonly TensorType[], declared: readonly TensorType[]): void {
  if (inferred.length !== declared.length) {
    throw new AmpcError('E0302', `${op}: produces ${inferred.length} result(s), ${declared.length} declared`);
  }
  inferred.forEach((t, i) => {
    if (!typesEqual(t, declared[i]!)) {
      throw new AmpcError('E0301', `${op}: result ${i} is ${typeToString(t)}, but ${typeToString(declared[i]!)} is declared`);
    }
  });
}

export class Module {
  readonly graphs: Graph[] = [];

  constructor(public file?: string) {}

  add(g: Graph): Graph {
    if (this.graphs.some((h) => h.name === g.name)) throw new AmpcError('E0403', `graph @${g.name} is defined twice`, g.loc);
    this.graphs.push(g);
    return g;
  }

  get(name: string): Graph {
    const g = this.graphs.find((h) => h.name === name);
    if (!g) throw new AmpcError('E0402', `no graph @${name} in this module (has: ${this.graphs.map((h) => '@' + h.name).join(', ') || 'none'})`);
    return g;
  }

  /** The graph a tool works on by default: the first one. */
  get main(): Graph {
    const g = this.graphs[0];
    if (!g) throw new AmpcError('E0402', 'the module holds no graph');
    return g;
  }
}
