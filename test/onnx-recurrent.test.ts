// ONNX LSTM, GRU and RNN (compiler/onnx/ops/recurrent.ts and
// recurrent-activations.ts), unrolled at import: models built here with
// onnx-proto, imported, run on the reference interpreter and compared with a
// direct implementation of the spec's equations written in this file (plain
// loops over time, batch, gates and units); every direction, with and
// without B, initial states, peepholes, layout 1, linear_before_reset, clip,
// input_forget and each activation; the shipped ONNX node tests on the
// reference; the refused forms (E0901); gradients of an imported LSTM against
// finite differences; one bidirectional LSTM → GRU chain on the device; and
// an imported LSTM fine-tuned with the Trainer on the device.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { GraphModule, Trainer } from '../compiler/train/index.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { crossEntropy, i32 } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, shippedOnReference, TOLERANCE } from './helpers/onnx-conformance.ts';
import { onnx, ai, af, afs, as, astrs, i64, f32i, vi, graphModel, ft, numel, vals, refused } from './helpers/onnx-build.ts';
import type { Attr } from './helpers/onnx-build.ts';

type Kind = 'LSTM' | 'GRU' | 'RNN';

// ------------------------------------------------------------- the direct implementation

const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** The spec's activation functions, with ONNX's defaults for alpha and beta. */
const ACT: Record<string, (x: number, a?: number, b?: number) => number> = {
  Relu: (x) => Math.max(0, x),
  Tanh: Math.tanh,
  Sigmoid: sig,
  Affine: (x, a = 1, b = 0) => a * x + b,
  LeakyRelu: (x, a = 0.01) => (x >= 0 ? x : a * x),
  ThresholdedRelu: (x, a = 1) => (x >= a ? x : 0),
  ScaledTanh: (x, a = NaN, b = NaN) => a * Math.tanh(b * x),
  HardSigmoid: (x, a = 0.2, b = 0.5) => Math.min(Math.max(a * x + b, 0), 1),
  Elu: (x, a = 1) => (x >= 0 ? x : a * (Math.exp(x) - 1)),
  Softsign: (x) => x / (1 + Math.abs(x)),
  Softplus: (x) => Math.log(1 + Math.exp(x)),
};

interface Spec {
  kind: Kind;
  S: number; B: number; I: number; H: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  bias?: boolean; initH?: boolean; initC?: boolean; peep?: boolean;
  clip?: number; inputForget?: boolean; lbr?: boolean;
  /** Activation names (per direction, all directions) with one alpha / beta per activation (undefined: default). */
  acts?: { name: string; alpha?: number; beta?: number }[];
  outputs?: [boolean, boolean, boolean?];
  opset?: number;
  seed?: number;
}

const gatesOf = (k: Kind) => ({ LSTM: 4, GRU: 3, RNN: 1 })[k];
const defaultActs = (k: Kind) => ({ LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] })[k];

interface Data { x: number[]; W: number[]; R: number[]; Bv?: number[]; h0?: number[]; c0?: number[]; P?: number[] }

function data(s: Spec): Data {
  const D = s.direction === 'bidirectional' ? 2 : 1, G = gatesOf(s.kind), seed = s.seed ?? 1;
  return {
    x: vals(s.S * s.B * s.I, seed, 1.5), // [S, B, I] (layout 0)
    W: vals(D * G * s.H * s.I, seed + 1, 0.8),
    R: vals(D * G * s.H * s.H, seed + 2, 0.8),
    Bv: s.bias ? vals(D * 2 * G * s.H, seed + 3, 0.5) : undefined,
    h0: s.initH ? vals(D * s.B * s.H, seed + 4, 0.9) : undefined, // [D, B, H] (layout 0)
    c0: s.initC ? vals(D * s.B * s.H, seed + 5, 0.9) : undefined,
    P: s.peep ? vals(D * 3 * s.H, seed + 6, 0.7) : undefined,
  };
}

