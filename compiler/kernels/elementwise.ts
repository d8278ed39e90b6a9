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

export type Unary =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'reciprocal' | 'tanh' | 'sigmoid' | 'relu' | 'gelu' | 'sin' | 'cos' | 'floor'
  | 'tan' | 'asin' | 'acos' | 'atan' | 'sinh' | 'cosh' | 'asinh' | 'acosh' | 'atanh' | 'erf' | 'round' | 'ceil' | 'sign' | 'isinf' | 'isnan';
export type Binary = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow' | 'mod' | 'equal' | 'less' | 'greater' | 'less_equal' | 'greater_equal';

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
  // WGSL built-ins where they hold f32 tolerance on lavapipe (tan, cosh); helpers below where the textbook
  // formula cancels (sinh, asinh, atanh near 0; acosh near 1), the built-in is inaccurate there (atan, asin,
  // acos) or WGSL has none (erf). Measured against the f64 reference on lavapipe over dense grids: within
  // 1.5e-6 relative (tan 2e-7, atan 2.1e-7, asin / acos 2.8e-7), erf within 2.4e-7 absolute.
  tan: (x) => `tan(${x})`,
  asin: (x, t) => `ampc_asin_${t}(${x})`,
  acos: (x, t) => `ampc_acos_${t}(${x})`,
  atan: (x, t) => `ampc_atan_${t}(${x})`,
  sinh: (x, t) => `ampc_sinh_${t}(${x})`,
  cosh: (x) => `cosh(${x})`,
  asinh: (x, t) => `ampc_asinh_${t}(${x})`,
  acosh: (x, t) => `ampc_acosh_${t}(${x})`,
  atanh: (x, t) => `ampc_atanh_${t}(${x})`,
  erf: (x, t) => `ampc_erfacc_${t}(${x})`,
  // WGSL round is half to even, as numpy and ONNX.
  round: (x) => `round(${x})`,
  ceil: (x) => `ceil(${x})`,
  // select keeps NaN and -0, as numpy's sign (WGSL's sign(NaN) is unspecified).
  sign: (x, t) => `select(select(${x}, ${literal(-1, t)}, ${x} < ${literal(0, t)}), ${literal(1, t)}, ${x} > ${literal(0, t)})`,
  isinf: (x, t) => `ampc_isinf_${t}(${x})`,
  isnan: (x, t) => `ampc_isnan_${t}(${x})`,
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
  mod: (a, b, t) => `ampc_fmod_${t}(${a}, ${b})`,
  equal: (a, b) => `(${a} == ${b})`,
  less: (a, b) => `(${a} < ${b})`,
  greater: (a, b) => `(${a} > ${b})`,
  less_equal: (a, b) => `(${a} <= ${b})`,
  greater_equal: (a, b) => `(${a} >= ${b})`,
};

