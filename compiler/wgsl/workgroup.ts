// Row kernels: the shared skeleton of every reduction-shaped kernel (reduce_*,
// softmax, layer_norm, batch_norm statistics, losses). A "row" is one
// independent reduction (one output element, one softmax slice, one channel);
// its elements are addressed by a static-stride layout, so no transposes.
//
// Two schemes run a row:
// - thread per row: one invocation loops over the row (tiny rows; the order of
//   the additions is then row-major, exactly the reference's);
// - workgroup per row: each invocation strides over the row, then a tree
//   reduction in `var<workgroup>` memory combines the partials; every
//   invocation sees the result. The row index comes from the workgroup id
//   only, so the early `return` and the barriers stay in uniform control flow.
// Both spread their workgroups with gridFor (65535 per dimension).

import { stridesOf } from '../../ir/types.ts';
import type { Shape } from '../../ir/types.ts';
import type { AdapterKind, BoundBuffer, EmitContext, KernelLaunch } from '../kernels/context.ts';
import { ENTRY_PARAMS, gridFor } from './grid.ts';
import { declareBindings, literal, toF16 } from './storage.ts';

// ---------------------------------------------------------------- layouts

/** One (merged) axis of a layout: how many positions, and the input stride between them. */
export interface Dim {
  readonly size: number;
  readonly stride: number;
}

/** How an input splits into rows (kept axes) and positions within a row (reduced axes). */
export interface RowLayout {
  readonly kept: readonly Dim[];
  readonly reduced: readonly Dim[];
  /** Number of rows (product of the kept sizes). */
  readonly rows: number;
  /** Elements per row (product of the reduced sizes). */
  readonly extent: number;
}

/**
 * Layout of `shape` reduced over the (normalized) `axes`. Size-1 axes are
 * dropped and neighbouring axes of the same kind merged, so a reduction over
 * trailing axes is one contiguous dimension. Row o enumerates the kept axes
 * row-major (the output's flat order, with or without keepdims); position r
 * enumerates the reduced axes row-major (the reference's order).
 */
export function rowLayout(shape: Shape, axes: readonly number[]): RowLayout {
  const strides = stridesOf(shape);
  const kept: Dim[] = [], reduced: Dim[] = [];
  let last: 'kept' | 'reduced' | undefined;
  shape.forEach((size, k) => {
    if (size === 1) return;
    const kind = axes.includes(k) ? 'reduced' : 'kept';
    const list = kind === 'kept' ? kept : reduced;
    if (last === kind) {
      const prev = list.pop()!;
      list.push({ size: prev.size * size, stride: strides[k]! });
    } else {
      list.push({ size, stride: strides[k]! });
    }
    last = kind;
  });
  const prod = (ds: Dim[]) => ds.reduce((a, d) => a * d.size, 1);
  return { kept, reduced, rows: prod(kept), extent: prod(reduced) };
}

/** u32 WGSL expression of the input offset of position `flat` (a u32 expression) over `dims`. */
export function offsetExpr(dims: readonly Dim[], flat: string): string {
  let inner = 1;
  const terms: string[] = [];
  for (let k = dims.length - 1; k >= 0; k--) {
    const d = dims[k]!;
    let c = inner === 1 ? `(${flat})` : `((${flat}) / ${inner}u)`;
    if (k > 0) c = `(${c} % ${d.size}u)`;
    terms.push(d.stride === 1 ? c : `${c} * ${d.stride}u`);
    inner *= d.size;
  }
  return terms.length ? terms.reverse().join(' + ') : '0u';
}

// ---------------------------------------------------------------- combining

/** `sum_f16`: an f16 accumulator emulated in f32 (packed mode): the sum is rounded to f16 after every addition. */
export type CombineOp = 'sum' | 'sum_f16' | 'max' | 'prod';

const isFloatType = (t: string) => t === 'f32' || t === 'f16';

