// DFT (opset 17: axis attribute; opset 20: axis as an optional input, default
// -2) and STFT (opset 17) as matmuls with constant DFT matrices.
//
// The transform is O(n²) per signal: the input is laid out as rows of
// [real | imaginary] samples along the transformed axis and multiplied by one
// [c·n, 2·n'] matrix of cosines and sines (built on the host in f64, angles
// reduced exactly as 2π·((m·k) mod N)/N, then stored in the input's float
// type), whose columns are the [real | imaginary] parts of the n' output
// bins. That is what XLA and TVM do for small signals; an FFT would need an
// op of its own. Zero padding (dft_length > n) and truncation (dft_length <
// n) are rows of the matrix (absent or zero), `onesided` keeps its first
// ⌊N/2⌋+1 columns, `inverse` conjugates and scales by 1/N. Under AMP the
// matmul runs in f16 with f32 accumulation. As the matmul, it differentiates.
//
// STFT frames the signal [batch, length, 1|2] with a gather of constant
// indices ([frames, frame_length], frames = 1 + ⌊(length - frame_length) /
// frame_step⌋), multiplies by the window (a run-time or constant float
// tensor), and applies the DFT above along the frame: [batch, frames, bins, 2].
//
// Refused: dft_length, axis, frame_step and frame_length not known at import
// (E0901: they fix the output's shape); `inverse` with `onesided` (E0901:
// ONNX's reference slices the inverse's output, onnxruntime extends the
// input by conjugate symmetry); a window whose length is not frame_length
// (E0901). `onesided` with a complex input is E0902 (the spec says it is not
// possible). A negative axis counts from the back of the input including its
// last (complex) dimension, as the spec says: -2 is the last signal axis
// (ONNX's Python reference counts from the back of the signal instead).

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { elemOfDtype } from '../context.ts';
import { ct, numel, storeElem } from '../fold.ts';
import type { OpMapping } from './types.ts';
import { rankOf, reshapeTo, val } from './types.ts';

/** x permuted by `perm`: a reshape when the extents above 1 keep their order. */
function permute(c: NodeCtx, x: Value, perm: readonly number[]): Value {
  const s = x.type.shape;
  const moved = perm.filter((p) => s[p]! !== 1);
  if (moved.every((p, i) => i === 0 || p > moved[i - 1]!)) return reshapeTo(c, x, perm.map((p) => s[p]!));
  return c.add('transpose', [x], { perm: [...perm] });
}

/** A scalar integer known at import (input `i`). */
function scalarInt(c: NodeCtx, i: number, what: string): number {
  const t = c.constant(i, what);
  if (t.data.length !== 1) c.bad(`${what} has ${t.data.length} elements (a scalar)`);
  const v = t.data[0]!;
  if (!Number.isInteger(v)) c.bad(`${what} ${v} is not an integer`);
  return v;
}

function flag(c: NodeCtx, name: string, dflt: number): boolean {
  const v = c.int(name, dflt);
  if (v !== 0 && v !== 1) c.bad(`${name} ${v} (0 or 1)`);
  return v === 1;
}

export interface DftSpec {
  /** The transformed axis of x (0..rank-2; the last axis holds 1 (real) or 2 (real, imaginary)). */
  axis: number;
  /** The transform length N (zero padding or truncation of the axis). */
  length: number;
  inverse: boolean;
  onesided: boolean;
}

/**
 * The [c·n, 2·n'] matrix: row m (and n + m for the imaginary part of
 * complex input) holds sample m's contribution to the real parts (columns
 * 0..n'-1) and imaginary parts (columns n'..2n'-1) of the bins.
 */
export function dftMatrix(n: number, complex: boolean, s: DftSpec): { rows: number; cols: number; data: Float64Array } {
  const N = s.length, bins = s.onesided ? Math.floor(N / 2) + 1 : N;
  const sign = s.inverse ? 1 : -1, scale = s.inverse ? 1 / N : 1;
  const rows = (complex ? 2 : 1) * n, cols = 2 * bins;
  const data = new Float64Array(rows * cols);
  for (let m = 0; m < Math.min(n, N); m++) {
    for (let k = 0; k < bins; k++) {
      const t = (2 * Math.PI * ((m * k) % N)) / N;
      const cs = scale * Math.cos(t), sn = sign * scale * Math.sin(t);
      data[m * cols + k] = cs;
      data[m * cols + bins + k] = sn;
      if (complex) {
        data[(n + m) * cols + k] = -sn;
        data[(n + m) * cols + bins + k] = cs;
      }
    }
  }
  return { rows, cols, data };
}

