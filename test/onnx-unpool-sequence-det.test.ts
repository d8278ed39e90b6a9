// ONNX MaxUnpool, ReverseSequence and Det mappings (compiler/onnx/ops/
// unpool.ts, sequence.ts, linalg.ts): models built here with onnx-proto,
// imported, run on the reference interpreter and compared with values
// computed independently in this file (direct loops; Det by Gaussian
// elimination with partial pivoting, not the cofactor expansion the mapping
// uses); the shipped ONNX node tests on the reference; E0901 / E0902 for the
// forms that are refused; gradients against finite differences; and one
// chain of the three on the device.

import test from 'ava';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, shippedOnReference } from './helpers/onnx-conformance.ts';
import { ai, ais, as, i64, f32i, vi, modelAt, ft, numel, vals, unravel, ravel, run, near, refused } from './helpers/onnx-build.ts';
import type { Attr } from './helpers/onnx-build.ts';

/** Models here are opset 11 unless a test says otherwise. */
const model = modelAt(11);

// ------------------------------------------------------------- MaxUnpool

interface UnpoolCase { xs: number[]; kernel: number[]; strides?: number[]; pads?: number[]; outShape?: number[]; idx: number[] }

/** The reference: zeros of the unpooled shape, x[k] at flat idx[k] (in order), then placed at the start of outShape. */
function unpoolRef(x: readonly number[], u: UnpoolCase): { out: number[]; data: number[] } {
  const n = u.kernel.length, st = u.strides ?? u.kernel.map(() => 1), p = u.pads ?? new Array<number>(2 * n).fill(0);
  const unpooled = [u.xs[0]!, u.xs[1]!, ...u.kernel.map((k, i) => (u.xs[i + 2]! - 1) * st[i]! + k - p[i]! - p[n + i]!)];
  const full = new Array<number>(numel(unpooled)).fill(0);
  u.idx.forEach((f, k) => (full[f] = x[k]!));
  const out = u.outShape ?? unpooled;
  const data = new Array<number>(numel(out)).fill(0);
  full.forEach((v, f) => (data[ravel(unravel(f, unpooled), out)] = v));
  return { out, data };
}

function unpoolModel(u: UnpoolCase, opts: { opset?: number; runtimeIdx?: boolean; extra?: Attr[] } = {}): Uint8Array {
  const attrs = [ais('kernel_shape', u.kernel), ...(u.strides ? [ais('strides', u.strides)] : []), ...(u.pads ? [ais('pads', u.pads)] : []), ...(opts.extra ?? [])];
  const inits = [...(opts.runtimeIdx ? [] : [i64('I', u.xs, u.idx)]), ...(u.outShape ? [i64('S', [u.outShape.length], u.outShape)] : [])];
  return model([{ opType: 'MaxUnpool', input: ['x', 'I', ...(u.outShape ? ['S'] : [])], output: ['y'], attribute: attrs }],
    [vi('x', u.xs), ...(opts.runtimeIdx ? [vi('I', u.xs, 7)] : [])], inits, opts.opset ?? 11);
}

/** Distinct flat indices into `m` positions, spread out (a multiplicative walk). */
const spread = (k: number, m: number, mul = 7) => Array.from({ length: k }, (_, i) => (i * mul + 3) % m);

