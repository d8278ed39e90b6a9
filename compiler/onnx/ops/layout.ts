// Layout ONNX ops as IR data movement: DepthToSpace (DCR, and CRD from
// opset 11) and SpaceToDepth as reshape → transpose → reshape; Pad in all its
// forms (opset 1 `paddings` / 2 `pads` and `value` attributes; from 11 the
// pads and constant_value inputs; from 18 the axes input; from 19 mode
// 'wrap') for the modes constant, reflect, edge and wrap, built from slices,
// broadcasts, splat constants and concats. Negative pads crop. A reflect /
// edge / wrap pad on an axis that is also cropped is refused (the order of
// crop and pad is not defined by the spec), as are reflections wider than
// the axis less one and wraps wider than the axis.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { axisOf, rankOf, reshapeTo, val } from './types.ts';

/** Most width-1 slices a reflection may become. */
const MAX_PIECES = 256;

function blocks(c: NodeCtx, x: Value): { b: number; s: readonly [number, number, number, number] } {
  if (rankOf(x) !== 4) c.unsupported(`input of rank ${rankOf(x)} (only rank 4, NCHW)`);
  const b = c.int('blocksize') ?? c.bad('blocksize is required');
  if (b < 1) c.bad(`blocksize ${b}`);
  return { b, s: x.type.shape as unknown as [number, number, number, number] };
}

const depthToSpace: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const { b, s: [n, ch, h, w] } = blocks(c, x);
    const mode = c.opset >= 11 ? c.string('mode', 'DCR') : 'DCR';
    if (ch % (b * b) !== 0) c.bad(`channels ${ch} are not a multiple of blocksize² ${b * b}`);
    const co = ch / (b * b);
    let y: Value;
    if (mode === 'DCR') {
      y = c.add('transpose', [reshapeTo(c, x, [n, b, b, co, h, w])], { perm: [0, 3, 4, 1, 5, 2] });
    } else if (mode === 'CRD') {
      y = c.add('transpose', [reshapeTo(c, x, [n, co, b, b, h, w])], { perm: [0, 1, 4, 2, 5, 3] });
    } else {
      return c.unsupported(`mode '${mode}' (DCR or CRD)`);
    }
    return val(reshapeTo(c, y, [n, co, h * b, w * b]));
  },
};

const spaceToDepth: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const { b, s: [n, ch, h, w] } = blocks(c, x);
    if (h % b !== 0 || w % b !== 0) c.bad(`spatial size ${h}x${w} is not a multiple of blocksize ${b}`);
    const y = c.add('transpose', [reshapeTo(c, x, [n, ch, h / b, b, w / b, b])], { perm: [0, 3, 5, 1, 2, 4] });
    return val(reshapeTo(c, y, [n, ch * b * b, h / b, w / b]));
  },
};

// ------------------------------------------------------------------ Pad

/** A slice of x along one axis, [from, to). */
function sliceAxis(c: NodeCtx, x: Value, axis: number, from: number, to: number): Value {
  const s = x.type.shape;
  if (from === 0 && to === s[axis]) return x;
  const starts = s.map(() => 0), ends = [...s];
  starts[axis] = from;
  ends[axis] = to;
  return c.add('slice', [x], { starts, ends });
}

function withExtent(s: readonly number[], axis: number, n: number): number[] {
  return s.map((d, i) => (i === axis ? n : d));
}

/** Width-1 slices of x at `indices` along `axis`, concatenated in that order. */
function pieces(c: NodeCtx, x: Value, axis: number, indices: readonly number[]): Value {
  if (indices.length > MAX_PIECES) c.unsupported(`a reflection of ${indices.length} elements (at most ${MAX_PIECES})`);
  const parts = indices.map((i) => sliceAxis(c, x, axis, i, i + 1));
  return parts.length === 1 ? parts[0]! : c.add('concat', parts, { axis });
}

type Mode = 'constant' | 'reflect' | 'edge' | 'wrap';

/** The block of `p` elements that pads x's axis at its start (or end). */
function padBlock(c: NodeCtx, x: Value, axis: number, p: number, atEnd: boolean, mode: Mode, fill: () => Value): Value {
  const d = x.type.shape[axis]!;
  const shape = withExtent(x.type.shape, axis, p);
  switch (mode) {
    case 'constant': {
      const v = fill();
      return rankOf(v) === 0 && v.def?.op === 'constant' && v.def.operands.length === 0
        ? c.scalar(v.def.attrs.value as number, v.type.dtype, shape)
        : c.add('broadcast_to', [v], { shape });
    }
    case 'edge': {
      if (d === 0) c.bad(`edge padding of an empty axis ${axis}`);
      const edge = sliceAxis(c, x, axis, atEnd ? d - 1 : 0, atEnd ? d : 1);
      return p === 1 ? edge : c.add('broadcast_to', [edge], { shape });
    }
    case 'reflect': {
      if (p > d - 1) c.unsupported(`reflect padding of ${p} on an axis of ${d} (at most ${d - 1})`);
      // start: x[p], ..., x[1]; end: x[d-2], ..., x[d-1-p]
      const idx = Array.from({ length: p }, (_, k) => (atEnd ? d - 2 - k : p - k));
      return pieces(c, x, axis, idx);
    }
    case 'wrap': {
      if (p > d) c.unsupported(`wrap padding of ${p} on an axis of ${d} (at most ${d})`);
      return atEnd ? sliceAxis(c, x, axis, 0, p) : sliceAxis(c, x, axis, d - p, d);
    }
  }
}

