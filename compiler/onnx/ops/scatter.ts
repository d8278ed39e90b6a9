// ScatterElements (opset 11; reduction none/add/mul from opset 16, max/min
// from 18) and Scatter (opsets 9-10, the deprecated alias without a
// reduction) as the IR's scatter_elements: indices as i32; constant indices
// are checked in range at import (runtime ones out of range are dropped,
// where ONNX leaves them undefined). Duplicate indices are deterministic in
// the IR (applied in order along the axis; for `none` the last one wins),
// where ONNX leaves `none` with duplicates undefined.
//
// GatherND and ScatterND (batch_dims = 0) are compositions on a flattened
// view: data [d0, …, d(r-1)] indexed by tuples of k = indices.shape[-1]
// coordinates is data seen as [P = d0·…·d(k-1), rest]; each tuple becomes one
// flat row index (each coordinate wrapped once from the end; a tuple with a
// coordinate still out of range becomes P, which reads 0 / is dropped, as the
// element ops do), then `gather` along axis 0, or `scatter_elements` along
// axis 0 with the row index broadcast over `rest` (reductions as above; a
// duplicate tuple under `none`: the last one wins).

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import type { Entry } from '../context.ts';
import type { OpMapping } from './types.ts';
import { asDtype, axisOf, elementsAxis, rankOf, reshapeTo, val } from './types.ts';

const REDUCTIONS: Readonly<Record<number, readonly string[]>> = { 11: ['none'], 16: ['none', 'add', 'mul'], 18: ['none', 'add', 'mul', 'max', 'min'] };

function reductionOf(c: NodeCtx, withAttr: boolean): string {
  if (!withAttr) return 'none';
  const allowed = c.opset >= 18 ? REDUCTIONS[18]! : c.opset >= 16 ? REDUCTIONS[16]! : REDUCTIONS[11]!;
  const r = c.opset >= 16 ? c.string('reduction', 'none') : 'none';
  if (!allowed.includes(r)) c.unsupported(`reduction '${r}' (opset ${c.opset} has ${allowed.map((s) => `'${s}'`).join(', ')})`);
  return r;
}

function scatter(c: NodeCtx, withAttr: boolean): Entry[] {
  const x = c.value(0);
  const axis = elementsAxis(c, x);
  const reduction = reductionOf(c, withAttr);
  return val(c.add('scatter_elements', [x, asDtype(c, c.value(1), 'i32'), c.value(2)], { axis, reduction }));
}

/** The flat row index (i32, shape indices.shape[:-1]) of each index tuple into data seen as [P, rest]; P where a coordinate is out of range. */
function rowIndices(c: NodeCtx, data: readonly number[]): { rows: Value; k: number; p: number } {
  if (c.opset >= 12 && c.int('batch_dims', 0) !== 0) c.unsupported(`batch_dims ${c.int('batch_dims', 0)} (only 0)`);
  const is = c.shape(1);
  const k = is.at(-1);
  if (is.length === 0 || k === undefined || k < 1 || k > data.length) c.bad(`indices ${JSON.stringify(is)}: the last extent must be from 1 to the data's rank ${data.length}`);
  const m = is.slice(0, -1).reduce((a, b) => a * b, 1);
  const p = data.slice(0, k).reduce((a, b) => a * b, 1);
  const idx = reshapeTo(c, asDtype(c, c.value(1), 'i32'), [m, k]);
  const i32 = (v: number) => c.scalar(v, 'i32');
  let rows: Value | undefined;
  const bad: Value[] = [];
  let stride = p;
  for (let j = 0; j < k; j++) {
    const d = data[j]!;
    stride /= d;
    let cj = k === 1 ? idx : c.add('slice', [idx], { starts: [0, j], ends: [m, j + 1] });
    cj = c.add('select', [c.add('less', [cj, i32(0)]), c.add('add', [cj, i32(d)]), cj]);
    bad.push(c.add('less', [cj, i32(0)]), c.add('greater_equal', [cj, i32(d)]));
    const term = stride === 1 ? cj : c.add('mul', [cj, i32(stride)]);
    rows = rows ? c.add('add', [rows, term]) : term;
  }
  for (const b of bad) rows = c.add('select', [b, i32(p), rows!]);
  return { rows: reshapeTo(c, rows!, is.slice(0, -1)), k, p };
}

function gatherND(c: NodeCtx): Entry[] {
  const x = c.value(0);
  const s = x.type.shape;
  const { rows, k, p } = rowIndices(c, s);
  return val(c.add('gather', [reshapeTo(c, x, [p, ...s.slice(k)]), rows], { axis: 0 }));
}

function scatterND(c: NodeCtx): Entry[] {
  const x = c.value(0);
  const s = x.type.shape;
  const { rows, k, p } = rowIndices(c, s);
  const rest = s.slice(k).reduce((a, b) => a * b, 1);
  const m = rows.type.shape.reduce((a, b) => a * b, 1);
  const want = [...rows.type.shape, ...s.slice(k)];
  if (c.shape(2).length !== want.length || c.shape(2).some((d, i) => d !== want[i])) c.bad(`updates ${JSON.stringify(c.shape(2))} must have shape ${JSON.stringify(want)}`);
  const reduction = reductionOf(c, true);
  const col = reshapeTo(c, rows, [m, 1]);
  const idx = rest === 1 ? col : c.add('broadcast_to', [col], { shape: [m, rest] });
  const y = c.add('scatter_elements', [reshapeTo(c, x, [p, rest]), idx, reshapeTo(c, c.value(2), [m, rest])], { axis: 0, reduction });
  return val(reshapeTo(c, y, s));
}

export const SCATTER_OPS: Record<string, OpMapping> = {
  ScatterElements: { map: (c) => scatter(c, true) },
  Scatter: { map: (c) => scatter(c, false) },
  GatherND: { map: gatherND },
  ScatterND: { map: scatterND },
};
