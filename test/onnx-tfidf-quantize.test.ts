// ONNX TfIdfVectorizer and DequantizeLinear mappings (compiler/onnx/ops/
// tfidf.ts, quantize.ts): models built here with onnx-proto, imported, run on
// the reference interpreter and compared with values computed independently
// in this file (n-gram counts by a pool-major direct loop, the ONNX docs'
// worked example, (x - zp) · scale by index); the folded TfIdfVectorizer
// leaves no computing node; the shipped ONNX node tests on the reference;
// E0901 for the refused forms (pool_strings, a run-time TfIdf input, block
// quantization); DequantizeLinear under the amp pipeline keeps its multiply
// in f32; and one graph of both on the device.

import test from 'ava';
import onnxProto from 'onnx-proto';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { pipelineByName } from '../passes/pipeline.ts';
import { runPipeline } from '../passes/runner.ts';
import { gpuTest } from './helpers/gpu.ts';
import { compareOutputs, shippedOnReference, TOLERANCE } from './helpers/onnx-conformance.ts';
import { ai, ais, afs, as, astrs, vi, model, ft, numel, run, nearWithin, refused } from './helpers/onnx-build.ts';
import type { Attr, TP } from './helpers/onnx-build.ts';

/** An integer initializer of ONNX type `dataType` (2 uint8, 3 int8, 6 int32, 7 int64). */
function intInit(name: string, dims: number[], v: number[], dataType: number): TP {
  return dataType === 7 ? { name, dims, dataType, int64Data: v } : { name, dims, dataType, int32Data: v };
}
const it = (shape: number[], data: ArrayLike<number>): HostTensor => ({ dtype: 'i32', shape, data: Int32Array.from(data) });
/** Exact unless a test says otherwise. */
const near = nearWithin(0, 0);

// ------------------------------------------------------------- TfIdfVectorizer

interface Tfidf { mode: string; minN: number; maxN: number; skip: number; counts: number[]; indexes: number[]; pool: number[]; weights?: number[] }

const tfidfAttrs = (p: Tfidf): Attr[] => [
  as('mode', p.mode), ai('min_gram_length', p.minN), ai('max_gram_length', p.maxN), ai('max_skip_count', p.skip),
  ais('ngram_counts', p.counts), ais('ngram_indexes', p.indexes), ais('pool_int64s', p.pool), ...(p.weights ? [afs('weights', p.weights)] : []),
];

/**
 * Pool-major direct loop: for each pool n-gram of a size looked for, count in
 * each row its occurrences with gaps d = 1..skip+1 (a unigram once per
 * position); then weigh by output coordinate.
 */
function tfidfRef(x: number[], shape: number[], p: Tfidf): { shape: number[]; data: number[] } {
  const K = Math.max(...p.indexes) + 1;
  const rows = shape.length === 2 ? shape[0]! : 1, C = shape.at(-1) ?? 1;
  const f = new Array<number>(rows * K).fill(0);
  let id = 0;
  for (let lvl = 0; lvl < p.counts.length; lvl++) {
    const n = lvl + 1, end = lvl + 1 < p.counts.length ? p.counts[lvl + 1]! : p.pool.length;
    for (let s = p.counts[lvl]!; s < end; s += n, id++) {
      if (n < p.minN || n > p.maxN) continue;
      const gram = p.pool.slice(s, s + n);
      for (let b = 0; b < rows; b++) {
        const gaps = n === 1 ? [1] : Array.from({ length: p.skip + 1 }, (_, k) => k + 1);
        for (const d of gaps) {
          for (let i = 0; i + (n - 1) * d < C; i++) {
            if (gram.every((g, k) => x[b * C + i + k * d] === g)) f[b * K + p.indexes[id]!]! += 1;
          }
        }
      }
    }
  }
  const w = (j: number) => p.weights?.[j] ?? 1;
  const data = f.map((c, q) => Math.fround(p.mode === 'TF' ? c : p.mode === 'IDF' ? (c > 0 ? w(q % K) : 0) : c * w(q % K)));
  return { shape: shape.length === 2 ? [rows, K] : [K], data };
}