test('MaxUnpool 2-D: indices into the whole N·C·H·W tensor; strides, asymmetric pads, output_shape appending zeros; opset 9', (t) => {
  // N = 2, C = 3: an index of one (n, c) plane may point into another one (flat over the whole tensor).
  let u: UnpoolCase = { xs: [2, 3, 2, 3], kernel: [3, 2], strides: [2, 3], pads: [1, 0, 0, 1], idx: [] };
  const m = 2 * 3 * ((2 - 1) * 2 + 3 - 1) * ((3 - 1) * 3 + 2 - 1); // unpooled [2, 3, 4, 7]
  u.idx = spread(36, m, 11);
  t.is(new Set(u.idx).size, 36);
  const x = vals(36, 2);
  let r = unpoolRef(x, u);
  t.deepEqual(r.out, [2, 3, 4, 7]);
  near(t, run(unpoolModel(u), { x: ft(u.xs, x) }), r.out, r.data, 0, 0);
  near(t, run(unpoolModel(u, { opset: 9 }), { x: ft(u.xs, x) }), r.out, r.data, 0, 0);
  u = { ...u, outShape: [2, 3, 6, 8] };
  r = unpoolRef(x, u);
  near(t, run(unpoolModel(u), { x: ft(u.xs, x) }), [2, 3, 6, 8], r.data, 0, 0);
  // Default strides (1), output_shape growing one axis only.
  u = { xs: [1, 2, 3, 3], kernel: [2, 2], outShape: [1, 2, 4, 6], idx: spread(18, 32, 5) };
  r = unpoolRef(vals(18, 3), u);
  near(t, run(unpoolModel(u), { x: ft(u.xs, vals(18, 3)) }), [1, 2, 4, 6], r.data, 0, 0);
});

test('MaxUnpool 1-D and 3-D, duplicate indices (the last wins), run-time indices', (t) => {
  let u: UnpoolCase = { xs: [2, 2, 3], kernel: [2], strides: [2], idx: [0, 3, 5, 7, 8, 11, 13, 14, 16, 18, 20, 23] };
  let r = unpoolRef(vals(12, 4), u);
  t.deepEqual(r.out, [2, 2, 6]);
  near(t, run(unpoolModel(u), { x: ft(u.xs, vals(12, 4)) }), r.out, r.data, 0, 0);
  u = { xs: [1, 1, 2, 2, 2], kernel: [2, 2, 2], strides: [2, 2, 2], outShape: [1, 1, 5, 4, 5], idx: spread(8, 64, 9) };
  r = unpoolRef(vals(8, 5), u);
  near(t, run(unpoolModel(u), { x: ft(u.xs, vals(8, 5)) }), r.out, r.data, 0, 0);
  // Indices 5 and 2 twice each: the later element of x wins.
  u = { xs: [1, 1, 2, 2], kernel: [2, 2], strides: [2, 2], idx: [5, 2, 5, 2] };
  const x = [1.5, -2, 3.25, 4];
  r = unpoolRef(x, u);
  t.is(r.data[5], 3.25);
  near(t, run(unpoolModel(u), { x: ft(u.xs, x) }), r.out, r.data, 0, 0);
  // Run-time indices (an int64 graph input): a scatter with i32 indices.
  u = { xs: [2, 3, 2, 3], kernel: [3, 2], strides: [2, 3], pads: [1, 0, 0, 1], outShape: [2, 3, 5, 7], idx: spread(36, 168, 13) };
  r = unpoolRef(vals(36, 6), u);
  const y = run(unpoolModel(u, { runtimeIdx: true }), { x: ft(u.xs, vals(36, 6)), I: { dtype: 'i32', shape: u.xs, data: Int32Array.from(u.idx) } });
  near(t, y, r.out, r.data, 0, 0);
});

test('MaxUnpool refusals: run-time output_shape, output_shape smaller or with another N / C, auto_pad, out-of-range constant index', (t) => {
  const u: UnpoolCase = { xs: [1, 2, 2, 2], kernel: [2, 2], strides: [2, 2], idx: [0, 5, 10, 15, 16, 21, 26, 31] };
  refused(t, model([{ opType: 'MaxUnpool', input: ['x', 'I', 'S'], output: ['y'], attribute: [ais('kernel_shape', [2, 2]), ais('strides', [2, 2])] }],
    [vi('x', u.xs), vi('S', [4], 7)], [i64('I', u.xs, u.idx)]), /a run-time output_shape/);
  refused(t, unpoolModel({ ...u, outShape: [1, 2, 3, 4] }), /output_shape \[1,2,3,4\] smaller than the unpooled shape \[1, 2, 4, 4\]/);
  refused(t, unpoolModel({ ...u, outShape: [1, 3, 4, 4] }), /output_shape \[1,3,4,4\] with other N or C/);
  refused(t, unpoolModel(u, { extra: [as('auto_pad', 'SAME_UPPER')] }), /attribute 'auto_pad' is not supported/);
  refused(t, unpoolModel({ ...u, idx: [0, 5, 10, 15, 16, 21, 26, 32] }), /index 32 \(at 7\) is out of range for an unpooled tensor of 32 elements/, 'E0902');
  refused(t, unpoolModel(u, { opset: 8 }), /MaxUnpool exists from opset 9/);
});

