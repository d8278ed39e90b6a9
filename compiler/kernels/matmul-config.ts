// Tile configurations of the matmul kernel and the choice among them per
// adapter kind ('cpu': lavapipe / llvmpipe / SwiftShader; 'gpu': the rest)
// and shape class. The winners were measured with `npx tsx bench/matmul.ts
// --sweep` (figures beside the table); the adapter kind comes with the
// EmitContext (compileForDevice derives it with adapterKindOf).

import type { AdapterKind } from './context.ts';

export type MatmulTarget = AdapterKind;

export interface MatmulConfig {
  readonly name: string;
  /** Invocations of a workgroup along N (x) and along M (y). */
  readonly wgX: number;
  readonly wgY: number;
  /** Outputs each invocation accumulates in registers, along M and along N. */
  readonly tm: number;
  readonly tn: number;
  /**
   * Which outputs an invocation owns: 'blocked' = a contiguous tm x tn block;
   * 'strided' = rows ty + i*wgY and columns tx + j*wgX, so neighbouring
   * invocations touch neighbouring addresses (coalesced on GPUs).
   */
  readonly layout: 'blocked' | 'strided';
  /** Depth of the A / B tiles staged in workgroup memory; 0 = every invocation loads from storage directly. */
  readonly bk: number;
  /** Steps of the k loop unrolled in the direct variant (the remainder K % unroll is emitted straight-line). */
  readonly unroll: number;
}

/** Rows and columns of C one workgroup covers. */
export function tileOf(c: MatmulConfig): { bm: number; bn: number } {
  return { bm: c.wgY * c.tm, bn: c.wgX * c.tn };
}

const cfg = (name: string, wgX: number, wgY: number, tm: number, tn: number, layout: MatmulConfig['layout'], bk: number, unroll = 1): MatmulConfig =>
  ({ name, wgX, wgY, tm, tn, layout, bk, unroll });

/** Every configuration the generator knows; the bench sweeps them all. */
export const MATMUL_CONFIGS = {
  /** 4x4 per invocation, 8x8 invocations: a 32x32 tile, direct loads (the jax-js shape of kernel). */
  r4x4: cfg('r4x4', 8, 8, 4, 4, 'blocked', 0, 1),
  /** 16x8 per invocation, 8 wide x 4 tall: 64x64 tile, direct loads. */
  r16x8: cfg('r16x8', 8, 4, 16, 8, 'blocked', 0, 1),
  /** 16x16 per invocation, 4x4 invocations: 64x64 tile, direct loads. */
  r16x16: cfg('r16x16', 4, 4, 16, 16, 'blocked', 0, 1),
  /** 16x8 per invocation, 2 wide x 16 tall: 256x16 tile for narrow outputs (N <= 16). */
  n16x8: cfg('n16x8', 2, 16, 16, 8, 'blocked', 0, 1),
  /** 4x4 per invocation, strided ownership, 16x16 invocations: 64x64 tile, direct loads (coalesced on GPUs). */
  s4x4: cfg('s4x4', 16, 16, 4, 4, 'strided', 0, 4),
  /** Workgroup memory: 64x64 tile, 16 deep, 4x4 per invocation (strided). */
  w4x4: cfg('w4x4', 16, 16, 4, 4, 'strided', 16),
  /** Workgroup memory: 128x128 tile, 8 deep, 8x8 per invocation (strided): the real-GPU default for large shapes. */
  w8x8: cfg('w8x8', 16, 16, 8, 8, 'strided', 8),
} as const satisfies Record<string, MatmulConfig>;

export type MatmulConfigName = keyof typeof MATMUL_CONFIGS;

export type ShapeClass = 'small' | 'narrow' | 'batched' | 'medium' | 'large';

