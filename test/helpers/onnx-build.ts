// Building small ONNX models with onnx-proto in the ONNX mapping tests
// (test/onnx-*.test.ts), and running and checking them on the reference
// interpreter: attribute and initializer builders, value infos, the encoded
// ModelProto (IR version 8, one graph 'g'), f32 host tensors and distinct test
// values, row-major index arithmetic, import + interpret, an element-wise
// tolerance check and the E09xx refusal check. Each test file keeps only what
// is its own (its opset default, its calling convention where it differs).

import type { ExecutionContext } from 'ava';
import onnxProto from 'onnx-proto';
import { importOnnx } from '../../compiler/onnx/import.ts';
import type { ImportOptions } from '../../compiler/onnx/import.ts';
import type { HostTensor } from '../../ir/dtype.ts';
import { interpret } from '../../ir/interp/interpret.ts';
import { isAmpcError } from '../../ir/errors.ts';

export const { onnx } = onnxProto;
/** onnx.AttributeProto.AttributeType. */
export const T = onnx.AttributeProto.AttributeType;
export type Attr = onnxProto.onnx.IAttributeProto;
export type VI = onnxProto.onnx.IValueInfoProto;
export type TP = onnxProto.onnx.ITensorProto;
export type Node = { opType: string; input: string[]; output: string[]; name?: string; domain?: string; attribute?: Attr[] };
export type OpsetId = { domain: string; version: number };

// ------------------------------------------------------------- attributes, initializers, value infos

export const ai = (name: string, i: number): Attr => ({ name, type: T.INT, i });
export const ais = (name: string, ints: number[]): Attr => ({ name, type: T.INTS, ints });
export const af = (name: string, f: number): Attr => ({ name, type: T.FLOAT, f });
export const afs = (name: string, floats: number[]): Attr => ({ name, type: T.FLOATS, floats });
export const as = (name: string, s: string): Attr => ({ name, type: T.STRING, s: new TextEncoder().encode(s) });
export const astrs = (name: string, ss: string[]): Attr => ({ name, type: T.STRINGS, strings: ss.map((s) => new TextEncoder().encode(s)) });

/** An int64 initializer. */
export const i64 = (name: string, dims: number[], v: number[]): TP => ({ name, dims, dataType: 7, int64Data: v });
/** A float initializer. */
export const f32i = (name: string, dims: number[], v: number[]): TP => ({ name, dims, dataType: 1, floatData: v });

/** A tensor value info of element type `elemType` (1 float, 7 int64, ...); `shape` undefined: no shape at all. */
export function vi(name: string, shape: number[] | undefined, elemType = 1): VI {
  return { name, type: { tensorType: { elemType, ...(shape ? { shape: { dim: shape.map((d) => ({ dimValue: d })) } } : {}) } } };
}

// ------------------------------------------------------------- models

/** The encoded ModelProto of one graph 'g': the default domain at `opset`, then the opsets of `domains`. */
export function graphModel(nodes: Node[], inputs: VI[], outputs: VI[], initializer: TP[] = [], opset = 13, domains: OpsetId[] = []): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: opset }, ...domains],
    graph: { name: 'g', node: nodes, input: inputs, output: outputs, initializer },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** `model(nodes, inputs, initializer = [], opset = defaultOpset)`: a graph with the one output 'y' (declared as vi('y', [])). */
export const modelAt = (defaultOpset: number) =>
  (nodes: Node[], inputs: VI[], initializer: TP[] = [], opset = defaultOpset): Uint8Array => graphModel(nodes, inputs, [vi('y', [])], initializer, opset);

/** modelAt(13). */
export const model = modelAt(13);

// ------------------------------------------------------------- values and indices

export const ft = (shape: number[], data: ArrayLike<number>): HostTensor => ({ dtype: 'f32', shape, data: Float64Array.from(data, Math.fround) });
export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Distinct, non-trivial f32 values in about [-scale, scale]. */
export const vals = (n: number, seed = 1, scale = 2) => Array.from({ length: n }, (_, k) => Math.fround(Math.sin(seed * 7.1 + k * 1.37) * scale));
/** Row-major strides of shape `s`. */
export const strides = (s: readonly number[]) => s.map((_, i) => numel(s.slice(i + 1)));
/** The index of flat position `f` in shape `s`. */
export const unravel = (f: number, s: readonly number[]) => strides(s).map((st, i) => Math.floor(f / st) % s[i]!);
/** The flat position of index `idx` in shape `s`. */
export const ravel = (idx: readonly number[], s: readonly number[]) => idx.reduce((a, v, i) => a + v * strides(s)[i]!, 0);
/** data[idx] for `data` of shape `s`. */
export const at = (data: ArrayLike<number>, s: readonly number[], idx: readonly number[]) => data[ravel(idx, s)]!;

// ------------------------------------------------------------- import, run, check

/** Imports `bytes` and runs it on the reference interpreter: every output. */
export function runAll(bytes: Uint8Array, feeds: Record<string, HostTensor> = {}, opts: ImportOptions = {}): HostTensor[] {
  const r = importOnnx(bytes, { file: 'm.onnx', ...opts });
  return interpret(r.graph, { ...r.values, ...feeds });
}

/** Imports `bytes` and runs it on the reference interpreter (output 0). */
export const run = (bytes: Uint8Array, feeds: Record<string, HostTensor> = {}, opts: ImportOptions = {}): HostTensor => runAll(bytes, feeds, opts)[0]!;

/** `got` has `shape` and each element within atol + rtol·|want| of `want`; `what` names the check in the messages. */
export function near(t: ExecutionContext, got: HostTensor, shape: number[], want: ArrayLike<number>, rtol = 1e-6, atol = 1e-6, what = ''): void {
  t.deepEqual(got.shape, shape, what);
  const bad = [...got.data].findIndex((v, i) => !(Math.abs(Number(v) - want[i]!) <= atol + rtol * Math.abs(want[i]!)));
  t.is(bad, -1, bad < 0 ? what : `${what ? `${what} ` : ''}[${bad}]: ${got.data[bad]} vs ${want[bad]}`);
}

/** `near` with other default tolerances. */
export const nearWithin = (defaultRtol: number, defaultAtol: number) =>
  (t: ExecutionContext, got: HostTensor, shape: number[], want: ArrayLike<number>, rtol = defaultRtol, atol = defaultAtol, what = ''): void =>
    near(t, got, shape, want, rtol, atol, what);

/** Importing `bytes` throws the ampc error `code` with a message matching `pattern`. */
export function refused(t: ExecutionContext, bytes: Uint8Array, pattern: RegExp, code = 'E0901', opts: ImportOptions = {}): void {
  const e = t.throws(() => importOnnx(bytes, { file: 'm.onnx', ...opts }));
  t.true(isAmpcError(e) && (e as { code?: string }).code === code, e?.message);
  t.regex(e!.message, pattern);
}