/** A TfIdfVectorizer on the int64 initializer `x` (folded at import): its output, and whether only constants remain. */
function tfidfFolded(x: number[], shape: number[], p: Tfidf, dataType = 7): { y: HostTensor; folded: boolean } {
  const r = importOnnx(model([{ opType: 'TfIdfVectorizer', input: ['x'], output: ['y'], attribute: tfidfAttrs(p) }], [], [intInit('x', shape, x, dataType)], 9));
  return { y: interpret(r.graph, r.values)[0]!, folded: r.graph.nodes.every((n) => n.op === 'constant') };
}

test('TfIdfVectorizer: the ONNX docs\' skip example and the shipped TF examples by hand', (t) => {
  // [94, 17, 36, 12, 28] with skip 2 (gap 3): the 2-grams are [94, 12] and [17, 28]; gap 1 gives [94, 17], [17, 36], [36, 12], [12, 28].
  const x = [94, 17, 36, 12, 28];
  const p: Tfidf = { mode: 'TF', minN: 2, maxN: 2, skip: 2, counts: [0, 0], indexes: [0, 1, 2, 3], pool: [94, 12, 17, 28, 94, 36, 12, 28] };
  near(t, tfidfFolded(x, [5], p).y, [4], [1, 1, 1, 1]);
  near(t, tfidfFolded(x, [5], { ...p, skip: 1 }).y, [4], [0, 0, 1, 1]); // [94, 36] gap 2, [12, 28] gap 1
  near(t, tfidfFolded(x, [5], { ...p, skip: 0 }).y, [4], [0, 0, 0, 1]);
  // The docs' TF example: unigrams 2,3,5,4 and bigrams [5,6],[7,8],[6,7] over a 12-token row, skip 5.
  const row = [1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8];
  const docs: Tfidf = { mode: 'TF', minN: 1, maxN: 2, skip: 5, counts: [0, 4], indexes: [0, 1, 2, 3, 4, 5, 6], pool: [2, 3, 5, 4, 5, 6, 7, 8, 6, 7] };
  near(t, tfidfFolded(row, [12], docs).y, [7], [0, 3, 1, 0, 1, 3, 1]);
  near(t, tfidfFolded(row, [2, 6], docs, 6).y, [2, 7], [0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1]);
  near(t, tfidfFolded(row, [12], { ...docs, minN: 2, skip: 0 }).y, [7], [0, 0, 0, 0, 1, 1, 1]);
});

test('TfIdfVectorizer folds at import and matches the direct loop: TF / IDF / TFIDF, weights, n-gram ranges, skips, permuted indexes, 1-D and 2-D', (t) => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pool = [4, 1, 2, /* bigrams */ 1, 2, 2, 3, 3, 1, 4, 4, /* trigrams */ 1, 2, 3, 2, 1, 2];
  // 3 unigrams, 4 bigrams, 2 trigrams at permuted output coordinates; weights by coordinate.
  const indexes = [6, 0, 3, 5, 1, 7, 2, 8, 4];
  const weights = [0.5, 1.25, 2, 0.1, 3, 0.75, 1.5, 0.2, 4];
  let cases = 0;
  for (const mode of ['TF', 'IDF', 'TFIDF']) {
    for (const [minN, maxN] of [[1, 1], [1, 3], [2, 3], [3, 3], [2, 2]] as const) {
      for (const skip of [0, 1, 3]) {
        for (const shape of [[15], [3, 8], [1, 4]]) {
          for (const w of mode === 'TF' ? [undefined] : [undefined, weights]) {
            const x = Array.from({ length: numel(shape) }, () => 1 + rnd(4));
            const p: Tfidf = { mode, minN, maxN, skip, counts: [0, 3, 11], indexes, pool, ...(w ? { weights: w } : {}) };
            const { y, folded } = tfidfFolded(x, shape, p);
            const want = tfidfRef(x, shape, p);
            t.true(folded, 'folded at import');
            near(t, y, want.shape, want.data);
            cases++;
          }
        }
      }
    }
  }
  t.is(cases, 225);
  // Not all zero: the random rows hit the pool.
  const p: Tfidf = { mode: 'TFIDF', minN: 1, maxN: 3, skip: 1, counts: [0, 3, 11], indexes, pool, weights };
  const x = [1, 2, 3, 1, 2, 2, 1, 2, 4, 4, 3, 1];
  const want = tfidfRef(x, [12], p);
  t.true(want.data.filter((v) => v !== 0).length >= 6, JSON.stringify(want.data));
  near(t, tfidfFolded(x, [12], p).y, [9], want.data);
});

