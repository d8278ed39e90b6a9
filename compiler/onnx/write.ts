// A small ONNX writer: `writeOnnx(spec)` encodes a ModelProto (through
// onnx-proto, as the importer decodes it) from a plain description — graph
// name, opset, typed inputs and outputs, initializers with their values
// (Float32Array → float, Int32Array → int32, BigInt64Array → int64, stored
// little-endian in raw_data), and nodes with op type, inputs, outputs and
// attributes (int, float, ints, floats, string, tensor). It is for building
// test and benchmark models without Python, not an exporter of IR graphs.
// A description that could not be a valid graph (a value used before it is
// defined or defined twice, values that do not fill their shape, an
// attribute of no known kind) is E0902, naming the node.
//
//   const bytes = writeOnnx({
//     name: 'mlp', opset: 17,
//     inputs: [{ name: 'x', shape: [8, 16] }], outputs: [{ name: 'y', shape: [8, 4] }],
//     initializers: [{ name: 'w', shape: [16, 4], values: w }, { name: 'b', shape: [4], values: b }],
//     nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { alpha: attr.float(1) } }],
//   });

import { AmpcError } from '../../ir/errors.ts';
import { onnx } from './proto.ts';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto.ts';

/** Element types a described value or initializer may have (ONNX's names). */
export type OnnxElemType = 'float' | 'float16' | 'double' | 'bool' | 'int32' | 'int64';

const ELEM_NUMBERS: Readonly<Record<OnnxElemType, number>> = { float: 1, bool: 9, int32: 6, int64: 7, float16: 10, double: 11 };

/** A graph input or output: name, element type (default float) and shape (a string is a symbolic dimension). */
export interface OnnxValueSpec {
  readonly name: string;
  readonly type?: OnnxElemType;
  readonly shape: readonly (number | string)[];
}

/** A tensor with its values: Float32Array is float, Int32Array int32, BigInt64Array int64. */
export interface OnnxTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array | Int32Array | BigInt64Array;
}

/** An attribute value, tagged with its ONNX kind (1 as an int and 1.0 as a float are different attributes). */
export type OnnxAttr =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly tensor: Omit<OnnxTensorSpec, 'name'> & { readonly name?: string } };

/** Builders of tagged attribute values: `attr.int(1)`, `attr.floats([0.5])`. */
export const attr = {
  int: (v: number): OnnxAttr => ({ int: v }),
  float: (v: number): OnnxAttr => ({ float: v }),
  ints: (v: readonly number[]): OnnxAttr => ({ ints: v }),
  floats: (v: readonly number[]): OnnxAttr => ({ floats: v }),
  string: (v: string): OnnxAttr => ({ string: v }),
  tensor: (v: Omit<OnnxTensorSpec, 'name'>): OnnxAttr => ({ tensor: v }),
};

export interface OnnxNodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Default: the op type and its position (`Gemm_3`). */
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, OnnxAttr>>;
  /** Default: the ONNX domain (''). */
  readonly domain?: string;
}

export interface OnnxModelSpec {
  /** The graph's name. */
  readonly name: string;
  /** Version of the default ONNX domain's opset the nodes are written for. */
  readonly opset: number;
  readonly inputs: readonly OnnxValueSpec[];
  readonly outputs: readonly OnnxValueSpec[];
  readonly initializers?: readonly OnnxTensorSpec[];
  /** In topological order, as ONNX requires. */
  readonly nodes: readonly OnnxNodeSpec[];
  /** Default 8 (ONNX 1.10+ files); initializers are not repeated among the inputs (IR version ≥ 4). */
  readonly irVersion?: number;
  readonly producerName?: string;
}

function bad(detail: string): never {
  throw new AmpcError('E0902', `writeOnnx: ${detail}`);
}

