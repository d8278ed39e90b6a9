// ONNX ops that generate values: HannWindow, HammingWindow, BlackmanWindow
// (opset 17; periodic or symmetric, output_datatype) and EyeLike (k,
// dtype) become import-time constants: the windows need their size known at
// import, EyeLike only its input's shape. Window values are computed in f64
// with the exact π and rounded once to the output type (ONNX 1.12's shipped
// window tests were generated with π = 3.1415 and differ by up to 7e-5).
// OneHot (opset 9, 11: negative indices count from the back) is the IR's
// one_hot (labels outside [0, depth) give all-off rows) as a select between
// off_value and on_value, with the new axis moved to `axis`; depth must be
// known at import (it fixes the output shape).

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { irDtype } from '../context.ts';
import { ct, storeElem } from '../fold.ts';
import type { ElemType } from '../proto.ts';
import { elemType } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { asDtype, konst, rankOf, reshapeTo, val } from './types.ts';

/** a0 - a1·cos(2πn/N) + a2·cos(4πn/N), N = size (periodic) or size - 1 (symmetric). */
function cosineWindow(a0: number, a1: number, a2: number): OpMapping {
  return {
    map: (c) => {
      if (c.opset < 17) c.unsupported('window generators exist from opset 17');
      const size = c.constant(0, 'size');
      if (size.data.length !== 1) c.bad('size is not a scalar');
      const n = size.data[0]!;
      if (!Number.isInteger(n) || n < 0) c.bad(`size ${n}`);
      const periodic = c.int('periodic', 1) !== 0;
      const out = elemType(c.int('output_datatype', 1), `node '${c.name}' output_datatype`);
      const N = periodic ? n : n - 1;
      const data = Array.from({ length: n }, (_, k) => {
        const w = a0 - a1 * Math.cos((2 * Math.PI * k) / N) + (a2 !== 0 ? a2 * Math.cos((4 * Math.PI * k) / N) : 0);
        return storeElem(out, w);
      });
      return konst(ct(out, [n], data));
    },
  };
}

const eyeLike: OpMapping = {
  map: (c) => {
    const s = c.shape(0);
    if (s.length !== 2) c.bad(`input of rank ${s.length} (EyeLike takes a 2-D tensor)`);
    const d = c.int('dtype');
    const out: ElemType = d === undefined ? c.elem(0) : elemType(d, `node '${c.name}' dtype`);
    const k = c.int('k', 0);
    const [rows, cols] = s as [number, number];
    const data = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const j = i + k;
      if (j >= 0 && j < cols) data[i * cols + j] = 1;
    }
    return konst(ct(out, [rows, cols], data));
  },
};

/** on_value and off_value from `values` ([off, on]) as scalars of the output dtype. */
function onOff(c: NodeCtx): { off: Value; on: Value } {
  const e = c.entry(2);
  if (c.shape(2).length !== 1 || c.shape(2)[0] !== 2) c.bad(`values of shape [${c.shape(2).join(',')}] (expected [2]: off, on)`);
  if (e.kind === 'const') {
    const dtype = irDtype(e.t.type, `node '${c.name}' values`);
    return { off: c.scalar(e.t.data[0]!, dtype), on: c.scalar(e.t.data[1]!, dtype) };
  }
  const v = e.v;
  const at = (i: number) => reshapeTo(c, c.add('slice', [v], { starts: [i], ends: [i + 1] }), []);
  return { off: at(0), on: at(1) };
}

const oneHot: OpMapping = {
  map: (c) => {
    if (c.opset < 9) c.unsupported('OneHot exists from opset 9');
    const dt = c.constant(1, 'depth');
    if (dt.data.length !== 1) c.bad('depth has more than one element');
    const depth = Math.trunc(dt.data[0]!);
    if (depth < 1) c.bad(`depth ${dt.data[0]} (must be at least 1)`);
    const { off, on } = onOff(c);
    let idx = asDtype(c, c.value(0), 'i32');
    if (c.opset >= 11) {
      // Negative indices count from the back; below -depth they stay negative: all off.
      const neg = c.add('less', [idx, c.scalar(0, 'i32')]);
      idx = c.add('select', [neg, c.add('add', [idx, c.scalar(depth, 'i32')]), idx]);
    }
    const r = rankOf(idx);
    const a0 = c.int('axis', -1);
    const axis = a0 < 0 ? a0 + r + 1 : a0;
    if (axis < 0 || axis > r) c.bad(`axis ${a0} is out of range for an output of rank ${r + 1}`);
    const hot = c.add('equal', [c.add('one_hot', [idx], { classes: depth, dtype: 'i32' }), c.scalar(1, 'i32')]);
    let y = c.add('select', [hot, on, off]);
    if (axis !== r) {
      const perm = [...Array(r + 1).keys()].map((k) => (k < axis ? k : k === axis ? r : k - 1));
      y = c.add('transpose', [y], { perm });
    }
    return val(y);
  },
};

export const GENERATOR_OPS: Record<string, OpMapping> = {
  HannWindow: cosineWindow(0.5, 0.5, 0),
  HammingWindow: cosineWindow(25 / 46, 21 / 46, 0),
  BlackmanWindow: cosineWindow(0.42, 0.5, 0.08),
  EyeLike: eyeLike,
  OneHot: oneHot,
};