test('TfIdfVectorizer: a graph input given as a constant folds; the output feeds later nodes; a scalar input; pool levels outside the range are skipped', (t) => {
  const p: Tfidf = { mode: 'TFIDF', minN: 2, maxN: 2, skip: 1, counts: [0, 2], indexes: [0, 1, 2, 3], pool: [5, 6, 5, 6, 6, 7], weights: [1, 2, 0.5, 4] };
  const x = [5, 6, 7, 5, 9, 6];
  const bytes = model([
    { opType: 'TfIdfVectorizer', input: ['x'], output: ['v'], attribute: tfidfAttrs(p) },
    { opType: 'Mul', input: ['v', 's'], output: ['y'] },
  ], [vi('x', [6], 6), vi('s', [4])], [], 9);
  const r = importOnnx(bytes, { constants: { x: { type: 'int32', shape: [6], data: Float64Array.from(x) } } });
  t.deepEqual(r.graph.nodes.filter((n) => n.op !== 'constant').map((n) => n.op), ['mul']);
  const want = tfidfRef(x, [6], p);
  t.deepEqual(want.data, [0, 0, 2 * 0.5, 1 * 4]); // [5,6] at gap 1 and gap 2 (5 at 3, 6 at 5), [6,7] once; unigrams 5, 6 not looked for
  const y = interpret(r.graph, { ...r.values, s: ft([4], [1, -1, 3, 2]) })[0]!;
  near(t, y, [4], want.data.map((v, i) => Math.fround(v * [1, -1, 3, 2][i]!)));
  // A scalar input is one token.
  near(t, tfidfFolded([6], [], { mode: 'IDF', minN: 1, maxN: 2, skip: 0, counts: [0, 2], indexes: [1, 0, 2], pool: [5, 6, 5, 6] }).y, [3], [1, 0, 0]);
});

test('TfIdfVectorizer refuses pool_strings and a run-time input (E0901) and malformed attributes (E0902)', (t) => {
  const base: Tfidf = { mode: 'TF', minN: 1, maxN: 1, skip: 0, counts: [0], indexes: [0, 1], pool: [3, 4] };
  const strAttrs = [...tfidfAttrs(base).filter((a) => a.name !== 'pool_int64s'), astrs('pool_strings', ['a', 'b'])];
  refused(t, model([{ opType: 'TfIdfVectorizer', input: ['x'], output: ['y'], attribute: strAttrs }], [], [intInit('x', [3], [3, 4, 3], 7)], 9),
    /TfIdfVectorizer \(opset 9\): pool_strings \(string n-grams\) is not supported/);
  const rt = model([{ opType: 'TfIdfVectorizer', input: ['x'], output: ['y'], attribute: tfidfAttrs(base) }], [vi('x', [3], 7)], [], 9);
  refused(t, rt, /TfIdfVectorizer \(opset 9\): a run-time input: the output counts n-grams/);
  // The same model with its input folded in imports.
  near(t, run(rt, {}, { constants: { x: { type: 'int64', shape: [3], data: Float64Array.from([3, 4, 3]) } } }), [2], [2, 1]);
  // A run-time integer computed by an op (Cast of a float input) is refused as well.
  refused(t, model([
    { opType: 'Cast', input: ['f'], output: ['x'], attribute: [ai('to', 7)] },
    { opType: 'TfIdfVectorizer', input: ['x'], output: ['y'], attribute: tfidfAttrs(base) },
  ], [vi('f', [3])], [], 9), /a run-time input/);
  const bad = (p: Partial<Tfidf>, pattern: RegExp) =>
    refused(t, model([{ opType: 'TfIdfVectorizer', input: ['x'], output: ['y'], attribute: tfidfAttrs({ ...base, ...p }) }], [], [intInit('x', [3], [3, 4, 3], 7)], 9), pattern, 'E0902');
  bad({ pool: [3, 3] }, /holds the 1-gram \[3\] twice/);
  bad({ mode: 'BM25' }, /mode 'BM25'/);
  bad({ counts: [0, 1], pool: [3, 4, 5, 6] }, /the 3 pool entries of 2-grams are not whole 2-grams/);
  bad({ indexes: [0, 1, 2] }, /the pool holds 2 n-grams, ngram_indexes has 3 entries/);
  bad({ minN: 2, maxN: 1 }, /min_gram_length 2 and max_gram_length 1/);
});