/** The DFT of x ([..., n, ..., 1|2]) along `s.axis`: [..., n', ..., 2]. */
export function dftAlong(c: NodeCtx, x: Value, s: DftSpec): Value {
  const shape = x.type.shape, r = shape.length, a = s.axis;
  const cdim = shape[r - 1]!, n = shape[a]!;
  if (cdim !== 1 && cdim !== 2) c.bad(`last dimension ${cdim} (1 for real input, 2 for complex)`);
  if (s.onesided && cdim === 2) c.bad('onesided with a complex input (the spec says a onesided output is not possible)');
  if (s.length < 1) c.bad(`dft_length ${s.length}`);
  const others = [...Array(r - 1).keys()].filter((i) => i !== a);
  const outer = others.map((i) => shape[i]!);
  // [others..., complex, n] → rows of [real samples | imaginary samples].
  const rows = reshapeTo(c, permute(c, x, [...others, r - 1, a]), [numel(outer), cdim * n]);
  const m = dftMatrix(n, cdim === 2, s);
  const type = elemOfDtype(x.type.dtype);
  const w = c.materialize(ct(type, [m.rows, m.cols], Array.from(m.data, (v) => storeElem(type, v))), `${c.name}_dft_matrix`);
  const bins = m.cols / 2;
  const y = reshapeTo(c, c.add('matmul', [rows, w]), [...outer, 2, bins]);
  // [others..., 2, bins] → the bins back at `axis`, real/imaginary last.
  const perm = [...Array(r).keys()].map((i) => (i === r - 1 ? r - 2 : i < a ? i : i === a ? r - 1 : i - 1));
  return permute(c, y, perm);
}

const dft: OpMapping = {
  map: (c) => {
    if (c.opset < 17) c.unsupported('DFT exists from opset 17');
    const x = c.value(0);
    const r = rankOf(x);
    if (r < 2) c.bad(`input of rank ${r} (signal axes, then 1 or 2 for real / complex)`);
    const a0 = c.opset >= 20 ? (c.has(2) ? scalarInt(c, 2, 'axis') : -2) : c.int('axis', 1);
    const axis = a0 < 0 ? a0 + r : a0;
    if (axis < 0 || axis > r - 2) c.bad(`axis ${a0} (in [-${r}, -2] or [0, ${r - 2}] for an input of rank ${r})`);
    const length = c.has(1) ? scalarInt(c, 1, 'dft_length') : x.type.shape[axis]!;
    const inverse = flag(c, 'inverse', 0), onesided = flag(c, 'onesided', 0);
    if (inverse && onesided) c.unsupported('inverse with onesided (ONNX\'s reference and onnxruntime disagree on what it means)');
    return val(dftAlong(c, x, { axis, length, inverse, onesided }));
  },
};

const stft: OpMapping = {
  map: (c) => {
    if (c.opset < 17) c.unsupported('STFT exists from opset 17');
    const x = c.value(0);
    const len = x.type.shape[1];
    if (rankOf(x) !== 3) c.bad(`signal of rank ${rankOf(x)} ([batch, length, 1|2])`);
    const step = scalarInt(c, 1, 'frame_step');
    if (step < 1) c.bad(`frame_step ${step}`);
    const win = c.has(2) ? c.shape(2) : undefined;
    if (win && win.length !== 1) c.bad(`window of rank ${win.length} (rank 1)`);
    const fl = c.has(3) ? scalarInt(c, 3, 'frame_length') : win ? win[0]! : len!;
    if (win && win[0] !== fl) c.unsupported(`a window of length ${win[0]} with frame_length ${fl} (they must agree)`);
    if (fl < 1 || fl > len!) c.bad(`frame_length ${fl} for a signal of length ${len}`);
    const onesided = flag(c, 'onesided', 1);
    const frames = 1 + Math.floor((len! - fl) / step);
    const idx = Array.from({ length: frames * fl }, (_, i) => Math.floor(i / fl) * step + (i % fl));
    const indices = c.materialize(ct('int64', [frames, fl], idx), `${c.name}_frames`);
    let y = c.add('gather', [x, indices], { axis: 1 });
    if (win) {
      const w = c.value(2);
      if (w.type.dtype !== x.type.dtype) c.bad(`window of ${w.type.dtype} for a signal of ${x.type.dtype}`);
      y = c.add('mul', [y, reshapeTo(c, w, [fl, 1])]);
    }
    return val(dftAlong(c, y, { axis: 2, length: fl, inverse: false, onesided }));
  },
};

export const SPECTRAL_OPS: Record<string, OpMapping> = {
  DFT: dft,
  STFT: stft,
};
