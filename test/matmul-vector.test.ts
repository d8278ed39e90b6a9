// Vector loads in the matmul's register-blocked direct loop (compiler/kernels/
// matmul.ts, vectorPlan): which operands the generator loads as 16-byte
// vectors (kernel text), and on the adapter, in every f16 mode, that results
// with vector loads are bitwise those with one load per element and match the
// reference interpreter — on shapes whose tiles hang over the matrix (the
// last vectors of a block are clamped like rows and columns), with A
// transposed, with broadcast batch dimensions, and both operands in one buffer.

import type { ExecutionContext } from 'ava';
import test from 'ava';
import { compileForDevice, runGraphOnGpu } from '../compiler/execute.ts';
import { setMatmulVectorLoads } from '../compiler/kernels/matmul.ts';
import type { MatmulConfigName } from '../compiler/kernels/matmul-config.ts';
import { setMatmulConfigOverride } from '../compiler/kernels/matmul-config.ts';
import { lowerGraph } from '../compiler/lower.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { numel } from '../ir/types.ts';
import type { GpuContext } from '../runtime/device.ts';
import type { F16Mode } from '../runtime/plan.ts';
import type { Mode } from './helpers/compare.ts';
import { dtypeOf, f16ModeOf, mismatches, MODES, needsShaderF16, seededValues, TOLERANCES } from './helpers/compare.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

interface Case {
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly ta?: boolean;
  readonly tb?: boolean;
  /** B is A itself (one input read twice). */
  readonly same?: boolean;
}

function matmulGraph(c: Case, dtype: DType, acc: DType = 'f32'): Graph {
  const g = new Graph('mm');
  const a = g.addInput('a', { dtype, shape: c.a });
  const b = c.same ? a : g.addInput('b', { dtype, shape: c.b });
  g.setOutputs([g.add('matmul', [a, b], { transpose_a: c.ta ?? false, transpose_b: c.tb ?? false, acc })]);
  return g;
}

/** Runs `fn` with one configuration forced and vector loads on or off (lowering is synchronous, before the first await). */
function withSettings<T>(config: MatmulConfigName, vector: boolean, fn: () => T): T {
  setMatmulConfigOverride(config);
  setMatmulVectorLoads(vector);
  try {
    return fn();
  } finally {
    setMatmulConfigOverride(undefined);
    setMatmulVectorLoads(true);
  }
}

/** The kernel's header comment (`... config r16x16; vector loads of A and B`). */
function header(c: Case, dtype: DType, config: MatmulConfigName, f16Mode: F16Mode = 'native', acc: DType = 'f32'): string {
  const plan = withSettings(config, true, () => lowerGraph(matmulGraph(c, dtype, acc), { f16Mode, maxWorkgroupsPerDim: 65535 }));
  return plan.kernels[0]!.code.split('\n').find((l) => l.startsWith('// matmul'))!;
}

test('matmul vector loads: operands contiguous along the owned block, widths and alignment', (t) => {
  // B untransposed, n a multiple of the width: B as vectors (4 f32, 8 f16 a vector).
  t.regex(header({ a: [64, 784], b: [784, 256] }, 'f32', 'r16x16'), /vector loads of B$/);
  t.regex(header({ a: [64, 784], b: [784, 256] }, 'f16', 'r16x16'), /vector loads of B$/);
  const code = withSettings('r16x16', true, () => lowerGraph(matmulGraph({ a: [8, 8], b: [8, 64] }, 'f16'), { f16Mode: 'packed', maxWorkgroupsPerDim: 65535 })).kernels[0]!.code;
  t.regex(code, /var<storage, read> b: array<vec4<u32>>;/);
  t.regex(code, /unpack2x16float\(b0v0\[3\]\)/);
  // A transposed, m a multiple of the width: A too (the weight gradient x^T dY).
  t.regex(header({ a: [64, 784], b: [64, 256], ta: true }, 'f32', 'r16x16'), /vector loads of A and B$/);
  // Not contiguous along the owned block, or not aligned: one load per element.
  t.notRegex(header({ a: [64, 784], b: [256, 784], tb: true }, 'f32', 'r16x16'), /vector loads/);
  t.notRegex(header({ a: [64, 96], b: [96, 130] }, 'f32', 'r16x16'), /vector loads/);
  t.regex(header({ a: [64, 96], b: [96, 132] }, 'f32', 'r16x16'), /vector loads of B$/);
  t.notRegex(header({ a: [64, 96], b: [96, 132] }, 'f16', 'r16x16'), /vector loads/);
  // Blocks narrower than a vector (n = 4 fits a 1-column block).
  t.notRegex(header({ a: [64, 96], b: [96, 4] }, 'f32', 'r16x16'), /vector loads/);
  // Strided ownership and workgroup-memory tiles (the gpu configurations) keep their loads.
  t.notRegex(header({ a: [64, 784], b: [784, 256] }, 'f32', 's4x4'), /vector loads/);
  t.notRegex(header({ a: [64, 784], b: [784, 256] }, 'f32', 'w8x8'), /vector loads/);
  // An f16 sum rounded each step (acc = f16 without f16 math) keeps its loads.
  t.notRegex(header({ a: [64, 784], b: [784, 256] }, 'f16', 'r16x16', 'packed', 'f16'), /vector loads/);
  // One buffer read as A and as B is declared once: no vector view of it.
  t.notRegex(header({ a: [32, 64], b: [32, 64], ta: true, same: true }, 'f32', 'r16x16'), /vector loads/);
});

