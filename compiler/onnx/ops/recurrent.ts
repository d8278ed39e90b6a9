// ONNX LSTM, GRU and RNN (opsets 1, 3 for GRU, 7, 14, 22), unrolled at import
// over the static sequence length into matmul, elementwise, slice, concat,
// reshape and transpose ops, so an imported recurrent layer runs and trains
// (autodiff handles every op it becomes) without a loop construct.
// Per direction: one matmul of the whole input sequence [S·B, I] against W
// for all gates and steps, with the biases Wb + Rb added once; then per step
// one matmul of h against R for all gates (GRU with linear_before_reset = 0:
// one against R's z and r rows and one of r ⊙ h against R's h rows, as the
// spec's equations need). Gate orders are the spec's: LSTM i, o, f, c; GRU
// z, r, h. Directions forward, reverse and bidirectional (forward first);
// layout 1 (batch-first, opset 14+) is transposes around the layout-0 form.
// Missing initial_h / initial_c are zeros and the first step drops the terms
// they would zero. sequence_lens is accepted only when it is known at import
// and every entry is the full length (shorter sequences would need per-batch
// masking of the states and zeroed outputs: E0901). Activations, their
// alpha / beta and clip: recurrent-activations.ts.

import type { DType } from '../../../ir/dtype.ts';
import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { Act } from './recurrent-activations.ts';
import { activations } from './recurrent-activations.ts';
import type { OpMapping } from './types.ts';
import { reshapeTo } from './types.ts';

type Kind = 'LSTM' | 'GRU' | 'RNN';

const GATES: Record<Kind, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const DEFAULT_ACTS: Record<Kind, readonly string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };
const OUTPUTS: Record<Kind, number> = { LSTM: 3, GRU: 2, RNN: 2 };

/** Slice of x: [from, to) along `axis`, everything along the others. */
function cut(c: NodeCtx, x: Value, axis: number, from: number, to: number): Value {
  const s = x.type.shape;
  if (from === 0 && to === s[axis]) return x;
  return c.add('slice', [x], { starts: s.map((_, i) => (i === axis ? from : 0)), ends: s.map((d, i) => (i === axis ? to : d)) });
}

/** Gate k (of width h) of a [B, G·h] tensor, or of a [G·h] vector. */
const gate = (c: NodeCtx, x: Value, k: number, h: number): Value => cut(c, x, x.type.shape.length - 1, k * h, (k + 1) * h);

/** a + b where an undefined operand stands for zeros. */
function plus(c: NodeCtx, a: Value, b: Value | undefined): Value {
  return b ? c.add('add', [a, b]) : a;
}

function mulOpt(c: NodeCtx, a: Value | undefined, b: Value | undefined): Value | undefined {
  return a && b ? c.add('mul', [a, b]) : undefined;
}

interface Setup {
  readonly kind: Kind;
  readonly dt: DType;
  readonly S: number;
  readonly B: number;
  readonly H: number;
  readonly G: number;
  readonly dirs: number;
  readonly layout: number;
  readonly inputForget: boolean;
  readonly linearBeforeReset: boolean;
}

/** One direction's weights, biases and initial states, sliced out of the stacked inputs. */
interface DirParams {
  /** x·Wᵀ + biases for every step, [S, B, G·H]. */
  readonly xw: Value;
  readonly R: Value;
  /** GRU with linear_before_reset: Rbh, added to h·Rhᵀ inside the reset gate. */
  readonly rbh?: Value;
  /** LSTM peepholes i, o, f ([H] each). */
  readonly p?: readonly [Value, Value, Value];
  readonly h0?: Value;
  readonly c0?: Value;
  readonly acts: readonly Act[];
}

function dirParams(c: NodeCtx, s: Setup, x: Value, d: number, acts: readonly Act[], states: { h?: Value; c?: Value }): DirParams {
  const { S, B, H, G } = s;
  const pick = (v: Value, rows: number[]) => reshapeTo(c, cut(c, v, 0, d, d + 1), rows);
  const W = pick(c.value(1), [G * H, x.type.shape[2]!]);
  const R = pick(c.value(2), [G * H, H]);
  let xw = c.add('matmul', [reshapeTo(c, x, [S * B, x.type.shape[2]!]), W], { transpose_b: true });
  let rbh: Value | undefined;
  if (c.has(3)) {
    const b = pick(c.value(3), [2 * G * H]);
    const wb = cut(c, b, 0, 0, G * H), rb = cut(c, b, 0, G * H, 2 * G * H);
    let bias: Value;
    if (s.linearBeforeReset) {
      // Rbh stays inside r ⊙ (h·Rhᵀ + Rbh); the other biases add up front.
      bias = c.add('concat', [c.add('add', [cut(c, wb, 0, 0, 2 * H), cut(c, rb, 0, 0, 2 * H)]), cut(c, wb, 0, 2 * H, 3 * H)], { axis: 0 });
      rbh = cut(c, rb, 0, 2 * H, 3 * H);
    } else {
      bias = c.add('add', [wb, rb]);
    }
    xw = c.add('add', [xw, bias]);
  }
  xw = reshapeTo(c, xw, [S, B, G * H]);
  let p: [Value, Value, Value] | undefined;
  if (s.kind === 'LSTM' && c.has(7)) {
    const pv = pick(c.value(7), [3 * H]);
    p = [gate(c, pv, 0, H), gate(c, pv, 1, H), gate(c, pv, 2, H)];
  }
  const state = (v: Value | undefined) => (v ? reshapeTo(c, cut(c, v, 0, d, d + 1), [B, H]) : undefined);
  return { xw, R, rbh, p, h0: state(states.h), c0: state(states.c), acts };
}

