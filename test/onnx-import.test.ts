// The ONNX importer on models built here with onnx-proto: initializers as
// {param} inputs with their values, places and notes naming the ONNX node,
// E0901 for unsupported ops, attributes and external data, shape arithmetic
// folded at import; and `ampc import` + `ampc run` reproducing an ONNX
// operator test's outputs (libonnx-testdata) on the device.

import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { runCli } from '../compiler/cli/main.ts';
import { importOnnx, readOnnxTensor } from '../compiler/onnx/import.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { printModule } from '../ir/text/printer.ts';
import { parseModule } from '../ir/text/parser.ts';
import { isAmpcError } from '../ir/errors.ts';
import { tensorRecordToJson, parseTensorListJson } from '../runtime/tensor-json.ts';
import { gpuTest } from './helpers/gpu.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR, TOLERANCE } from './helpers/onnx-conformance.ts';
import { onnx, vi, graphModel } from './helpers/onnx-build.ts';

const W = [0.5, -1, 2, 0.25, 1, 1, -0.5, 3, 0, 2, 1, -1];
const B = new Float32Array([0.1, -0.2, 0.3, -0.4]);
const mlp = () =>
  graphModel(
    [
      { opType: 'MatMul', input: ['x', 'fc.weight'], output: ['h'], name: 'fc' },
      { opType: 'Add', input: ['h', 'fc.bias'], output: ['z'], name: 'fc/add' },
      { opType: 'Relu', input: ['z'], output: ['y'], name: 'act' },
    ],
    [vi('x', [2, 3])],
    [vi('y', [2, 4])],
    [
      { name: 'fc.weight', dims: [3, 4], dataType: 1, floatData: W },
      { name: 'fc.bias', dims: [4], dataType: 1, rawData: new Uint8Array(B.buffer) },
    ],
  );

test('initializers become {param} inputs with their values; nodes keep their ONNX names as notes and places', (t) => {
  const r = importOnnx(mlp(), { file: 'mlp.onnx' });
  const text = printModule(r.module);
  t.regex(text, /graph @g\(%x: f32\[2,3\], %fc\.weight: f32\[3,4\] \{param\}, %fc\.bias: f32\[4\] \{param\}\)/);
  t.regex(text, /%z = add %h, %fc\.bias : f32\[2,4\]  \/\/ onnx Add 'fc\/add'/);
  t.deepEqual([...r.values['fc.weight']!.data], W.map(Math.fround));
  t.deepEqual([...r.values['fc.bias']!.data], [...B]);
  t.deepEqual(r.inputNames, { x: 'x' });
  t.deepEqual(r.outputNames, ['y']);
  t.is(r.graph.nodes[1]!.loc?.node, "node 'fc/add' (Add)");
  // The printed IR parses back, and computes relu(x W + b).
  const g = parseModule(text, 'mlp.ir').main;
  const x = { dtype: 'f32' as const, shape: [2, 3], data: Float64Array.from([1, 2, 3, -1, 0, 1]) };
  const [y] = interpret(g, { ...r.values, x });
  const want = [0, 1].flatMap((i) => [0, 1, 2, 3].map((j) => Math.max(0, [0, 1, 2].reduce((s, k) => s + x.data[i * 3 + k]! * W[k * 4 + j]!, 0) + B[j]!)));
  [...y!.data].forEach((v, i) => t.true(Math.abs(v - want[i]!) < 1e-6, `y[${i}] ${v} vs ${want[i]}`));
});

test('Mod: fmod=1 is C fmod; fmod=0 on floats takes the sign of the divisor (Python); integers fold either way', (t) => {
  const mod = (fmod: number) => importOnnx(graphModel(
    [{ opType: 'Mod', input: ['a', 'b'], output: ['y'], name: 'm', attribute: [{ name: 'fmod', type: onnx.AttributeProto.AttributeType.INT, i: fmod }] }],
    [vi('a', [6]), vi('b', [6])], [vi('y', [6])],
  ), { file: 'mod.onnx' });
  const a = { dtype: 'f32' as const, shape: [6], data: Float64Array.from([5.5, -5.5, 5.5, -5.5, 4, -3]) };
  const b = { dtype: 'f32' as const, shape: [6], data: Float64Array.from([2, 2, -2, -2, 2, 7]) };
  t.deepEqual([...interpret(mod(1).graph, { a, b })[0]!.data], [1.5, -1.5, 1.5, -1.5, 0, -3]);
  t.deepEqual([...interpret(mod(0).graph, { a, b })[0]!.data], [1.5, 0.5, -0.5, -1.5, 0, 4]);
  const folded = (fmod: number) => {
    const ints = (name: string, v: number[]) => ({ name, dims: [4], dataType: 6, int32Data: v });
    const r = importOnnx(graphModel(
      [{ opType: 'Mod', input: ['a', 'b'], output: ['m'], name: 'm', attribute: [{ name: 'fmod', type: onnx.AttributeProto.AttributeType.INT, i: fmod }] },
        { opType: 'Cast', input: ['m'], output: ['y'], name: 'c', attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }],
      [], [vi('y', [4])], [ints('a', [7, -7, 7, -7]), ints('b', [3, 3, -3, -3])],
    ), { file: 'imod.onnx' });
    return [...interpret(r.graph, r.values)[0]!.data];
  };
  t.deepEqual(folded(0), [1, 2, -2, -1]);
  t.deepEqual(folded(1), [1, -1, 1, -1]);
});