/** Y [S, D, B, H], Y_h and Y_c [D, B, H], from the spec's equations, one scalar at a time. */
function reference(s: Spec, d: Data): { Y: number[]; Yh: number[]; Yc: number[] } {
  const { S, B, I, H, kind } = s;
  const D = s.direction === 'bidirectional' ? 2 : 1, G = gatesOf(kind), nA = defaultActs(kind).length;
  const acts = s.acts ?? Array.from({ length: D }, () => defaultActs(kind).map((name) => ({ name }))).flat();
  const Y = new Array<number>(S * D * B * H).fill(0), Yh = new Array<number>(D * B * H).fill(0), Yc = [...Yh];
  for (let dir = 0; dir < D; dir++) {
    // Float attributes are f32 in ONNX.
    const clip = s.clip === undefined ? undefined : Math.fround(s.clip);
    const f32 = (v: number | undefined) => (v === undefined ? undefined : Math.fround(v));
    const act = (k: number) => {
      const a: { name: string; alpha?: number; beta?: number } = acts[dir * nA + k]!;
      return (x: number) => ACT[a.name]!(clip === undefined ? x : Math.min(Math.max(x, -clip), clip), f32(a.alpha), f32(a.beta));
    };
    const [f, g, hA] = [act(0), nA > 1 ? act(1) : act(0), nA > 2 ? act(2) : act(0)];
    const w = (gi: number, j: number, i: number) => d.W[((dir * G + gi) * H + j) * I + i]!;
    const r = (gi: number, j: number, i: number) => d.R[((dir * G + gi) * H + j) * H + i]!;
    const wb = (gi: number, j: number) => (d.Bv ? d.Bv[dir * 2 * G * H + gi * H + j]! : 0);
    const rb = (gi: number, j: number) => (d.Bv ? d.Bv[dir * 2 * G * H + (G + gi) * H + j]! : 0);
    const p = (k: number, j: number) => (d.P ? d.P[dir * 3 * H + k * H + j]! : 0);
    for (let b = 0; b < B; b++) {
      let h = Array.from({ length: H }, (_, j) => (d.h0 ? d.h0[(dir * B + b) * H + j]! : 0));
      let c = Array.from({ length: H }, (_, j) => (d.c0 ? d.c0[(dir * B + b) * H + j]! : 0));
      const reverse = s.direction === 'reverse' || dir === 1;
      for (let k = 0; k < S; k++) {
        const t = reverse ? S - 1 - k : k;
        const xw = (gi: number, j: number) => { let a = 0; for (let i = 0; i < I; i++) a += d.x[(t * B + b) * I + i]! * w(gi, j, i); return a; };
        const hr = (gi: number, j: number, v: number[]) => { let a = 0; for (let i = 0; i < H; i++) a += v[i]! * r(gi, j, i); return a; };
        const nh = new Array<number>(H), nc = new Array<number>(H);
        if (kind === 'RNN') {
          for (let j = 0; j < H; j++) nh[j] = f(xw(0, j) + hr(0, j, h) + wb(0, j) + rb(0, j));
        } else if (kind === 'GRU') {
          const z = h.map((_, j) => f(xw(0, j) + hr(0, j, h) + wb(0, j) + rb(0, j)));
          const rr = h.map((_, j) => f(xw(1, j) + hr(1, j, h) + wb(1, j) + rb(1, j)));
          const rh = h.map((v, j) => rr[j]! * v);
          for (let j = 0; j < H; j++) {
            const hh = s.lbr ? g(xw(2, j) + rr[j]! * (hr(2, j, h) + rb(2, j)) + wb(2, j)) : g(xw(2, j) + hr(2, j, rh) + rb(2, j) + wb(2, j));
            nh[j] = (1 - z[j]!) * hh + z[j]! * h[j]!;
          }
        } else {
          for (let j = 0; j < H; j++) {
            const it = f(xw(0, j) + hr(0, j, h) + p(0, j) * c[j]! + wb(0, j) + rb(0, j));
            const fg = s.inputForget ? 1 - it : f(xw(2, j) + hr(2, j, h) + p(2, j) * c[j]! + wb(2, j) + rb(2, j));
            const ct = g(xw(3, j) + hr(3, j, h) + wb(3, j) + rb(3, j));
            nc[j] = fg * c[j]! + it * ct;
            const ot = f(xw(1, j) + hr(1, j, h) + p(1, j) * nc[j]! + wb(1, j) + rb(1, j));
            nh[j] = ot * hA(nc[j]!);
          }
          c = nc;
        }
        h = nh;
        for (let j = 0; j < H; j++) Y[((t * D + dir) * B + b) * H + j] = h[j]!;
      }
      for (let j = 0; j < H; j++) { Yh[(dir * B + b) * H + j] = h[j]!; Yc[(dir * B + b) * H + j] = c[j]!; }
    }
  }
  return { Y, Yh, Yc };
}