// ------------------------------------------------------------- ReverseSequence

/** Direct loops: y[.., b, t, ..] = x[.., b, len[b] - 1 - t, ..] for t < len[b], else x. */
function reverseRef(x: readonly number[], s: readonly number[], lens: readonly number[], batchAxis: number, timeAxis: number): number[] {
  return Array.from({ length: numel(s) }, (_, f) => {
    const idx = unravel(f, s);
    const b = idx[batchAxis]!, tt = idx[timeAxis]!;
    if (tt < lens[b]!) idx[timeAxis] = lens[b]! - 1 - tt;
    return x[ravel(idx, s)]!;
  });
}

function reverseModel(s: number[], lens: number[], batchAxis?: number, timeAxis?: number, opset = 10, constX?: number[]): Uint8Array {
  const attrs = [...(batchAxis !== undefined ? [ai('batch_axis', batchAxis)] : []), ...(timeAxis !== undefined ? [ai('time_axis', timeAxis)] : [])];
  return model([{ opType: 'ReverseSequence', input: ['x', 'L'], output: ['y'], attribute: attrs }],
    constX ? [] : [vi('x', s)], [i64('L', [lens.length], lens), ...(constX ? [f32i('x', s, constX)] : [])], opset);
}

test('ReverseSequence: batch_axis 0 / time_axis 1 and the defaults (1 / 0), trailing axes, lengths 0, 1 and the whole time axis', (t) => {
  let s = [3, 5, 2], x = vals(30, 7), lens = [5, 0, 3];
  near(t, run(reverseModel(s, lens, 0, 1), { x: ft(s, x) }), s, reverseRef(x, s, lens, 0, 1), 0, 0);
  s = [4, 3, 2, 2]; x = vals(48, 8); lens = [2, 4, 1];
  near(t, run(reverseModel(s, lens), { x: ft(s, x) }), s, reverseRef(x, s, lens, 1, 0), 0, 0);
  near(t, run(reverseModel(s, lens, 1, 0, 13), { x: ft(s, x) }), s, reverseRef(x, s, lens, 1, 0), 0, 0);
  // Lengths of at most 1: the identity (no gather).
  const r = importOnnx(reverseModel(s, [1, 0, 1]));
  t.false(r.graph.nodes.some((n) => n.op === 'gather'));
  near(t, interpret(r.graph, { ...r.values, x: ft(s, x) })[0]!, s, x, 0, 0);
  // A constant input folds at import (no gather in the graph).
  s = [2, 4]; x = vals(8, 9); lens = [3, 4];
  const folded = importOnnx(reverseModel(s, lens, 0, 1, 10, x));
  t.false(folded.graph.nodes.some((n) => n.op === 'gather'));
  near(t, interpret(folded.graph, folded.values)[0]!, s, reverseRef(x, s, lens, 0, 1), 0, 0);
});

