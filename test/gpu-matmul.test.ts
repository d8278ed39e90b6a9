// The matmul kernel against the reference interpreter, in all three modes
// (f32, f16 with shader-f16, f16 packed in u32): odd and tiny sizes, K not a
// multiple of 4, tall-skinny, transposes, batched with broadcast batch
// dimensions, acc = f16, every tile configuration, grids split over the
// per-dimension limit, and an epilogue hook (bias + relu on store).

import type { ExecutionContext } from 'ava';
import test from 'ava';
import { compileForDevice } from '../compiler/execute.ts';
import type { EmitContext } from '../compiler/kernels/context.ts';
import { matmulKernel } from '../compiler/kernels/matmul.ts';
import type { MatmulConfigName } from '../compiler/kernels/matmul-config.ts';
import {
  chooseMatmulConfig, fitConfig, MATMUL_CONFIGS, MATMUL_TABLE, adapterKindOf, setMatmulConfigOverride, shapeClassOf,
} from '../compiler/kernels/matmul-config.ts';
import { lowerGraph } from '../compiler/lower.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { numel } from '../ir/types.ts';
import type { GpuContext } from '../runtime/device.ts';
import { decodeTensor, encodeTensor } from '../runtime/host-data.ts';
import type { Plan } from '../runtime/plan.ts';
import { storageBytes } from '../runtime/plan.ts';
import { Session } from '../runtime/session.ts';
import { literal, load, store, withSupport } from '../compiler/wgsl/storage.ts';
import type { Mode } from './helpers/compare.ts';
import { checkAgainstReference, dtypeOf, f16ModeOf, mismatches, MODES, seededValues, TOLERANCES, needsShaderF16 } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

interface Case {
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly ta?: boolean;
  readonly tb?: boolean;
}

function matmulGraph(c: Case, dtype: DType, acc: DType): Graph {
  const g = new Graph('mm');
  const a = g.addInput('a', { dtype, shape: c.a });
  const b = g.addInput('b', { dtype, shape: c.b });
  g.setOutputs([g.add('matmul', [a, b], { transpose_a: c.ta ?? false, transpose_b: c.tb ?? false, acc })]);
  return g;
}

const innerOf = (c: Case) => (c.ta ? c.a.at(-2)! : c.a.at(-1)!);

function inputsFor(c: Case, dtype: DType, seed: number): Record<string, HostTensor> {
  return {
    a: hostTensor(dtype, c.a, seededValues(seed, numel(c.a))),
    b: hostTensor(dtype, c.b, seededValues(seed + 1, numel(c.b))),
  };
}

/** Runs one case in one mode; `scale` is the magnitude of the accumulated terms (values in [-1, 1): about K/4). */
async function check(t: ExecutionContext, ctx: GpuContext, c: Case, mode: Mode, acc: DType = 'f32', seed = 1): Promise<void> {
  const dtype = dtypeOf(mode);
  const g = matmulGraph(c, dtype, acc);
  await checkAgainstReference(t, ctx, g, inputsFor(c, dtype, seed), f16ModeOf(mode), { scale: Math.max(1, innerOf(c) / 4) });
}

/** Runs `fn` (which must lower synchronously before its first await, as checkAgainstReference does) with one configuration forced. */
function withConfig<T>(name: MatmulConfigName, fn: () => Promise<T>): Promise<T> {
  setMatmulConfigOverride(name);
  try {
    return fn();
  } finally {
    setMatmulConfigOverride(undefined);
  }
}

const SHAPES: readonly Case[] = [
  { a: [1, 1], b: [1, 1] },
  { a: [3, 7], b: [7, 5] },
  { a: [7, 3], b: [3, 1] },
  { a: [33, 127], b: [127, 9] },
  { a: [127, 33], b: [33, 65] },
  { a: [4096, 8], b: [8, 16] },
  { a: [8, 4096], b: [4096, 8] },
  { a: [64, 96], b: [96, 130] },
];

