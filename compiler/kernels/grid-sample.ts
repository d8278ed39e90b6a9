// grid_sample and its gradient ops as map kernels (ir/grid-sample.ts defines
// the taps; `tapHelpers` here mirrors `axisTaps` in f32). All arithmetic is
// f32 whatever the dtype (grid coordinates and x are widened on load); a
// result is rounded to the dtype once when stored, so every f16 mode stores
// the same values. No atomics: deterministic in every mode.
// - grid_sample: each output element (n, c, i, j) loads its grid point,
//   computes the column and row taps (at most 4 each) and sums x over the
//   in-range tap pairs times the product of the weights.
// - grid_sample_grad_input: each dx element (n, c, h, w) walks all Ho · Wo
//   grid points of its batch, recomputes their taps and adds dy · (sum of the
//   row weights landing on h) · (sum of the column weights landing on w):
//   O(Ho · Wo · taps) per element, O(N · C · H · W · Ho · Wo) in all (the grid
//   is data, so the outputs reading an element are not known statically).
// - grid_sample_grad_grid: each dgrid element (n, i, j, k) sums over channels
//   and tap pairs dy · x · (the derivative of the weights along coordinate k).

import type { Node } from '../../ir/graph.ts';
import { GRID_SAMPLE_CUBIC_A, gridSampleSettings } from '../../ir/grid-sample.ts';
import type { GridSampleSettings } from '../../ir/grid-sample.ts';
import type { Binding } from '../wgsl/storage.ts';
import { coordsOf } from '../wgsl/indexing.ts';
import { computeType, literal, load, toF16 } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f = (v: number) => literal(v, 'f32');

/** WGSL of the padding map: `ampc_gs_pad(u, n)` gives (coordinate, slope), as `padCoord`. */
function padHelper(s: GridSampleSettings): string {
  const lines = ['fn ampc_gs_pad(u: f32, n: f32) -> vec2<f32> {', '  var v = u; var s = 1.0;'];
  if (s.padding === 'zeros') return 'fn ampc_gs_pad(u: f32, n: f32) -> vec2<f32> { return vec2<f32>(u, 1.0); }';
  if (s.padding === 'reflection') {
    lines.push(s.align ? '  let lo2 = 0.0; let hi2 = 2.0 * (n - 1.0);' : '  let lo2 = -1.0; let hi2 = 2.0 * n - 1.0;');
    lines.push('  if (lo2 == hi2) { v = 0.0; s = 0.0; } else {',
      '    let mn = lo2 / 2.0; let span = (hi2 - lo2) / 2.0; var r = v - mn;',
      '    if (r < 0.0) { s = -1.0; r = -r; }',
      '    let extra = r % span; let flips = floor(r / span);',
      '    if (flips % 2.0 == 0.0) { v = extra + mn; } else { v = span - extra + mn; s = -s; }',
      '  }');
  }
  lines.push('  if (v <= 0.0) { return vec2<f32>(0.0, 0.0); }', '  if (v >= n - 1.0) { return vec2<f32>(n - 1.0, 0.0); }', '  return vec2<f32>(v, s);', '}');
  return lines.join('\n');
}

