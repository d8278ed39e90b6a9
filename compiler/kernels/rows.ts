// softmax, log_softmax (along any axis) and layer_norm (over axes axis..end)
// as row kernels: one row per slice, a thread per row when the row is
// shorter than 32, else a workgroup per row (64 or 256 invocations) that
// combines its statistics by tree reductions in workgroup memory.
//
// Defined semantics: the statistics (row max, sum of exp, mean, variance) are
// computed in f32 even for f16 tensors (PyTorch's acc_type; the reference
// computes in f64 and rounds only where a value is stored), and so is the
// per-element arithmetic; only the stored result is rounded to the tensor's
// dtype. softmax is stable: exp(x - max) / Σ exp(x - max); log_softmax is
// (x - max) - log Σ exp(x - max), exact for logits of ±1000. layer_norm uses
// the biased variance, computed in two passes (mean first).

import type { Node } from '../../ir/graph.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import { computeType, literal, load, store } from '../wgsl/storage.ts';
import { convertType, offsetExpr, RowScheme, rowKernel, rowLayout, threadsForRow } from '../wgsl/workgroup.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';

/** softmax and log_softmax. */
export function emitSoftmax(node: Node, ctx: EmitContext): KernelLaunch[] {
  const xv = node.operands[0]!, yv = node.results[0]!;
  const shape = xv.type.shape;
  const axis = normalizeAxis(node.op, node.attrs.axis as number, shape.length);
  const layout = rowLayout(shape, [axis]);
  if (layout.rows === 0 || layout.extent === 0) return [];
  const x = readOf(ctx, xv, 'x'), y = writeOf(ctx, yv, 'y');
  const ct = computeType(xv.type.dtype, ctx.mode), ot = computeType(yv.type.dtype, ctx.mode);
  const scheme = new RowScheme(threadsForRow(ctx.target, layout.rows, layout.extent));
  const at = (r: string) => `base + ${offsetExpr(layout.reduced, r)}`;
  const xf = (r: string) => convertType(load(x.binding, at(r), ctx.mode), ct, 'f32');
  const result = node.op === 'softmax'
    ? (r: string) => `exp(${xf(r)} - m) / s`
    : (r: string) => `(${xf(r)} - m) - log_s`;
  if (layout.extent === 1) {
    // A row of one: the shader compiler folds x - max (= x - x) to 0, which
    // would turn NaN and ±inf into finite results. IEEE gives softmax 1 and
    // log_softmax 0 for a finite x, NaN otherwise (inf - inf): say so directly.
    const one = literal(node.op === 'softmax' ? 1 : 0, 'f32');
    const single = (r: string) =>
      `{ let v = ${xf(r)}; let finite = (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u; ` +
      `${store(y.binding, at(r), convertType(`select(${literal(NaN, 'f32')}, ${one}, finite)`, 'f32', ot), ctx.mode)} }`;
    const body1 = [`let base = ${offsetExpr(layout.kept, 'row')};`, scheme.forEach(1, single)].join('\n  ');
    return [rowKernel(ctx, { label: nodeLabel(node, ctx), buffers: [x, y], rows: layout.rows, scheme, body: body1 })];
  }
  const body = [
    `let base = ${offsetExpr(layout.kept, 'row')};`,
    scheme.reduce('m', 'f32', 'max', layout.extent, xf),
    scheme.reduce('s', 'f32', 'sum', layout.extent, (r) => `exp(${xf(r)} - m)`),
    node.op === 'log_softmax' ? 'let log_s = log(s);' : '',
    scheme.forEach(layout.extent, (r) => store(y.binding, at(r), convertType(result(r), 'f32', ot), ctx.mode)),
  ].filter((s) => s).join('\n  ');
  return [rowKernel(ctx, { label: nodeLabel(node, ctx), buffers: [x, y], rows: layout.rows, scheme, body })];
}

/** layer_norm: y = (x - mean) / sqrt(var + eps) · gamma + beta over the trailing axes from `axis`. */
export function emitLayerNorm(node: Node, ctx: EmitContext): KernelLaunch[] {
  const [xv, gv, bv] = node.operands;
  const yv = node.results[0]!;
  const shape = xv!.type.shape;
  const axis = normalizeAxis('layer_norm', node.attrs.axis as number, shape.length);
  const n = shape.slice(axis).reduce((a, b) => a * b, 1);
  const rows = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  if (rows === 0 || n === 0) return [];
  const x = readOf(ctx, xv!, 'x'), g = readOf(ctx, gv!, 'gamma'), b = readOf(ctx, bv!, 'beta'), y = writeOf(ctx, yv, 'y');
  const f32Of = (v: BoundBuffer, idx: string) => convertType(load(v.binding, idx, ctx.mode), computeType(v.binding.dtype, ctx.mode), 'f32');
  const ot = computeType(yv.type.dtype, ctx.mode);
  const scheme = new RowScheme(threadsForRow(ctx.target, rows, n));
  const eps = literal(node.attrs.epsilon as number, 'f32');
  const body = [
    `let base = row * ${n}u;`,
    scheme.reduce('sum', 'f32', 'sum', n, (r) => f32Of(x, `base + ${r}`)),
    `let mean = sum / ${literal(n, 'f32')};`,
    scheme.reduce('sq', 'f32', 'sum', n, (r) => ({ stmts: `let d = ${f32Of(x, `base + ${r}`)} - mean;`, value: 'd * d' })),
    `let rstd = inverseSqrt(sq / ${literal(n, 'f32')} + ${eps});`,
    scheme.forEach(n, (r) => store(y.binding, `base + ${r}`, convertType(`(${f32Of(x, `base + ${r}`)} - mean) * rstd * ${f32Of(g, r)} + ${f32Of(b, r)}`, 'f32', ot), ctx.mode)),
  ].join('\n  ');
  return [rowKernel(ctx, { label: nodeLabel(node, ctx), buffers: [x, g, b, y], rows, scheme, body })];
}
