// ONNX spectral mappings (compiler/onnx/ops/spectral.ts: DFT, STFT;
// spectral-mel.ts: MelWeightMatrix): models built here with onnx-proto,
// imported, run on the reference interpreter and compared with values
// computed independently in this file (a direct O(n²) complex DFT loop in
// f64, framing by index, the mel filters by the reference's loops); the
// shipped ONNX node tests on the reference, in f32 and under AMP; E0901 /
// E0902 for the refused forms; an imported DFT's gradient against finite
// differences; and the shipped tests on the device.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { importOnnx } from '../compiler/onnx/import.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { pipelineByName } from '../passes/pipeline.ts';
import { runPipeline } from '../passes/runner.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR, runCase, TOLERANCE } from './helpers/onnx-conformance.ts';
import { ai, i64, f32i, vi, modelAt, ft, numel, vals, unravel, at, run, nearWithin, refused as refusedAs } from './helpers/onnx-build.ts';
import type { Attr, Node } from './helpers/onnx-build.ts';

/** Models here are opset 17 unless a test says otherwise. */
const model = modelAt(17);
const near = nearWithin(1e-5, 1e-5);
const refused = (t: ExecutionContext, bytes: Uint8Array, code: string, pattern: RegExp): void => refusedAs(t, bytes, pattern, code);

/**
 * The DFT of x (shape [..., 1|2]) along `axis` by the defining sum, in f64:
 * y[k] = scale · Σ_{m < min(n, N)} x[m] · e^{sign·2πi·mk/N}.
 */
function dftRef(x: ArrayLike<number>, s: readonly number[], axis: number, N: number, inverse = false, onesided = false) {
  const r = s.length, cdim = s[r - 1]!, n = s[axis]!;
  const bins = onesided ? Math.floor(N / 2) + 1 : N;
  const out = s.map((d, i) => (i === axis ? bins : i === r - 1 ? 2 : d));
  const data = Array.from({ length: numel(out) }, (_, f) => {
    const idx = unravel(f, out);
    const k = idx[axis]!, part = idx[r - 1]!;
    let re = 0, im = 0;
    for (let m = 0; m < Math.min(n, N); m++) {
      const src = [...idx];
      src[axis] = m;
      src[r - 1] = 0;
      const xr = at(x, s, src);
      src[r - 1] = 1;
      const xi = cdim === 2 ? at(x, s, src) : 0;
      const th = ((inverse ? 2 : -2) * Math.PI * m * k) / N;
      re += xr * Math.cos(th) - xi * Math.sin(th);
      im += xr * Math.sin(th) + xi * Math.cos(th);
    }
    return (part === 0 ? re : im) / (inverse ? N : 1);
  });
  return { out, data };
}

const dftNode = (attrs: Attr[], inputs = ['x']): Node => ({ opType: 'DFT', input: inputs, output: ['y'], attribute: attrs });

// ------------------------------------------------------------- DFT

test('DFT (opset 17) of real and complex input along each axis, against the direct sum', (t) => {
  for (const s of [[2, 5, 3, 1], [2, 5, 3, 2], [6, 1], [3, 4, 2]]) {
    const x = vals(numel(s), s.length + s[s.length - 1]!);
    for (let axis = 0; axis <= s.length - 2; axis++) {
      const y = run(model([dftNode([ai('axis', axis)])], [vi('x', s)]), { x: ft(s, x) });
      const want = dftRef(x, s, axis, s[axis]!);
      near(t, y, want.out, want.data);
    }
    // A negative axis counts from the back of the input: -2 is the last signal axis.
    const y = run(model([dftNode([ai('axis', -2)])], [vi('x', s)]), { x: ft(s, x) });
    const want = dftRef(x, s, s.length - 2, s[s.length - 2]!);
    near(t, y, want.out, want.data);
  }
});

