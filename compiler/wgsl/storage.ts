// How each dtype is stored and computed in WGSL, and the load / store hooks
// every emitter goes through. Emitters never write `buf[i]` themselves: the
// hooks handle f16 (native `array<f16>` or halves packed two per u32), bool
// (stored as u32), and later fused prologues (cast on load) and epilogues.

import { f16round } from '@petamoriken/float16';
import type { DType } from '../../ir/dtype.ts';
import type { F16Mode } from '../../runtime/plan.ts';

export interface Binding {
  /** WGSL identifier of the buffer. */
  readonly name: string;
  readonly dtype: DType;
  readonly access: 'read' | 'write';
  /**
   * Declared as an array of 16-byte vectors (vec4<f32> for f32, vec4<u32> of
   * packed halves for f16) for kernels that load several neighbouring
   * elements at once (the matmul's vector loads); read-only.
   */
  readonly vector?: boolean;
}

/** Element type of the storage array. */
export function storageElem(dtype: DType, mode: F16Mode): string {
  switch (dtype) {
    case 'f32': return 'f32';
    case 'f16': return mode === 'packed' ? 'u32' : 'f16';
    case 'i32': return 'i32';
    case 'u32': return 'u32';
    case 'bool': return 'u32';
  }
}

/**
 * Scalar type the kernel computes in for values of `dtype`: f16 values in
 * f16 only in the native mode; in the storage and packed modes they are f32
 * in registers (rounded to f16 after every op, so results are f16's).
 */
export function computeType(dtype: DType, mode: F16Mode): string {
  switch (dtype) {
    case 'f32': return 'f32';
    case 'f16': return mode === 'native' ? 'f16' : 'f32';
    case 'i32': return 'i32';
    case 'u32': return 'u32';
    case 'bool': return 'bool';
  }
}

/**
 * The WGSL function rounding an f32 register to the nearest f16 value, in
 * the modes that compute f16 values in f32 registers (storage and packed):
 * integer arithmetic on the f32 bits, the same in both modes.
 */
export function roundF16Fn(_mode: F16Mode): string {
  return 'ampc_round_f16';
}

/** True when f16 values are computed in f32 registers (storage and packed modes): each result is rounded to f16. */
export function emulatesF16Math(mode: F16Mode): boolean {
  return mode !== 'native';
}

/**
 * Scalar type for an accumulator of dtype `acc` (f32 or f16). In packed mode
 * an f16 accumulator is f32 whose running sum must be rounded to f16 after
 * every addition (`roundsAccToF16`, `ampc_round_f16`) to keep f16 numerics.
 */
export function accType(acc: DType, mode: F16Mode): string {
  return computeType(acc, mode);
}

/** True when an `acc` accumulator is emulated: f32 arithmetic, rounded to f16 at every step. */
export function roundsAccToF16(acc: DType, mode: F16Mode): boolean {
  return acc === 'f16' && emulatesF16Math(mode);
}

const isPackedWrite = (b: Binding, mode: F16Mode) => b.dtype === 'f16' && mode === 'packed' && b.access === 'write';

/** The element type of a vector binding: 4 f32, or 8 f16 packed two per u32. */
export function vectorElem(dtype: DType): { readonly elem: string; readonly width: number } | undefined {
  if (dtype === 'f32') return { elem: 'vec4<f32>', width: 4 };
  if (dtype === 'f16') return { elem: 'vec4<u32>', width: 8 };
  return undefined;
}

export function declareBinding(b: Binding, index: number, mode: F16Mode): string {
  const vector = b.vector ? vectorElem(b.dtype)?.elem : undefined;
  const elem = vector ?? (isPackedWrite(b, mode) ? 'atomic<u32>' : storageElem(b.dtype, mode));
  const access = b.access === 'read' ? 'read' : 'read_write';
  return `@group(0) @binding(${index}) var<storage, ${access}> ${b.name}: array<${elem}>;`;
}

export function declareBindings(bs: readonly Binding[], mode: F16Mode): string {
  return bs.map((b, i) => declareBinding(b, i, mode)).join('\n');
}

/** True when a kernel over these bindings needs `enable f16;`. */
export function needsF16(bs: readonly Binding[], mode: F16Mode, extra = false): boolean {
  return mode !== 'packed' && (extra || bs.some((b) => b.dtype === 'f16'));
}