const TRANSPOSED: readonly Case[] = [
  { a: [33, 7], b: [33, 5], ta: true },
  { a: [7, 33], b: [5, 33], tb: true },
  { a: [31, 70], b: [9, 31], ta: true, tb: true },
  { a: [2, 6, 5], b: [3, 1, 7, 6], ta: true, tb: true },
];

const BATCHED: readonly Case[] = [
  { a: [2, 1, 5, 6], b: [3, 6, 7] },
  { a: [4, 9, 17], b: [17, 6] },
  { a: [5, 8], b: [2, 3, 8, 4] },
  { a: [2, 3, 4, 5], b: [2, 3, 5, 6] },
  { a: [3, 1, 33, 20], b: [1, 2, 20, 70] },
];

for (const mode of MODES) {
  const reg = needsShaderF16(mode) ? gpuF16Test : gpuTest;
  reg(`matmul ${mode}: odd, tiny and tall-skinny shapes`, async (t, ctx) => {
    for (const c of SHAPES) await check(t, ctx, c, mode);
  });
  reg(`matmul ${mode}: transpose_a / transpose_b in the indexing`, async (t, ctx) => {
    for (const c of TRANSPOSED) await check(t, ctx, c, mode);
  });
  reg(`matmul ${mode}: batched with broadcast batch dimensions`, async (t, ctx) => {
    for (const c of BATCHED) await check(t, ctx, c, mode);
  });
}

gpuF16Test('matmul acc = f16 with native f16: f16 accumulator ("f16 math")', async (t, ctx) => {
  const plan = compileForDevice(matmulGraph({ a: [3, 5], b: [5, 2] }, 'f16', 'f16'), ctx, { f16Mode: 'native' });
  t.regex(plan.kernels[0]!.code, /math f16/);
  t.regex(plan.kernels[0]!.code, /var c0_0: f16/);
  for (const c of [{ a: [33, 127], b: [127, 9] }, { a: [2, 1, 5, 6], b: [3, 6, 7] }, { a: [70, 40], b: [65, 70], ta: true, tb: true }]) {
    await check(t, ctx, c, 'f16', 'f16');
  }
});

gpuTest('matmul acc = f16 in packed mode: f32 math, the sum rounded to f16 each step', async (t, ctx) => {
  const plan = compileForDevice(matmulGraph({ a: [3, 5], b: [5, 2] }, 'f16', 'f16'), ctx, { f16Mode: 'packed' });
  t.false(plan.kernels[0]!.usesF16);
  t.regex(plan.kernels[0]!.code, /ampc_round_f16/);
  for (const c of [{ a: [33, 127], b: [127, 9] }, { a: [3, 1, 33, 20], b: [1, 2, 20, 70] }]) await check(t, ctx, c, 'f16-packed', 'f16');
  // f32 operands with acc = f16: an f32 result carrying f16 accumulation error, checked at the f16 tolerance.
  const g = matmulGraph({ a: [9, 40], b: [40, 7] }, 'f32', 'f16');
  await checkAgainstReference(t, ctx, g, inputsFor({ a: [9, 40], b: [40, 7] }, 'f32', 3), 'native', { scale: 10, tolerance: TOLERANCES.f16 });
});

gpuTest('matmul acc = f32 with f16 operands: loads converted, f32 accumulator', async (t, ctx) => {
  for (const mode of ['native', 'packed'] as const) {
    if (mode === 'native' && !ctx.hasF16) continue;
    const code = compileForDevice(matmulGraph({ a: [8, 8], b: [8, 8] }, 'f16', 'f32'), ctx, { f16Mode: mode }).kernels[0]!.code;
    t.regex(code, /math f32/);
    t.regex(code, /var c0_0: f32/);
  }
});

// Every configuration (the 'gpu' ones included: workgroup memory, strided
// ownership) on shapes that cut its tiles unevenly, in f32 and packed f16
// (whose stores are atomics on shared words) on one of them.
const CONFIG_SHAPES: readonly Case[] = [
  { a: [67, 45], b: [45, 131] },
  { a: [2, 1, 19, 9], b: [3, 9, 23] },
  { a: [23, 70], b: [17, 23], ta: true, tb: true },
];
for (const name of Object.keys(MATMUL_CONFIGS) as MatmulConfigName[]) {
  gpuTest(`matmul config ${name}: f32 and packed f16`, async (t, ctx) => {
    for (const c of CONFIG_SHAPES) await withConfig(name, () => check(t, ctx, c, 'f32', 'f32', 7));
    await withConfig(name, () => check(t, ctx, CONFIG_SHAPES[1]!, 'f16-packed', 'f32', 8));
  });
}