/** Row-major transpose of a 3-D or 4-D array. */
function permute(v: readonly number[], shape: readonly number[], perm: readonly number[]): number[] {
  const out = perm.map((p) => shape[p]!);
  const st = shape.map((_, i) => numel(shape.slice(i + 1)));
  return Array.from({ length: v.length }, (_, f) => {
    let rem = f, src = 0;
    out.forEach((_, i) => { const e = Math.floor(rem / numel(out.slice(i + 1))); rem -= e * numel(out.slice(i + 1)); src += e * st[perm[i]!]!; });
    return v[src]!;
  });
}

// ------------------------------------------------------------- building and running

/** The ONNX model of `s`: W, R, B, P as initializers; X, initial_h, initial_c as inputs. */
function build(s: Spec, d: Data, extra: { seqLens?: number[] | 'input'; attrs?: Attr[] } = {}) {
  const D = s.direction === 'bidirectional' ? 2 : 1, G = gatesOf(s.kind), L = s.layout ?? 0;
  const xs = L ? [s.B, s.S, s.I] : [s.S, s.B, s.I], hs = L ? [s.B, D, s.H] : [D, s.B, s.H];
  const ins = ['X', 'W', 'R', d.Bv ? 'B' : '', extra.seqLens ? 'lens' : '', d.h0 ? 'h0' : '', d.c0 ? 'c0' : '', d.P ? 'P' : ''];
  while (ins.at(-1) === '') ins.pop();
  const outs = (s.outputs ?? [true, true, s.kind === 'LSTM']).map((w, k) => (w ? ['Y', 'Yh', 'Yc'][k]! : ''));
  const attrs: Attr[] = [ai('hidden_size', s.H)];
  if (s.direction) attrs.push(as('direction', s.direction));
  if (s.layout !== undefined) attrs.push(ai('layout', s.layout));
  if (s.clip !== undefined) attrs.push(af('clip', s.clip));
  if (s.inputForget) attrs.push(ai('input_forget', 1));
  if (s.lbr !== undefined) attrs.push(ai('linear_before_reset', s.lbr ? 1 : 0));
  if (s.acts) {
    attrs.push(astrs('activations', s.acts.map((a) => a.name)));
    if (s.acts.some((a) => a.alpha !== undefined)) attrs.push(afs('activation_alpha', s.acts.map((a) => a.alpha ?? 0)));
    if (s.acts.some((a) => a.beta !== undefined)) attrs.push(afs('activation_beta', s.acts.map((a) => a.beta ?? 0)));
  }
  attrs.push(...(extra.attrs ?? []));
  const inits = [f32i('W', [D, G * s.H, s.I], d.W), f32i('R', [D, G * s.H, s.H], d.R)];
  if (d.Bv) inits.push(f32i('B', [D, 2 * G * s.H], d.Bv));
  if (d.P) inits.push(f32i('P', [D, 3 * s.H], d.P));
  if (Array.isArray(extra.seqLens)) inits.push(i64('lens', [s.B], extra.seqLens));
  const inputs = [vi('X', xs), ...(d.h0 ? [vi('h0', hs)] : []), ...(d.c0 ? [vi('c0', hs)] : []), ...(extra.seqLens === 'input' ? [vi('lens', [s.B], 6)] : [])];
  const feeds: Record<string, HostTensor> = { X: ft(xs, L ? permute(d.x, [s.S, s.B, s.I], [1, 0, 2]) : d.x) };
  if (d.h0) feeds.h0 = ft(hs, L ? permute(d.h0, [D, s.B, s.H], [1, 0, 2]) : d.h0);
  if (d.c0) feeds.c0 = ft(hs, L ? permute(d.c0, [D, s.B, s.H], [1, 0, 2]) : d.c0);
  const bytes = graphModel([{ opType: s.kind, name: 'rnn', input: ins, output: outs, attribute: attrs }],
    inputs, outs.filter((o) => o !== '').map((o) => vi(o, [])), inits, s.opset ?? 14);
  return { bytes, feeds, outs };
}

