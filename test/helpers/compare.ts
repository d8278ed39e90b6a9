// Comparing GPU results with the reference interpreter. The tolerances of
// every numeric GPU test are stated here, once, per storage dtype:
//
// - f32: WGSL's exp/log/tanh are accurate to a few ulp and matmuls and
//   reductions add in a different order than the f64 reference, so a
//   relative 2e-5 plus an absolute 1e-5 (sums of order 1 over K terms).
// - f16: f16 arithmetic rounds at every step (eps 2^-10 ~ 9.8e-4), and a
//   kernel may take several roundings where the f64 reference takes one, so
//   a relative 1e-2 plus an absolute 2e-3. Accumulations pass `scale`, the
//   magnitude of the summed terms (e.g. sum |a||b| over K), which the
//   absolute part is multiplied by.

import type { ExecutionContext } from 'ava';
import type { DType } from '../../ir/dtype.ts';
import type { Graph } from '../../ir/graph.ts';
import { interpret } from '../../ir/interp/interpret.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { compileForDevice, runGraphOnGpu } from '../../compiler/execute.ts';
import type { GpuContext } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

export const TOLERANCES: { readonly [D in DType]: Tolerance } = {
  f32: { rtol: 2e-5, atol: 1e-5 },
  f16: { rtol: 1e-2, atol: 2e-3 },
  i32: { rtol: 0, atol: 0 },
  u32: { rtol: 0, atol: 0 },
  bool: { rtol: 0, atol: 0 },
};

/**
 * The ways an op runs: f32 tensors; f16 with shader-f16 (f16 arithmetic);
 * f16 storage with f32 arithmetic (shader-f16, the storage mode); f16 packed
 * in u32 (f32 arithmetic, no shader-f16).
 */
export type Mode = 'f32' | 'f16' | 'f16-storage' | 'f16-packed';
export const MODES: readonly Mode[] = ['f32', 'f16', 'f16-storage', 'f16-packed'];

/** The mode declares array<f16>: the device needs shader-f16. */
export function needsShaderF16(mode: Mode): boolean {
  return mode === 'f16' || mode === 'f16-storage';
}

export function dtypeOf(mode: Mode): 'f32' | 'f16' {
  return mode === 'f32' ? 'f32' : 'f16';
}

export function f16ModeOf(mode: Mode): F16Mode {
  return mode === 'f16-packed' ? 'packed' : mode === 'f16-storage' ? 'storage' : 'native';
}

export interface Mismatch {
  index: number;
  actual: number;
  expected: number;
}

/** Elements where |actual - expected| > atol * scale + rtol * |expected| (NaN and inf must match exactly). */
export function mismatches(actual: HostTensor, expected: HostTensor, tol: Tolerance, scale = 1): Mismatch[] {
  const out: Mismatch[] = [];
  for (let i = 0; i < expected.data.length; i++) {
    const a = Number(actual.data[i]), e = Number(expected.data[i]);
    const ok = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= tol.atol * scale + tol.rtol * Math.abs(e);
    if (!ok) out.push({ index: i, actual: a, expected: e });
  }
  return out;
}

export interface CheckOptions {
  /** Multiplies the absolute tolerance (magnitude of accumulated terms). */
  readonly scale?: number;
  readonly tolerance?: Tolerance;
}

/** Runs `g` on the GPU and on the reference; asserts every output agrees within the dtype's tolerance. */
export async function checkAgainstReference(
  t: ExecutionContext,
  ctx: GpuContext,
  g: Graph,
  inputs: Readonly<Record<string, HostTensor>>,
  f16Mode: F16Mode,
  opts: CheckOptions = {},
): Promise<void> {
  const expected = interpret(g, inputs);
  let actual: HostTensor[];
  try {
    actual = await runGraphOnGpu(g, inputs, ctx, { f16Mode });
  } catch (e) {
    const plan = (() => { try { return compileForDevice(g, ctx, { f16Mode }); } catch { return undefined; } })();
    t.log(plan?.kernels.map((k) => `// ${k.label}\n${k.code}`).join('\n') ?? 'lowering failed');
    throw e;
  }
  t.is(actual.length, expected.length);
  expected.forEach((e, k) => {
    const a = actual[k]!;
    t.deepEqual(a.shape, e.shape, `output ${k} shape`);
    t.is(a.dtype, e.dtype, `output ${k} dtype`);
    const tol = opts.tolerance ?? TOLERANCES[e.dtype];
    const bad = mismatches(a, e, tol, opts.scale);
    const shown = bad.slice(0, 5).map((m) => `[${m.index}] gpu ${m.actual} vs ref ${m.expected}`).join(', ');
    t.is(bad.length, 0, `output ${k} (${e.dtype}, f16 mode ${f16Mode}): ${bad.length} of ${e.data.length} elements off: ${shown}`);
  });
}

/** Deterministic pseudo-random numbers (mulberry32) in [lo, hi). */
export function seededValues(seed: number, count: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    out.push(lo + (hi - lo) * (((r ^ (r >>> 14)) >>> 0) / 4294967296));
  }
  return out;
}
