// MaxPool / AveragePool forms the IR's 2-D pools do not take directly
// (called from nn.ts): 3-D (and any spatial rank), and MaxPool with
// dilations. A box window is separable: the max over it is the max, axis by
// axis, of 1-D maxima, and its average the 1-D averages in turn (with
// count_include_pad each divides by its kernel extent, the product of which
// is the box's; without, by its count of real elements, whose product is
// the box's count as the real part of a box is a box). Each 1-D pool is a
// max_pool2d / avg_pool2d with kernel [k, 1] on x reshaped to [P, 1, L, Q].
// A dilated 1-D max is k slices of the input padded with -inf (offsets
// j·dilation, every stride-th element taken by a reshape to [P, out, s, Q]
// and a slice) combined with `maximum`: exact, as max is.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { reshapeTo, windowPads } from './types.ts';

interface Axis { k: number; s: number; d: number; pb: number; pe: number }

/** Per-axis window parameters from kernel_shape, strides, dilations, pads / auto_pad, ceil_mode. */
function axesOf(c: NodeCtx, spatial: readonly number[], kind: 'max' | 'avg', includePad: boolean): Axis[] {
  const n = spatial.length;
  const kernel = c.intList('kernel_shape') ?? c.bad('kernel_shape is required');
  if (kernel.length !== n) c.bad(`kernel_shape has ${kernel.length} entries for ${n} spatial dimensions`);
  const strides = c.intList('strides') ?? new Array<number>(n).fill(1);
  const dil = c.intList('dilations') ?? new Array<number>(n).fill(1);
  if (strides.length !== n || dil.length !== n) c.bad(`strides / dilations need ${n} entries`);
  if ([...kernel, ...strides, ...dil].some((v) => v < 1)) c.bad('kernel_shape, strides and dilations must be positive');
  if (kind === 'avg' && dil.some((d) => d !== 1)) c.unsupported(`dilations [${dil.join(',')}] on AveragePool (only 1)`);
  const pads = windowPads(c, spatial, kernel, strides, dil);
  const ceil = c.int('ceil_mode', 0) === 1;
  return spatial.map((len, i) => {
    const a: Axis = { k: kernel[i]!, s: strides[i]!, d: dil[i]!, pb: pads[i]!, pe: pads[i + n]! };
    const span = (a.k - 1) * a.d + 1;
    const padded = len + a.pb + a.pe;
    if (padded < span) c.bad(`the window (${span}) is larger than the padded input (${padded}) on spatial axis ${i}`);
    if (ceil) {
      const floorOut = Math.floor((padded - span) / a.s) + 1;
      let ceilOut = Math.ceil((padded - span) / a.s) + 1;
      // The last window must start inside the input or the begin padding.
      if ((ceilOut - 1) * a.s >= len + a.pb) ceilOut--;
      if (ceilOut > floorOut) {
        if (includePad) c.unsupported('ceil_mode with count_include_pad');
        a.pe += (ceilOut - 1) * a.s + span - padded;
      }
    }
    return a;
  });
}

/** x pooled along `axis` (a 1-D window). */
function pool1d(c: NodeCtx, x: Value, axis: number, a: Axis, kind: 'max' | 'avg', includePad: boolean): Value {
  const s = x.type.shape;
  const P = s.slice(0, axis).reduce((p, d) => p * d, 1), L = s[axis]!, Q = s.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = Math.floor((L + a.pb + a.pe - ((a.k - 1) * a.d + 1)) / a.s) + 1;
  const shapeOut = s.map((d, i) => (i === axis ? out : d));
  if (a.k === 1 && a.s === 1 && a.pb === 0 && a.pe === 0) return x;
  if (a.d === 1 && a.pb < a.k && a.pe < a.k) {
    const op = kind === 'max' ? 'max_pool2d' : 'avg_pool2d';
    const attrs = { kernel: [a.k, 1], stride: [a.s, 1], padding: [a.pb, 0, a.pe, 0], ...(kind === 'avg' ? { count_include_pad: includePad } : {}) };
    return reshapeTo(c, c.add(op, [reshapeTo(c, x, [P, 1, L, Q])], attrs), shapeOut);
  }
  if (kind === 'avg') c.unsupported(`padding ${a.pb}, ${a.pe} not smaller than the kernel ${a.k}`);
  // Dilated (or widely padded) max: k strided slices of the -inf-padded input.
  const x3 = reshapeTo(c, x, [P, L, Q]);
  const need = (a.k - 1) * a.d + out * a.s;
  const tail = Math.max(a.pe, need - L - a.pb);
  const fill = (n: number) => c.scalar(-Infinity, x.type.dtype, [P, n, Q]);
  const parts = [...(a.pb > 0 ? [fill(a.pb)] : []), x3, ...(tail > 0 ? [fill(tail)] : [])];
  const xp = parts.length > 1 ? c.add('concat', parts, { axis: 1 }) : x3;
  let y: Value | undefined;
  for (let j = 0; j < a.k; j++) {
    let t = c.add('slice', [xp], { starts: [0, j * a.d, 0], ends: [P, j * a.d + out * a.s, Q] });
    if (a.s > 1) {
      t = c.add('slice', [reshapeTo(c, t, [P, out, a.s, Q])], { starts: [0, 0, 0, 0], ends: [P, out, 1, Q] });
      t = reshapeTo(c, t, [P, out, Q]);
    }
    y = y ? c.add('maximum', [y, t]) : t;
  }
  return reshapeTo(c, y!, shapeOut);
}

/** MaxPool / AveragePool over every spatial axis of x (rank >= 3), one axis at a time. */
export function poolNd(c: NodeCtx, kind: 'max' | 'avg', x: Value): Value {
  if (x.type.shape.length < 3) c.bad(`input of rank ${x.type.shape.length} (N, C and spatial dimensions)`);
  const includePad = kind === 'avg' ? c.int('count_include_pad', 0) === 1 : false;
  const axes = axesOf(c, x.type.shape.slice(2), kind, includePad);
  let y = x;
  // Innermost axis first: its reshapes keep the outer axes contiguous.
  for (let i = axes.length - 1; i >= 0; i--) y = pool1d(c, y, 2 + i, axes[i]!, kind, includePad);
  return y;
}