function near(t: ExecutionContext, got: HostTensor | undefined, shape: number[], want: readonly number[], what: string): void {
  t.deepEqual(got?.shape, shape, what);
  const bad = [...(got?.data ?? [])].findIndex((v, i) => !(Math.abs(Number(v) - want[i]!) <= 1e-9 + 1e-9 * Math.abs(want[i]!)));
  t.is(bad, -1, bad < 0 ? '' : `${what} [${bad}]: ${got!.data[bad]} vs ${want[bad]}`);
}

/** Imports and runs `s` on the reference interpreter and checks each output it names against the direct implementation. */
function check(t: ExecutionContext, s: Spec, what: string): void {
  const d = data(s);
  const { bytes, feeds, outs } = build(s, d);
  const r = importOnnx(bytes, { file: 'm.onnx' });
  const got = interpret(r.graph, { ...r.values, ...feeds });
  const want = reference(s, d);
  const D = s.direction === 'bidirectional' ? 2 : 1, L = s.layout ?? 0;
  let k = 0;
  if (outs[0]) {
    const shape = [s.S, D, s.B, s.H];
    near(t, got[k++], L ? [s.B, s.S, D, s.H] : shape, L ? permute(want.Y, shape, [2, 0, 1, 3]) : want.Y, `${what}: Y`);
  }
  for (const [i, v, name] of [[1, want.Yh, 'Y_h'], [2, want.Yc, 'Y_c']] as const) {
    if (!outs[i]) continue;
    near(t, got[k++], L ? [s.B, D, s.H] : [D, s.B, s.H], L ? permute(v, [D, s.B, s.H], [1, 0, 2]) : v, `${what}: ${name}`);
  }
}

const DIRS = ['forward', 'reverse', 'bidirectional'] as const;

// ------------------------------------------------------------- against the direct implementation

test('LSTM: each direction, with and without B, initial_h / initial_c, peepholes; layout 1; input_forget; clip; all three outputs', (t) => {
  const base = { kind: 'LSTM', S: 4, B: 2, I: 3, H: 5 } as const;
  for (const direction of DIRS) {
    check(t, { ...base, direction }, `${direction} plain`);
    check(t, { ...base, direction, bias: true, initH: true, initC: true, peep: true }, `${direction} B h0 c0 P`);
    check(t, { ...base, direction, bias: true, peep: true, layout: 1, clip: 0.7, seed: 3 }, `${direction} B P layout 1 clip`);
    check(t, { ...base, direction, initC: true, peep: true, inputForget: true, seed: 5 }, `${direction} c0 P input_forget`);
  }
  check(t, { ...base, direction: 'bidirectional', initH: true, opset: 7 }, 'opset 7');
  check(t, { ...base, direction: 'bidirectional', bias: true, initC: true, layout: 1, opset: 22 }, 'opset 22');
  check(t, { ...base, direction: 'reverse', bias: true, outputs: [false, false, true] }, 'only Y_c');
  check(t, { ...base, S: 1, B: 1, outputs: [true, false, false] }, 'one step, only Y');
});

test('GRU: each direction, linear_before_reset 0 and 1, with and without B / initial_h; layout 1; clip', (t) => {
  const base = { kind: 'GRU', S: 3, B: 2, I: 4, H: 3 } as const;
  for (const direction of DIRS) {
    for (const lbr of [false, true]) {
      check(t, { ...base, direction, lbr }, `${direction} lbr ${lbr} plain`);
      check(t, { ...base, direction, lbr, bias: true, initH: true, seed: 2 }, `${direction} lbr ${lbr} B h0`);
      check(t, { ...base, direction, lbr, bias: true, layout: 1, clip: 0.5, seed: 4 }, `${direction} lbr ${lbr} B layout 1 clip`);
    }
  }
  check(t, { ...base, lbr: true, bias: true, opset: 7, outputs: [false, true] }, 'opset 7, only Y_h');
  check(t, { ...base, bias: true, opset: 1 }, 'opset 1 (no linear_before_reset)');
});

