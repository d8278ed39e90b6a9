// MelWeightMatrix (opset 17): the [⌊dft_length/2⌋+1, num_mel_bins] matrix of
// triangular mel filters, as ONNX's reference computes it: num_mel_bins + 2
// points evenly spaced in mel from lower_edge_hertz (mel = 2595·log10(1 +
// hz/700)) in steps of (high - low) / (num_mel_bins + 2) (sic: the last point
// falls short of upper_edge_hertz), each turned back into hertz and into a
// spectrogram bin ⌊(dft_length + 1)·hz / sample_rate⌋; filter i rises from
// bin b[i] to 1 at b[i+1] and falls to 0 at b[i+2].
//
// num_mel_bins, dft_length and sample_rate must be known at import (they fix
// the output's shape: E0901 otherwise). When the edge frequencies are known
// too, the matrix is computed on the host in f64 and is a constant. When they
// are run-time values the bins are computed in IR f32 elementwise ops (log,
// exp, floor: the AMP policy keeps log and exp in f32) and the filters by
// compares and selects over a [bins, mel] grid of iotas; a bin boundary
// (before the floor) within about 1e-6 relative of an integer may then land
// one bin off the f64 reference. output_datatype must have an IR dtype
// (float or float16; E0901 otherwise).

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { irDtype } from '../context.ts';
import { ct, storeElem } from '../fold.ts';
import { elemType } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { asDtype, konst, reshapeTo, val } from './types.ts';

interface MelShape { mel: number; N: number; sr: number; bins: number }

function scalarInt(c: NodeCtx, i: number, what: string): number {
  const t = c.constant(i, what);
  if (t.data.length !== 1) c.bad(`${what} has ${t.data.length} elements (a scalar)`);
  const v = t.data[0]!;
  if (!Number.isInteger(v) || v < 1) c.bad(`${what} ${v} (a positive integer)`);
  return v;
}

/** The spectrogram bin of each of the mel + 2 filter points (f64, as the reference). */
export function melPoints(lo: number, hi: number, s: MelShape): number[] {
  const toMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const low = toMel(lo), step = (toMel(hi) - low) / (s.mel + 2);
  return Array.from({ length: s.mel + 2 }, (_, k) => {
    const hz = 700 * (10 ** ((k * step + low) / 2595) - 1);
    return Math.floor(((s.N + 1) * hz) / s.sr);
  });
}

/** Filter weight of bin j between points l < c < h (l = c or c = h allowed). */
export function melWeight(j: number, l: number, c: number, h: number): number {
  if (j === c) return 1;
  if (j >= l && j < c) return (j - l) / (c - l);
  if (j > c && j < h) return (h - j) / (h - c);
  return 0;
}

function hostMatrix(lo: number, hi: number, s: MelShape): number[] {
  const b = melPoints(lo, hi, s);
  const out: number[] = [];
  for (let j = 0; j < s.bins; j++) for (let i = 0; i < s.mel; i++) out.push(melWeight(j, b[i]!, b[i + 1]!, b[i + 2]!));
  return out;
}

/** The same in IR ops on run-time edge frequencies (f32 scalars). */
function deviceMatrix(c: NodeCtx, lo: Value, hi: Value, s: MelShape): Value {
  const k = (v: number) => c.scalar(v, 'f32');
  const add = (a: Value, b: Value) => c.add('add', [a, b]);
  const sub = (a: Value, b: Value) => c.add('sub', [a, b]);
  const mul = (a: Value, b: Value) => c.add('mul', [a, b]);
  const div = (a: Value, b: Value) => c.add('div', [a, b]);
  const toMel = (hz: Value) => mul(c.add('log', [add(div(hz, k(700)), k(1))]), k(2595 / Math.LN10));
  const low = toMel(lo);
  const step = div(sub(toMel(hi), low), k(s.mel + 2));
  const pts = add(mul(c.add('iota', [], { shape: [s.mel + 2], axis: 0, dtype: 'f32' }), step), low);
  const hz = mul(sub(c.add('exp', [mul(div(pts, k(2595)), k(Math.LN10))]), k(1)), k(700));
  const b = c.add('floor', [div(mul(hz, k(s.N + 1)), k(s.sr))]);
  const point = (from: number) => reshapeTo(c, c.add('slice', [b], { starts: [from], ends: [from + s.mel] }), [1, s.mel]);
  const [l, ctr, h] = [point(0), point(1), point(2)];
  const j = c.add('iota', [], { shape: [s.bins, 1], axis: 0, dtype: 'f32' });
  const zero = k(0);
  const rise = c.add('select', [c.add('greater_equal', [j, l]), div(sub(j, l), sub(ctr, l)), zero]);
  const fall = c.add('select', [c.add('less', [j, h]), div(sub(h, j), sub(h, ctr)), zero]);
  const side = c.add('select', [c.add('less', [j, ctr]), rise, fall]);
  return c.add('select', [c.add('equal', [j, ctr]), k(1), side]);
}

function edge(c: NodeCtx, i: number, what: string): { t?: number; v?: Value } {
  const e = c.entry(i);
  if (e.kind === 'const') {
    if (e.t.data.length !== 1) c.bad(`${what} has ${e.t.data.length} elements (a scalar)`);
    return { t: e.t.data[0]! };
  }
  if (e.v.type.shape.reduce((a, d) => a * d, 1) !== 1) c.bad(`${what} of shape [${e.v.type.shape.join(',')}] (a scalar)`);
  return { v: reshapeTo(c, asDtype(c, e.v, 'f32'), []) };
}

const melWeightMatrix: OpMapping = {
  map: (c) => {
    if (c.opset < 17) c.unsupported('MelWeightMatrix exists from opset 17');
    const mel = scalarInt(c, 0, 'num_mel_bins'), N = scalarInt(c, 1, 'dft_length'), sr = scalarInt(c, 2, 'sample_rate');
    const s: MelShape = { mel, N, sr, bins: Math.floor(N / 2) + 1 };
    const out = elemType(c.int('output_datatype', 1), `node '${c.name}' output_datatype`);
    const dtype = irDtype(out, `node '${c.name}' output_datatype`);
    if (dtype !== 'f32' && dtype !== 'f16') c.unsupported(`output_datatype ${out} (float or float16)`);
    const lo = edge(c, 3, 'lower_edge_hertz'), hi = edge(c, 4, 'upper_edge_hertz');
    if (lo.t !== undefined && hi.t !== undefined) {
      return konst(ct(out, [s.bins, mel], hostMatrix(lo.t, hi.t, s).map((w) => storeElem(out, w))));
    }
    const v = (e: { t?: number; v?: Value }) => e.v ?? c.scalar(e.t!, 'f32');
    return val(asDtype(c, deviceMatrix(c, v(lo), v(hi), s), dtype));
  },
};

export const SPECTRAL_MEL_OPS: Record<string, OpMapping> = {
  MelWeightMatrix: melWeightMatrix,
};