test('Gather with runtime indices goes through gather (index axes in place of the axis; negative from the end; scalar index)', (t) => {
  const INT = onnx.AttributeProto.AttributeType.INT;
  const gather = (idxShape: number[], axis: number, outShape: number[]) => importOnnx(graphModel(
    [{ opType: 'Cast', input: ['f'], output: ['i'], name: 'c', attribute: [{ name: 'to', type: INT, i: 7 }] },
      { opType: 'Gather', input: ['x', 'i'], output: ['y'], name: 'g', attribute: [{ name: 'axis', type: INT, i: axis }] }],
    [vi('x', [2, 3, 4]), vi('f', idxShape)], [vi('y', outShape)],
  ), { file: 'gather.onnx' });
  const xs = Array.from({ length: 24 }, (_, k) => k);
  const x = { dtype: 'f32' as const, shape: [2, 3, 4], data: Float64Array.from(xs) };
  const at = (a: number, b: number, c: number) => xs[a * 12 + b * 4 + c]!;
  const r = gather([2, 2], 1, [2, 2, 2, 4]);
  t.true(r.graph.nodes.some((n) => n.op === 'gather'));
  const iv = [2, -1, 0, 1];
  const y = interpret(r.graph, { x, f: { dtype: 'f32', shape: [2, 2], data: Float64Array.from(iv) } })[0]!;
  const want: number[] = [];
  for (let a = 0; a < 2; a++) for (const j of iv) for (let c = 0; c < 4; c++) want.push(at(a, (j + 3) % 3, c));
  t.deepEqual(y.shape, [2, 2, 2, 4]);
  t.deepEqual([...y.data], want);
  const s = gather([], -1, [2, 3]);
  const ys = interpret(s.graph, { x, f: { dtype: 'f32', shape: [], data: Float64Array.from([-2]) } })[0]!;
  t.deepEqual(ys.shape, [2, 3]);
  t.deepEqual([...ys.data], [0, 1, 2, 3, 4, 5].map((k) => at(Math.floor(k / 3), k % 3, 2)));
});

test("ArgMax / ArgMin node tests (int64 outputs, out of the conformance run's scope) match exactly on the reference", (t) => {
  const names = existsSync(ONNX_NODE_DIR) ? readdirSync(ONNX_NODE_DIR).filter((n) => /^test_arg(max|min)_/.test(n)) : [];
  if (names.length === 0) return t.pass('no ONNX test data');
  for (const name of names) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, { rtol: 0, atol: 0 }), undefined, name);
  }
  t.is(names.length, 32);
});

test('IsInf narrows to one sign with detect_negative / detect_positive', (t) => {
  const isinf = (neg: number, pos: number) => importOnnx(graphModel(
    [{ opType: 'IsInf', input: ['x'], output: ['y'], name: 'i', attribute: [
      { name: 'detect_negative', type: onnx.AttributeProto.AttributeType.INT, i: neg },
      { name: 'detect_positive', type: onnx.AttributeProto.AttributeType.INT, i: pos }] }],
    [vi('x', [4])], [vi('y', [4], 9)],
  ), { file: 'isinf.onnx' }).graph;
  const x = { dtype: 'f32' as const, shape: [4], data: Float64Array.from([Infinity, -Infinity, NaN, 1]) };
  t.deepEqual([...interpret(isinf(1, 1), { x })[0]!.data], [1, 1, 0, 0]);
  t.deepEqual([...interpret(isinf(0, 1), { x })[0]!.data], [1, 0, 0, 0]);
  t.deepEqual([...interpret(isinf(1, 0), { x })[0]!.data], [0, 1, 0, 0]);
  t.deepEqual([...interpret(isinf(0, 0), { x })[0]!.data], [0, 0, 0, 0]);
});

test('an unsupported op is E0901 naming the node, the op and the opset', (t) => {
  const bytes = graphModel([{ opType: 'StringNormalizer', input: ['x'], output: ['y'], name: 'my_norm' }], [vi('x', [4])], [vi('y', [4])]);
  const e = t.throws(() => importOnnx(bytes, { file: 'm.onnx' }));
  t.true(isAmpcError(e));
  t.is(e!.message, "m.onnx:1:1: node 'my_norm' (StringNormalizer): error E0901: StringNormalizer (opset 13): this op is not supported");
});

