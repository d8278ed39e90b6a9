// Shape and data-movement ONNX ops. Shape, Size, Constant, ConstantOfShape
// and Range produce import-time constants; the others fold when their data is
// constant and otherwise become IR shape ops: Reshape (0 copies a dimension
// unless allowzero, one -1 is inferred), Flatten, Transpose, Squeeze /
// Unsqueeze (axes attribute before opset 13, input after), Concat, Slice
// (constant starts/ends/axes/steps; steps other than 1 as width-1 slices
// concatenated), Gather (constant indices: slices concatenated; runtime ones,
// or more than 256 scattered: the IR's gather, where a runtime index out of
// range reads 0), Expand,
// Split, Tile (copies concatenated). GatherElements maps to gather_elements
// (indices as i32; constant ones are checked in range at import).

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { broadcastShape, broadcastTo, concat, ct, gather, numel, pick, reshaped, sliceIndices, storeElem, transpose } from '../fold.ts';
import type { ConstTensor } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { asDtype, axisOf, elementsAxis, konst, rankOf, reshapeTo, val } from './types.ts';

/** Most width-1 pieces a strided Slice or a Gather may become. */
const MAX_PIECES = 256;

function reshapeTarget(c: NodeCtx, inShape: readonly number[]): number[] {
  const spec = c.opset < 5 ? (c.intList('shape') ?? c.bad('shape is required')) : c.ints(1, 'shape');
  const allowzero = c.int('allowzero', 0) === 1;
  const out = spec.map((d, i) => (d === 0 && !allowzero ? (inShape[i] ?? c.bad(`shape entry ${i} is 0 but the input has rank ${inShape.length}`)) : d));
  const minus = out.filter((d) => d === -1).length;
  if (minus > 1) c.bad('shape has more than one -1');
  if (minus === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const k = known === 0 ? 0 : numel(inShape) / known;
    if (!Number.isInteger(k)) c.bad(`cannot reshape [${inShape.join(',')}] to [${spec.join(',')}]`);
    out[out.indexOf(-1)] = k;
  }
  return out;
}

function flattenShape(c: NodeCtx, s: readonly number[]): number[] {
  const axis = c.int('axis', 1);
  const a = axis < 0 ? axis + s.length : axis;
  if (a < 0 || a > s.length) c.bad(`axis ${axis} is out of range for rank ${s.length}`);
  return [numel(s.slice(0, a)), numel(s.slice(a))];
}

function transposePerm(c: NodeCtx, r: number): number[] {
  return c.intList('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
}

function squeezeShape(c: NodeCtx, s: readonly number[]): number[] {
  const axes = c.opset < 13 ? c.intList('axes') : c.has(1) ? c.ints(1, 'axes') : undefined;
  if (!axes) return s.filter((d) => d !== 1);
  const norm = axes.map((a) => axisOf(c, a, s.length));
  for (const a of norm) if (s[a] !== 1) c.bad(`cannot squeeze axis ${a} of extent ${s[a]}`);
  return s.filter((_, i) => !norm.includes(i));
}

function unsqueezeShape(c: NodeCtx, s: readonly number[]): number[] {
  const axes = c.opset < 13 ? (c.intList('axes') ?? c.bad('axes is required')) : c.ints(1, 'axes');
  const r = s.length + axes.length;
  const norm = new Set(axes.map((a) => axisOf(c, a, r)));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(norm.has(i) ? 1 : s[k++]!);
  return out;
}

/** Per-axis index lists of a Slice (every axis; unlisted ones whole). */
function sliceLists(c: NodeCtx, s: readonly number[]): number[][] {
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset < 10) {
    starts = c.intList('starts') ?? c.bad('starts is required');
    ends = c.intList('ends') ?? c.bad('ends is required');
    axes = c.intList('axes');
  } else {
    starts = c.ints(1, 'starts');
    ends = c.ints(2, 'ends');
    axes = c.has(3) ? c.ints(3, 'axes') : undefined;
    steps = c.has(4) ? c.ints(4, 'steps') : undefined;
  }
  const lists = s.map((d) => Array.from({ length: d }, (_, i) => i));
  starts.forEach((st, k) => {
    const a = axisOf(c, axes ? axes[k]! : k, s.length);
    lists[a] = sliceIndices(s[a]!, st, ends[k]!, steps ? steps[k]! : 1);
  });
  return lists;
}

