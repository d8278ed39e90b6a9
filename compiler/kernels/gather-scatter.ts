// gather and scatter_elements as map kernels over their outputs: no atomics,
// so results are deterministic in every f16 mode.
// - gather: output element (o, j, k) of [outer, m, inner] reads x[o, idx[j], k];
//   the index wraps once from the end, out of range gives 0 (the load is
//   clamped in range), as gather_elements.
// - scatter_elements: output element c starts from x[c] and walks the
//   is[axis] updates that could land on it (same coordinates off `axis`), in
//   order, applying those whose wrapped index is c[axis]: `none` keeps the
//   last, add / mul / max / min combine in the compute type (f16 emulated in
//   f32 registers is rounded to f16 after every add / mul, so every mode
//   computes f16's results). Work per output element: is[axis] index loads.

import type { Node } from '../../ir/graph.ts';
import { stridesOf } from '../../ir/types.ts';
import { coordsOf } from '../wgsl/indexing.ts';
import { computeType, emulatesF16Math, literal, load, roundF16Fn } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function emitGather(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const xs = node.operands[0]!.type.shape;
  const axis = ((node.attrs.axis as number) + xs.length) % xs.length;
  const n = xs[axis]!;
  const m = count(node.operands[1]!.type.shape);
  const inner = count(xs.slice(axis + 1));
  const x = readOf(ctx, node.operands[0]!, 'x');
  const idx = readOf(ctx, node.operands[1]!, 'idx');
  const t = computeType(res.type.dtype, ctx.mode);
  const at = `(o * ${n}u + u32(clamp(j, 0i, ${Math.max(n - 1, 0)}i))) * ${inner}u + k`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, idx],
      output: writeOf(ctx, res, 'y'),
      count: count(res.type.shape),
      bodyUsesF16: t === 'f16',
      body: (i) => ({
        stmts: `let o = ${i} / ${m * inner}u; let k = ${i} % ${inner}u; ` +
          `var j = ${load(idx.binding, `(${i} / ${inner}u) % ${m}u`, ctx.mode)}; if (j < 0i) { j = j + ${n}i; }`,
        value: `select(${literal(0, t)}, ${load(x.binding, at, ctx.mode)}, j >= 0i && j < ${n}i)`,
      }),
    }),
  ];
}

/** The statement combining update `u` into `v` for a reduction, in compute type `t`. */
function combine(reduction: string, t: string, roundF16: string | undefined): string {
  const round = (e: string) => (roundF16 ? `${roundF16}(${e})` : e);
  const isFloat = t === 'f32' || t === 'f16';
  switch (reduction) {
    case 'add': return `v = ${round('v + u')};`;
    case 'mul': return `v = ${round('v * u')};`;
    case 'max': return isFloat ? `v = ampc_nanmax_${t}(v, u);` : 'v = max(v, u);';
    case 'min': return isFloat ? `v = ampc_nanmin_${t}(v, u);` : 'v = min(v, u);';
    default: return 'v = u;';
  }
}

export function emitScatterElements(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const xs = res.type.shape;
  const is = node.operands[1]!.type.shape;
  const r = xs.length;
  const axis = ((node.attrs.axis as number) + r) % r;
  const n = xs[axis]!;
  const x = readOf(ctx, node.operands[0]!, 'x');
  const idx = readOf(ctx, node.operands[1]!, 'idx');
  const upd = readOf(ctx, node.operands[2]!, 'upd');
  const dtype = res.type.dtype;
  const t = computeType(dtype, ctx.mode);
  const roundF16 = dtype === 'f16' && emulatesF16Math(ctx.mode) ? roundF16Fn(ctx.mode) : undefined;
  const iStrides = stridesOf(is);
  // Coordinates off `axis` beyond the indices' extent receive no update.
  const inRange = xs.map((d, k) => (k !== axis && is[k]! < d ? `c${k} < ${is[k]}u` : '')).filter((s) => s !== '');
  const base = xs.map((_, k) => (k === axis ? '' : `c${k} * ${iStrides[k]}u`)).filter((s) => s !== '').join(' + ') || '0u';
  const loop = count(is) === 0 ? '' :
    `for (var s = 0u; s < ${is[axis]}u; s++) { let p = ${base} + s * ${iStrides[axis]}u; ` +
    `var j = ${load(idx.binding, 'p', ctx.mode)}; if (j < 0i) { j = j + ${n}i; } ` +
    `if (j == i32(c${axis})) { let u = ${load(upd.binding, 'p', ctx.mode)}; ${combine(node.attrs.reduction as string, t, roundF16)} } }`;
  const guarded = loop && inRange.length ? `if (${inRange.join(' && ')}) { ${loop} }` : loop;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, idx, upd],
      output: writeOf(ctx, res, 'y'),
      count: count(xs),
      bodyUsesF16: t === 'f16',
      body: (i) => ({ stmts: `${coordsOf(xs, i)} var v: ${t} = ${load(x.binding, i, ctx.mode)}; ${guarded}`, value: 'v' }),
    }),
  ];
}