test('DFT: dft_length pads with zeros or truncates; onesided keeps ⌊N/2⌋+1 bins; inverse scales by 1/N', (t) => {
  const s = [2, 6, 1], x = vals(12, 3);
  for (const N of [4, 6, 9]) {
    for (const onesided of [0, 1]) {
      const y = run(model([dftNode([ai('onesided', onesided)], ['x', 'n'])], [vi('x', s)], [i64('n', [], [N])]), { x: ft(s, x) });
      const want = dftRef(x, s, 1, N, false, onesided === 1);
      near(t, y, want.out, want.data);
    }
  }
  const sc = [3, 5, 2], xc = vals(30, 4);
  for (const N of [3, 5, 8]) {
    const y = run(model([dftNode([ai('inverse', 1)], ['x', 'n'])], [vi('x', sc)], [i64('n', [1], [N])]), { x: ft(sc, xc) });
    const want = dftRef(xc, sc, 1, N, true);
    near(t, y, want.out, want.data);
  }
  // The inverse undoes the forward transform.
  const fwd = dftRef(xc, sc, 1, 5);
  const back = run(model([dftNode([ai('inverse', 1)])], [vi('x', sc)]), { x: ft(sc, fwd.data) });
  near(t, back, sc, xc, 1e-5, 1e-5);
});

test('DFT (opset 20): axis and dft_length as inputs, axis defaulting to -2', (t) => {
  const s = [3, 4, 5, 2], x = vals(numel(s), 5);
  let y = run(model([dftNode([])], [vi('x', s)], [], 20), { x: ft(s, x) });
  let want = dftRef(x, s, 2, 5);
  near(t, y, want.out, want.data);
  y = run(model([dftNode([], ['x', 'n', 'a'])], [vi('x', s)], [i64('n', [], [7]), i64('a', [], [0])], 20), { x: ft(s, x) });
  want = dftRef(x, s, 0, 7);
  near(t, y, want.out, want.data);
  y = run(model([dftNode([], ['x', '', 'a'])], [vi('x', s)], [i64('a', [], [-3])], 20), { x: ft(s, x) });
  want = dftRef(x, s, 1, 4);
  near(t, y, want.out, want.data);
  // opset 20 has no axis attribute.
  refused(t, model([dftNode([ai('axis', 1)])], [vi('x', s)], [], 20), 'E0901', /attribute 'axis' is not supported/);
});

test('DFT: refused and invalid forms', (t) => {
  const s = [2, 4, 1];
  refused(t, model([dftNode([ai('inverse', 1), ai('onesided', 1)])], [vi('x', s)]), 'E0901', /inverse with onesided/);
  refused(t, model([dftNode([], ['x', 'n'])], [vi('x', s), vi('n', [], 7)]), 'E0901', /input 1 \(dft_length\) must be known at import/);
  refused(t, model([dftNode([])], [vi('x', s)], [], 16), 'E0901', /DFT exists from opset 17/);
  refused(t, model([dftNode([ai('foo', 1)])], [vi('x', s)]), 'E0901', /attribute 'foo'/);
  refused(t, model([dftNode([ai('onesided', 1)])], [vi('x', [2, 4, 2])]), 'E0902', /onesided with a complex input/);
  refused(t, model([dftNode([ai('axis', 2)])], [vi('x', s)]), 'E0902', /axis 2/);
  refused(t, model([dftNode([])], [vi('x', [2, 4, 3])]), 'E0902', /last dimension 3/);
});

test('an imported DFT differentiates: the gradient of a weighted sum of its output matches finite differences', (t) => {
  const s = [2, 6, 2];
  const r = importOnnx(model([
    { opType: 'DFT', input: ['W', 'n'], output: ['d'], attribute: [ai('axis', 1)] },
    { opType: 'Mul', input: ['d', 'd'], output: ['sq'] },
    { opType: 'Mul', input: ['sq', 'k'], output: ['p'] },
    { opType: 'ReduceSum', input: ['p'], output: ['y'], attribute: [ai('keepdims', 0)] },
  ], [], [f32i('W', s, vals(24, 6)), i64('n', [], [5]), f32i('k', [2, 5, 2], vals(20, 7))]));
  t.true(r.graph.nodes.some((n) => n.op === 'matmul'));
  const report = gradcheck(r.graph, { inputs: { ...r.values }, wrt: ['W'] });
  t.true(report.ok, report.text);
});

