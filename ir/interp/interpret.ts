// The CPU reference interpreter: evaluates a graph node by node in f64 with
// the rules of INTERP_RULES, storing every result through `storeAs` of its
// dtype (so f16 values are rounded wherever they are stored). It is the
// numerics oracle that GPU results and passes are checked against.

import type { AttrValue } from '../attrs.ts';
import { AmpcError, isAmpcError } from '../errors.ts';
import type { Graph, Node, Value } from '../graph.ts';
import { Graph as GraphClass } from '../graph.ts';
import type { OpName } from '../ops.ts';
import type { TensorType } from '../types.ts';
import { numel, shapesEqual, typeToString } from '../types.ts';
import { INTERP_RULES } from './rules.ts';
import type { HostTensor } from './tensor.ts';
import { dataFits, storeAs } from './tensor.ts';

export interface InterpretOptions {
  /** Called after each node with its (stored) results, in evaluation order. */
  readonly onNode?: (node: Node, results: readonly HostTensor[]) => void;
  /**
   * The most elements the graph's values may hold in all (inputs, every
   * result, fused bodies' values) before the interpreter refuses with E0802,
   * checked before anything is evaluated or allocated. Default
   * DEFAULT_MAX_ELEMENTS; `Infinity` lifts the limit. The CLI's
   * `--max-elements N` sets it.
   */
  readonly maxElements?: number;
}

/**
 * The default limit of InterpretOptions.maxElements: 2^26 elements in all.
 * The interpreter keeps every value of the graph alive (interpretAll returns
 * them all), f32 and f16 values as Float64Array, so 2^26 elements is up to
 * 512 MiB of host memory — well within a default Node heap and machine, and
 * large enough for every example and test. Past it, a graph (or its random
 * inputs) would fail with a RangeError from the array allocation, exhaust the
 * machine, or take minutes in f64 JavaScript; refusing up front with E0802
 * is clearer. Callers who mean it lift the limit (`--max-elements N`).
 */
export const DEFAULT_MAX_ELEMENTS = 2 ** 26;

/** Where the values of a graph go: how many elements in all, and the largest value. */
export interface InterpreterFootprint {
  /** Elements of every value: inputs, node results, and the values of fused bodies (their inputs are copies). */
  readonly elements: number;
  /** The value with the most elements (undefined for a graph without values). */
  readonly largest?: { readonly value: Value; readonly elements: number; readonly inBody: boolean };
}

/** The element counts the interpreter will hold for `graph` (a sum over all values: an upper bound on what is live). */
export function interpreterFootprint(graph: Graph): InterpreterFootprint {
  let elements = 0;
  let largest: InterpreterFootprint['largest'];
  const visit = (g: Graph, inBody: boolean): void => {
    const see = (v: Value): void => {
      const n = numel(v.type.shape);
      elements += n;
      if (!largest || n > largest.elements) largest = { value: v, elements: n, inBody };
    };
    g.inputs.forEach(see);
    for (const node of g.nodes) {
      node.results.forEach(see);
      if (node.body) visit(node.body, true);
    }
  };
  visit(graph, false);
  return { elements, largest };
}

/** `input %x: f32[2,3]`, `%3 = relu: f32[2,3]` for messages. */
export function describeValue(v: Value): string {
  const type = typeToString(v.type);
  if (!v.def) return `input %${v.name ?? '?'}: ${type}`;
  return v.name !== undefined ? `%${v.name} = ${v.def.op}: ${type}` : `a result of ${v.def.op}: ${type}`;
}

/** The limit in force: `maxElements`, or the default; E0609 for a limit that is not a number ≥ 0. */
function elementLimit(maxElements: number | undefined): number {
  if (maxElements === undefined) return DEFAULT_MAX_ELEMENTS;
  if (typeof maxElements !== 'number' || Number.isNaN(maxElements) || maxElements < 0) {
    throw new AmpcError('E0609', `maxElements: expected a number of elements ≥ 0 (or Infinity), got ${String(maxElements)}`);
  }
  return maxElements;
}