test('RNN: each direction, with and without B / initial_h; layout 1; clip; Relu', (t) => {
  const base = { kind: 'RNN', S: 5, B: 3, I: 2, H: 4 } as const;
  for (const direction of DIRS) {
    check(t, { ...base, direction }, `${direction} plain`);
    check(t, { ...base, direction, bias: true, initH: true, seed: 6 }, `${direction} B h0`);
    const relu = Array.from({ length: direction === 'bidirectional' ? 2 : 1 }, () => ({ name: 'Relu' }));
    check(t, { ...base, direction, bias: true, layout: 1, clip: 0.6, acts: relu, seed: 7 }, `${direction} B layout 1 clip Relu`);
  }
  check(t, { ...base, acts: [{ name: 'Tanh' }, { name: 'Tanh' }].slice(0, 1), opset: 7 }, 'opset 7');
});

test('every activation the spec lists, with activation_alpha / activation_beta and defaults, in each recurrence', (t) => {
  // Activations taking alpha (beta) come first, so both readings of the lists agree.
  const sets: { name: string; alpha?: number; beta?: number }[][] = [
    [{ name: 'HardSigmoid', alpha: 0.3, beta: 0.4 }, { name: 'Affine', alpha: 0.7, beta: -0.2 }, { name: 'ScaledTanh', alpha: 1.3, beta: 0.6 },
      { name: 'LeakyRelu', alpha: 0.2 }, { name: 'Elu', alpha: 0.8 }, { name: 'ThresholdedRelu', alpha: 0.1 }],
    [{ name: 'HardSigmoid' }, { name: 'Softsign' }, { name: 'Softplus' }, { name: 'Sigmoid' }, { name: 'Relu' }, { name: 'Tanh' }],
    [{ name: 'Elu' }, { name: 'LeakyRelu' }, { name: 'ThresholdedRelu' }, { name: 'Affine' }, { name: 'softsign' }, { name: 'TANH' }],
  ];
  const canon = (n: string) => Object.keys(ACT).find((k) => k.toLowerCase() === n.toLowerCase())!;
  sets.forEach((set, i) => {
    const lstm = set.map((a) => ({ ...a, name: canon(a.name) }));
    const spec = (kind: Kind, acts: typeof lstm): Spec => ({ kind, S: 3, B: 2, I: 3, H: 4, direction: 'bidirectional', bias: true, initH: true, acts });
    for (const [kind, n] of [['LSTM', 6], ['GRU', 4], ['RNN', 2]] as const) {
      const acts = lstm.slice(0, n);
      const s = spec(kind, acts);
      // The model carries the names as written (any case); the reference uses the canonical ones.
      const d = data(s);
      const { bytes, feeds } = build({ ...s, acts: set.slice(0, n) }, d);
      const r = importOnnx(bytes, { file: 'm.onnx' });
      const got = interpret(r.graph, { ...r.values, ...feeds });
      near(t, got[0], [3, 2, 2, 4], reference(s, d).Y, `set ${i} ${kind}`);
    }
  });
});

test('the gate matmuls stay batched: one of the whole sequence against W per direction, one of h against R per step (two for GRU without linear_before_reset)', (t) => {
  const matmuls = (s: Spec) => importOnnx(build(s, data(s)).bytes).graph.nodes.filter((n) => n.op === 'matmul').length;
  // A zero initial state skips the first step's recurrence.
  t.is(matmuls({ kind: 'LSTM', S: 5, B: 2, I: 3, H: 4 }), 1 + 4);
  t.is(matmuls({ kind: 'LSTM', S: 5, B: 2, I: 3, H: 4, initH: true, direction: 'bidirectional' }), 2 * (1 + 5));
  t.is(matmuls({ kind: 'GRU', S: 5, B: 2, I: 3, H: 4, initH: true, lbr: true }), 1 + 5);
  t.is(matmuls({ kind: 'GRU', S: 5, B: 2, I: 3, H: 4, initH: true }), 1 + 2 * 5);
  t.is(matmuls({ kind: 'RNN', S: 5, B: 2, I: 3, H: 4, direction: 'reverse' }), 1 + 4);
});

// ------------------------------------------------------------- sequence_lens and refusals