/** The value a reduction starts from: 0, 1 (products), or the lowest value (-inf for floats). */
export function identityOf(op: CombineOp, type: string): string {
  if (op === 'sum' || op === 'sum_f16') return literal(0, type);
  if (op === 'prod') return literal(1, type);
  if (isFloatType(type)) return literal(-Infinity, type);
  return type === 'i32' ? 'i32(-2147483647 - 1)' : '0u';
}

/** Combines two values; a float max propagates NaN (as the reference and numpy do). */
export function combineExpr(op: CombineOp, type: string, a: string, b: string): string {
  if (op === 'sum') return `(${a} + ${b})`;
  if (op === 'sum_f16') return `ampc_round_f16(${a} + ${b})`;
  if (op === 'prod') return `(${a} * ${b})`;
  return isFloatType(type) ? `ampc_nanmax_${type}(${a}, ${b})` : `max(${a}, ${b})`;
}

/** An element of a row: optional statements, then a value expression. */
export type Element = string | { readonly stmts: string; readonly value: string };

function splitElement(e: Element): { stmts: string; value: string } {
  return typeof e === 'string' ? { stmts: '', value: e } : e;
}

// ---------------------------------------------------------------- schemes

/**
 * Threads per workgroup for `rows` rows of `extent` elements (1 = an invocation per row, which
 * loops over its row), per adapter kind.
 *
 * - gpu: a workgroup per row from 32 elements on (64 invocations up to 1024, else 256), the
 *   usual choice on GPUs, where barriers are cheap and a row's loads coalesce. (Unmeasured: no
 *   GPU on these machines.)
 * - cpu (lavapipe): an invocation per row unless the rows are few (< 64, one workgroup) and long
 *   (>= 8192): a workgroup barrier costs lavapipe microseconds, so a workgroup per row made
 *   reduce_sum over axis 0 of f16[32, 16384] (16384 rows of 32) take 56 ms against 2.0 ms, and a
 *   softmax over f32[4, 8, 64, 64] 7.5 ms against 0.44; only few long rows (batch_norm's
 *   per-channel statistics, 16 channels of 50176) gain from spreading a row over a workgroup
 *   (11.7 against 14.7 ms). Figures: `npm run bench:rows` (bench/README.md).
 */
export function threadsForRow(target: AdapterKind, rows: number, extent: number): number {
  if (extent < 32) return 1;
  if (target === 'cpu' && (rows >= CPU_FEW_ROWS || extent < CPU_LONG_ROW)) return 1;
  return extent <= 1024 ? 64 : 256;
}

/** cpu: below this many rows, a row may get a workgroup of its own (if long). */
const CPU_FEW_ROWS = 64;
/** cpu: from this many elements on, a row of few is long enough for a workgroup. */
const CPU_LONG_ROW = 8192;

/** Invocations per workgroup in the thread-per-row scheme. */
export const ROWS_PER_WORKGROUP = 64;

/**
 * Builds the body of a row kernel. Statements it returns run in every
 * invocation of the row, with `row` (u32) defined; `extent` arguments are
 * numbers or u32 WGSL expressions (which may use `row`).
 */
export class RowScheme {
  private readonly sharedTypes = new Set<string>();

  /** `threads` = 1: one invocation per row; otherwise a workgroup of that many (a power of two) per row. */
  constructor(readonly threads: number) {
    if (threads !== 1 && (threads & (threads - 1)) !== 0) throw new Error(`row workgroup size ${threads} is not a power of two`);
  }

  get perWorkgroup(): boolean {
    return this.threads > 1;
  }

  private ext(extent: number | string): string {
    return typeof extent === 'number' ? `${extent}u` : extent;
  }