/** How to lift the limit, for the messages of E0802. */
export const LIFT_ELEMENT_LIMIT = 'lift the limit with --max-elements N (InterpretOptions.maxElements in the API) if the machine has the memory';

/**
 * E0802 unless the interpreter's values for `graph` fit in `maxElements`
 * (default DEFAULT_MAX_ELEMENTS) elements in all; names the largest value.
 * Allocates nothing; interpretAll calls it first.
 */
export function checkInterpreterSize(graph: Graph, maxElements?: number): void {
  const limit = elementLimit(maxElements);
  const { elements, largest } = interpreterFootprint(graph);
  if (elements <= limit) return;
  const big = largest!;
  throw new AmpcError(
    'E0802',
    `graph @${graph.name} is too large for the reference interpreter: its values hold ${elements} elements in all, ` +
      `over the limit of ${limit} (the interpreter keeps every value in memory, floats as f64: 8 bytes an element); ` +
      `the largest is ${describeValue(big.value)}${big.inBody ? ' (in a fused body)' : ''} with ${big.elements} elements; ${LIFT_ELEMENT_LIMIT}`,
    (big.inBody ? undefined : big.value.def?.loc) ?? graph.loc,
  );
}

function describe(t: HostTensor): string {
  return typeToString({ dtype: t.dtype, shape: t.shape });
}

/** True if the tensor's data is well formed for its own dtype and shape. */
function wellFormed(t: HostTensor): boolean {
  return dataFits(t.dtype, t.data) && t.data.length === numel(t.shape);
}

/** A copy stored as `t.dtype` stores values (rounds f16 data that was not rounded yet). */
function stored(t: HostTensor): HostTensor {
  const data = t.data.slice();
  if (t.dtype === 'f16') for (let i = 0; i < data.length; i++) data[i] = storeAs('f16', data[i]!);
  return { dtype: t.dtype, shape: [...t.shape], data };
}

/**
 * Checks `inputs` against the graph's inputs: every input present, none
 * extra, dtypes and shapes equal, data well formed. Problems are E0603 naming
 * the input.
 */
export function checkInputs(graph: Graph, inputs: Readonly<Record<string, HostTensor>>): void {
  const names = graph.inputs.map((v) => v.name ?? '');
  for (const key of Object.keys(inputs)) {
    if (!names.includes(key)) {
      throw new AmpcError('E0603', `graph @${graph.name} has no input %${key} (its inputs: ${names.map((n) => '%' + n).join(', ') || 'none'})`);
    }
  }
  for (const v of graph.inputs) {
    const name = v.name ?? '';
    const t = Object.prototype.hasOwnProperty.call(inputs, name) ? inputs[name] : undefined;
    if (!t) throw new AmpcError('E0603', `input %${name} (${typeToString(v.type)}) is missing`);
    if (t.dtype !== v.type.dtype) {
      throw new AmpcError('E0603', `input %${name}: dtype is ${t.dtype}, the graph expects ${typeToString(v.type)}`);
    }
    if (!shapesEqual(t.shape, v.type.shape)) {
      throw new AmpcError('E0603', `input %${name}: shape is ${describe(t)}, the graph expects ${typeToString(v.type)}`);
    }
    if (!wellFormed(t)) {
      throw new AmpcError('E0603', `input %${name}: data does not hold ${numel(t.shape)} ${t.dtype} values`);
    }
  }
}

function checkResult(node: Node, i: number, t: HostTensor | undefined, want: TensorType): HostTensor {
  if (!t || t.dtype !== want.dtype || !shapesEqual(t.shape, want.shape) || !wellFormed(t)) {
    const got = t ? `${describe(t)} (${t.data.length} values)` : 'nothing';
    throw new Error(`result ${i} is ${got}, expected ${typeToString(want)}`);
  }
  return t.dtype === 'f16' ? stored(t) : t;
}

/**
 * Evaluates one node on operand tensors of the node's operand types; returns
 * its results, stored as their dtypes. Errors are AmpcErrors placed at the node.
 */