// ------------------------------------------------------------- STFT

/** Frames of signal [B, L, c] (frames = 1 + ⌊(L - fl)/step⌋), windowed, then the direct DFT. */
function stftRef(x: readonly number[], s: readonly number[], step: number, fl: number, win: readonly number[] | undefined, onesided: boolean) {
  const [B, L, cdim] = s as [number, number, number];
  const F = 1 + Math.floor((L - fl) / step);
  const fs = [B, F, fl, cdim];
  const framed = Array.from({ length: numel(fs) }, (_, f) => {
    const [b, fr, j, p] = unravel(f, fs) as [number, number, number, number];
    return at(x, s, [b, fr * step + j, p]) * (win ? win[j]! : 1);
  });
  return dftRef(framed, fs, 2, fl, false, onesided);
}

const stftNode = (inputs: string[], attrs: Attr[] = []): Node => ({ opType: 'STFT', input: inputs, output: ['y'], attribute: attrs });

test('STFT: frame_step, frame_length, a run-time or constant window, onesided; complex signal', (t) => {
  const s = [2, 23, 1], x = vals(46, 8), win = vals(6, 9).map((v) => Math.abs(v));
  // frame_length only (no window), onesided by default.
  let y = run(model([stftNode(['x', 'step', '', 'fl'])], [vi('x', s)], [i64('step', [], [3]), i64('fl', [], [6])]), { x: ft(s, x) });
  let want = stftRef(x, s, 3, 6, undefined, true);
  t.deepEqual(want.out, [2, 6, 4, 2]);
  near(t, y, want.out, want.data);
  // a run-time window (its length is the frame length), two-sided.
  y = run(model([stftNode(['x', 'step', 'w'], [ai('onesided', 0)])], [vi('x', s), vi('w', [6])], [i64('step', [], [4])]), { x: ft(s, x), w: ft([6], win) });
  want = stftRef(x, s, 4, 6, win, false);
  near(t, y, want.out, want.data);
  // a constant window and a matching frame_length.
  y = run(model([stftNode(['x', 'step', 'w', 'fl'])], [vi('x', s)], [i64('step', [], [5]), f32i('w', [6], win), i64('fl', [], [6])]), { x: ft(s, x) });
  want = stftRef(x, s, 5, 6, win, true);
  near(t, y, want.out, want.data);
  // a complex signal (onesided 0), no window or frame_length: one frame of the whole signal.
  const sc = [1, 7, 2], xc = vals(14, 10);
  y = run(model([stftNode(['x', 'step'], [ai('onesided', 0)])], [vi('x', sc)], [i64('step', [], [2])]), { x: ft(sc, xc) });
  want = stftRef(xc, sc, 2, 7, undefined, false);
  t.deepEqual(want.out, [1, 1, 7, 2]);
  near(t, y, want.out, want.data);
});

test('STFT: refused and invalid forms', (t) => {
  const s = [1, 16, 1];
  refused(t, model([stftNode(['x', 'step', 'w', 'fl'])], [vi('x', s), vi('w', [8])], [i64('step', [], [2]), i64('fl', [], [6])]), 'E0901', /window of length 8 with frame_length 6/);
  refused(t, model([stftNode(['x', 'step'])], [vi('x', s), vi('step', [], 7)]), 'E0901', /frame_step\) must be known at import/);
  refused(t, model([stftNode(['x', 'step', '', 'fl'])], [vi('x', [1, 16, 2])], [i64('step', [], [2]), i64('fl', [], [4])]), 'E0902', /onesided with a complex input/);
  refused(t, model([stftNode(['x', 'step', '', 'fl'])], [vi('x', s)], [i64('step', [], [2]), i64('fl', [], [17])]), 'E0902', /frame_length 17/);
});

// ------------------------------------------------------------- MelWeightMatrix