export interface MatmulShape {
  /** Product of the batch dimensions (1 when unbatched). */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/**
 * small: m*n*k < 64^3 per matrix (and one matrix); narrow: the output is at
 * most 16 wide or tall (tall-skinny, skinny-wide); batched: several matrices
 * of which each is below 256^3; medium: below 512^3; large: the rest.
 */
export function shapeClassOf(s: MatmulShape): ShapeClass {
  const work = s.m * s.n * s.k;
  if (Math.min(s.m, s.n) <= 16) return 'narrow';
  if (s.batch > 1 && work < 256 ** 3) return 'batched';
  if (work < 64 ** 3) return 'small';
  if (work < 512 ** 3) return 'medium';
  return 'large';
}

// Why these shapes on lavapipe: llvmpipe runs 8 invocations as the 8 lanes of
// AVX2 vectors, but every storage and workgroup-memory load is done lane by
// lane (mask test, bounds check, scalar load, insert: ~12 instructions a
// lane), so a kernel is bound by loads, not arithmetic. An invocation that
// owns a TM x TN block loads TM + TN values per step of k for TM * TN FMAs:
// 16x16 does 8 FMAs per load where 4x4 does 2. Larger blocks (32x16, 24x16,
// 16x32) spill too much and lose; workgroup memory adds barriers (llvmpipe
// runs them as coroutines) and loads the same lane by lane, so it loses
// too. A k loop unrolled or products summed before the accumulation lost as
// well (more live values, more spills).
//
// Measured: `npx tsx bench/matmul.ts --sweep` on lavapipe (Mesa 25.0.7,
// LLVM 15, 256-bit lanes), 2-core AMD EPYC shared with other jobs (load
// average 1.5-3). GFLOP/s, best of 3 batches, f32 / f16 storage with acc = f32:
//
//   class    shape            r4x4      r16x8      r16x16     n16x8      s4x4     w4x4     w8x8
//   small    48^3             1.8/2.1   3.0/2.8    3.1/3.3    1.9/2.2    1.6/1.3  1.2/1.0  1.0/1.6
//   narrow   4096x8x16        1.5/1.4   2.1/2.9    4.8/3.6    4.6/4.1    1.6/1.8  0.6/0.6  1.6/1.3
//   narrow   256x256x10       3.8/3.6   4.5/4.6    5.9/5.8    6.5/9.2    2.5/2.4  0.7/0.6  0.7/0.7
//   batched  32 x 64^3        6.1/6.2  12.3/11.4  11.7/13.6   7.7/7.0    5.1/6.2  2.6/2.5  2.6/2.5
//   medium   256^3            6.5/6.8  14.2/13.0  14.2/16.8  13.3/13.0   7.3/5.0  2.3/2.6  6.3/5.5
//   medium   256x784x256      7.0/6.7  14.9/14.3  19.2/18.8  14.5/14.3   6.0/6.4  2.8/2.9  5.8/5.5
//   large    1024^3           6.8/6.7  13.2/17.1  16.6/19.5  12.6/16.2   7.0/8.8  2.0/3.0  3.2/6.9
//   large    256x784x1024     7.7/7.0  12.2/12.8  13.7/14.0   8.7/13.2   6.4/7.3  2.9/2.9  5.5/5.8
//
// (jax-js 0.1.25's matmul kernel — 4x4 blocks, k unrolled by 4, as r4x4 —
// ran at 2-4 GFLOP/s in the same harness.)
//
// 'gpu' has not been measured (no GPU on these machines): it takes the usual
// choices for real GPUs — 256 invocations, strided ownership (coalesced
// loads and stores), workgroup-memory tiles for medium and large shapes.
export const MATMUL_TABLE: { readonly [T in MatmulTarget]: { readonly [C in ShapeClass]: MatmulConfigName } } = {
  cpu: { small: 'r16x16', narrow: 'n16x8', batched: 'r16x16', medium: 'r16x16', large: 'r16x16' },
  gpu: { small: 's4x4', narrow: 's4x4', batched: 's4x4', medium: 'w4x4', large: 'w8x8' },
};

let override: MatmulConfig | undefined;

/** Adapters that run shaders on the CPU. */
const CPU_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|warp|software/i;

/** The target for an adapter, from what it says about itself (vendor, device, description...). */
export function adapterKindOf(info: { readonly vendor?: string; readonly architecture?: string; readonly device?: string; readonly description?: string; readonly isFallbackAdapter?: boolean } | string): MatmulTarget {
  if (typeof info === 'string') return CPU_ADAPTER.test(info) ? 'cpu' : 'gpu';
  if (info.isFallbackAdapter) return 'cpu';
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  return CPU_ADAPTER.test(text) ? 'cpu' : 'gpu';
}


/** Forces one configuration for every matmul (the bench's sweep and the tests); undefined restores the table. */
export function setMatmulConfigOverride(c: MatmulConfig | MatmulConfigName | undefined): void {
  override = typeof c === 'string' ? MATMUL_CONFIGS[c] : c;
}

/**
 * `c` with its register block shrunk where the matrix is smaller than the
 * tile (M = 8 with 4 x 16 rows per workgroup: 2 rows per invocation), so
 * small and narrow shapes do not compute rows and columns they throw away.
 */
export function fitConfig(c: MatmulConfig, s: MatmulShape): MatmulConfig {
  const tm = Math.min(c.tm, Math.max(1, Math.ceil(s.m / c.wgY)));
  const tn = Math.min(c.tn, Math.max(1, Math.ceil(s.n / c.wgX)));
  return tm === c.tm && tn === c.tn ? c : { ...c, name: `${c.name}/${tm}x${tn}`, tm, tn };
}

/** The configuration a matmul of this shape gets on the current target (or the override), fitted to the shape. */
export function chooseMatmulConfig(s: MatmulShape, kind: MatmulTarget): MatmulConfig {
  return fitConfig(override ?? MATMUL_CONFIGS[MATMUL_TABLE[kind][shapeClassOf(s)]], s);
}