/** x indexed by one index list per axis: contiguous runs are slices, other lists width-1 slices concatenated. */
function pickValue(c: NodeCtx, x: Value, lists: readonly (readonly number[])[]): Value {
  let y = x;
  // First narrow every axis to the range its list covers, as one slice.
  const lo = lists.map((l) => (l.length ? Math.min(...l) : 0));
  const hi = lists.map((l, i) => (l.length ? Math.max(...l) + 1 : lo[i]!));
  if (lists.some((l, i) => lo[i] !== 0 || hi[i] !== x.type.shape[i])) y = c.add('slice', [y], { starts: lo, ends: hi });
  lists.forEach((l, axis) => {
    const contiguous = l.every((v, k) => v === lo[axis]! + k);
    if (contiguous) return;
    if (l.length > MAX_PIECES) c.unsupported(`a selection of ${l.length} non-contiguous indices along an axis (at most ${MAX_PIECES} are taken as slices)`);
    const parts = l.map((i) => {
      const st = y.type.shape.map(() => 0), en = [...y.type.shape];
      st[axis] = i - lo[axis]!;
      en[axis] = i - lo[axis]! + 1;
      return c.add('slice', [y], { starts: st, ends: en });
    });
    y = parts.length === 1 ? parts[0]! : c.add('concat', parts, { axis });
  });
  return y;
}

/** Gather as the IR's gather (runtime indices, or too many to take as slices); indices as i32. */
function gatherByIndices(c: NodeCtx, x: Value, axis: number): Value {
  return c.add('gather', [x, asDtype(c, c.value(1), 'i32')], { axis });
}

function constantAttr(c: NodeCtx): ConstTensor {
  const t = c.tensor('value');
  if (t) return t;
  const f = c.hasAttr('value_float') ? c.float('value_float', 0) : undefined;
  if (f !== undefined) return ct('float', [], [Math.fround(f)]);
  const fs = c.floatList('value_floats');
  if (fs) return ct('float', [fs.length], fs.map(Math.fround));
  const i = c.int('value_int');
  if (i !== undefined) return ct('int64', [], [i]);
  const is = c.intList('value_ints');
  if (is) return ct('int64', [is.length], is);
  for (const k of ['sparse_value', 'value_string', 'value_strings']) if (c.hasAttr(k)) c.unsupported(`attribute '${k}'`);
  return c.bad('has no value');
}

function splitSizes(c: NodeCtx, dim: number): number[] {
  const given = c.opset < 13 ? c.intList('split') : c.has(1) ? c.ints(1, 'split') : undefined;
  if (given) return given;
  const n = c.opset >= 18 && c.hasAttr('num_outputs') ? c.int('num_outputs', 1) : (c.node.output ?? []).length;
  const size = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, k) => Math.max(0, Math.min(size, dim - k * size)));
}