  /**
   * Statements that reduce `element(r)` (of WGSL type `type`) over r in
   * [0, extent) and define `let name` holding the result in every invocation.
   */
  reduce(name: string, type: string, op: CombineOp, extent: number | string, element: (r: string) => Element): string {
    const { stmts, value } = splitElement(element('r'));
    const step = `${stmts} ${name}_p = ${combineExpr(op, type, `${name}_p`, value)};`.trim();
    const init = `var ${name}_p: ${type} = ${identityOf(op, type)};`;
    if (!this.perWorkgroup) {
      return `${init}\n  for (var r = 0u; r < ${this.ext(extent)}; r++) { ${step} }\n  let ${name} = ${name}_p;`;
    }
    this.sharedTypes.add(type);
    const sh = `wg_${type}`;
    return [
      init,
      `for (var r = lid; r < ${this.ext(extent)}; r += ${this.threads}u) { ${step} }`,
      `${sh}[lid] = ${name}_p;`,
      'workgroupBarrier();',
      `for (var s = ${this.threads / 2}u; s > 0u; s >>= 1u) {`,
      `    if (lid < s) { ${sh}[lid] = ${combineExpr(op, type, `${sh}[lid]`, `${sh}[lid + s]`)}; }`,
      '    workgroupBarrier();',
      '  }',
      `let ${name} = ${sh}[0];`,
      // The shared array may be reused by the next reduction.
      'workgroupBarrier();',
    ].join('\n  ');
  }

  /** Statements running `body(r)` for every r in [0, extent), spread over the row's invocations. */
  forEach(extent: number | string, body: (r: string) => string): string {
    const start = this.perWorkgroup ? 'lid' : '0u';
    const step = this.perWorkgroup ? `r += ${this.threads}u` : 'r++';
    return `for (var r = ${start}; r < ${this.ext(extent)}; ${step}) { ${body('r')} }`;
  }

  /** Statements run once per row (by invocation 0 of a row's workgroup). */
  once(stmts: string): string {
    return this.perWorkgroup ? `if (lid == 0u) { ${stmts} }` : stmts;
  }

  /** Module-scope declarations the reductions emitted so far need. */
  moduleScope(): string {
    const out: string[] = [];
    for (const t of this.sharedTypes) out.push(`var<workgroup> wg_${t}: array<${t}, ${this.threads}>;`);
    return out.join('\n');
  }
}

export interface RowKernelSpec {
  readonly label: string;
  /** Buffers in binding order (inputs and outputs). */
  readonly buffers: readonly BoundBuffer[];
  readonly rows: number;
  readonly scheme: RowScheme;
  /** Statements for one row (uses `row`); built with the scheme's methods. */
  readonly body: string;
  /** Extra module-scope WGSL (helper functions). */
  readonly helpers?: string;
}

/** A kernel running `body` once per row under `scheme`. */
export function rowKernel(ctx: EmitContext, spec: RowKernelSpec): KernelLaunch {
  const { scheme } = spec;
  const groups = scheme.perWorkgroup ? spec.rows : Math.ceil(spec.rows / ROWS_PER_WORKGROUP);
  const grid = gridFor(groups, ctx.maxWorkgroupsPerDim);
  const size = scheme.perWorkgroup ? scheme.threads : ROWS_PER_WORKGROUP;
  const rowExpr = scheme.perWorkgroup ? grid.groupIndex : `${grid.groupIndex} * ${ROWS_PER_WORKGROUP}u + lid`;
  const module = [
    declareBindings(spec.buffers.map((b) => b.binding), ctx.mode),
    spec.helpers ?? '',
    scheme.moduleScope(),
    `@compute @workgroup_size(${size})`,
    `fn main(${ENTRY_PARAMS}) {`,
    `  let row = ${rowExpr};`,
    `  if (row >= ${spec.rows}u) { return; }`,
    `  ${spec.body}`,
    '}',
    '',
  ].filter((l) => l !== '').join('\n');
  // In packed mode nothing is f16 (storage is u32, arithmetic f32).
  const usesF16 = ctx.mode !== 'packed' && /(\b|_)f16\b/.test(module);
  return {
    label: spec.label,
    code: (usesF16 ? 'enable f16;\n' : '') + module,
    usesF16,
    bindings: spec.buffers.map((b) => b.buffer),
    workgroups: grid.workgroups,
  };
}

/** `x` converted from WGSL scalar type `from` to `to` (no-op when equal; f32 -> f16 overflows to inf). */
export function convertType(x: string, from: string, to: string): string {
  if (from === to) return x;
  return from === 'f32' && to === 'f16' ? toF16(x) : `${to}(${x})`;
}
