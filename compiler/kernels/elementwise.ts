// Elementwise ops as map kernels: one WGSL expression per op (a table typed
// over the op names), numpy broadcasting through index arithmetic, and the
// helpers (erf, pow of negative bases) WGSL lacks.

import type { DType } from '../../ir/dtype.ts';
import { storeAs } from '../../ir/interp/tensor.ts';
import type { Node } from '../../ir/graph.ts';
import { broadcastIndex, coordsOf, sameLayout } from '../wgsl/indexing.ts';
import { computeType, literal, load, toF16 } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

export type Unary = 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'reciprocal' | 'tanh' | 'sigmoid' | 'relu' | 'gelu' | 'sin' | 'cos' | 'floor';
export type Binary = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow' | 'equal' | 'less' | 'greater' | 'less_equal' | 'greater_equal';

const isFloatType = (t: string) => t === 'f32' || t === 'f16';

/** WGSL for each unary op; `t` is the compute type. */
export const UNARY_WGSL: { readonly [P in Unary]: (x: string, t: string, node: Node) => string } = {
  neg: (x) => `-(${x})`,
  abs: (x) => `abs(${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  rsqrt: (x) => `inverseSqrt(${x})`,
  reciprocal: (x, t) => `(${literal(1, t)} / ${x})`,
  tanh: (x, t) => `tanh_${t}(${x})`,
  sin: (x) => `sin(${x})`,
  cos: (x) => `cos(${x})`,
  floor: (x) => `floor(${x})`,
  sigmoid: (x, t) => `(${literal(1, t)} / (${literal(1, t)} + exp(-(${x}))))`,
  // select keeps NaN (max(NaN, 0) is not specified in WGSL).
  relu: (x, t) => `select(${x}, ${literal(0, t)}, ${x} < ${literal(0, t)})`,
  gelu: (x, t, node) => (node.attrs.approximate === 'tanh' ? `gelu_tanh_${t}(${x})` : `gelu_erf_${t}(${x})`),
};

/** WGSL for each binary op (compares give bool). */
export const BINARY_WGSL: { readonly [P in Binary]: (a: string, b: string, t: string) => string } = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  // NaN propagates, as numpy's maximum / minimum.
  maximum: (a, b, t) => (isFloatType(t) ? `ampc_nanmax_${t}(${a}, ${b})` : `max(${a}, ${b})`),
  minimum: (a, b, t) => (isFloatType(t) ? `ampc_nanmin_${t}(${a}, ${b})` : `min(${a}, ${b})`),
  pow: (a, b, t) => `pow_${t}(${a}, ${b})`,
  equal: (a, b) => `(${a} == ${b})`,
  less: (a, b) => `(${a} < ${b})`,
  greater: (a, b) => `(${a} > ${b})`,
  less_equal: (a, b) => `(${a} <= ${b})`,
  greater_equal: (a, b) => `(${a} >= ${b})`,
};

/** Module-scope helpers for compute type `t`; only those the expression names are emitted. */
export function helpersFor(expr: string, t: string): string {
  const one = literal(1, t), half = literal(0.5, t), two = literal(2, t), zero = literal(0, t);
  const defs: Record<string, string> = {
    [`tanh_${t}`]: `fn tanh_${t}(x: ${t}) -> ${t} { let e = exp(${two} * abs(x)); return sign(x) * (${one} - ${two} / (e + ${one})); }`,
    [`erf_${t}`]:
      // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
      `fn erf_${t}(x: ${t}) -> ${t} { let a = abs(x); let k = ${one} / (${one} + ${literal(0.3275911, t)} * a);\n` +
      `  let p = k * (${literal(0.254829592, t)} + k * (${literal(-0.284496736, t)} + k * (${literal(1.421413741, t)} + k * (${literal(-1.453152027, t)} + k * ${literal(1.061405429, t)}))));\n` +
      `  return sign(x) * (${one} - p * exp(-a * a)); }`,
    [`gelu_erf_${t}`]: `fn gelu_erf_${t}(x: ${t}) -> ${t} { return ${half} * x * (${one} + erf_${t}(x * ${literal(Math.SQRT1_2, t)})); }`,
    [`gelu_tanh_${t}`]: `fn gelu_tanh_${t}(x: ${t}) -> ${t} { return ${half} * x * (${one} + tanh_${t}(${literal(Math.sqrt(2 / Math.PI), t)} * (x + ${literal(0.044715, t)} * x * x * x))); }`,
    [`pow_${t}`]:
      // WGSL pow is undefined for negative bases; integral exponents get their sign by parity.
      `fn pow_${t}(a: ${t}, b: ${t}) -> ${t} { if (a >= ${zero} || ampc_isnan_${t}(a)) { return pow(a, b); }\n` +
      `  if (b != floor(b)) { return (a - a) / (a - a); }\n` +
      `  let m = pow(-a, b); return select(m, -m, (b * ${half}) != floor(b * ${half})); }`,
  };
  // Dependencies: gelu uses erf / tanh.
  const used = new Set<string>();
  const visit = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    for (const dep of Object.keys(defs)) if (dep !== name && defs[name]!.includes(dep + '(')) visit(dep);
  };
  for (const name of Object.keys(defs)) if (expr.includes(name + '(')) visit(name);
  return Object.keys(defs).filter((n) => used.has(n)).map((n) => defs[n]).join('\n');
}

/** Loads of every operand at the output's flat index `i` (broadcasting as needed). */
function operandLoads(node: Node, ctx: EmitContext, names: readonly string[]) {
  const out = node.results[0]!.type.shape;
  const inputs = node.operands.map((v, k) => readOf(ctx, v, names[k]!));
  const needsCoords = node.operands.some((v) => !sameLayout(v.type.shape, out));
  const stmts = needsCoords ? coordsOf(out, 'i') : '';
  const loads = node.operands.map((v, k) => load(inputs[k]!.binding, sameLayout(v.type.shape, out) ? 'i' : broadcastIndex(v.type.shape, out.length), ctx.mode));
  return { inputs, stmts, loads };
}

function emitElementwise(node: Node, ctx: EmitContext, names: readonly string[], value: (loads: string[]) => string, t: string): KernelLaunch {
  const { inputs, stmts, loads } = operandLoads(node, ctx, names);
  const expr = value(loads);
  const res = node.results[0]!;
  return mapKernel(ctx, {
    label: nodeLabel(node, ctx),
    inputs,
    output: writeOf(ctx, res, 'y'),
    count: res.type.shape.reduce((a, b) => a * b, 1),
    helpers: helpersFor(expr, t),
    body: () => ({ stmts, value: expr }),
  });
}

export function emitUnary(node: Node, ctx: EmitContext): KernelLaunch[] {
  const t = computeType(node.operands[0]!.type.dtype, ctx.mode);
  return [emitElementwise(node, ctx, ['x'], ([x]) => UNARY_WGSL[node.op as Unary](x!, t, node), t)];
}

export function emitBinary(node: Node, ctx: EmitContext): KernelLaunch[] {
  const t = computeType(node.operands[0]!.type.dtype, ctx.mode);
  return [emitElementwise(node, ctx, ['a', 'b'], ([a, b]) => BINARY_WGSL[node.op as Binary](a!, b!, t), t)];
}

export function emitSelect(node: Node, ctx: EmitContext): KernelLaunch[] {
  const t = computeType(node.operands[1]!.type.dtype, ctx.mode);
  return [emitElementwise(node, ctx, ['c', 'a', 'b'], ([c, a, b]) => `select(${b}, ${a}, ${c})`, t)];
}

/** WGSL converting a value of compute type `from` (dtype `fd`) to dtype `td`. */
export function convert(x: string, fd: DType, td: DType, ctx: EmitContext): string {
  const from = computeType(fd, ctx.mode), to = computeType(td, ctx.mode);
  if (td === 'bool') {
    if (fd === 'bool') return x;
    // NaN is true (nonzero); tested on the bits since `NaN != 0` may be folded away.
    return from === 'f32' || from === 'f16' ? `(${x} != ${literal(0, from)} || ampc_isnan_${from}(${x}))` : `(${x} != ${literal(0, from)})`;
  }
  if (fd === 'bool') return `select(${literal(0, to)}, ${literal(1, to)}, ${x})`;
  if (from === to) return x;
  return to === 'f16' && from === 'f32' ? toF16(x) : `${to}(${x})`;
}

export function emitCast(node: Node, ctx: EmitContext): KernelLaunch[] {
  const fd = node.operands[0]!.type.dtype, td = node.results[0]!.type.dtype;
  const t = computeType(td, ctx.mode);
  const k = emitElementwise(node, ctx, ['x'], ([x]) => convert(x!, fd, td, ctx), t);
  return [k];
}

export function emitConstant(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const t = computeType(res.type.dtype, ctx.mode);
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [],
      output: writeOf(ctx, res, 'y'),
      count: res.type.shape.reduce((a, b) => a * b, 1),
      bodyUsesF16: t === 'f16',
      body: () => ({ stmts: '', value: literal(storeAs(res.type.dtype, node.attrs.value as number), t) }),
    }),
  ];
}