/** The TensorProto of a tensor spec; raw_data little-endian whatever the host's order. */
export function tensorProto(t: OnnxTensorSpec, where: string): TensorProto {
  const count = t.shape.reduce((n, d) => n * d, 1);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${where}: shape [${t.shape.join(',')}] must hold non-negative integers`);
  if (t.values.length !== count) bad(`${where}: ${t.values.length} value(s) for shape [${t.shape.join(',')}] (${count})`);
  const v = t.values;
  const size = v instanceof BigInt64Array ? 8 : 4;
  const raw = new Uint8Array(count * size);
  const view = new DataView(raw.buffer);
  let dataType: number;
  if (v instanceof Float32Array) {
    dataType = ELEM_NUMBERS.float;
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, v[i]!, true);
  } else if (v instanceof Int32Array) {
    dataType = ELEM_NUMBERS.int32;
    for (let i = 0; i < count; i++) view.setInt32(i * 4, v[i]!, true);
  } else if (v instanceof BigInt64Array) {
    dataType = ELEM_NUMBERS.int64;
    for (let i = 0; i < count; i++) view.setBigInt64(i * 8, v[i]!, true);
  } else {
    bad(`${where}: values must be a Float32Array, Int32Array or BigInt64Array`);
  }
  return { name: t.name, dims: [...t.shape], dataType, rawData: raw };
}

function valueInfo(v: OnnxValueSpec, where: string): ValueInfoProto {
  const type = v.type ?? 'float';
  if (!Object.hasOwn(ELEM_NUMBERS, type)) bad(`${where} '${v.name}': unknown element type '${type}' (one of ${Object.keys(ELEM_NUMBERS).join(', ')})`);
  const dim = v.shape.map((d) => {
    if (typeof d === 'string') return { dimParam: d };
    if (!Number.isSafeInteger(d) || d < 0) bad(`${where} '${v.name}': dimension ${d} must be a non-negative integer or a name`);
    return { dimValue: d };
  });
  return { name: v.name, type: { tensorType: { elemType: ELEM_NUMBERS[type], shape: { dim } } } };
}

const AttrType = onnx.AttributeProto.AttributeType;

function attribute(name: string, a: OnnxAttr, where: string): AttributeProto {
  if (a && typeof a === 'object') {
    if ('int' in a && Number.isSafeInteger(a.int)) return { name, type: AttrType.INT, i: a.int };
    if ('float' in a && typeof a.float === 'number') return { name, type: AttrType.FLOAT, f: a.float };
    if ('ints' in a && Array.isArray(a.ints) && a.ints.every(Number.isSafeInteger)) return { name, type: AttrType.INTS, ints: [...a.ints] };
    if ('floats' in a && Array.isArray(a.floats) && a.floats.every((x) => typeof x === 'number')) return { name, type: AttrType.FLOATS, floats: [...a.floats] };
    if ('string' in a && typeof a.string === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) };
    if ('tensor' in a && a.tensor) return { name, type: AttrType.TENSOR, t: tensorProto({ name: '', ...a.tensor }, `${where}: attribute '${name}'`) };
  }
  bad(`${where}: attribute '${name}' must be one of { int }, { float }, { ints }, { floats }, { string }, { tensor } (see attr.*), got ${JSON.stringify(a)}`);
}

/** The ModelProto a spec describes, checked: values defined once and before use, initializers filling their shapes. */
export function buildModelProto(spec: OnnxModelSpec): ModelProto {
  if (!spec || typeof spec !== 'object') bad('expects a model description { name, opset, inputs, outputs, nodes }');
  if (!Number.isSafeInteger(spec.opset) || spec.opset < 1) bad(`opset must be a positive integer, got ${JSON.stringify(spec.opset)}`);
  const defined = new Set<string>();
  const define = (name: string, where: string) => {
    if (typeof name !== 'string' || name === '') bad(`${where}: a value needs a non-empty name`);
    if (defined.has(name)) bad(`${where}: value '${name}' is defined twice`);
    defined.add(name);
  };
  const input = spec.inputs.map((v) => {
    define(v.name, 'graph input');
    return valueInfo(v, 'graph input');
  });
  const initializer = (spec.initializers ?? []).map((t) => {
    define(t.name, 'initializer');
    return tensorProto(t, `initializer '${t.name}'`);
  });
  const node: NodeProto[] = spec.nodes.map((n, i) => {
    const name = n.name ?? `${n.op}_${i}`;
    const where = `node '${name}' (${n.op})`;
    if (typeof n.op !== 'string' || n.op === '') bad(`node ${i}: needs an op type`);
    for (const x of n.inputs) if (x !== '' && !defined.has(x)) bad(`${where}: input '${x}' is not defined before this node`);
    for (const y of n.outputs) if (y !== '') define(y, where);
    const attribute_ = Object.entries(n.attributes ?? {}).map(([k, a]) => attribute(k, a, where));
    return { opType: n.op, name, input: [...n.inputs], output: [...n.outputs], attribute: attribute_, ...(n.domain ? { domain: n.domain } : {}) };
  });
  const output = spec.outputs.map((v) => {
    if (!defined.has(v.name)) bad(`graph output '${v.name}' is not produced by any node, input or initializer`);
    return valueInfo(v, 'graph output');
  });
  return onnx.ModelProto.create({
    irVersion: spec.irVersion ?? 8,
    producerName: spec.producerName ?? 'ampc',
    opsetImport: [{ domain: '', version: spec.opset }],
    graph: { name: spec.name, input, output, initializer, node },
  });
}

/** The bytes of a .onnx file for the spec (see buildModelProto). */
export function writeOnnx(spec: OnnxModelSpec): Uint8Array {
  return onnx.ModelProto.encode(buildModelProto(spec)).finish();
}