export const SHAPE_OPS: Record<string, OpMapping> = {
  Reshape: {
    map: (c) => val(reshapeTo(c, c.value(0), reshapeTarget(c, c.shape(0)))),
    fold: (c, [x]) => [reshaped(x!, reshapeTarget(c, x!.shape))],
  },
  Flatten: {
    map: (c) => val(reshapeTo(c, c.value(0), flattenShape(c, c.shape(0)))),
    fold: (c, [x]) => [reshaped(x!, flattenShape(c, x!.shape))],
  },
  Transpose: {
    map: (c) => {
      const x = c.value(0);
      const perm = transposePerm(c, rankOf(x));
      return val(perm.every((p, i) => p === i) ? x : c.add('transpose', [x], { perm }));
    },
    fold: (c, [x]) => [transpose(x!, transposePerm(c, x!.shape.length))],
  },
  Squeeze: {
    map: (c) => val(reshapeTo(c, c.value(0), squeezeShape(c, c.shape(0)))),
    fold: (c, [x]) => [reshaped(x!, squeezeShape(c, x!.shape))],
  },
  Unsqueeze: {
    map: (c) => val(reshapeTo(c, c.value(0), unsqueezeShape(c, c.shape(0)))),
    fold: (c, [x]) => [reshaped(x!, unsqueezeShape(c, x!.shape))],
  },
  Concat: {
    map: (c) => {
      const vs = (c.node.input ?? []).map((_, i) => c.value(i)).filter((v) => numel(v.type.shape) > 0 || rankOf(v) === 0);
      const axis = axisOf(c, c.int('axis', 1), rankOf(vs[0] ?? c.value(0)));
      return val(vs.length === 1 ? vs[0]! : c.add('concat', vs, { axis }));
    },
    fold: (c, ins) => [concat(ins.filter((t): t is ConstTensor => !!t), c.int('axis', 1))],
  },
  Slice: {
    map: (c) => {
      const x = c.value(0);
      return val(pickValue(c, x, sliceLists(c, x.type.shape)));
    },
    fold: (c, [x]) => [pick(x!, sliceLists(c, x!.shape))],
  },
  Gather: {
    map: (c) => {
      const x = c.value(0);
      const axis = axisOf(c, c.int('axis', 0), rankOf(x));
      if (c.entry(1).kind !== 'const') return val(gatherByIndices(c, x, axis));
      const idx = c.constant(1, 'indices');
      const dim = x.type.shape[axis]!;
      const list = [...idx.data].map((i) => (i < 0 ? i + dim : i));
      if (list.some((i) => i < 0 || i >= dim)) c.bad(`an index is out of range for an axis of ${dim}`);
      if (list.length > MAX_PIECES && !list.every((v, k) => v === list[0]! + k)) return val(gatherByIndices(c, x, axis));
      const lists = x.type.shape.map((d, i) => (i === axis ? list : Array.from({ length: d }, (_, k) => k)));
      const y = pickValue(c, x, lists);
      const s = x.type.shape;
      return val(reshapeTo(c, y, [...s.slice(0, axis), ...idx.shape, ...s.slice(axis + 1)]));
    },
    fold: (c, [x, idx]) => [gather(x!, idx!, c.int('axis', 0))],
  },
  GatherElements: {
    map: (c) => {
      const x = c.value(0);
      const axis = elementsAxis(c, x);
      return val(c.add('gather_elements', [x, asDtype(c, c.value(1), 'i32')], { axis }));
    },
  },
  Expand: {
    map: (c) => {
      const x = c.value(0);
      const shape = broadcastShape([x.type.shape, c.ints(1, 'shape')]);
      const same = shape.length === rankOf(x) && shape.every((d, i) => d === x.type.shape[i]);
      return val(same ? x : c.add('broadcast_to', [x], { shape }));
    },
    fold: (_c, [x, s]) => [broadcastTo(x!, broadcastShape([x!.shape, [...s!.data]]))],
  },
  Shape: {
    map: (c) => {
      const s = c.shape(0);
      const r = s.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const start = clamp(c.int('start', 0)), end = clamp(c.int('end', r));
      const dims = s.slice(start, Math.max(start, end));
      return konst(ct('int64', [dims.length], dims));
    },
  },
  Size: { map: (c) => konst(ct('int64', [], [numel(c.shape(0))])) },
  Constant: { map: (c) => konst(constantAttr(c)) },
  ConstantOfShape: {
    map: (c) => {
      const shape = c.ints(0, 'shape');
      const v = c.tensor('value') ?? ct('float', [1], [0]);
      return konst(ct(v.type, shape, new Float64Array(numel(shape)).fill(v.data[0] ?? 0)));
    },
  },
  Range: {
    map: (c) => {
      const [start, limit, delta] = [0, 1, 2].map((i) => c.constant(i, ['start', 'limit', 'delta'][i]!));
      const s = start!.data[0]!, l = limit!.data[0]!, d = delta!.data[0]!;
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return konst(ct(start!.type, [n], Array.from({ length: n }, (_, i) => storeElem(start!.type, s + i * d))));
    },
  },
  Split: {
    map: (c) => {
      const x = c.value(0);
      const axis = axisOf(c, c.int('axis', 0), rankOf(x));
      const sizes = splitSizes(c, x.type.shape[axis]!);
      let at = 0;
      return sizes.map((n) => {
        const st = x.type.shape.map(() => 0), en = [...x.type.shape];
        st[axis] = at;
        en[axis] = at + n;
        at += n;
        return { kind: 'value', v: c.add('slice', [x], { starts: st, ends: en }) } as const;
      });
    },
  },
  Tile: {
    map: (c) => {
      let y = c.value(0);
      const reps = c.ints(1, 'repeats');
      reps.forEach((r, axis) => {
        if (r === 1) return;
        if (r > MAX_PIECES) c.unsupported(`repeats of ${r} (at most ${MAX_PIECES})`);
        y = c.add('concat', new Array<Value>(r).fill(y), { axis });
      });
      return val(y);
    },
  },
};