// ------------------------------------------------------------- DequantizeLinear

/** (x - zp[k]) · scale[k] by element, k the index along `axis` (or 0 per tensor). */
function dqRef(x: number[], shape: number[], scale: number[], zp: number[] | undefined, axis: number | undefined): number[] {
  return x.map((v, f) => {
    const k = axis === undefined ? 0 : Math.floor(f / numel(shape.slice(axis + 1))) % shape[axis]!;
    return Math.fround((v - (zp?.[k] ?? 0)) * Math.fround(scale[k]!));
  });
}

const dqModel = (opset: number, opts: { zp?: boolean; attrs?: Attr[] } = {}) => (xInit: onnxProto.onnx.ITensorProto | undefined, xShape: number[], scaleShape: number[], zpInit?: onnxProto.onnx.ITensorProto) =>
  model([{ opType: 'DequantizeLinear', input: ['x', 's', ...(opts.zp === false ? [] : ['z'])], output: ['y'], attribute: opts.attrs ?? [] }],
    [...(xInit ? [] : [vi('x', xShape, 6)]), vi('s', scaleShape), ...(zpInit || opts.zp === false ? [] : [vi('z', scaleShape, 6)])],
    [...(xInit ? [xInit] : []), ...(zpInit ? [zpInit] : [])], opset);

test('DequantizeLinear: per tensor (opset 10, uint8 / int8 / int32), constant x with a run-time scale', (t) => {
  const xu = [0, 3, 128, 255, 17, 200], zu = [128];
  near(t, run(dqModel(10)(intInit('x', [2, 3], xu, 2), [2, 3], [], intInit('z', [], zu, 2)), { s: ft([], [0.37]) }), [2, 3], dqRef(xu, [2, 3], [0.37], zu, undefined), 1e-7);
  const xi = [-128, -5, 0, 7, 127];
  near(t, run(dqModel(10)(intInit('x', [5], xi, 3), [5], [], intInit('z', [], [-3], 3)), { s: ft([], [1.5]) }), [5], dqRef(xi, [5], [1.5], [-3], undefined));
  // No zero point; int32 x (bias quantization).
  const x32 = [-70000, 12, 99999];
  near(t, run(dqModel(10, { zp: false })(intInit('x', [3], x32, 6), [3], []), { s: ft([], [0.001]) }), [3], dqRef(x32, [3], [0.001], undefined, undefined), 1e-7);
  // A one-element 1-D scale is per tensor at opset 13, whatever the axis extent.
  near(t, run(dqModel(13)(intInit('x', [2, 3], xu, 2), [2, 3], [1], intInit('z', [1], zu, 2)), { s: ft([1], [2]) }), [2, 3], dqRef(xu, [2, 3], [2], zu, undefined));
});