/** h·Rᵀ ([B, rows]), or undefined while h is still the zero initial state. */
function recur(c: NodeCtx, h: Value | undefined, R: Value): Value | undefined {
  return h ? c.add('matmul', [h, R], { transpose_b: true }) : undefined;
}

/** Runs one direction over the steps; returns the hidden state of every step (in time order) and the last h and c. */
function unroll(c: NodeCtx, s: Setup, p: DirParams, reverse: boolean): { ys: Value[]; h: Value; cell?: Value } {
  const { S, B, H, G } = s;
  let oneV: Value | undefined;
  const one = () => (oneV ??= c.scalar(1, s.dt));
  const ys = new Array<Value>(S);
  let h = p.h0, cell = p.c0;
  // GRU (linear_before_reset = 0): R's z, r rows and its h rows, cut once.
  let rzr: Value | undefined, rh: Value | undefined;
  for (let k = 0; k < S; k++) {
    const t = reverse ? S - 1 - k : k;
    const xt = reshapeTo(c, cut(c, p.xw, 0, t, t + 1), [B, G * H]);
    if (s.kind === 'RNN') {
      h = p.acts[0]!(plus(c, xt, recur(c, h, p.R)));
    } else if (s.kind === 'LSTM') {
      const [f, g, hf] = p.acts as [Act, Act, Act];
      const pre = plus(c, xt, recur(c, h, p.R));
      const it = f(plus(c, gate(c, pre, 0, H), mulOpt(c, p.p?.[0], cell)));
      const ft = s.inputForget ? c.add('sub', [one(), it]) : f(plus(c, gate(c, pre, 2, H), mulOpt(c, p.p?.[2], cell)));
      const ct = g(gate(c, pre, 3, H));
      const next = plus(c, c.add('mul', [it, ct]), mulOpt(c, ft, cell));
      const ot = f(plus(c, gate(c, pre, 1, H), mulOpt(c, p.p?.[1], next)));
      cell = next;
      h = c.add('mul', [ot, hf(next)]);
    } else {
      const [f, g] = p.acts as [Act, Act];
      let hh: Value, zr: Value;
      if (s.linearBeforeReset) {
        const hr = recur(c, h, p.R);
        zr = plus(c, gate(c, xt, 0, 2 * H), hr && gate(c, hr, 0, 2 * H));
        const r = f(gate(c, zr, 1, H));
        const inner = hr ? plus(c, gate(c, hr, 2, H), p.rbh) : p.rbh;
        hh = g(plus(c, gate(c, xt, 2, H), mulOpt(c, r, inner)));
      } else {
        rzr ??= cut(c, p.R, 0, 0, 2 * H);
        rh ??= cut(c, p.R, 0, 2 * H, 3 * H);
        zr = plus(c, gate(c, xt, 0, 2 * H), recur(c, h, rzr));
        const r = f(gate(c, zr, 1, H));
        hh = g(plus(c, gate(c, xt, 2, H), recur(c, mulOpt(c, r, h), rh)));
      }
      const z = f(gate(c, zr, 0, H));
      const keep = c.add('mul', [c.add('sub', [one(), z]), hh]);
      h = plus(c, keep, mulOpt(c, z, h));
    }
    ys[t] = h;
  }
  return { ys, h: h!, cell };
}

/** Input `i` ([dirs, B, H]; [B, dirs, H] in layout 1) as [dirs, B, H], checked. */
function stateInput(c: NodeCtx, s: Setup, i: number, what: string): Value | undefined {
  if (!c.has(i)) return undefined;
  let v = c.value(i);
  if (v.type.dtype !== s.dt) c.bad(`${what} is ${v.type.dtype}, X is ${s.dt}`);
  if (s.layout === 1 && v.type.shape.length === 3) v = c.add('transpose', [v], { perm: [1, 0, 2] });
  const want = [s.dirs, s.B, s.H];
  if (v.type.shape.length !== 3 || v.type.shape.some((e, k) => e !== want[k])) c.bad(`${what} has shape [${c.shape(i).join(',')}]`);
  return v;
}

function checkShape(c: NodeCtx, i: number, what: string, want: readonly number[]): void {
  const s = c.shape(i);
  if (s.length !== want.length || s.some((e, k) => e !== want[k])) c.bad(`${what} has shape [${s.join(',')}], expected [${want.join(',')}]`);
}