test('an unsupported attribute value and an unknown attribute are E0901, not approximations', (t) => {
  const pool = (attribute: onnxProto.onnx.IAttributeProto[], opType = 'MaxPool') =>
    graphModel([{ opType, input: ['x'], output: ['y'], name: 'p', attribute }], [vi('x', [1, 1, 6, 6])], [vi('y', [1, 1, 2, 2])]);
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  // (MaxPool takes dilations; AveragePool's, from opset 19, are refused.)
  const e1 = t.throws(() => importOnnx(pool([ints('kernel_shape', [2, 2]), ints('dilations', [2, 2])], 'AveragePool')));
  t.regex(e1!.message, /node 'p' \(AveragePool\): error E0901: AveragePool \(opset 13\): dilations \[2,2\]/);
  const e2 = t.throws(() => importOnnx(pool([ints('kernel_shape', [2, 2]), ints('frobnicate', [1])])));
  t.regex(e2!.message, /E0901: MaxPool \(opset 13\): attribute 'frobnicate' is not supported/);
});

test('external tensor data is refused with E0901', (t) => {
  const bytes = graphModel([{ opType: 'Add', input: ['x', 'w'], output: ['y'] }], [vi('x', [2])], [vi('y', [2])], [
    { name: 'w', dims: [2], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] },
  ]);
  const e = t.throws(() => importOnnx(bytes));
  t.true(isAmpcError(e) && e.code === 'E0901');
  t.regex(e!.message, /external data is not supported/);
});

test('shape arithmetic (Shape, Gather, Unsqueeze, Concat, Constant) folds: one reshape remains', (t) => {
  const i64 = (name: string, v: number[]) => ({ name: 'value', type: 4, t: { name, dims: [v.length], dataType: 7, int64Data: v } });
  const bytes = graphModel(
    [
      { opType: 'Shape', input: ['x'], output: ['s'] },
      { opType: 'Constant', input: [], output: ['zero'], attribute: [{ name: 'value', type: 4, t: { dims: [], dataType: 7, int64Data: [0] } }] },
      { opType: 'Gather', input: ['s', 'zero'], output: ['n'] },
      { opType: 'Unsqueeze', input: ['n', 'axes'], output: ['n1'] },
      { opType: 'Constant', input: [], output: ['minus1'], attribute: [i64('m', [-1])] },
      { opType: 'Concat', input: ['n1', 'minus1'], output: ['shape'], attribute: [{ name: 'axis', type: 2, i: 0 }] },
      { opType: 'Reshape', input: ['x', 'shape'], output: ['y'] },
    ],
    [vi('x', [2, 3, 4])],
    [vi('y', [2, 12])],
    [{ name: 'axes', dims: [1], dataType: 7, int64Data: [0] }],
  );
  const r = importOnnx(bytes);
  t.deepEqual(r.graph.nodes.map((n) => n.op), ['reshape']);
  t.deepEqual(r.graph.outputs[0]!.type.shape, [2, 12]);
  t.deepEqual(r.values, {}, 'the integer initializer was folded, not made an input');
});

async function cli(argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

test('ampc import: IR to -o, initializer values to --inputs-out; errors exit 1 with the place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ampc-onnx-'));
  writeFileSync(join(dir, 'mlp.onnx'), mlp());
  const r = await cli(['import', join(dir, 'mlp.onnx'), '-o', join(dir, 'mlp.ir'), '--inputs-out', join(dir, 'params.json')]);
  t.is(r.code, 0, r.stderr);
  t.regex(readFileSync(join(dir, 'mlp.ir'), 'utf8'), /\{param\}/);
  t.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8'))), ['fc.weight', 'fc.bias']);
  writeFileSync(join(dir, 'bad.onnx'), graphModel([{ opType: 'StringNormalizer', input: ['x'], output: ['y'], name: 'e' }], [vi('x', [4])], [vi('y', [4])]));
  const bad = await cli(['import', join(dir, 'bad.onnx')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /bad\.onnx:1:1: node 'e' \(StringNormalizer\): error E0901/);
  writeFileSync(join(dir, 'junk.onnx'), 'not a model at all');
  const junk = await cli(['import', join(dir, 'junk.onnx')]);
  t.is(junk.code, 1);
  t.regex(junk.stderr, /E0902/);
});

const GEMM = join(ONNX_NODE_DIR, 'test_gemm_all_attributes');
if (existsSync(GEMM)) {
  gpuTest('ampc import + ampc run reproduce an ONNX operator test (test_gemm_all_attributes)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ampc-onnx-'));
    t.is((await cli(['import', join(GEMM, 'model.onnx'), '-o', join(dir, 'gemm.ir')])).code, 0);
    const ins = ['a', 'b', 'c'].map((_, k) => readOnnxTensor(readFileSync(join(GEMM, 'test_data_set_0', `input_${k}.pb`))));
    writeFileSync(join(dir, 'in.json'), tensorRecordToJson(Object.fromEntries(ins.map((i) => [i.name, i.tensor]))));
    const r = await cli(['run', join(dir, 'gemm.ir'), '--inputs', join(dir, 'in.json'), '--out', join(dir, 'out.json')]);
    t.is(r.code, 0, r.stderr);
    const got = parseTensorListJson(readFileSync(join(dir, 'out.json'), 'utf8'), 'out.json');
    const want = readOnnxTensor(readFileSync(join(GEMM, 'test_data_set_0', 'output_0.pb'))).tensor;
    t.is(compareOutputs(got, [want], TOLERANCE.f32), undefined);
  });
}