test('DequantizeLinear: per axis (opset 13; axis 1 by default, 0, -1), the host subtracts a constant zero point', (t) => {
  const s = [2, 3, 4], x = Array.from({ length: 24 }, (_, i) => (i * 37) % 256);
  for (const [attr, axis] of [[undefined, 1], [0, 0], [-1, 2]] as const) {
    const d = s[axis]!;
    const scale = Array.from({ length: d }, (_, k) => 0.25 + k * 0.5), zp = Array.from({ length: d }, (_, k) => 100 + 20 * k);
    const bytes = dqModel(13, { attrs: attr === undefined ? [] : [ai('axis', attr)] })(intInit('x', s, x, 2), s, [d], intInit('z', [d], zp, 2));
    const r = importOnnx(bytes);
    // x - zp folded into one f32 constant: no sub in the graph; the multiply is the one computing node.
    t.deepEqual(r.graph.nodes.filter((n) => !['constant', 'reshape'].includes(n.op)).map((n) => n.op), ['mul'], `axis ${attr}`);
    near(t, interpret(r.graph, { ...r.values, s: ft([d], scale) })[0]!, s, dqRef(x, s, scale, zp, axis));
  }
});

test('DequantizeLinear: run-time x and zero point (the IR\'s i32) are cast to f32 in the IR', (t) => {
  const s = [3, 2], x = [-128, 5, 127, 0, -1, 64], zp = [3, -7, 0], scale = [0.5, 2, 0.125];
  const bytes = dqModel(13, { attrs: [ai('axis', 0)] })(undefined, s, [3]);
  const y = run(bytes, { x: it(s, x), s: ft([3], scale), z: it([3], zp) });
  near(t, y, s, dqRef(x, s, scale, zp, 0));
  // Run-time x, constant zero point.
  near(t, run(dqModel(13, { attrs: [ai('axis', 0)] })(undefined, s, [3], intInit('z', [3], zp, 6)), { x: it(s, x), s: ft([3], scale) }), s, dqRef(x, s, scale, zp, 0));
});

test('DequantizeLinear: an f16 scale (opset 19) gives an f16 result; under amp the multiply stays f32 (promote of f32 operands)', (t) => {
  const x = [0, 50, 255, 130], zp = [128];
  const bytes = model([{ opType: 'DequantizeLinear', input: ['x', 's', 'z'], output: ['y'] }], [vi('s', [], 10)], [intInit('x', [4], x, 2), intInit('z', [], zp, 2)], 19);
  const r = importOnnx(bytes);
  const y = interpret(r.graph, { ...r.values, s: { dtype: 'f16', shape: [], data: Float64Array.from([0.375]) } })[0]!;
  t.is(y.dtype, 'f16');
  near(t, y, [4], x.map((v) => (v - 128) * 0.375));

  const f = importOnnx(dqModel(13)(intInit('x', [2, 4], [1, 2, 3, 4, 250, 251, 252, 253], 2), [2, 4], [4], intInit('z', [4], [0, 1, 2, 3], 2)));
  const amp = runPipeline(f.graph, pipelineByName('amp'), { options: {} });
  const muls = amp.nodes.filter((n) => n.op === 'mul');
  t.is(muls.length, 1);
  t.is(muls[0]!.results[0]!.type.dtype, 'f32');
  const feeds = { ...f.values, s: ft([4], [1000.5, 0.01, 3, 7]) };
  t.is(compareOutputs(interpret(amp, feeds), interpret(f.graph, feeds), { rtol: 0, atol: 0 }), undefined);
});