test('ReverseSequence refusals: run-time sequence_lens (E0901), axes other than 0 / 1, lengths past the time axis (E0902)', (t) => {
  const s = [3, 4];
  refused(t, model([{ opType: 'ReverseSequence', input: ['x', 'L'], output: ['y'] }], [vi('x', s), vi('L', [4], 7)], [], 10),
    /ReverseSequence \(opset 10\): a run-time sequence_lens \(input 1/);
  refused(t, reverseModel([3, 4, 2], [1, 1, 1], 2, 0), /batch_axis 2 and time_axis 0/, 'E0902');
  refused(t, reverseModel(s, [1, 1, 1, 1], 0, 0), /batch_axis 0 and time_axis 0/, 'E0902');
  refused(t, reverseModel(s, [1, 4, 2, 3]), /sequence_lens\[1\] = 4 is outside 0..3/, 'E0902');
  refused(t, reverseModel(s, [1, 2, 3]), /sequence_lens of shape \[3\] for a batch of 4/, 'E0902');
  refused(t, reverseModel(s, [1, 1, 1, 1], 1, 0, 9), /ReverseSequence exists from opset 10/);
});

// ------------------------------------------------------------- Det

/** Determinant by Gaussian elimination with partial pivoting, in f64. */
function detRef(a: readonly number[], n: number): number {
  const m = [...a];
  let d = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (m[p * n + k] === 0) return 0;
    if (p !== k) {
      for (let j = 0; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j]!, m[k * n + j]!];
      d = -d;
    }
    d *= m[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / m[k * n + k]!;
      for (let j = k; j < n; j++) m[i * n + j]! -= f * m[k * n + j]!;
    }
  }
  return d;
}

const detModel = (s: number[], opset = 11) => model([{ opType: 'Det', input: ['x'], output: ['y'] }], [vi('x', s)], [], opset);
const detsRef = (x: readonly number[], s: readonly number[]) => {
  const n = s.at(-1)!;
  return Array.from({ length: numel(s.slice(0, -2)) }, (_, b) => detRef(x.slice(b * n * n, (b + 1) * n * n), n));
};

test('Det: n = 1..4, batch shapes [], [3] and [2, 2], against Gaussian elimination', (t) => {
  for (const n of [1, 2, 3, 4]) {
    for (const batch of [[], [3], [2, 2]]) {
      const s = [...batch, n, n], x = vals(numel(s), n + batch.length).map((v, i) => Math.fround(v + (i % (n + 1) === 0 ? 1 : 0)));
      const want = detsRef(x, s);
      t.true(want.every((d) => Math.abs(d) > 1e-3), 'the test matrices are not near-singular');
      near(t, run(detModel(s), { x: ft(s, x) }), batch, want, 1e-9, 1e-12);
    }
  }
});