/** Expression loading element `idx` (a u32 expression) as the compute type. */
export function load(b: Binding, idx: string, mode: F16Mode): string {
  if (b.dtype === 'bool') return `(${b.name}[${idx}] != 0u)`;
  if (b.dtype === 'f16' && mode === 'packed') return `unpack2x16float(${b.name}[(${idx}) >> 1u])[(${idx}) & 1u]`;
  if (b.dtype === 'f16' && mode === 'storage') return `f32(${b.name}[${idx}])`;
  return `${b.name}[${idx}]`;
}

/**
 * Statement storing `value` at element `idx`. `value` is of the compute type,
 * or of `valueType` when given (e.g. an f32 accumulator stored as f16). Packed
 * halves are written with two atomics (clear my half, then set it), so two
 * threads writing the two halves of one word never race.
 */
export function store(b: Binding, idx: string, value: string, mode: F16Mode, valueType?: string): string {
  // An f32 value stored as native f16 converts with IEEE overflow to inf.
  if (b.dtype === 'f16' && ((mode === 'native' && valueType === 'f32') || mode === 'storage')) value = toF16(value);
  if (b.dtype === 'bool') return `${b.name}[${idx}] = select(0u, 1u, ${value});`;
  if (b.dtype === 'f16' && mode === 'packed') {
    return `{ let i_ = ${idx}; let h_ = ampc_f16_bits(f32(${value})); let s_ = (i_ & 1u) * 16u;\n` +
      `    atomicAnd(&${b.name}[i_ >> 1u], ~(0xFFFFu << s_)); atomicOr(&${b.name}[i_ >> 1u], h_ << s_); }`;
  }
  return `${b.name}[${idx}] = ${value};`;
}

/** A WGSL literal of a scalar type (`1.0` in f16 is `f16(1.0)`). */
export function literal(value: number, type: string): string {
  if (type === 'bool') return value !== 0 ? 'true' : 'false';
  if (type === 'i32' || type === 'u32') return `${type}(${Math.trunc(value)})`;
  // Round first: a literal outside the type's range is a shader-creation error.
  value = type === 'f16' ? f16round(value) : Math.fround(value);
  // Non-finite values are not constant expressions in WGSL (const-evaluation
  // rejects them): they come from runtime bit patterns, see SUPPORT below.
  if (Number.isNaN(value)) return `ampc_nan_${type}()`;
  if (value === Infinity) return `ampc_posinf_${type}()`;
  if (value === -Infinity) return `ampc_neginf_${type}()`;
  // Large integers print in exponent form (1.5e+30), which is a float literal already.
  const s = String(value);
  return `${type}(${Number.isInteger(value) && !/e/.test(s) ? `${s}.0` : s})`;
}