export function evalNode(node: Node, operands: readonly HostTensor[]): HostTensor[] {
  try {
    if (operands.length !== node.operands.length) {
      throw new AmpcError('E0801', `${node.op}: got ${operands.length} operand tensor(s), the node has ${node.operands.length}`);
    }
    operands.forEach((t, i) => {
      const want = node.operands[i]!.type;
      if (t.dtype !== want.dtype || !shapesEqual(t.shape, want.shape) || !wellFormed(t)) {
        throw new AmpcError('E0801', `${node.op}: operand ${i} is ${describe(t)}, the node expects ${typeToString(want)}`);
      }
    });
    const types = node.results.map((v) => v.type);
    const out = node.body ? evalBody(node.body, operands) : INTERP_RULES[node.op]([...operands], node.attrs, types);
    if (out.length !== types.length) throw new Error(`produced ${out.length} result(s), the node has ${types.length}`);
    return types.map((want, i) => checkResult(node, i, out[i], want));
  } catch (e) {
    if (isAmpcError(e)) throw e.at(node.loc);
    const msg = e instanceof Error ? e.message : String(e);
    throw new AmpcError('E0801', `${node.op}: the reference interpreter failed: ${msg}`, node.loc);
  }
}

/**
 * A fused node's body on its operands: the body graph interpreted like any
 * graph (every value stored as its dtype). No size limit here: the graph that
 * holds the node counted the body's values already.
 */
function evalBody(body: Graph, operands: readonly HostTensor[]): HostTensor[] {
  return interpret(body, Object.fromEntries(body.inputs.map((v, i) => [v.name ?? '', operands[i]!])), { maxElements: Infinity });
}

/**
 * Evaluates the graph; returns every value's tensor (inputs and all
 * intermediates). A graph whose values hold more than `opts.maxElements`
 * elements in all is refused first (E0802, see checkInterpreterSize).
 */
export function interpretAll(graph: Graph, inputs: Readonly<Record<string, HostTensor>>, opts: InterpretOptions = {}): Map<Value, HostTensor> {
  checkInterpreterSize(graph, opts.maxElements);
  checkInputs(graph, inputs);
  const env = new Map<Value, HostTensor>();
  for (const v of graph.inputs) env.set(v, stored(inputs[v.name ?? '']!));
  for (const node of graph.nodes) {
    const operands = node.operands.map((v, i) => {
      const t = env.get(v);
      if (!t) throw new AmpcError('E0801', `${node.op}: operand ${i} (%${v.name ?? '?'}) has no value yet`, node.loc);
      return t;
    });
    const results = evalNode(node, operands);
    node.results.forEach((v, i) => env.set(v, results[i]!));
    opts.onNode?.(node, results);
  }
  return env;
}

/** Evaluates the graph; returns its outputs in `return` order. */
export function interpret(graph: Graph, inputs: Readonly<Record<string, HostTensor>>, opts: InterpretOptions = {}): HostTensor[] {
  const env = interpretAll(graph, inputs, opts);
  return graph.outputs.map((v, i) => {
    const t = env.get(v);
    if (!t) throw new AmpcError('E0801', `graph @${graph.name}: output ${i} (%${v.name ?? '?'}) has no value`, graph.loc);
    return t;
  });
}

/**
 * Evaluates one op on tensors: builds a one-node graph (types checked by the
 * op table) and interprets it. `declared` gives result types for ops without
 * operands (constant).
 */
export function evalOp(
  op: OpName,
  operands: readonly HostTensor[],
  attrs: Readonly<Record<string, AttrValue | undefined>> = {},
  declared?: readonly TensorType[],
): HostTensor[] {
  const g = new GraphClass(op);
  const ins = operands.map((t, i) => g.addInput(`in${i}`, { dtype: t.dtype, shape: t.shape }));
  const node = g.addNode(op, ins, attrs, declared ? { declared } : {});
  g.setOutputs(node.results);
  return interpret(g, Object.fromEntries(operands.map((t, i) => [`in${i}`, t])));
}
