// batch_norm over every axis but C (axis 1 of N, C, ...).
//
// Inference (training = false): one map kernel normalizing with the running
// statistics. Training: a statistics kernel with one row per channel (a
// workgroup per channel that strides over N·H·W, or a thread per channel when
// that is below 32) computes the batch mean and, in a second pass, the
// variance; it writes the new running mean and variance (momentum update with
// the UNBIASED batch variance, as PyTorch and the reference do; the op table
// rejects a single value per channel, where that would be 0/0) and, into an
// f32 scratch buffer, each
// channel's mean and scale gamma / sqrt(biased var + eps); then a map kernel
// applies (x - mean) · scale + beta.
//
// Defined semantics: statistics and the per-element arithmetic are f32 even
// for f16 tensors (PyTorch's acc_type; the reference computes in f64 and
// rounds only where a value is stored).

import type { Node } from '../../ir/graph.ts';
import { computeType, literal, load, store } from '../wgsl/storage.ts';
import { convertType, offsetExpr, RowScheme, rowKernel, rowLayout, threadsForRow } from '../wgsl/workgroup.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

export function emitBatchNorm(node: Node, ctx: EmitContext): KernelLaunch[] {
  const [xv, gv, bv, mv, vv] = node.operands;
  const shape = xv!.type.shape;
  const C = shape[1]!;
  const spatial = shape.slice(2).reduce((a, b) => a * b, 1);
  const count = shape.reduce((a, b) => a * b, 1);
  const eps = literal(node.attrs.epsilon as number, 'f32');
  const f32Of = (v: BoundBuffer, idx: string) => convertType(load(v.binding, idx, ctx.mode), computeType(v.binding.dtype, ctx.mode), 'f32');
  const typeOf = (v: BoundBuffer) => computeType(v.binding.dtype, ctx.mode);
  const x = readOf(ctx, xv!, 'x'), g = readOf(ctx, gv!, 'gamma'), b = readOf(ctx, bv!, 'beta');
  const rm = readOf(ctx, mv!, 'running_mean'), rv = readOf(ctx, vv!, 'running_var');
  const y = writeOf(ctx, node.results[0]!, 'y');
  const label = nodeLabel(node, ctx);
  const channel = `let c = (i / ${spatial}u) % ${C}u;`;

  if (!node.attrs.training) {
    if (count === 0) return [];
    return [
      mapKernel(ctx, {
        label,
        inputs: [x, g, b, rm, rv],
        output: y,
        count,
        body: (i) => ({
          stmts: channel,
          value: convertType(`(${f32Of(x, i)} - ${f32Of(rm, 'c')}) * (${f32Of(g, 'c')} * inverseSqrt(${f32Of(rv, 'c')} + ${eps})) + ${f32Of(b, 'c')}`, 'f32', typeOf(y)),
        }),
      }),
    ];
  }

  // Training: statistics per channel, then the normalization.
  const layout = rowLayout(shape, shape.map((_, k) => k).filter((k) => k !== 1));
  const n = layout.extent;
  if (C === 0) return [];
  const newMean = writeOf(ctx, node.results[1]!, 'new_mean'), newVar = writeOf(ctx, node.results[2]!, 'new_var');
  const statsId = ctx.scratch('f32', 2 * C);
  const statsOut: BoundBuffer = { binding: { name: 'stats', dtype: 'f32', access: 'write' }, buffer: statsId };
  const statsIn: BoundBuffer = { binding: { name: 'stats', dtype: 'f32', access: 'read' }, buffer: statsId };
  const momentum = node.attrs.momentum as number;
  const keep = literal(1 - momentum, 'f32'), mom = literal(momentum, 'f32');
  const scheme = new RowScheme(threadsForRow(ctx.target, C, n));
  const at = (r: string) => `base + ${offsetExpr(layout.reduced, r)}`;
  // Channels are rows: `row` is the channel, `base` its first element.
  const body = [
    `let base = ${offsetExpr(layout.kept, 'row')};`,
    scheme.reduce('sum', 'f32', 'sum', n, (r) => f32Of(x, at(r))),
    `let mean = sum / ${literal(n, 'f32')};`,
    scheme.reduce('sq', 'f32', 'sum', n, (r) => ({ stmts: `let d = ${f32Of(x, at(r))} - mean;`, value: 'd * d' })),
    `let unbiased = ${n > 1 ? `sq / ${literal(n - 1, 'f32')}` : literal(NaN, 'f32')};`,
    scheme.once([
      store(statsOut.binding, 'row', 'mean', ctx.mode),
      store(statsOut.binding, `${C}u + row`, `${f32Of(g, 'row')} * inverseSqrt(sq / ${literal(n, 'f32')} + ${eps})`, ctx.mode),
      store(newMean.binding, 'row', convertType(`${keep} * ${f32Of(rm, 'row')} + ${mom} * mean`, 'f32', typeOf(newMean)), ctx.mode),
      store(newVar.binding, 'row', convertType(`${keep} * ${f32Of(rv, 'row')} + ${mom} * unbiased`, 'f32', typeOf(newVar)), ctx.mode),
    ].join('\n    ')),
  ].join('\n  ');
  const stats = rowKernel(ctx, { label: `${label} (statistics)`, buffers: [x, g, rm, rv, statsOut, newMean, newVar], rows: C, scheme, body });
  if (count === 0) return [stats];
  const apply = mapKernel(ctx, {
    label,
    inputs: [x, b, statsIn],
    output: y,
    count,
    body: (i) => ({
      stmts: channel,
      value: convertType(`(${f32Of(x, i)} - ${load(statsIn.binding, 'c', ctx.mode)}) * ${load(statsIn.binding, `${C}u + c`, ctx.mode)} + ${f32Of(b, 'c')}`, 'f32', typeOf(y)),
    }),
  });
  return [stats, apply];
}
