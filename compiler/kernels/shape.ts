// Shape ops that move data: transpose, broadcast_to, slice, concat and
// one_hot and gather_elements as map kernels (reshape is a view and emits nothing).

import type { Node } from '../../ir/graph.ts';
import { stridesOf } from '../../ir/types.ts';
import { broadcastIndex, coordsOf } from '../wgsl/indexing.ts';
import { computeType, literal, load } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function copyKernel(node: Node, ctx: EmitContext, index: (outShape: readonly number[]) => { stmts: string; index: string }): KernelLaunch {
  const x = readOf(ctx, node.operands[0]!, 'x');
  const res = node.results[0]!;
  const { stmts, index: idx } = index(res.type.shape);
  return mapKernel(ctx, {
    label: nodeLabel(node, ctx),
    inputs: [x],
    output: writeOf(ctx, res, 'y'),
    count: count(res.type.shape),
    body: () => ({ stmts, value: load(x.binding, idx, ctx.mode) }),
  });
}

export function emitTranspose(node: Node, ctx: EmitContext): KernelLaunch[] {
  const perm = node.attrs.perm as number[];
  const inStrides = stridesOf(node.operands[0]!.type.shape);
  return [
    copyKernel(node, ctx, (out) => ({
      stmts: coordsOf(out, 'i'),
      // output axis k reads input axis perm[k]
      index: perm.map((p, k) => `c${k} * ${inStrides[p]}u`).join(' + ') || '0u',
    })),
  ];
}

export function emitBroadcastTo(node: Node, ctx: EmitContext): KernelLaunch[] {
  const inShape = node.operands[0]!.type.shape;
  return [copyKernel(node, ctx, (out) => ({ stmts: coordsOf(out, 'i'), index: broadcastIndex(inShape, out.length) }))];
}

export function emitSlice(node: Node, ctx: EmitContext): KernelLaunch[] {
  const starts = node.attrs.starts as number[];
  const inStrides = stridesOf(node.operands[0]!.type.shape);
  return [
    copyKernel(node, ctx, (out) => ({
      stmts: coordsOf(out, 'i'),
      index: out.map((_, k) => `(c${k} + ${starts[k]}u) * ${inStrides[k]}u`).join(' + ') || '0u',
    })),
  ];
}

export function emitConcat(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const out = res.type.shape;
  const rank = out.length;
  const axis = ((node.attrs.axis as number) + rank) % rank;
  const inputs = node.operands.map((v, k) => readOf(ctx, v, `x${k}`));
  const t = computeType(res.type.dtype, ctx.mode);
  // Walk the pieces along `axis`; piece k covers [off, off + extent).
  let off = 0;
  const branches: string[] = [];
  node.operands.forEach((v, k) => {
    const ext = v.type.shape[axis]!;
    const strides = stridesOf(v.type.shape);
    const idx = out.map((_, d) => (d === axis ? `(c${d} - ${off}u) * ${strides[d]}u` : `c${d} * ${strides[d]}u`)).join(' + ');
    branches.push(`if (c${axis} < ${off + ext}u) { v = ${load(inputs[k]!.binding, idx, ctx.mode)}; }`);
    off += ext;
  });
  const stmts = `${coordsOf(out, 'i')} var v: ${t} = ${literal(0, t)}; ${branches.join(' else ')}`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs,
      output: writeOf(ctx, res, 'y'),
      count: count(out),
      bodyUsesF16: t === 'f16',
      body: () => ({ stmts, value: 'v' }),
    }),
  ];
}

/** gather_elements: the index wraps once from the end; out of range gives 0 (the load is clamped in range). */
export function emitGatherElements(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const out = res.type.shape;
  const xs = node.operands[0]!.type.shape;
  const axis = ((node.attrs.axis as number) + xs.length) % xs.length;
  const n = xs[axis]!;
  const x = readOf(ctx, node.operands[0]!, 'x');
  const idx = readOf(ctx, node.operands[1]!, 'idx');
  const t = computeType(res.type.dtype, ctx.mode);
  const strides = stridesOf(xs);
  const at = xs.map((_, k) => (k === axis ? `u32(clamp(j, 0i, ${n - 1}i))` : `c${k}`)).map((c, k) => `${c} * ${strides[k]}u`).join(' + ') || '0u';
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, idx],
      output: writeOf(ctx, res, 'y'),
      count: count(out),
      bodyUsesF16: t === 'f16',
      body: (i) => ({
        stmts: `${coordsOf(out, i)} var j = ${load(idx.binding, i, ctx.mode)}; if (j < 0i) { j = j + ${n}i; }`,
        value: `select(${literal(0, t)}, ${load(x.binding, at, ctx.mode)}, j >= 0i && j < ${n}i)`,
      }),
    }),
  ];
}

export function emitOneHot(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const classes = node.attrs.classes as number;
  const labels = readOf(ctx, node.operands[0]!, 'labels');
  const t = computeType(res.type.dtype, ctx.mode);
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [labels],
      output: writeOf(ctx, res, 'y'),
      count: count(res.type.shape),
      bodyUsesF16: t === 'f16',
      body: (i) => ({
        stmts: '',
        value: t === 'bool'
          ? `(${load(labels.binding, `${i} / ${classes}u`, ctx.mode)} == i32(${i} % ${classes}u))`
          : `select(${literal(0, t)}, ${literal(1, t)}, ${load(labels.binding, `${i} / ${classes}u`, ctx.mode)} == i32(${i} % ${classes}u))`,
      }),
    }),
  ];
}

/** reshape: a view, except for a graph output, which gets this flat copy. */
export function emitReshape(node: Node, ctx: EmitContext): KernelLaunch[] {
  return [copyKernel(node, ctx, () => ({ stmts: '', index: 'i' }))];
}