/** Per-axis [begin, end] pads over all of x's axes from the opset's form. */
function padAmounts(c: NodeCtx, r: number): { begin: number[]; end: number[] } {
  let raw: number[];
  let axes: number[] = Array.from({ length: r }, (_, i) => i);
  if (c.opset < 2) raw = c.intList('paddings') ?? c.bad('paddings is required');
  else if (c.opset < 11) raw = c.intList('pads') ?? c.bad('pads is required');
  else {
    raw = c.ints(1, 'pads');
    if (c.opset >= 18 && c.has(3)) axes = c.ints(3, 'axes').map((a) => axisOf(c, a, r));
    else if (c.has(3)) c.bad('an axes input before opset 18');
  }
  if (new Set(axes).size !== axes.length) c.bad('axes has a repeated axis');
  if (raw.length !== 2 * axes.length) c.bad(`pads has ${raw.length} entries, expected ${2 * axes.length}`);
  const begin = new Array<number>(r).fill(0), end = new Array<number>(r).fill(0);
  axes.forEach((a, k) => {
    begin[a] = raw[k]!;
    end[a] = raw[k + axes.length]!;
  });
  return { begin, end };
}

const pad: OpMapping = {
  map: (c) => {
    const x0 = c.value(0);
    const r = rankOf(x0);
    const mode = c.string('mode', 'constant');
    const modes: Mode[] = c.opset >= 19 ? ['constant', 'reflect', 'edge', 'wrap'] : ['constant', 'reflect', 'edge'];
    if (!(modes as string[]).includes(mode)) c.unsupported(`mode '${mode}' (${modes.join(', ')})`);
    const m = mode as Mode;
    const { begin, end } = padAmounts(c, r);
    // The constant: the value attribute before opset 11, the optional scalar input after.
    let fillValue: Value | undefined;
    const fill = (): Value => {
      if (fillValue) return fillValue;
      const dt = x0.type.dtype;
      const held = (v: number) => (dt === 'bool' ? (v !== 0 ? 1 : 0) : dt === 'i32' || dt === 'u32' ? Math.trunc(v) : v);
      if (c.opset < 11) return (fillValue = c.scalar(held(c.float('value', 0)), dt));
      if (!c.has(2)) return (fillValue = c.scalar(0, dt));
      const e = c.entry(2);
      if (e.kind === 'const' && e.t.data.length === 1) return (fillValue = c.scalar(held(e.t.data[0]!), dt));
      if (c.shape(2).reduce((a, b) => a * b, 1) !== 1) c.bad('constant_value is not a scalar');
      return (fillValue = reshapeTo(c, c.value(2), []));
    };
    if (c.opset < 11) c.float('value', 0); // read even when unused (other modes ignore it)
    if (m === 'constant' && c.opset >= 11) fill();
    // Crop first (negative pads), then pad.
    let y = x0;
    for (let a = 0; a < r; a++) {
      const b = begin[a]!, e = end[a]!;
      if (b >= 0 && e >= 0) continue;
      if (m !== 'constant' && (b > 0 || e > 0)) c.unsupported(`mode '${m}' with a negative pad and a positive pad on axis ${a}`);
      const d = y.type.shape[a]!;
      const from = Math.max(0, -b), to = d - Math.max(0, -e);
      if (to < from) c.bad(`pads crop more than the ${d} elements of axis ${a}`);
      y = sliceAxis(c, y, a, from, to);
    }
    for (let a = 0; a < r; a++) {
      const b = Math.max(0, begin[a]!), e = Math.max(0, end[a]!);
      if (b === 0 && e === 0) continue;
      const parts = [
        ...(b > 0 ? [padBlock(c, y, a, b, false, m, fill)] : []),
        y,
        ...(e > 0 ? [padBlock(c, y, a, e, true, m, fill)] : []),
      ];
      y = c.add('concat', parts, { axis: a });
    }
    return val(y);
  },
};

export const LAYOUT_OPS: Record<string, OpMapping> = {
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  Pad: pad,
};
