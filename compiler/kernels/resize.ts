// resize and resize_grad as map kernels (ir/resize.ts defines the taps; the
// per-axis tap functions here mirror `axisCoord` / `axisTaps` in f32).
// - resize: each output element calls one tap function per resized axis
//   (at most 4 taps each) and sums x over the tap combinations times the
//   product of the weights, in f32 whatever the dtype; the sum is rounded to
//   the dtype once when stored (so every f16 mode stores the same values).
// - resize_grad: each dx element walks, per resized axis, the window of
//   output indices whose taps can reach it (the coordinate map is affine,
//   x(o) = A·o + B, and taps lie within `tapReach` of x, so the window is
//   [(c - R - B) / A, (c + R - B) / A] widened by one; the edge elements,
//   which clamped taps also read, walk the whole axis), recomputes the taps
//   of each output and adds dy · (product of the weights of taps that land
//   on it). No atomics: deterministic in every mode.

import type { Node } from '../../ir/graph.ts';
import { axisCoord, resizeAxes, tapReach } from '../../ir/resize.ts';
import type { ResizeAxis } from '../../ir/resize.ts';
import { stridesOf } from '../../ir/types.ts';
import { coordsOf } from '../wgsl/indexing.ts';
import { computeType, literal, load, toF16 } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f = (v: number) => literal(v, 'f32');

/** The f32 expression of the input coordinate of output index `o` (a u32 expression), as `axisCoord`. */
function coordExpr(ax: ResizeAxis, o: string): string {
  const { n, m, scale: s } = ax;
  const halfPixel = `(f32(${o}) + 0.5) / ${f(s)} - 0.5`;
  switch (ax.coord) {
    case 'half_pixel_symmetric': return `${f((n / 2) * (1 - m / (s * n)))} + ${halfPixel}`;
    case 'pytorch_half_pixel': return m > 1 ? halfPixel : '0.0';
    case 'align_corners': return s * n === 1 ? '0.0' : `(f32(${o}) * ${f(n - 1)}) / ${f(s * n - 1)}`;
    case 'asymmetric': return `f32(${o}) / ${f(s)}`;
    case 'tf_half_pixel_for_nn': return `(f32(${o}) + 0.5) / ${f(s)}`;
    case 'tf_crop_and_resize':
      return m > 1
        ? `${f(ax.roiStart * (n - 1))} + (f32(${o}) * ${f((ax.roiEnd - ax.roiStart) * (n - 1))}) / ${f(m - 1)}`
        : f(0.5 * (ax.roiStart + ax.roiEnd) * (n - 1));
    default: return halfPixel;
  }
}

function nearestExpr(mode: string): string {
  switch (mode) {
    case 'round_prefer_ceil': return 'floor(x + 0.5)';
    case 'floor': return 'floor(x)';
    case 'ceil': return 'ceil(x)';
    default: return 'ceil(x - 0.5)';
  }
}

/** Module-scope WGSL: the taps struct, the cubic kernel and one tap function per resized axis (`ampc_taps_K`). */
function tapHelpers(axes: readonly ResizeAxis[], resized: readonly number[]): string {
  const lines = ['struct ampc_taps { n: u32, out: bool, i: array<i32, 4>, w: array<f32, 4> }'];
  const first = axes[resized[0] ?? 0];
  if (first?.mode === 'cubic') {
    const A = f(first.a);
    lines.push(`fn ampc_cubic(s: f32) -> f32 { let x = abs(s); if (x <= 1.0) { return ((${A} + 2.0) * x - (${A} + 3.0)) * x * x + 1.0; }\n` +
      `  if (x < 2.0) { return ((${A} * x - 5.0 * ${A}) * x + 8.0 * ${A}) * x - 4.0 * ${A}; } return 0.0; }`);
  }
  for (const k of resized) {
    const ax = axes[k]!;
    const last = `${ax.n - 1}i`;
    const body = [`var t: ampc_taps; let x = ${coordExpr(ax, 'o')};`];
    body.push(ax.coord === 'tf_crop_and_resize' ? `t.out = x < 0.0 || x > ${f(ax.n - 1)};` : 't.out = false;');
    if (ax.mode === 'nearest') {
      body.push(`t.n = 1u; t.i[0] = clamp(i32(${nearestExpr(ax.nearest)}), 0i, ${last}); t.w[0] = 1.0;`);
    } else {
      const cubic = ax.mode === 'cubic';
      const taps = cubic ? 4 : 2;
      body.push(`let x0 = floor(x); let r = x - x0; let b = i32(x0); t.n = ${taps}u;`);
      body.push(cubic
        ? 't.w[0] = ampc_cubic(r + 1.0); t.w[1] = ampc_cubic(r); t.w[2] = ampc_cubic(1.0 - r); t.w[3] = ampc_cubic(2.0 - r);'
        : 't.w[0] = 1.0 - r; t.w[1] = r;');
      const first = cubic ? -1 : 0;
      body.push(`for (var j = 0u; j < ${taps}u; j++) { let raw = b + ${first}i + i32(j); t.i[j] = clamp(raw, 0i, ${last});` +
        (ax.excludeOutside ? ` if (raw < 0i || raw > ${last}) { t.w[j] = 0.0; }` : '') + ' }');
      if (ax.excludeOutside) {
        body.push(`var sum = 0.0; for (var j = 0u; j < ${taps}u; j++) { sum += t.w[j]; } for (var j = 0u; j < ${taps}u; j++) { t.w[j] = t.w[j] / sum; }`);
      }
    }
    body.push('return t;');
    lines.push(`fn ampc_taps_${k}(o: u32) -> ampc_taps {\n  ${body.join('\n  ')}\n}`);
  }
  return lines.join('\n');
}