test('sequence_lens: full-length constants are accepted; shorter or run-time lengths, ambiguous alphas and unknown activations are E0901', (t) => {
  const s: Spec = { kind: 'LSTM', S: 3, B: 2, I: 2, H: 3, bias: true };
  const d = data(s);
  const full = build(s, d, { seqLens: [3, 3] });
  const r = importOnnx(full.bytes, { file: 'm.onnx' });
  near(t, interpret(r.graph, { ...r.values, ...full.feeds })[1], [1, 2, 3], reference(s, d).Yh, 'full sequence_lens');
  refused(t, build(s, d, { seqLens: [3, 2] }).bytes, /LSTM \(opset 14\): sequence_lens \[3,2\]: only sequences of the full length 3/);
  refused(t, build(s, d, { seqLens: 'input' }).bytes, /sequence_lens must be known at import time/);
  // Sigmoid takes no alpha; LeakyRelu's alpha is 0.5 read per activation, 0.3 read as consumed: refused.
  refused(t, build({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2, direction: 'bidirectional', acts: [{ name: 'Sigmoid', alpha: 0.3 }, { name: 'LeakyRelu', alpha: 0.5 }] }, data({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2, direction: 'bidirectional' })).bytes,
    /activation_alpha is ambiguous: activation 1 \('LeakyRelu'\) gets 0.5 .* and 0.3/);
  refused(t, build({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2, acts: [{ name: 'Gelu' }] }, data({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2 })).bytes, /activation 'Gelu'/);
  refused(t, build({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2, acts: [{ name: 'ScaledTanh' }] }, data({ kind: 'RNN', S: 2, B: 1, I: 2, H: 2 })).bytes,
    /'ScaledTanh' needs an activation_alpha value/);
});

// ------------------------------------------------------------- the shipped node tests

const SHIPPED = [
  'gru_batchwise', 'gru_defaults', 'gru_seq_length', 'gru_with_initial_bias', 'lstm_batchwise', 'lstm_defaults', 'lstm_with_initial_bias',
  'lstm_with_peepholes', 'rnn_seq_length', 'simple_rnn_batchwise', 'simple_rnn_defaults', 'simple_rnn_with_initial_bias',
].map((n) => `test_${n}`);

test('the shipped ONNX node tests of LSTM, GRU and RNN match on the reference', (t) => {
  shippedOnReference(t, SHIPPED);
});

// ------------------------------------------------------------- training

test('an imported LSTM trains: gradients through W, R, B, P and initial_h match finite differences', (t) => {
  const s: Spec = { kind: 'LSTM', S: 3, B: 2, I: 3, H: 2, direction: 'bidirectional', bias: true, initH: true, peep: true };
  const d = data(s);
  const D = 2, G = 4;
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'g',
      node: [
        { opType: 'LSTM', input: ['X', 'W', 'R', 'B', '', 'h0', '', 'P'], output: ['Y', 'Yh'], attribute: [ai('hidden_size', 2), as('direction', 'bidirectional')] },
        { opType: 'Mul', input: ['Y', 'Y'], output: ['sq'] },
        { opType: 'ReduceSum', input: ['sq'], output: ['l1'], attribute: [ai('keepdims', 0)] },
        { opType: 'ReduceSum', input: ['Yh'], output: ['l2'], attribute: [ai('keepdims', 0)] },
        { opType: 'Add', input: ['l1', 'l2'], output: ['loss'] },
      ],
      input: [vi('X', [3, 2, 3])], output: [vi('loss', [])],
      initializer: [f32i('W', [D, G * 2, 3], d.W), f32i('R', [D, G * 2, 2], d.R), f32i('B', [D, 4 * G], d.Bv!), f32i('h0', [D, 2, 2], d.h0!), f32i('P', [D, 6], d.P!)],
    },
  });
  const r = importOnnx(onnx.ModelProto.encode(m).finish());
  const report = gradcheck(r.graph, { inputs: { ...r.values, X: ft([3, 2, 3], d.x) }, wrt: ['W', 'R', 'B', 'h0', 'P'] });
  t.true(report.ok, report.text);
});

// ------------------------------------------------------------- on the device