/** Module-scope WGSL: the taps struct, the padding map and `ampc_gs_taps(g, n)`, one axis's taps of grid coordinate g. */
function tapHelpers(s: GridSampleSettings): string {
  const out = ['struct ampc_gs { n: u32, i: array<i32, 4>, w: array<f32, 4>, d: array<f32, 4> }', padHelper(s)];
  const body = ['var r: ampc_gs; let nf = f32(n);'];
  body.push(s.align ? 'let u0 = ((g + 1.0) / 2.0) * (nf - 1.0); let du = (nf - 1.0) / 2.0;' : 'let u0 = ((g + 1.0) * nf - 1.0) / 2.0; let du = nf / 2.0;');
  if (s.mode === 'bicubic') {
    const A = f(GRID_SAMPLE_CUBIC_A);
    out.push(`fn ampc_cc1(x: f32) -> f32 { return ((${A} + 2.0) * x - (${A} + 3.0)) * x * x + 1.0; }`,
      `fn ampc_cc2(x: f32) -> f32 { return ((${A} * x - 5.0 * ${A}) * x + 8.0 * ${A}) * x - 4.0 * ${A}; }`,
      `fn ampc_dcc1(x: f32) -> f32 { return (3.0 * (${A} + 2.0) * x - 2.0 * (${A} + 3.0)) * x; }`,
      `fn ampc_dcc2(x: f32) -> f32 { return (3.0 * ${A} * x - 10.0 * ${A}) * x + 8.0 * ${A}; }`);
    body.push('let x0 = floor(u0); let t = u0 - x0; r.n = 4u;',
      'r.w[0] = ampc_cc2(t + 1.0); r.w[1] = ampc_cc1(t); r.w[2] = ampc_cc1(1.0 - t); r.w[3] = ampc_cc2(2.0 - t);',
      'r.d[0] = ampc_dcc2(t + 1.0) * du; r.d[1] = ampc_dcc1(t) * du; r.d[2] = -ampc_dcc1(1.0 - t) * du; r.d[3] = -ampc_dcc2(2.0 - t) * du;',
      `for (var j = 0u; j < 4u; j++) { let raw = x0 - 1.0 + f32(j); r.i[j] = i32(${s.padding === 'zeros' ? 'raw' : 'ampc_gs_pad(raw, nf).x'}); }`);
  } else if (s.mode === 'nearest') {
    body.push('let p = ampc_gs_pad(u0, nf); r.n = 1u; r.i[0] = i32(round(p.x)); r.w[0] = 1.0; r.d[0] = 0.0;');
  } else {
    body.push('let p = ampc_gs_pad(u0, nf); let x0 = floor(p.x); let t = p.x - x0; let d = p.y * du; r.n = 2u;',
      'r.i[0] = i32(x0); r.i[1] = i32(x0) + 1i; r.w[0] = 1.0 - t; r.w[1] = t; r.d[0] = -d; r.d[1] = d;');
  }
  body.push('return r;');
  out.push(`fn ampc_gs_taps(g: f32, n: i32) -> ampc_gs {\n  ${body.join('\n  ')}\n}`);
  return out.join('\n');
}

/** The value stored for f32 accumulator `acc` in compute type `t`. */
const stored = (acc: string, t: string) => (t === 'f16' ? toF16(acc) : acc);

/** Statements loading grid point `p` (a u32 expression) and computing its taps `tx` (columns, extent w) and `ty` (rows, extent h). */
function tapsAt(p: string, h: number, w: number, mode: EmitContext['mode'], gridBinding: Binding): string {
  return `let gp = ${p}; let tx = ampc_gs_taps(f32(${load(gridBinding, '2u * gp', mode)}), ${w}i); ` +
    `let ty = ampc_gs_taps(f32(${load(gridBinding, '2u * gp + 1u', mode)}), ${h}i);`;
}

export function emitGridSample(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const [, c, h, w] = node.operands[0]!.type.shape as [number, number, number, number];
  const [, ho, wo] = node.operands[1]!.type.shape as [number, number, number];
  const x = readOf(ctx, node.operands[0]!, 'x'), grid = readOf(ctx, node.operands[1]!, 'grid');
  const t = computeType(res.type.dtype, ctx.mode);
  const inner = 'for (var a = 0u; a < ty.n; a++) { let ya = ty.i[a]; if (ya < 0i || ya >= ' + `${h}i) { continue; } ` +
    `for (var b = 0u; b < tx.n; b++) { let xb = tx.i[b]; if (xb < 0i || xb >= ${w}i) { continue; } ` +
    `acc += ty.w[a] * tx.w[b] * f32(${load(x.binding, `base + u32(ya) * ${w}u + u32(xb)`, ctx.mode)}); } }`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, grid],
      output: writeOf(ctx, res, 'y'),
      count: count(res.type.shape),
      bodyUsesF16: t === 'f16',
      helpers: tapHelpers(gridSampleSettings(node.attrs)),
      body: (i) => ({
        stmts: `${coordsOf(res.type.shape, i)} ${tapsAt(`(c0 * ${ho}u + c2) * ${wo}u + c3`, h, w, ctx.mode, grid.binding)} ` +
          `let base = (c0 * ${c}u + c1) * ${h * w}u; var acc = 0.0; ${inner}`,
        value: stored('acc', t),
      }),
    }),
  ];
}