gpuTest('matmul grid over the per-dimension limit is split (2-D and 3-D grids)', async (t, ctx) => {
  const c: Case = { a: [3, 40, 9], b: [9, 70] };
  const g = matmulGraph(c, 'f32', 'f32');
  const inputs = inputsFor(c, 'f32', 5);
  const expected = interpret(g, inputs)[0]!;
  for (const maxPerDim of [3, 5]) {
    const plan = withConfigSync('r4x4', () => lowerGraph(g, { f16Mode: 'native', maxWorkgroupsPerDim: maxPerDim }));
    const wg = plan.dispatches[0]!.workgroups;
    t.true(wg.every((n) => n <= maxPerDim), `grid [${wg.join(', ')}] within ${maxPerDim}`);
    t.true(wg[1] > 1, 'the grid is split');
    const got = await runPlan(ctx, plan, { a: inputs.a!, b: inputs.b! }, expected.dtype, numel(expected.shape));
    const bad = mismatches({ ...expected, data: got }, expected, TOLERANCES.f32, 3);
    t.is(bad.length, 0, `max ${maxPerDim} per dimension: ${bad.length} elements off`);
  }
});

function withConfigSync<T>(name: MatmulConfigName, fn: () => T): T {
  setMatmulConfigOverride(name);
  try {
    return fn();
  } finally {
    setMatmulConfigOverride(undefined);
  }
}

async function runPlan(ctx: GpuContext, plan: Plan, inputs: Record<string, HostTensor>, dtype: DType, count: number) {
  const session = await Session.create(ctx, plan);
  try {
    for (const [name, tensor] of Object.entries(inputs)) session.write(name, encodeTensor(tensor.dtype, tensor.data));
    session.run();
    const [bytes] = await session.readOutputs();
    return decodeTensor(dtype, bytes!, count) as Float64Array;
  } finally {
    session.destroy();
  }
}