test('Det: singular matrices give 0, a row swap flips the sign, a scaled row scales it; n > 4 and non-square refused', (t) => {
  // Exactly singular (integer entries: every product is exact): equal rows, a row sum, a zero column, rank 1.
  const sing = [
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
    [2, -1, 3, 0, 4, 1, 2, 5, 2, -1, 3, 0, 7, 3, -2, 1],
    [1, 2, 3, 4, 5, 6, 7, 8, 6, 8, 10, 12, 0, 1, 0, 3],
    [0, 2, 3, 0, 5, 6, 0, 8, 9],
    [1, 2, 2, 4],
  ];
  for (const m of sing) {
    const n = Math.round(Math.sqrt(m.length));
    t.true(Math.abs(detRef(m, n)) < 1e-12);
    near(t, run(detModel([n, n]), { x: ft([n, n], m) }), [], [0], 0, 0);
  }
  // Non-integer entries with dependent rows: 0 up to rounding.
  const a = vals(8, 11), near0 = [...a, ...a.slice(0, 4).map((v, i) => Math.fround(v + a[4 + i]!)), ...vals(4, 12)];
  const y = run(detModel([4, 4]), { x: ft([4, 4], near0) });
  t.true(Math.abs(y.data[0]!) < 1e-5, `${y.data[0]}`);
  // Row swaps and scaling, in one batch: det, -det (rows 0 and 2 swapped), 3·det (row 1 tripled).
  const b = vals(16, 13);
  const swapped = [...b.slice(8, 12), ...b.slice(4, 8), ...b.slice(0, 4), ...b.slice(12)];
  const scaled = [...b.slice(0, 4), ...b.slice(4, 8).map((v) => v * 3), ...b.slice(8)];
  const d = detRef(b, 4);
  near(t, run(detModel([3, 4, 4]), { x: ft([3, 4, 4], [...b, ...swapped, ...scaled]) }), [3], [d, -d, 3 * d], 1e-9, 1e-12);
  refused(t, detModel([2, 5, 5]), /Det \(opset 11\): matrices of 5 x 5 \(at most 4 x 4/);
  refused(t, detModel([3, 4]), /the last two extents must be equal/, 'E0902');
  refused(t, detModel([4]), /input of rank 1/, 'E0902');
  refused(t, detModel([2, 2], 10), /Det exists from opset 11/);
});

// ------------------------------------------------------------- gradients

test('gradients of MaxUnpool, ReverseSequence and Det match finite differences', (t) => {
  // y = sum(Det(ReverseSequence(MaxUnpool(x) + m))²): every value of x reaches the loss.
  const bytes = model([
    { opType: 'MaxUnpool', input: ['x', 'I'], output: ['u'], attribute: [ais('kernel_shape', [2, 2]), ais('strides', [2, 2])] },
    { opType: 'Add', input: ['u', 'm'], output: ['v'] },
    { opType: 'Reshape', input: ['v', 'shape'], output: ['w'] },
    { opType: 'ReverseSequence', input: ['w', 'L'], output: ['r'], attribute: [ai('batch_axis', 0), ai('time_axis', 1)] },
    { opType: 'Det', input: ['r'], output: ['d'] },
    { opType: 'Mul', input: ['d', 'd'], output: ['sq'] },
    { opType: 'ReduceSum', input: ['sq'], output: ['y'], attribute: [ai('keepdims', 0)] },
  ], [], [f32i('x', [1, 3, 2, 2], vals(12, 14)), f32i('m', [1, 3, 4, 4], vals(48, 15)),
    i64('I', [1, 3, 2, 2], [0, 7, 9, 14, 17, 18, 28, 31, 32, 38, 41, 47]), i64('shape', [3], [3, 4, 4]), i64('L', [3], [4, 2, 3])]);
  const r = importOnnx(bytes);
  // Float initializers are the graph's params.
  const report = gradcheck(r.graph, { inputs: r.values, wrt: ['x', 'm'] });
  t.true(report.ok, report.text);
});

// ------------------------------------------------------------- the shipped node tests

const SHIPPED = [
  'maxunpool_export_with_output_shape', 'maxunpool_export_without_output_shape', 'reversesequence_batch', 'reversesequence_time', 'det_2d', 'det_nd',
].map((n) => `test_${n}`);

test('the shipped ONNX node tests of these ops match on the reference (indices, output_shape and sequence_lens folded by the harness)', (t) => {
  shippedOnReference(t, SHIPPED);
});

// ------------------------------------------------------------- on the device

gpuTest('a chain of MaxUnpool (output_shape), ReverseSequence and Det matches the reference on the device', async (t, ctx) => {
  const bytes = model([
    { opType: 'MaxUnpool', input: ['x', 'I', 'S'], output: ['u'], attribute: [ais('kernel_shape', [2, 2]), ais('strides', [2, 2])] },
    { opType: 'Add', input: ['u', 'm'], output: ['v'] },
    { opType: 'Reshape', input: ['v', 'shape'], output: ['w'] },
    { opType: 'ReverseSequence', input: ['w', 'L'], output: ['r'], attribute: [ai('batch_axis', 0), ai('time_axis', 1)] },
    { opType: 'Det', input: ['r'], output: ['y'] },
  ], [vi('x', [2, 4, 1, 2])], [
    i64('I', [2, 4, 1, 2], spread(16, 64, 11)), i64('S', [4], [2, 4, 4, 4]), f32i('m', [2, 4, 4, 4], vals(128, 16)),
    i64('shape', [3], [8, 4, 4]), i64('L', [8], [0, 1, 2, 3, 4, 4, 3, 2]),
  ]);
  const r = importOnnx(bytes);
  const feeds = { ...r.values, x: ft([2, 4, 1, 2], vals(16, 17)) };
  const want = interpret(r.graph, feeds)[0]!;
  t.deepEqual(want.shape, [8]);
  const [got] = await runGraphOnGpu(r.graph, feeds, ctx);
  t.is(compareOutputs([got!], [want], { rtol: 1e-4, atol: 1e-4 }), undefined);
});