/** The reference's loops: points, then each filter's rising and falling edges written in order. */
function melRef(mel: number, N: number, sr: number, lo: number, hi: number): number[] {
  const toMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const step = (toMel(hi) - toMel(lo)) / (mel + 2);
  const b = Array.from({ length: mel + 2 }, (_, k) => Math.floor(((N + 1) * 700 * (10 ** ((k * step + toMel(lo)) / 2595) - 1)) / sr));
  const bins = Math.floor(N / 2) + 1;
  const out = new Array<number>(bins * mel).fill(0);
  for (let i = 0; i < mel; i++) {
    const [l, c, h] = [b[i]!, b[i + 1]!, b[i + 2]!];
    if (c === l) out[c * mel + i] = 1;
    else for (let j = l; j <= c; j++) out[j * mel + i] = (j - l) / (c - l);
    if (h > c) for (let j = c; j < h; j++) out[j * mel + i] = (h - j) / (h - c);
  }
  return out;
}

test('MelWeightMatrix: constant edges fold on the host, run-time edges compute in IR ops; both match the reference\'s loops', (t) => {
  for (const [mel, N, sr, lo, hi] of [[8, 16, 8192, 0, 4096], [10, 64, 16000, 20, 7600], [5, 33, 22050, 300, 11000]] as const) {
    const want = melRef(mel, N, sr, lo, hi);
    const ints = [i64('m', [], [mel]), i64('n', [], [N]), i64('sr', [], [sr])];
    const node: Node = { opType: 'MelWeightMatrix', input: ['m', 'n', 'sr', 'lo', 'hi'], output: ['y'] };
    const shape = [Math.floor(N / 2) + 1, mel];
    const folded = importOnnx(model([node], [], [...ints, f32i('lo', [], [lo]), f32i('hi', [], [hi])]), { file: 'm.onnx' });
    t.false(folded.graph.nodes.some((n) => n.op === 'log'), 'constant edges fold');
    near(t, interpret(folded.graph, folded.values)[0]!, shape, want, 0, 1e-7);
    const y = run(model([node], [vi('lo', []), vi('hi', [])], ints), { lo: ft([], [lo]), hi: ft([], [hi]) });
    near(t, y, shape, want, 1e-6, 1e-6);
    if (mel !== 8) t.true(want.some((w) => w > 0 && w < 1), 'filters wider than one bin (fractional weights)');
  }
});

// ------------------------------------------------------------- the shipped node tests

const SHIPPED = ['test_dft', 'test_dft_axis', 'test_dft_inverse', 'test_stft', 'test_stft_with_window', 'test_melweightmatrix'];

test('the shipped ONNX node tests of these ops match on the reference, in f32 and under AMP', (t) => {
  if (!existsSync(join(ONNX_NODE_DIR, 'test_dft'))) return t.pass('no ONNX test data');
  for (const name of SHIPPED) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, TOLERANCE.f32), undefined, name);
    const amp = runPipeline(imported.graph, pipelineByName('amp'), { options: {} });
    if (name.includes('ft')) t.true(amp.nodes.some((n) => n.op === 'matmul' && n.results[0]!.type.dtype === 'f16'), `${name}: the matmul runs in f16`);
    t.is(compareOutputs(interpret(amp, feeds), expected, TOLERANCE.amp), undefined, `${name} (amp)`);
  }
});

// ------------------------------------------------------------- on the device

gpuTest('the shipped DFT, STFT and MelWeightMatrix node tests pass on the device in f32 and under AMP', async (t, ctx) => {
  if (!existsSync(join(ONNX_NODE_DIR, 'test_dft'))) {
    t.pass('no ONNX test data');
    return;
  }
  for (const name of SHIPPED) {
    const r = await runCase(ctx, name);
    t.is(r.status, 'ran', `${name}: ${r.reason ?? ''}`);
    t.true(r.f32, `${name} f32: ${r.detail?.f32 ?? ''}`);
    t.true(r.amp, `${name} amp: ${r.detail?.amp ?? ''}`);
  }
});