function resizedAxes(node: Node, inShape: readonly number[]): { axes: ResizeAxis[]; resized: number[] } {
  const { axes, copied } = resizeAxes(inShape, node.attrs);
  return { axes, resized: axes.map((_, k) => k).filter((k) => !copied[k]) };
}

/** The value stored for f32 accumulator `acc` in compute type `t`. */
const stored = (acc: string, t: string) => (t === 'f16' ? toF16(acc) : acc);

export function emitResize(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const xs = node.operands[0]!.type.shape, ys = res.type.shape;
  const { axes, resized } = resizedAxes(node, xs);
  const strides = stridesOf(xs);
  const x = readOf(ctx, node.operands[0]!, 'x');
  const t = computeType(res.type.dtype, ctx.mode);
  const idx = xs.map((_, k) => (resized.includes(k) ? `u32(t${k}.i[j${k}])` : `c${k}`) + ` * ${strides[k]}u`).join(' + ') || '0u';
  const weight = resized.map((k) => `t${k}.w[j${k}]`).join(' * ') || '1.0';
  let inner = `acc += ${weight} * f32(${load(x.binding, idx, ctx.mode)});`;
  for (const k of [...resized].reverse()) inner = `for (var j${k} = 0u; j${k} < t${k}.n; j${k}++) { ${inner} }`;
  const taps = resized.map((k) => `var t${k} = ampc_taps_${k}(c${k});`).join(' ');
  const outside = resized.map((k) => `t${k}.out`).join(' || ') || 'false';
  const crop = node.attrs.coordinate_transformation_mode === 'tf_crop_and_resize';
  const value = crop ? `select(acc, ${f(node.attrs.extrapolation_value as number)}, ${outside})` : 'acc';
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x],
      output: writeOf(ctx, res, 'y'),
      count: count(ys),
      bodyUsesF16: t === 'f16',
      helpers: tapHelpers(axes, resized),
      body: (i) => ({ stmts: `${coordsOf(ys, i)} ${taps} var acc = 0.0; ${inner}`, value: stored(value, t) }),
    }),
  ];
}

/** Statements setting `lo${k}`, `hi${k}`: the output window of axis k that can read input index c${k}. */
function windowOf(ax: ResizeAxis, k: number): string {
  const full = `var lo${k} = 0i; var hi${k} = ${ax.m - 1}i;`;
  const b = axisCoord(ax, 0), a = ax.m > 1 ? axisCoord(ax, 1) - b : 0;
  if (ax.m <= 1 || a === 0 || !Number.isFinite(a)) return full;
  const R = tapReach(ax.mode);
  return `let p${k} = (f32(c${k}) - ${f(R + b)}) / ${f(a)}; let q${k} = (f32(c${k}) + ${f(R - b)}) / ${f(a)}; ` +
    `var lo${k} = max(i32(floor(min(p${k}, q${k}))) - 1i, 0i); var hi${k} = min(i32(ceil(max(p${k}, q${k}))) + 1i, ${ax.m - 1}i); ` +
    `if (c${k} == 0u || c${k} == ${ax.n - 1}u) { lo${k} = 0i; hi${k} = ${ax.m - 1}i; }`;
}

export function emitResizeGrad(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const xs = res.type.shape, ys = node.operands[0]!.type.shape;
  const { axes, resized } = resizedAxes(node, xs);
  const strides = stridesOf(ys);
  const dy = readOf(ctx, node.operands[0]!, 'dy');
  const t = computeType(res.type.dtype, ctx.mode);
  const idx = ys.map((_, k) => (resized.includes(k) ? `u32(o${k})` : `c${k}`) + ` * ${strides[k]}u`).join(' + ') || '0u';
  const weight = resized.map((k) => `w${k}`).join(' * ') || '1.0';
  let inner = `acc += ${weight} * f32(${load(dy.binding, idx, ctx.mode)});`;
  for (const k of [...resized].reverse()) {
    inner = `${windowOf(axes[k]!, k)} for (var o${k} = lo${k}; o${k} <= hi${k}; o${k}++) { var t${k} = ampc_taps_${k}(u32(o${k})); ` +
      `var w${k} = 0.0; var hit${k} = false; if (!t${k}.out) { for (var j = 0u; j < t${k}.n; j++) { if (t${k}.i[j] == i32(c${k})) { w${k} += t${k}.w[j]; hit${k} = true; } } } ` +
      `if (!hit${k}) { continue; } ${inner} }`;
  }
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [dy],
      output: writeOf(ctx, res, 'dx'),
      count: count(xs),
      bodyUsesF16: t === 'f16',
      helpers: tapHelpers(axes, resized),
      body: (i) => ({ stmts: `${coordsOf(xs, i)} var acc = 0.0; ${inner}`, value: stored('acc', t) }),
    }),
  ];
}