test('DequantizeLinear refuses block quantization (E0901), per-axis scales before opset 13, mismatched shapes and types (E0902)', (t) => {
  const x = intInit('x', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8], 3);
  refused(t, dqModel(21, { zp: false, attrs: [ai('block_size', 2)] })(x, [2, 4], [2, 2]), /block_size 2 \(block quantization\) is not supported/);
  refused(t, dqModel(21, { zp: false })(x, [2, 4], [2, 2]), /x_scale of shape \[2,2\] \(block quantization\) is not supported/);
  refused(t, dqModel(10, { zp: false })(x, [2, 4], [4]), /x_scale of shape \[4\] for x of shape \[2,4\]: expected a scalar \(per-axis scales exist from opset 13\)/, 'E0902');
  refused(t, dqModel(13, { zp: false })(x, [2, 4], [3]), /x_scale of shape \[3\] .* expected a scalar or \[4\] \(axis 1\)/, 'E0902');
  refused(t, dqModel(13)(x, [2, 4], [4], intInit('z', [4], [0, 0, 0, 0], 2)), /x_zero_point of type uint8 for x of type int8/, 'E0902');
  refused(t, dqModel(10, { zp: false, attrs: [ai('axis', 0)] })(x, [2, 4], []), /attribute 'axis' is not supported/);
  refused(t, dqModel(13, { zp: false })(intInit('x', [2], [1, 2], 7), [2], []), /x of type int64/, 'E0902');
});

// ------------------------------------------------------------- the shipped node tests

const SHIPPED = [
  'tfidfvectorizer_tf_batch_onlybigrams_skip0', 'tfidfvectorizer_tf_batch_onlybigrams_skip5', 'tfidfvectorizer_tf_batch_uniandbigrams_skip5',
  'tfidfvectorizer_tf_only_bigrams_skip0', 'tfidfvectorizer_tf_onlybigrams_levelempty', 'tfidfvectorizer_tf_onlybigrams_skip5',
  'tfidfvectorizer_tf_uniandbigrams_skip5', 'dequantizelinear', 'dequantizelinear_axis',
].map((n) => `test_${n}`);

test('the shipped ONNX node tests of these ops match on the reference (integer inputs folded by the harness)', (t) => {
  shippedOnReference(t, SHIPPED, (name, imported) => {
    if (name.includes('tfidf')) t.true(imported.graph.nodes.every((n) => n.op === 'constant'), `${name}: folded`);
  });
});

// ------------------------------------------------------------- on the device

gpuTest('a folded TfIdfVectorizer scaled by a per-axis DequantizeLinear matches the reference on the device, in f32 and under amp', async (t, ctx) => {
  const p: Tfidf = { mode: 'TFIDF', minN: 1, maxN: 2, skip: 2, counts: [0, 3], indexes: [0, 1, 2, 3, 4], pool: [1, 2, 3, 1, 2, 3, 1], weights: [0.5, 1, 2, 0.25, 3] };
  const bytes = model([
    { opType: 'TfIdfVectorizer', input: ['tok'], output: ['v'], attribute: tfidfAttrs(p) },
    { opType: 'DequantizeLinear', input: ['q', 's', 'z'], output: ['w'], attribute: [ai('axis', 0)] },
    { opType: 'Mul', input: ['v', 'w'], output: ['y'] },
  ], [vi('s', [2])], [intInit('tok', [2, 7], [1, 2, 3, 1, 2, 3, 1, 2, 2, 3, 3, 1, 1, 2], 7), intInit('q', [2, 5], [0, 40, 80, 120, 250, 3, 9, 27, 81, 243], 2), intInit('z', [2], [128, 5], 2)], 13);
  const r = importOnnx(bytes);
  const feeds = { ...r.values, s: ft([2], [0.125, -0.5]) };
  const want = interpret(r.graph, feeds)[0]!;
  const v = tfidfRef([1, 2, 3, 1, 2, 3, 1, 2, 2, 3, 3, 1, 1, 2], [2, 7], p).data;
  const w = dqRef([0, 40, 80, 120, 250, 3, 9, 27, 81, 243], [2, 5], [0.125, -0.5], [128, 5], 0);
  near(t, want, [2, 5], v.map((a, i) => Math.fround(a * w[i]!)));
  const [got] = await runGraphOnGpu(r.graph, feeds, ctx);
  t.is(compareOutputs([got!], [want], TOLERANCE.f32), undefined);
  const [gotAmp] = await runGraphOnGpu(runPipeline(r.graph, pipelineByName('amp'), { options: {} }), feeds, ctx);
  t.is(compareOutputs([gotAmp!], [want], TOLERANCE.amp), undefined);
});
