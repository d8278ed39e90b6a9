// MaxUnpool (opsets 9, 11, 22): the partial inverse of MaxPool. X [N, C,
// D1, …] and indices I of X's shape; the unpooled shape is [N, C, …] with
// (Di - 1)·stride + kernel - pad_begin - pad_end per spatial axis, and each
// index is a flat position in that whole tensor (((n·C + c)·H + h)·W + w:
// MaxPool's Indices output, not a per-(n, c) plane index). The output is
// zeros except X's values at those positions, built as the IR's
// scatter_elements of X (flattened) into zeros [1, numel] along axis 1, so it
// is differentiable in X; a duplicate index: the last one in flat order wins
// (as the ONNX reference's loop). Indices may be run-time values (cast to
// i32; one out of range is dropped, where ONNX leaves it undefined);
// constant ones are checked in range at import (E0902).
//
// output_shape (input 2) must be known at import. As in the ONNX reference
// implementation (and its node tests), the indices address the unpooled
// shape above and an output_shape larger than it appends zeros at the end
// of each spatial axis (a concat with zeros). One smaller than it, or with
// another N or C, is E0901: the runtimes disagree there (onnxruntime takes
// the indices into output_shape itself). A run-time output_shape: E0901
// (the output's shape would depend on it). Any number of spatial axes.

import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import { numel } from '../fold.ts';
import type { OpMapping } from './types.ts';
import { asDtype, rankOf, reshapeTo, val } from './types.ts';

/** The unpooled shape from kernel_shape / strides / pads. */
function unpooledShape(c: NodeCtx, xs: readonly number[]): number[] {
  const n = xs.length - 2;
  const kernel = c.intList('kernel_shape');
  if (!kernel) c.bad('kernel_shape is required');
  if (kernel.length !== n) c.bad(`kernel_shape has ${kernel.length} entries for ${n} spatial axes`);
  const strides = c.intList('strides') ?? new Array<number>(n).fill(1);
  if (strides.length !== n) c.bad(`strides has ${strides.length} entries for ${n} spatial axes`);
  const pads = c.intList('pads') ?? new Array<number>(2 * n).fill(0);
  if (pads.length !== 2 * n) c.bad(`pads has ${pads.length} entries, expected ${2 * n}`);
  if (kernel.some((k) => k < 1) || strides.some((s) => s < 1) || pads.some((p) => p < 0)) {
    c.bad(`kernel_shape ${JSON.stringify(kernel)}, strides ${JSON.stringify(strides)}, pads ${JSON.stringify(pads)} (kernel and strides >= 1, pads >= 0)`);
  }
  const out = [xs[0]!, xs[1]!];
  for (let i = 0; i < n; i++) {
    const d = (xs[i + 2]! - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[n + i]!;
    if (d < 1) c.bad(`the unpooled extent of spatial axis ${i} is ${d}`);
    out.push(d);
  }
  return out;
}

/** The output shape: output_shape when given (checked against the unpooled shape), else the unpooled shape. */
function outputShape(c: NodeCtx, unpooled: readonly number[]): number[] {
  if (!c.has(2)) return [...unpooled];
  if (c.entry(2).kind !== 'const') c.unsupported('a run-time output_shape (input 2; the output\'s shape would depend on its values; an initializer or Constant is mapped)');
  const want = c.ints(2, 'output_shape');
  const text = JSON.stringify(want);
  if (want.length !== unpooled.length) c.bad(`output_shape ${text} has ${want.length} entries for an input of rank ${unpooled.length}`);
  if (want[0] !== unpooled[0] || want[1] !== unpooled[1]) c.unsupported(`output_shape ${text} with other N or C than the input's [${unpooled.slice(0, 2).join(', ')}]`);
  if (want.some((d, i) => d < unpooled[i]!)) {
    c.unsupported(`output_shape ${text} smaller than the unpooled shape [${unpooled.join(', ')}] (the ONNX reference and onnxruntime place the indices differently there)`);
  }
  return want;
}

function maxUnpool(c: NodeCtx): Entry[] {
  if (c.opset < 9) c.unsupported('MaxUnpool exists from opset 9');
  const x = c.value(0);
  const xs = x.type.shape;
  if (rankOf(x) < 3) c.bad(`input of rank ${rankOf(x)} (N, C and at least one spatial axis)`);
  if (x.type.dtype !== 'f32' && x.type.dtype !== 'f16') c.bad(`input of type ${x.type.dtype} (a float tensor)`);
  const unpooled = unpooledShape(c, xs);
  const out = outputShape(c, unpooled);
  const is = c.shape(1);
  if (is.length !== xs.length || is.some((d, i) => d !== xs[i])) c.bad(`indices ${JSON.stringify(is)} must have the input's shape ${JSON.stringify(xs)}`);
  const m = numel(unpooled), k = numel(xs);
  const e = c.entry(1);
  if (e.kind === 'const') {
    const badAt = [...e.t.data].findIndex((i) => !(i >= 0 && i < m));
    if (badAt >= 0) c.bad(`index ${e.t.data[badAt]} (at ${badAt}) is out of range for an unpooled tensor of ${m} elements`);
  }
  const idx = reshapeTo(c, asDtype(c, c.value(1), 'i32'), [1, k]);
  const zeros = c.scalar(0, x.type.dtype, [1, m]);
  let y: Value = reshapeTo(c, c.add('scatter_elements', [zeros, idx, reshapeTo(c, x, [1, k])], { axis: 1, reduction: 'none' }), unpooled);
  for (let a = 2; a < out.length; a++) {
    const extra = out[a]! - unpooled[a]!;
    if (extra === 0) continue;
    const zshape = [...y.type.shape];
    zshape[a] = extra;
    y = c.add('concat', [y, c.scalar(0, x.type.dtype, zshape)], { axis: a });
  }
  return val(y);
}

export const UNPOOL_OPS: Record<string, OpMapping> = {
  MaxUnpool: { map: maxUnpool },
};