function mapRecurrent(c: NodeCtx, kind: Kind): Entry[] {
  c.onlyOutputs(OUTPUTS[kind]);
  const direction = c.string('direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) c.bad(`direction '${direction}' (forward, reverse or bidirectional)`);
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const layout = c.opset >= 14 ? c.int('layout', 0) : 0;
  if (layout !== 0 && layout !== 1) c.bad(`layout ${layout} (0 or 1)`);
  // Opset 1's output_sequence only says whether Y may be omitted; Y is produced whenever it is named.
  if (c.opset < 7) c.int('output_sequence', 0);
  let x = c.value(0);
  const dt = x.type.dtype;
  if (dt !== 'f32' && dt !== 'f16') c.unsupported(`X of element type ${dt} (float or float16)`);
  if (x.type.shape.length !== 3) c.bad(`X has rank ${x.type.shape.length}, expected 3`);
  if (layout === 1) x = c.add('transpose', [x], { perm: [1, 0, 2] });
  const [S, B, I] = x.type.shape as [number, number, number];
  if (S < 1) c.unsupported('an empty sequence (seq_length 0)');
  const G = GATES[kind];
  const wShape = c.shape(1);
  if (wShape.length !== 3 || wShape[1]! % G !== 0) c.bad(`W has shape [${wShape.join(',')}]`);
  const H = c.int('hidden_size') ?? wShape[1]! / G;
  checkShape(c, 1, 'W', [dirs, G * H, I]);
  checkShape(c, 2, 'R', [dirs, G * H, H]);
  if (c.has(3)) checkShape(c, 3, 'B', [dirs, 2 * G * H]);
  for (const i of [1, 2, 3, 7]) if (c.has(i) && c.elem(i) !== c.elem(0)) c.bad(`input ${i} is ${c.elem(i)}, X is ${c.elem(0)}`);
  if (c.has(4)) {
    const e = c.entry(4);
    if (e.kind !== 'const') c.unsupported('sequence_lens must be known at import time (per-batch sequence lengths would need masking: only the full length is supported)');
    const lens = [...e.t.data];
    if (lens.length !== B || lens.some((n) => n !== S)) {
      c.unsupported(`sequence_lens [${lens.join(',')}]: only sequences of the full length ${S} are supported (shorter ones would need per-batch masking of the states and zeroed outputs)`);
    }
  }
  const clip = c.hasAttr('clip') ? c.float('clip', 0) : undefined;
  if (clip !== undefined && !(clip >= 0)) c.bad(`clip ${clip} (must be non-negative)`);
  const inputForget = kind === 'LSTM' && c.int('input_forget', 0) !== 0;
  const linearBeforeReset = kind === 'GRU' && c.opset >= 3 && c.int('linear_before_reset', 0) !== 0;
  const s: Setup = { kind, dt, S, B, H, G, dirs, layout, inputForget, linearBeforeReset };
  const acts = activations(c, DEFAULT_ACTS[kind], dirs, clip);
  const h0 = stateInput(c, s, 5, 'initial_h');
  const c0 = kind === 'LSTM' ? stateInput(c, s, 6, 'initial_c') : undefined;
  if (kind === 'LSTM' && c.has(7)) checkShape(c, 7, 'P', [dirs, 3 * H]);

  const runs = Array.from({ length: dirs }, (_, d) => {
    const p = dirParams(c, s, x, d, acts[d]!, { h: h0, c: c0 });
    return unroll(c, s, p, direction === 'reverse' || d === 1);
  });
  const outs = c.node.output ?? [];
  const wanted = (k: number) => (outs[k] ?? '') !== '';
  const stack = (vs: Value[], axis: number, shape: number[]) => {
    const parts = vs.map((v) => reshapeTo(c, v, shape));
    return parts.length === 1 ? parts[0]! : c.add('concat', parts, { axis });
  };
  const result: Entry[] = [];
  if (wanted(0)) {
    // [S, dirs, B, H]; layout 1: [B, S, dirs, H].
    let y = stack(runs.map((r) => stack(r.ys, 0, [1, 1, B, H])), 1, [S, 1, B, H]);
    if (layout === 1) y = c.add('transpose', [y], { perm: [2, 0, 1, 3] });
    result[0] = { kind: 'value', v: y };
  }
  const last = (vs: Value[]) => {
    const v = stack(vs, 0, [1, B, H]);
    return { kind: 'value', v: layout === 1 ? c.add('transpose', [v], { perm: [1, 0, 2] }) : v } as const;
  };
  if (wanted(1)) result[1] = last(runs.map((r) => r.h));
  if (kind === 'LSTM' && wanted(2)) result[2] = last(runs.map((r) => r.cell!));
  return result;
}

export const RECURRENT_OPS: Record<string, OpMapping> = {
  LSTM: { map: (c) => mapRecurrent(c, 'LSTM') },
  GRU: { map: (c) => mapRecurrent(c, 'GRU') },
  RNN: { map: (c) => mapRecurrent(c, 'RNN') },
};