/** C's fmod in compute type `t` (see helpersFor). */
function fmodFn(name: string, t: string): string {
  const zero = literal(0, t);
  return `fn ${name}(a: ${t}, b: ${t}) -> ${t} { if (abs(a) < abs(b)) { return a; }\n` +
    `  let q = trunc(a / b); var r = fma(-q, b, a); let s = select(abs(b), -abs(b), a < ${zero});\n` +
    `  if (r != ${zero} && ((r < ${zero}) != (a < ${zero}))) { r = r + s; }\n` +
    `  if (abs(r) >= abs(b)) { r = r - s; }\n` +
    `  return r; }`;
}

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
    // sinh: the Taylor series below 1 (no cancellation of e - 1/e near 0; the next term is below 3e-8 relative).
    [`ampc_sinh_${t}`]:
      `fn ampc_sinh_${t}(x: ${t}) -> ${t} { let a = abs(x); if (a < ${one}) { let z = x * x;\n` +
      `    return x * (${one} + z * (${literal(1 / 6, t)} + z * (${literal(1 / 120, t)} + z * (${literal(1 / 5040, t)} + z * ${literal(1 / 362880, t)})))); }\n` +
      `  let e = exp(a); return sign(x) * (${half} * e - ${half} / e); }`,
    // asinh: odd, so |x| only; the Taylor series below 1/8 (next term below 2e-9 relative), log(a + √(a²+1))
    // above it, log(a) + ln 2 beyond 4096 (where a² + 1 = a² in f32 and a² would overflow first).
    [`ampc_asinh_${t}`]:
      `fn ampc_asinh_${t}(x: ${t}) -> ${t} { let a = abs(x); var r: ${t};\n` +
      `  if (a < ${literal(0.125, t)}) { let z = a * a; r = a * (${one} + z * (${literal(-1 / 6, t)} + z * (${literal(3 / 40, t)} + z * ${literal(-15 / 336, t)}))); }\n` +
      `  else if (a > ${literal(4096, t)}) { r = log(a) + ${literal(Math.LN2, t)}; }\n` +
      `  else { r = log(a + sqrt(a * a + ${one})); }\n` +
      `  return select(r, -r, x < ${zero}); }`,
    // erf: the Maclaurin series below 1/2 (through x^13; the next term is below 1e-9 relative), 1 - erfc
    // above it with Numerical Recipes' erfcc (Chebyshev fit, |relative error of erfc| < 1.2e-7, and
    // erfc(1/2) < 0.48); measured on lavapipe within 2.4e-7 absolute, 4e-7 relative (f32 exp included).
    // The gelu helper erf_ keeps Abramowitz & Stegun 7.1.26 (1.5e-7 absolute).
    [`ampc_erfacc_${t}`]:
      `fn ampc_erfacc_${t}(x: ${t}) -> ${t} { let a = abs(x);\n` +
      `  if (a < ${half}) { let z = x * x;\n` +
      `    return ${literal(2 / Math.sqrt(Math.PI), t)} * x * (${one} + z * (${literal(-1 / 3, t)} + z * (${literal(1 / 10, t)} + z * (${literal(-1 / 42, t)} + z * (${literal(1 / 216, t)} + z * (${literal(-1 / 1320, t)} + z * ${literal(1 / 9360, t)})))))); }\n` +
      `  let k = ${one} / (${one} + ${half} * a);\n` +
      `  let p = ${literal(-1.26551223, t)} + k * (${literal(1.00002368, t)} + k * (${literal(0.37409196, t)} + k * (${literal(0.09678418, t)} + k * (${literal(-0.18628806, t)} + k * (${literal(0.27886807, t)} + k * (${literal(-1.13520398, t)} + k * (${literal(1.48851587, t)} + k * (${literal(-0.82215223, t)} + k * ${literal(0.17087277, t)}))))))));\n` +
      `  let r = ${one} - k * exp(p - a * a); return select(r, -r, x < ${zero}); }`,
    // C fmod: a - trunc(a / b) b with the product fused, then corrected by one |b| where the quotient
    // rounded across an integer; |a| < |b| (an infinite b included) gives a, b = 0 or an infinite a NaN.
    // f16 computes in f32 (the remainder is exact in f16, but f16's product is not: 1000 mod 0.75).
    [`ampc_fmod_${t}`]: t === 'f16'
      ? `${fmodFn('ampc_fmod_wide_f16', 'f32')}\nfn ampc_fmod_f16(a: f16, b: f16) -> f16 { return f16(ampc_fmod_wide_f16(f32(a), f32(b))); }`
      : fmodFn(`ampc_fmod_${t}`, t),
    // acosh: log(x + √((x-1)(x+1))) (lavapipe's x² - 1 cancels near 1), log(x) + ln 2 beyond 4096; NaN below 1.
    [`ampc_acosh_${t}`]:
      `fn ampc_acosh_${t}(x: ${t}) -> ${t} { if (x > ${literal(4096, t)}) { return log(x) + ${literal(Math.LN2, t)}; }\n` +
      `  return log(x + sqrt((x - ${one}) * (x + ${one}))); }`,
    // atanh: the Taylor series below 1/8 (next term below 7e-9 relative; the built-in's log((1+x)/(1-x)) loses
    // 3e-3 relative near 0 on lavapipe), ½ log((1+x)/(1-x)) above it (1 - x is exact near 1).
    [`ampc_atanh_${t}`]:
      `fn ampc_atanh_${t}(x: ${t}) -> ${t} { if (abs(x) < ${literal(0.125, t)}) { let z = x * x;\n` +
      `    return x * (${one} + z * (${literal(1 / 3, t)} + z * (${literal(1 / 5, t)} + z * ${literal(1 / 7, t)}))); }\n` +
      `  return ${half} * log((${one} + x) / (${one} - x)); }`,
    // atan as Cephes' atanf (lavapipe's atan is off by 2e-5 relative near 0): reduced to |x| <= tan(π/8)
    // by π/2 - atan(1/x) above tan(3π/8) and π/4 + atan((x-1)/(x+1)) above tan(π/8), then an odd
    // polynomial (about 2e-7 relative); ±inf gives ±π/2.
    [`ampc_atan_${t}`]:
      `fn ampc_atan_${t}(v: ${t}) -> ${t} { var x = abs(v); var y0 = ${zero};\n` +
      `  if (x > ${literal(2.414213562373095, t)}) { y0 = ${literal(Math.PI / 2, t)}; x = ${literal(-1, t)} / x; }\n` +
      `  else if (x > ${literal(0.4142135623730950, t)}) { y0 = ${literal(Math.PI / 4, t)}; x = (x - ${one}) / (x + ${one}); }\n` +
      `  let z = x * x;\n` +
      `  let y = y0 + (((${literal(8.05374449538e-2, t)} * z - ${literal(1.38776856032e-1, t)}) * z + ${literal(1.99777106478e-1, t)}) * z - ${literal(3.33329491539e-1, t)}) * z * x + x;\n` +
      `  return select(y, -y, v < ${zero}); }`,
    // asin and acos from atan (lavapipe's asin / acos are off by 3e-4): asin x = atan(x / √((1-x)(1+x))),
    // acos x = 2 atan(√((1-x) / (1+x))); (1 - x)(1 + x) keeps 1 - x² exact near ±1; ±1 go through atan(±inf).
    [`ampc_asin_${t}`]: `fn ampc_asin_${t}(x: ${t}) -> ${t} { return ampc_atan_${t}(x / sqrt((${one} - x) * (${one} + x))); }`,
    [`ampc_acos_${t}`]: `fn ampc_acos_${t}(x: ${t}) -> ${t} { return ${two} * ampc_atan_${t}(sqrt((${one} - x) / (${one} + x))); }`,
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