/** Module-scope functions `literal` may call, by name. */
const SUPPORT: Readonly<Record<string, string>> = {
  ampc_nan_f32: 'fn ampc_nan_f32() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }',
  ampc_posinf_f32: 'fn ampc_posinf_f32() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }',
  ampc_neginf_f32: 'fn ampc_neginf_f32() -> f32 { var b = 0xff800000u; return bitcast<f32>(b); }',
  // f32 -> f16 with IEEE overflow to inf (WGSL leaves out-of-range conversions indeterminate).
  ampc_to_f16: 'fn ampc_to_f16(x: f32) -> f16 { if (abs(x) >= 65520.0) { return select(ampc_posinf_f16(), ampc_neginf_f16(), x < 0.0); } return f16(x); }',
  ampc_f16_bits:
    'fn ampc_f16_bits(x: f32) -> u32 { if (ampc_isnan_f32(x)) { return 0x7e00u; } if (abs(x) >= 65520.0) { return select(0x7c00u, 0xfc00u, x < 0.0); }\n' +
    '  return pack2x16float(vec2f(x, 0.0)) & 0xFFFFu; }',
  // NaN is tested on the bits: lavapipe (LLVM with no-NaN assumptions) folds `a != a` to false.
  ampc_isnan_f32: 'fn ampc_isnan_f32(a: f32) -> bool { return (bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u; }',
  ampc_isnan_f16: 'fn ampc_isnan_f16(a: f16) -> bool { return (bitcast<u32>(vec2<f16>(a, a)) & 0x7fffu) > 0x7c00u; }',
  ampc_isinf_f32: 'fn ampc_isinf_f32(a: f32) -> bool { return (bitcast<u32>(a) & 0x7fffffffu) == 0x7f800000u; }',
  ampc_isinf_f16: 'fn ampc_isinf_f16(a: f16) -> bool { return (bitcast<u32>(vec2<f16>(a, a)) & 0x7fffu) == 0x7c00u; }',
  // NaN-propagating max / min (numpy's maximum / minimum); WGSL's max(NaN, x) is unspecified.
  ampc_nanmax_f32: 'fn ampc_nanmax_f32(a: f32, b: f32) -> f32 { return select(select(max(a, b), b, ampc_isnan_f32(b)), a, ampc_isnan_f32(a)); }',
  ampc_nanmax_f16: 'fn ampc_nanmax_f16(a: f16, b: f16) -> f16 { return select(select(max(a, b), b, ampc_isnan_f16(b)), a, ampc_isnan_f16(a)); }',
  ampc_nanmin_f32: 'fn ampc_nanmin_f32(a: f32, b: f32) -> f32 { return select(select(min(a, b), b, ampc_isnan_f32(b)), a, ampc_isnan_f32(a)); }',
  ampc_nanmin_f16: 'fn ampc_nanmin_f16(a: f16, b: f16) -> f16 { return select(select(min(a, b), b, ampc_isnan_f16(b)), a, ampc_isnan_f16(a)); }',
  // f32 rounded to the nearest f16 value (f16 values computed in f32 registers:
  // the storage and packed modes, f16 accumulators there), on the bits with
  // integer arithmetic: round to nearest even at the f16 mantissa's last bit
  // for normal f16 values, to a multiple of 2^-24 (round() is half-to-even) in
  // the subnormal range |x| < 2^-14, to inf from 65520 up, NaN kept; the same
  // values as f32(f16(x)) with overflow to inf, without converting: lavapipe
  // converts f32 <-> f16 one element at a time, 7x slower than this
  // (bench/README.md, "f16 rounding"; test/f16-round.test.ts checks the values).
  ampc_round_f16:
    'fn ampc_round_f16(x: f32) -> f32 { let b = bitcast<u32>(x); let a = b & 0x7fffffffu;\n' +
    '  let normal = bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);\n' +
    '  let sub = round(x * 16777216.0) * 5.9604644775390625e-8;\n' +
    '  let inf = bitcast<f32>((b & 0x80000000u) | 0x7f800000u);\n' +
    '  return select(select(select(normal, sub, a < 0x38800000u), inf, a >= 0x477ff000u), x, a > 0x7f800000u); }',
  ampc_nan_f16: 'fn ampc_nan_f16() -> f16 { var b = 0x7e00u; return bitcast<vec2<f16>>(b).x; }',
  ampc_posinf_f16: 'fn ampc_posinf_f16() -> f16 { var b = 0x7c00u; return bitcast<vec2<f16>>(b).x; }',
  ampc_neginf_f16: 'fn ampc_neginf_f16() -> f16 { var b = 0xfc00u; return bitcast<vec2<f16>>(b).x; }',
};

/** The kernel's code with the support functions it calls appended (lowering does this for every kernel). */
export function withSupport(code: string): string {
  const used = new Set<string>();
  const visit = (text: string) => {
    for (const name of Object.keys(SUPPORT)) {
      if (!used.has(name) && text.includes(name + '(') && !code.includes(`fn ${name}(`)) {
        used.add(name);
        visit(SUPPORT[name]!);
      }
    }
  };
  visit(code);
  const defs = Object.keys(SUPPORT).filter((n) => used.has(n)).map((n) => SUPPORT[n]);
  return defs.length ? `${code}\n${defs.join('\n')}\n` : code;
}

/**
 * The kernel with a phony use (`_ = &buf;`) of every declared binding at the
 * top of its entry point. The runtime's pipelines take their bind group
 * layout from the shader (`layout: 'auto'`), which leaves out bindings the
 * code never touches; a kernel that skips a zero-size operand (a matmul
 * whose inner dimension is 0 reads neither A nor B) would then fail to bind.
 * With the phony uses every binding is in the layout. Lowering applies it to
 * kernels that bind a zero-size buffer, leaving every other kernel's code as
 * it was.
 */
export function keepBindings(code: string): string {
  const names = [...code.matchAll(/@group\(0\) @binding\(\d+\) var<storage, [a-z_]+> (\w+):/g)].map((m) => m[1]!);
  if (names.length === 0) return code;
  const entry = /@compute[^\n]*\n\s*fn main\([^\n]*\{/.exec(code);
  if (!entry) return code;
  const at = entry.index + entry[0].length;
  return `${code.slice(0, at)}\n  ${names.map((n) => `_ = &${n};`).join(' ')}${code.slice(at)}`;
}

/** WGSL converting an f32 compute value to f16 (overflow gives inf, as IEEE and the reference do). */
export function toF16(x: string): string {
  return `ampc_to_f16(${x})`;
}