for (const mode of ['f32', 'f16-packed'] as const) {
  gpuTest(`matmul epilogue hook: bias + relu fused into the store (${mode})`, async (t, ctx) => {
    const dtype = dtypeOf(mode);
    const f16Mode = f16ModeOf(mode);
    const [M, K, N] = [37, 29, 45];
    // Reference: relu(matmul(a, w) + bias).
    const g = new Graph('fused');
    const a = g.addInput('a', { dtype, shape: [M, K] });
    const w = g.addInput('w', { dtype, shape: [K, N] });
    const bias = g.addInput('bias', { dtype, shape: [N] });
    g.setOutputs([g.add('relu', [g.add('add', [g.add('matmul', [a, w]), bias])])]);
    const inputs = {
      a: hostTensor(dtype, [M, K], seededValues(11, M * K)),
      w: hostTensor(dtype, [K, N], seededValues(12, K * N)),
      bias: hostTensor(dtype, [N], seededValues(13, N)),
    };
    const expected = interpret(g, inputs)[0]!;
    // One kernel: the matmul with a store hook reading the bias.
    const ids = { a: 0, w: 1, bias: 2, y: 3 };
    const ctxE: EmitContext = { mode: f16Mode, target: 'cpu', maxWorkgroupsPerDim: 65535, buffer: () => 0, scratch: () => 0, nameOf: () => '?' };
    const biasBinding = { name: 'bias', dtype, access: 'read' as const };
    const yBinding = { name: 'y', dtype, access: 'write' as const };
    const launch = matmulKernel(ctxE, {
      label: 'matmul+bias+relu',
      a: { binding: { name: 'a', dtype, access: 'read' }, buffer: ids.a },
      b: { binding: { name: 'w', dtype, access: 'read' }, buffer: ids.w },
      extra: [{ binding: biasBinding, buffer: ids.bias }],
      out: { binding: yBinding, buffer: ids.y },
      aShape: [M, K],
      bShape: [K, N],
      transposeA: false,
      transposeB: false,
      acc: 'f32',
      hooks: {
        storeC: (acc, site) => {
          const v = `max(${acc} + f32(${load(biasBinding, site.col, f16Mode)}), ${literal(0, 'f32')})`;
          return store(yBinding, site.idx, v, f16Mode, 'f32');
        },
      },
    });
    t.regex(launch.code, /max\(blk\[e\] \+ f32\(/);
    const buffer = (id: number, name: string, shape: number[]) => ({ id, dtype, shape, byteSize: storageBytes(dtype, numel(shape)), role: 'input' as const, name });
    const plan: Plan = {
      version: 1,
      f16Mode,
      kernels: [{ label: launch.label, code: withSupport(launch.code), entryPoint: 'main', usesF16: launch.usesF16 }],
      buffers: [buffer(0, 'a', [M, K]), buffer(1, 'w', [K, N]), buffer(2, 'bias', [N]), { ...buffer(3, 'y', [M, N]), role: 'output' }],
      dispatches: [{ kernel: 0, bindings: launch.bindings, workgroups: launch.workgroups }],
      inputs: [{ name: 'a', buffer: 0 }, { name: 'w', buffer: 1 }, { name: 'bias', buffer: 2 }],
      outputs: [{ name: 'y', buffer: 3 }],
    };
    const got = await runPlan(ctx, plan, inputs, dtype, M * N);
    const bad = mismatches({ ...expected, data: got }, expected, TOLERANCES[dtype], K / 4);
    t.is(bad.length, 0, `${bad.length} elements off: ${bad.slice(0, 3).map((m) => `[${m.index}] ${m.actual} vs ${m.expected}`).join(', ')}`);
  });
}

test('matmul configuration table: adapter kinds, shape classes, fitting to small shapes', (t) => {
  t.is(adapterKindOf({ vendor: 'mesa', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' }), 'cpu');
  t.is(adapterKindOf({ vendor: 'google', description: 'SwiftShader Device (Subzero)' }), 'cpu');
  t.is(adapterKindOf({ vendor: 'nvidia', description: 'NVIDIA H200' }), 'gpu');
  t.is(adapterKindOf({ vendor: '', description: '', isFallbackAdapter: true }), 'cpu');
  t.is(shapeClassOf({ batch: 1, m: 48, n: 48, k: 48 }), 'small');
  t.is(shapeClassOf({ batch: 1, m: 4096, n: 16, k: 8 }), 'narrow');
  t.is(shapeClassOf({ batch: 1, m: 256, n: 10, k: 256 }), 'narrow');
  t.is(shapeClassOf({ batch: 32, m: 64, n: 64, k: 64 }), 'batched');
  t.is(shapeClassOf({ batch: 1, m: 256, n: 256, k: 256 }), 'medium');
  t.is(shapeClassOf({ batch: 1, m: 1024, n: 1024, k: 1024 }), 'large');
  for (const kind of ['cpu', 'gpu'] as const) for (const name of Object.values(MATMUL_TABLE[kind])) t.truthy(MATMUL_CONFIGS[name]);
  // A narrow matrix does not get rows and columns it would throw away.
  const fitted = fitConfig(MATMUL_CONFIGS.r16x8, { batch: 1, m: 8, n: 8, k: 4096 });
  t.deepEqual([fitted.tm, fitted.tn], [2, 1]);
  t.is(chooseMatmulConfig({ batch: 1, m: 1024, n: 1024, k: 1024 }, 'gpu').name, MATMUL_TABLE.gpu.large);
});

test('matmul WGSL: transposes are folded into the indexing (one launch, no transpose kernel)', (t) => {
  const g = matmulGraph({ a: [7, 5], b: [3, 7], ta: true, tb: true }, 'f32', 'f32');
  const plan = lowerGraph(g, { f16Mode: 'native' });
  t.is(plan.dispatches.length, 1);
  t.regex(plan.kernels[0]!.code, /A transposed\) \(B transposed\)/);
});