gpuTest('a bidirectional LSTM (peepholes, batch-first) feeding a GRU (linear_before_reset) matches the reference on the device', async (t, ctx) => {
  const S = 4, B = 2, I = 3, H = 4;
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'g',
      node: [
        { opType: 'LSTM', input: ['X', 'W1', 'R1', 'B1', '', '', '', 'P1'], output: ['Y1', '', 'Yc'], attribute: [ai('hidden_size', H), as('direction', 'bidirectional'), ai('layout', 1)] },
        { opType: 'Reshape', input: ['Y1', 'shape'], output: ['x2'] },
        { opType: 'GRU', input: ['x2', 'W2', 'R2', 'B2'], output: ['Y', 'Yh'], attribute: [ai('hidden_size', 3), ai('layout', 1), ai('linear_before_reset', 1), as('direction', 'reverse')] },
      ],
      input: [vi('X', [B, S, I])], output: [vi('Y', []), vi('Yh', []), vi('Yc', [])],
      initializer: [
        f32i('W1', [2, 4 * H, I], vals(2 * 4 * H * I, 1, 0.8)), f32i('R1', [2, 4 * H, H], vals(2 * 4 * H * H, 2, 0.8)),
        f32i('B1', [2, 8 * H], vals(16 * H, 3, 0.5)), f32i('P1', [2, 3 * H], vals(6 * H, 4, 0.5)), i64('shape', [3], [B, S, 2 * H]),
        f32i('W2', [1, 9, 2 * H], vals(18 * H, 5, 0.8)), f32i('R2', [1, 9, 3], vals(27, 6, 0.8)), f32i('B2', [1, 18], vals(18, 7, 0.5)),
      ],
    },
  });
  const r = importOnnx(onnx.ModelProto.encode(m).finish());
  const feeds = { ...r.values, X: ft([B, S, I], vals(B * S * I, 8, 1.5)) };
  const want = interpret(r.graph, feeds);
  t.deepEqual(want.map((w) => w.shape), [[B, S, 1, 3], [B, 1, 3], [B, 2, H]]);
  const got = await runGraphOnGpu(r.graph, feeds, ctx);
  t.is(compareOutputs(got, want, TOLERANCE.f32), undefined);
});

gpuTest('an imported LSTM fine-tunes with the Trainer: the loss of a sequence-classification task falls', async (t, ctx) => {
  // Label: whether feature 0 summed over time is positive. X [S, B, I] → LSTM → Y_h → a linear readout.
  const S = 4, B = 16, I = 2, H = 6, STEPS = 20;
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'g',
      node: [
        { opType: 'LSTM', input: ['X', 'W', 'R', 'B'], output: ['', 'Yh'], attribute: [ai('hidden_size', H)] },
        { opType: 'Reshape', input: ['Yh', 'shape'], output: ['h'] },
        { opType: 'MatMul', input: ['h', 'Wo'], output: ['logits'] },
      ],
      input: [vi('X', [S, B, I])], output: [vi('logits', [])],
      initializer: [
        f32i('W', [1, 4 * H, I], vals(4 * H * I, 11, 0.5)), f32i('R', [1, 4 * H, H], vals(4 * H * H, 12, 0.3)),
        f32i('B', [1, 8 * H], vals(8 * H, 13, 0.1)), i64('shape', [2], [B, H]), f32i('Wo', [H, 2], vals(2 * H, 14, 0.3)),
      ],
    },
  });
  const r = importOnnx(onnx.ModelProto.encode(m).finish());
  const model = new GraphModule(r.graph, r.values);
  const trainer = await Trainer.create({
    model, loss: (mod: GraphModule, x: Tensor, y: Tensor) => crossEntropy(mod.forward(x), y),
    inputs: [...model.inputSpecs, i32([B])], optimizer: { kind: 'adam', lr: 3e-2 }, precision: 'f32', device: ctx,
  });
  try {
    const batches = [0, 1].map((k) => {
      const x = vals(S * B * I, 20 + k, 1);
      const y = Array.from({ length: B }, (_, b) => (Array.from({ length: S }, (_, s) => x[(s * B + b) * I]!).reduce((a, v) => a + v, 0) > 0 ? 1 : 0));
      return { x: ft([S, B, I], x), y: { dtype: 'i32', shape: [B], data: Int32Array.from(y) } as HostTensor };
    });
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) losses.push((await trainer.step([batches[s % 2]!.x, batches[s % 2]!.y], { readLoss: true }))!);
    const first = (losses[0]! + losses[1]!) / 2, last = (losses.at(-1)! + losses.at(-2)!) / 2;
    t.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
    t.true(losses.every(Number.isFinite));
    t.true(last < 0.5 * first, `${first} -> ${last}`);
  } finally {
    trainer.destroy();
  }
});
