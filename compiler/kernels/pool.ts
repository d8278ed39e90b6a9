// max_pool2d and avg_pool2d (NCHW; kernel, stride, padding [top, left,
// bottom, right]) as map kernels: one invocation per output element walks
// its (small) window, skipping padding positions as the reference does.
//
// - max: padding never wins; NaN propagates. Computed in the tensor's
//   compute type (comparisons are exact in any type).
// - avg: the window sum is accumulated in f32 for every dtype (the default
//   accumulation of the design; the op has no `acc` attribute), then divided
//   by the kernel area with count_include_pad, else by the number of in-bounds
//   positions, and converted to the output type once.

import type { Node } from '../../ir/graph.ts';
import { coordsOf } from '../wgsl/indexing.ts';
import { computeType, literal, load, toF16 } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

interface PoolGeometry {
  readonly H: number; readonly W: number;
  readonly OH: number; readonly OW: number;
  readonly KH: number; readonly KW: number;
  readonly sh: number; readonly sw: number;
  readonly pt: number; readonly pl: number;
}

function poolGeometry(node: Node): PoolGeometry {
  const [, , H, W] = node.operands[0]!.type.shape as [number, number, number, number];
  const [, , OH, OW] = node.results[0]!.type.shape as [number, number, number, number];
  const [KH, KW] = node.attrs.kernel as [number, number];
  const [sh, sw] = node.attrs.stride as [number, number];
  const [pt, pl] = node.attrs.padding as [number, number, number, number];
  return { H, W, OH, OW, KH, KW, sh, sw, pt, pl };
}

/**
 * A pooling map kernel. `init` declares the running state, `visit(v)` folds
 * in window element `v` (compute type), `value` is the stored result.
 */
function poolKernel(node: Node, ctx: EmitContext, init: string, visit: (v: string) => string, value: string, bodyUsesF16: boolean): KernelLaunch {
  const g = poolGeometry(node);
  const x = readOf(ctx, node.operands[0]!, 'x');
  const res = node.results[0]!;
  const u = (v: number) => `${v}u`;
  const i = (v: number) => `${v}i`;
  // Padding checks only where a window can reach outside the input.
  const checkRows = g.pt > 0 || (g.OH - 1) * g.sh + g.KH - 1 - g.pt > g.H - 1;
  const checkCols = g.pl > 0 || (g.OW - 1) * g.sw + g.KW - 1 - g.pl > g.W - 1;
  const stmts = [
    // c0 = n, c1 = channel, c2 = oh, c3 = ow
    coordsOf(res.type.shape, 'i'),
    `let xb = (i / ${u(g.OH * g.OW)}) * ${u(g.H * g.W)};`,
    `let ih0 = i32(c2 * ${u(g.sh)}) - ${i(g.pt)};`,
    `let iw0 = i32(c3 * ${u(g.sw)}) - ${i(g.pl)};`,
    init,
    `for (var kh = 0i; kh < ${i(g.KH)}; kh++) {`,
    `  let ih = ih0 + kh;`,
    checkRows ? `  if (ih < 0i || ih >= ${i(g.H)}) { continue; }` : '',
    `  for (var kw = 0i; kw < ${i(g.KW)}; kw++) {`,
    `    let iw = iw0 + kw;`,
    checkCols ? `    if (iw < 0i || iw >= ${i(g.W)}) { continue; }` : '',
    `    let v = ${load(x.binding, `xb + u32(ih) * ${u(g.W)} + u32(iw)`, ctx.mode)};`,
    `    ${visit('v')}`,
    '  }',
    '}',
  ].filter((l) => l !== '').join('\n  ');
  return mapKernel(ctx, {
    label: nodeLabel(node, ctx),
    inputs: [x],
    output: writeOf(ctx, res, 'y'),
    count: res.type.shape.reduce((a, b) => a * b, 1),
    bodyUsesF16,
    body: () => ({ stmts, value }),
  });
}

export function emitMaxPool2d(node: Node, ctx: EmitContext): KernelLaunch[] {
  const t = computeType(node.operands[0]!.type.dtype, ctx.mode);
  // Starts at -inf (padding never wins); NaN propagates (ampc_nanmax_* is a support function lowering appends).
  const init = `var m: ${t} = ${literal(-Infinity, t)};`;
  const visit = (v: string) => `m = ampc_nanmax_${t}(m, ${v});`;
  return [poolKernel(node, ctx, init, visit, 'm', t === 'f16')];
}

export function emitAvgPool2d(node: Node, ctx: EmitContext): KernelLaunch[] {
  const g = poolGeometry(node);
  const t = computeType(node.results[0]!.type.dtype, ctx.mode);
  const includePad = node.attrs.count_include_pad as boolean;
  const init = includePad ? 'var s = 0.0f;' : 'var s = 0.0f; var cnt = 0u;';
  const visit = (v: string) => (includePad ? `s += f32(${v});` : `s += f32(${v}); cnt += 1u;`);
  const mean = includePad ? `s / ${literal(g.KH * g.KW, 'f32')}` : 's / f32(cnt)';
  // Native f16: overflow to inf as IEEE (and the reference) do.
  const value = t === 'f16' ? toF16(mean) : `(${mean})`;
  return [poolKernel(node, ctx, init, visit, value, t === 'f16')];
}
