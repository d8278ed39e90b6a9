// cross_entropy (logits [N, C], i32 labels [N]) and mse_loss, with
// reduction mean / sum / none.
//
// cross_entropy: a row kernel (thread per row below 32 classes, else a
// workgroup per row) computes each row's max + log Σ exp(x - max) - x[label];
// with reduction none that is the output, otherwise the per-row losses go to
// an f32 scratch buffer that emitReduction sums (mean divides by N). The
// reference raises an error for a label outside 0..C-1; a GPU kernel cannot
// raise, so such a row's loss is NaN (and so is a mean or sum over it), and
// the out-of-range logit is never read.
// mse_loss: (a - b)² per element as a map kernel (none), or summed by
// emitReduction (two stages for large tensors).
//
// Defined semantics: the statistics (max, sum of exp, the per-element
// losses and their sum) are f32 even for f16 tensors (PyTorch's acc_type;
// the reference computes in f64 and rounds only where a value is stored).

import type { Node } from '../../ir/graph.ts';
import { computeType, literal, load, store } from '../wgsl/storage.ts';
import { convertType, RowScheme, rowKernel, threadsForRow } from '../wgsl/workgroup.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';
import { emitReduction } from './reduce.ts';

const f32Of = (ctx: EmitContext, v: BoundBuffer, idx: string) =>
  convertType(load(v.binding, idx, ctx.mode), computeType(v.binding.dtype, ctx.mode), 'f32');

/** Sum of the f32 values of `scratch` (rows 1), divided by `count` for mean, stored to `output`. */
function reduceLosses(ctx: EmitContext, label: string, scratch: BoundBuffer, output: BoundBuffer, count: number, reduction: string): KernelLaunch[] {
  const ot = computeType(output.binding.dtype, ctx.mode);
  return emitReduction(ctx, {
    label: `${label} (${reduction})`,
    inputs: [scratch],
    output,
    rows: 1,
    extent: count,
    acc: 'f32',
    op: 'sum',
    element: (_o, r) => load(scratch.binding, r, ctx.mode),
    finalize: (s) => convertType(reduction === 'mean' ? `${s} / ${literal(count, 'f32')}` : s, 'f32', ot),
  });
}

/** The loss of no elements: sum 0, mean 0/0 = NaN. */
function emptyLoss(ctx: EmitContext, label: string, out: BoundBuffer, reduction: string): KernelLaunch {
  const ot = computeType(out.binding.dtype, ctx.mode);
  const value = literal(reduction === 'mean' ? NaN : 0, ot);
  return mapKernel(ctx, { label, inputs: [], output: out, count: 1, bodyUsesF16: ot === 'f16', body: () => ({ stmts: '', value }) });
}

export function emitCrossEntropy(node: Node, ctx: EmitContext): KernelLaunch[] {
  const [lv, labv] = node.operands;
  const [N, C] = lv!.type.shape as [number, number];
  const reduction = node.attrs.reduction as string;
  const logits = readOf(ctx, lv!, 'logits'), labels = readOf(ctx, labv!, 'labels');
  const out = writeOf(ctx, node.results[0]!, 'y');
  const label = nodeLabel(node, ctx);
  const nan = literal(NaN, 'f32');
  if (N === 0) {
    // An empty batch: sum 0, mean 0/0.
    if (reduction === 'none') return [];
    return [emptyLoss(ctx, label, out, reduction)];
  }
  const perRow: BoundBuffer = reduction === 'none'
    ? out
    : { binding: { name: 'losses', dtype: 'f32', access: 'write' }, buffer: ctx.scratch('f32', N) };
  const scheme = new RowScheme(threadsForRow(ctx.target, N, C));
  const x = (r: string) => f32Of(ctx, logits, `base + ${r}`);
  const body = [
    `let base = row * ${C}u;`,
    scheme.reduce('m', 'f32', 'max', C, x),
    scheme.reduce('s', 'f32', 'sum', C, (r) => `exp(${x(r)} - m)`),
    `let lab = ${load(labels.binding, 'row', ctx.mode)};`,
    // Out-of-range label: NaN (a kernel cannot raise), without reading outside the row.
    `let ok = lab >= 0i && lab < ${C}i;`,
    `let picked = ${x('select(0u, u32(lab), ok)')};`,
    `let loss = select(${nan}, (m + log(s)) - picked, ok);`,
    scheme.once(store(perRow.binding, 'row', convertType('loss', 'f32', computeType(perRow.binding.dtype, ctx.mode)), ctx.mode)),
  ].join('\n  ');
  const rows = rowKernel(ctx, { label: reduction === 'none' ? label : `${label} (per row)`, buffers: [logits, labels, perRow], rows: N, scheme, body });
  if (reduction === 'none') return [rows];
  const losses: BoundBuffer = { binding: { ...perRow.binding, access: 'read' }, buffer: perRow.buffer };
  return [rows, ...reduceLosses(ctx, label, losses, out, N, reduction)];
}

export function emitMseLoss(node: Node, ctx: EmitContext): KernelLaunch[] {
  const [av, bv] = node.operands;
  const count = av!.type.shape.reduce((p, d) => p * d, 1);
  const reduction = node.attrs.reduction as string;
  const a = readOf(ctx, av!, 'a'), b = readOf(ctx, bv!, 'b');
  const out = writeOf(ctx, node.results[0]!, 'y');
  const ot = computeType(out.binding.dtype, ctx.mode);
  const label = nodeLabel(node, ctx);
  const diff = (i: string) => `let d = ${f32Of(ctx, a, i)} - ${f32Of(ctx, b, i)};`;
  if (reduction === 'none') {
    if (count === 0) return [];
    return [mapKernel(ctx, { label, inputs: [a, b], output: out, count, body: (i) => ({ stmts: diff(i), value: convertType('d * d', 'f32', ot) }) })];
  }
  if (count === 0) {
    return [emptyLoss(ctx, label, out, reduction)];
  }
  return emitReduction(ctx, {
    label,
    inputs: [a, b],
    output: out,
    rows: 1,
    extent: count,
    acc: 'f32',
    op: 'sum',
    element: (_o, r) => ({ stmts: diff(r), value: 'd * d' }),
    finalize: (s) => convertType(reduction === 'mean' ? `${s} / ${literal(count, 'f32')}` : s, 'f32', ot),
  });
}