export function emitGridSampleGradInput(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const [, c, h, w] = res.type.shape as [number, number, number, number];
  const [, ho, wo] = node.operands[1]!.type.shape as [number, number, number];
  const m = ho * wo;
  const dy = readOf(ctx, node.operands[0]!, 'dy'), grid = readOf(ctx, node.operands[1]!, 'grid');
  const t = computeType(res.type.dtype, ctx.mode);
  const loop = `for (var q = 0u; q < ${m}u; q++) { ${tapsAt(`c0 * ${m}u + q`, h, w, ctx.mode, grid.binding)} ` +
    'var wy = 0.0; var hy = false; for (var a = 0u; a < ty.n; a++) { if (ty.i[a] == i32(c2)) { wy += ty.w[a]; hy = true; } } if (!hy) { continue; } ' +
    'var wx = 0.0; var hx = false; for (var b = 0u; b < tx.n; b++) { if (tx.i[b] == i32(c3)) { wx += tx.w[b]; hx = true; } } if (!hx) { continue; } ' +
    `acc += wy * wx * f32(${load(dy.binding, `(c0 * ${c}u + c1) * ${m}u + q`, ctx.mode)}); }`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [dy, grid],
      output: writeOf(ctx, res, 'dx'),
      count: count(res.type.shape),
      bodyUsesF16: t === 'f16',
      helpers: tapHelpers(gridSampleSettings(node.attrs)),
      body: (i) => ({ stmts: `${coordsOf(res.type.shape, i)} var acc = 0.0; ${loop}`, value: stored('acc', t) }),
    }),
  ];
}

export function emitGridSampleGradGrid(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const [, c, h, w] = node.operands[0]!.type.shape as [number, number, number, number];
  const [, ho, wo] = res.type.shape as [number, number, number];
  const m = ho * wo;
  const x = readOf(ctx, node.operands[0]!, 'x'), grid = readOf(ctx, node.operands[1]!, 'grid'), dy = readOf(ctx, node.operands[2]!, 'dy');
  const t = computeType(res.type.dtype, ctx.mode);
  const loop = `for (var a = 0u; a < ty.n; a++) { let ya = ty.i[a]; if (ya < 0i || ya >= ${h}i) { continue; } ` +
    `for (var b = 0u; b < tx.n; b++) { let xb = tx.i[b]; if (xb < 0i || xb >= ${w}i) { continue; } ` +
    'let dw = select(ty.d[a] * tx.w[b], ty.w[a] * tx.d[b], c3 == 0u); ' +
    `for (var k = 0u; k < ${c}u; k++) { let v = f32(${load(dy.binding, `(c0 * ${c}u + k) * ${m}u + q`, ctx.mode)}) * ` +
    `f32(${load(x.binding, `(c0 * ${c}u + k) * ${h * w}u + u32(ya) * ${w}u + u32(xb)`, ctx.mode)}); acc += dw * v; } } }`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, grid, dy],
      output: writeOf(ctx, res, 'dgrid'),
      count: count(res.type.shape),
      bodyUsesF16: t === 'f16',
      helpers: tapHelpers(gridSampleSettings(node.attrs)),
      body: (i) => ({
        stmts: `${coordsOf(res.type.shape, i)} let q = c1 * ${wo}u + c2; ${tapsAt(`c0 * ${m}u + q`, h, w, ctx.mode, grid.binding)} var acc = 0.0; ${loop}`,
        value: stored('acc', t),
      }),
    }),
  ];
}
