// ConvTranspose (2-D, and 1-D as 2-D with height 1) as the IR's
// conv2d_grad_input: the transposed convolution of x with weight W
// [C_in, C_out/group, kH, kW] is the input gradient of the forward conv2d
// whose weight is W (C_in output channels, groups = group) and whose input
// has the ConvTranspose's output shape; then the bias.
// Per spatial axis (ONNX's definition): full = (in - 1)·stride +
// (k - 1)·dilation + 1, out = full + output_padding - pad_begin - pad_end,
// with pads from `pads`, or, when output_shape is given or auto_pad is
// SAME_*, total = full + output_padding - out split as SAME_UPPER: begin =
// ⌊total/2⌋, otherwise begin = total - ⌊total/2⌋ (Python's floor division,
// as ONNX's reference). Positive begin / end pads become the conv's padding
// (they crop); negative ones (an output larger than `full`) are zero rows
// or columns concatenated on that side.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { rankOf, reshapeTo, val } from './types.ts';

interface Axis {
  readonly begin: number;
  readonly end: number;
}

function axisPads(c: NodeCtx, inSize: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[], op: readonly number[]): Axis[] {
  const n = k.length;
  const autoPad = c.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) c.unsupported(`auto_pad '${autoPad}'`);
  const outShape = c.intList('output_shape');
  const pads = c.intList('pads');
  const full = inSize.map((x, i) => (x - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1);
  let target: number[] | undefined;
  if (outShape) {
    // output_shape may list N and C too (older exporters): take the spatial tail.
    target = outShape.length === n ? outShape : outShape.length === n + 2 ? outShape.slice(2) : c.bad(`output_shape has ${outShape.length} entries`);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    target = inSize.map((x, i) => x * s[i]!);
  }
  if (target) {
    return target.map((o, i) => {
      const total = full[i]! + op[i]! - o;
      const half = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? { begin: half, end: total - half } : { begin: total - half, end: half };
    });
  }
  const p = autoPad === 'VALID' || !pads ? new Array<number>(2 * n).fill(0) : pads;
  if (p.length !== 2 * n) c.bad(`pads has ${p.length} entries, expected ${2 * n}`);
  return Array.from({ length: n }, (_, i) => ({ begin: p[i]!, end: p[i + n]! }));
}

/** x with `n` zeros along `axis` before (or after) it. */
function zeros(c: NodeCtx, x: Value, axis: number, n: number, atEnd: boolean): Value {
  if (n <= 0) return x;
  const z = c.scalar(0, x.type.dtype, x.type.shape.map((e, i) => (i === axis ? n : e)));
  return c.add('concat', atEnd ? [x, z] : [z, x], { axis });
}

const convTranspose: OpMapping = {
  map: (c) => {
    const x0 = c.value(0), w0 = c.value(1);
    const r = rankOf(x0);
    if (r !== 3 && r !== 4) c.unsupported(`input of rank ${r}: only 1-D and 2-D (rank 3 and 4) are supported`);
    if (rankOf(w0) !== r) c.bad(`weight of rank ${rankOf(w0)} for an input of rank ${r}`);
    const n = r - 2;
    const group = c.int('group', 1);
    const [N, cin] = x0.type.shape as [number, number];
    const [wcin, coutG] = w0.type.shape as [number, number];
    if (wcin !== cin) c.bad(`weight has ${wcin} input channels, the input ${cin}`);
    if (group < 1 || cin % group !== 0) c.bad(`group ${group} does not divide ${cin} input channels`);
    const kernel = w0.type.shape.slice(2);
    const ks = c.intList('kernel_shape');
    if (ks && (ks.length !== n || ks.some((k, i) => k !== kernel[i]))) c.bad(`kernel_shape [${ks.join(',')}] differs from the weight's`);
    const strides = c.intList('strides') ?? new Array<number>(n).fill(1);
    const dil = c.intList('dilations') ?? new Array<number>(n).fill(1);
    const outPad = c.intList('output_padding') ?? new Array<number>(n).fill(0);
    for (const [name, l] of [['strides', strides], ['dilations', dil], ['output_padding', outPad]] as const) {
      if (l.length !== n) c.bad(`${name} has ${l.length} entries, expected ${n}`);
    }
    if (strides.some((v) => v < 1) || dil.some((v) => v < 1) || outPad.some((v) => v < 0)) c.bad('strides and dilations must be positive, output_padding non-negative');
    const inSize = x0.type.shape.slice(2);
    const axes = axisPads(c, inSize, kernel, strides, dil, outPad);
    // Lift 1-D to 2-D (height 1).
    const lift = <T>(l: readonly T[], one: T): T[] => (n === 1 ? [one, l[0]!] : [...l]);
    const x = n === 1 ? reshapeTo(c, x0, [N, cin, 1, inSize[0]!]) : x0;
    const w = n === 1 ? reshapeTo(c, w0, [wcin, coutG, 1, kernel[0]!]) : w0;
    const k2 = lift(kernel, 1), s2 = lift(strides, 1), d2 = lift(dil, 1), in2 = lift(inSize, 1);
    const ax2 = lift(axes, { begin: 0, end: 0 });
    const op2 = lift(outPad, 0);
    // The conv's padding: positive pads; the end pad less output_padding.
    const padBegin = ax2.map((a) => Math.max(0, a.begin));
    const endEff = ax2.map((a, i) => a.end - op2[i]!);
    const padEnd = endEff.map((e) => Math.max(0, e));
    const inner = in2.map((x1, i) => (x1 - 1) * s2[i]! + (k2[i]! - 1) * d2[i]! + 1 - padBegin[i]! - padEnd[i]!);
    if (inner.some((e) => e < 1)) c.bad(`pads leave no output (${inner.join('x')})`);
    const cout = coutG * group;
    let y = c.add('conv2d_grad_input', [x, w], {
      input_shape: [N, cout, inner[0]!, inner[1]!],
      stride: s2,
      padding: [padBegin[0]!, padBegin[1]!, padEnd[0]!, padEnd[1]!],
      dilation: d2,
      groups: group,
    });
    for (let i = 0; i < 2; i++) {
      y = zeros(c, y, 2 + i, -Math.min(0, ax2[i]!.begin), false);
      y = zeros(c, y, 2 + i, -Math.min(0, endEff[i]!), true);
    }
    if (c.has(2)) {
      const b = c.value(2);
      if (b.type.shape.length !== 1 || b.type.shape[0] !== cout) c.bad(`bias of shape [${b.type.shape.join(',')}] for ${cout} output channels`);
      y = c.add('add', [y, reshapeTo(c, b, [1, cout, 1, 1])]);
    }
    const s = y.type.shape;
    return val(n === 1 ? reshapeTo(c, y, [s[0]!, s[1]!, s[3]!]) : y);
  },
};

export const CONV_TRANSPOSE_OPS: Record<string, OpMapping> = {
  ConvTranspose: convTranspose,
};