const CASES: readonly (Case & { readonly config: MatmulConfigName })[] = [
  // 72 columns in 64-wide tiles of 16-wide blocks: the block at column 64 has
  // one vector inside the matrix (8 f16, or 2 of 4 f32) and the rest clamped.
  { a: [40, 24], b: [24, 72], config: 'r16x16' },
  { a: [24, 72], b: [24, 72], ta: true, config: 'r16x16' },
  { a: [2, 1, 16, 72], b: [3, 16, 80], ta: true, config: 'r16x16' },
  { a: [5, 8], b: [2, 3, 8, 72], config: 'r16x8' },
  // 4-wide blocks: vectors of 4 f32; f16's 8 do not fit.
  { a: [300, 16], b: [16, 8], config: 'n16x8' },
  { a: [32, 64], b: [32, 64], ta: true, same: true, config: 'r16x16' },
];

async function run(ctx: GpuContext, c: Case & { readonly config: MatmulConfigName }, dtype: DType, f16Mode: F16Mode, vector: boolean, inputs: Record<string, HostTensor>) {
  const g = matmulGraph(c, dtype);
  const code = withSettings(c.config, vector, () => compileForDevice(g, ctx, { f16Mode }).kernels[0]!.code);
  const out = await withSettings(c.config, vector, () => runGraphOnGpu(g, inputs, ctx, { f16Mode }));
  return { code, out: out[0]! };
}

async function checkMode(t: ExecutionContext, ctx: GpuContext, mode: Mode): Promise<void> {
  const dtype = dtypeOf(mode), f16Mode = f16ModeOf(mode);
  let vectorized = 0;
  for (const [k, c] of CASES.entries()) {
    const inputs: Record<string, HostTensor> = { a: hostTensor(dtype, c.a, seededValues(11 + k, numel(c.a))) };
    if (!c.same) inputs.b = hostTensor(dtype, c.b, seededValues(21 + k, numel(c.b)));
    const scalar = await run(ctx, c, dtype, f16Mode, false, inputs);
    const vector = await run(ctx, c, dtype, f16Mode, true, inputs);
    t.notRegex(scalar.code, /vector loads/);
    if (/vector loads/.test(vector.code)) vectorized++;
    const name = `[${c.a.join(',')}]${c.ta ? 'ᵀ' : ''} x [${c.b.join(',')}] ${c.config}`;
    const differ = vector.out.data.findIndex((x, i) => !Object.is(x, scalar.out.data[i]));
    t.is(differ, -1, `${name}: element ${differ} differs: ${vector.out.data[differ]} with vector loads, ${scalar.out.data[differ]} without`);
    const expected = interpret(matmulGraph(c, dtype), inputs)[0]!;
    const bad = mismatches(vector.out, expected, TOLERANCES[dtype], Math.max(1, (c.ta ? c.a.at(-2)! : c.a.at(-1)!) / 4));
    t.is(bad.length, 0, `${name}: ${bad.length} elements off the reference`);
  }
  // Every case but the one-buffer one loads an operand as vectors in f32; in f16 the 4-wide blocks do not either.
  t.true(vectorized >= (dtype === 'f32' ? CASES.length - 1 : CASES.length - 2), `${vectorized} of ${CASES.length} cases vectorized`);
}

for (const mode of MODES) {
  (needsShaderF16(mode) ? gpuF16Test : gpuTest)(`matmul vector loads ${mode}: bitwise the same as one load per element, and the reference`, (t, ctx) => checkMode(t, ctx, mode));
}
