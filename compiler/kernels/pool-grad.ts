// The input gradients of max_pool2d and avg_pool2d (NCHW; kernel, stride,
// padding [top, left, bottom, right]) as gathers, without atomics: one
// invocation per dx element visits the windows that contain it — output rows
// oh with oh·sh - pt <= ih <= oh·sh - pt + KH - 1, likewise columns — and adds
// up what each gives it:
//
// - max_pool2d_grad: the window's dy if this element is the window's winner.
//   The invocation rescans the window in scan order (kh, then kw; padding
//   skipped) with the reference's rule (ir/interp/kernels/grad.ts): the first
//   in-bounds element, replaced only by a later one that is greater, or NaN
//   while the winner is not. Comparisons are exact in the compute type.
// - avg_pool2d_grad: the window's dy / count, count being the kernel area
//   with count_include_pad, else the window's in-bounds positions.
//
// The ops have no `acc`; as the forward pooling statistics, the sums are f32
// for every dtype, converted to the result type once.

import type { Node } from '../../ir/graph.ts';
import { coordsOf } from '../wgsl/indexing.ts';
import { computeType, literal, load, toF16 } from '../wgsl/storage.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

interface PoolGradGeometry {
  readonly H: number; readonly W: number;
  readonly OH: number; readonly OW: number;
  readonly KH: number; readonly KW: number;
  readonly sh: number; readonly sw: number;
  readonly pt: number; readonly pl: number;
}

function geometry(node: Node, dy: Node['operands'][number]): PoolGradGeometry {
  const [, , H, W] = node.results[0]!.type.shape as [number, number, number, number];
  const [, , OH, OW] = dy.type.shape as [number, number, number, number];
  const [KH, KW] = node.attrs.kernel as [number, number];
  const [sh, sw] = node.attrs.stride as [number, number];
  const [pt, pl] = node.attrs.padding as [number, number, number, number];
  return { H, W, OH, OW, KH, KW, sh, sw, pt, pl };
}

const u = (v: number) => `${v}u`;
const i = (v: number) => `${v}i`;

/**
 * A gather over the windows containing dx element `i`: `prelude` runs once,
 * `visit` for each window (oh, ow: i32; `wh0`, `ww0` its top-left input
 * position, possibly in the padding) and adds to the f32 sum `s`.
 */
function gatherKernel(
  node: Node, ctx: EmitContext, g: PoolGradGeometry, inputs: BoundBuffer[], prelude: string[], visit: string[], bodyUsesF16: boolean,
): KernelLaunch {
  const res = node.results[0]!;
  const t = computeType(res.type.dtype, ctx.mode);
  const stmts = [
    // c0 = n, c1 = channel, c2 = ih, c3 = iw
    coordsOf(res.type.shape, 'i'),
    `let plane = i / ${u(g.H * g.W)};`,
    `let yb = plane * ${u(g.OH * g.OW)};`,
    `let ihp = i32(c2) + ${i(g.pt)}; let iwp = i32(c3) + ${i(g.pl)};`,
    // First and last window containing the element, per axis.
    `let oh0 = (max(ihp, ${i(g.KH - 1)}) - ${i(g.KH - 1)} + ${i(g.sh - 1)}) / ${i(g.sh)}; let oh1 = min(ihp / ${i(g.sh)}, ${i(g.OH - 1)});`,
    `let ow0 = (max(iwp, ${i(g.KW - 1)}) - ${i(g.KW - 1)} + ${i(g.sw - 1)}) / ${i(g.sw)}; let ow1 = min(iwp / ${i(g.sw)}, ${i(g.OW - 1)});`,
    ...prelude,
    'var s = 0.0f;',
    'for (var oh = oh0; oh <= oh1; oh++) {',
    `  let wh0 = oh * ${i(g.sh)} - ${i(g.pt)};`,
    '  for (var ow = ow0; ow <= ow1; ow++) {',
    `    let ww0 = ow * ${i(g.sw)} - ${i(g.pl)};`,
    ...visit.map((l) => `    ${l}`),
    '  }',
    '}',
  ].join('\n  ');
  // Native f16: overflow to inf as IEEE (and the reference) do; packed stores take the f32 value.
  const value = t === 'f16' ? toF16('s') : 's';
  return mapKernel(ctx, {
    label: nodeLabel(node, ctx),
    inputs,
    output: writeOf(ctx, res, 'dx'),
    count: res.type.shape.reduce((a, b) => a * b, 1),
    bodyUsesF16: bodyUsesF16 || t === 'f16',
    body: () => ({ stmts, value }),
  });
}

export function emitMaxPool2dGrad(node: Node, ctx: EmitContext): KernelLaunch[] {
  const x = readOf(ctx, node.operands[0]!, 'x');
  const dy = readOf(ctx, node.operands[1]!, 'dy');
  const g = geometry(node, node.operands[1]!);
  const t = computeType(node.operands[0]!.type.dtype, ctx.mode);
  // Padding checks only where a window can reach outside the input.
  const checkRows = g.pt > 0 || (g.OH - 1) * g.sh + g.KH - 1 - g.pt > g.H - 1;
  const checkCols = g.pl > 0 || (g.OW - 1) * g.sw + g.KW - 1 - g.pl > g.W - 1;
  const visit = [
    // The window's winner, as a flat position in the plane (-1: none yet).
    `var best: ${t} = ${literal(0, t)}; var win = -1i;`,
    // Opaque bounds (`dyn`, see compiler/kernels/conv.ts): large windows stay rolled.
    `for (var kh = 0i; kh < ${i(g.KH)} + dyn; kh++) {`,
    '  let ih = wh0 + kh;',
    checkRows ? `  if (ih < 0i || ih >= ${i(g.H)}) { continue; }` : '',
    `  for (var kw = 0i; kw < ${i(g.KW)} + dyn; kw++) {`,
    '    let iw = ww0 + kw;',
    checkCols ? `    if (iw < 0i || iw >= ${i(g.W)}) { continue; }` : '',
    `    let at = ih * ${i(g.W)} + iw;`,
    `    let v = ${load(x.binding, `plane * ${u(g.H * g.W)} + u32(at)`, ctx.mode)};`,
    // NaN is tested on the bits, and only non-NaN values are compared (lavapipe assumes no NaNs in comparisons).
    `    if (win < 0i || (!ampc_isnan_${t}(best) && (ampc_isnan_${t}(v) || v > best))) { best = v; win = at; }`,
    '  }',
    '}',
    `if (win == i32(c2 * ${u(g.W)} + c3)) { s += f32(${load(dy.binding, `yb + u32(oh * ${i(g.OW)} + ow)`, ctx.mode)}); }`,
  ].filter((l) => l !== '');
  return [gatherKernel(node, ctx, g, [x, dy], ['let dyn = i32(nwg.z >> 31u);'], visit, t === 'f16')];
}

export function emitAvgPool2dGrad(node: Node, ctx: EmitContext): KernelLaunch[] {
  const dy = readOf(ctx, node.operands[0]!, 'dy');
  const g = geometry(node, node.operands[0]!);
  const includePad = node.attrs.count_include_pad as boolean;
  const count = includePad
    ? literal(g.KH * g.KW, 'f32')
    : `f32((min(wh0 + ${i(g.KH)}, ${i(g.H)}) - max(wh0, 0i)) * (min(ww0 + ${i(g.KW)}, ${i(g.W)}) - max(ww0, 0i)))`;
  const visit = [`s += f32(${load(dy.binding, `yb + u32(oh * ${i(g.OW)} + ow)`, ctx.mode)}) / ${count};`];
  return [gatherKernel(node, ctx, g, [dy], [], visit, false)];
}
