// The harness every GPU test uses. Importing it acquires one device for the
// test process (top-level await: ava cannot skip a test once it has started,
// so whether to register `test` or `test.skip` is decided at load time) and
// destroys it when the file's tests are done.
//
// No adapter: the tests are skipped, with the reason in their titles, unless
// AMPC_REQUIRE_GPU=1, in which case each one fails with the E0701 message.
// gpuF16Test additionally needs shader-f16 on the device; with
// AMPC_REQUIRE_GPU=1 a device without it is a failure (lavapipe has it, and
// NVIDIA has it through the toggle acquireDevice adds) unless f16 was turned
// off on purpose with AMPC_DISABLE_F16=1.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { isAmpcError } from '../../ir/errors.ts';
import { acquireDevice, describeDevice } from '../../runtime/device.ts';
import type { GpuContext } from '../../runtime/device.ts';
import type { AdapterKind } from '../../compiler/kernels/context.ts';
import { adapterKindOf } from '../../compiler/kernels/matmul-config.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { dtypeOf, f16ModeOf, needsShaderF16 } from './compare.ts';
import type { Mode } from './compare.ts';

export type GpuTestFn = (t: ExecutionContext, ctx: GpuContext) => Promise<void> | void;

export const requireGpu = process.env.AMPC_REQUIRE_GPU === '1';
const f16DisabledOnPurpose = process.env.AMPC_DISABLE_F16 === '1';

async function probe(): Promise<{ ctx: GpuContext } | { error: string; short: string }> {
  try {
    return { ctx: await acquireDevice() };
  } catch (e) {
    if (!isAmpcError(e)) throw e;
    return { error: e.message, short: e.detail.split('\n')[0]!.replace(/\.$/, '') };
  }
}

const probed = await probe();

/** The shared device, or undefined when there is no adapter. */
export const gpuContext: GpuContext | undefined = 'ctx' in probed ? probed.ctx : undefined;
/** Why GPU tests are skipped or failing (undefined when a device was acquired). */
export const gpuUnavailableReason: string | undefined = 'error' in probed ? probed.error : undefined;

if (gpuContext) {
  const ctx = gpuContext;
  test.after.always('release the GPU device', () => ctx.destroy());
} else if (!requireGpu && 'short' in probed) {
  console.warn(`ampc: GPU tests skipped (${probed.short}); set AMPC_REQUIRE_GPU=1 to make that a failure.`);
}

/** One-line description of the shared device, for t.log. */
export function gpuDescription(): string {
  return gpuContext ? describeDevice(gpuContext) : `no device: ${gpuUnavailableReason}`;
}

function register(title: string, fn: GpuTestFn, needF16: boolean): void {
  const ctx = gpuContext;
  if (!ctx) {
    if (requireGpu) test(title, (t) => t.fail(gpuUnavailableReason));
    else test.skip(`${title} [skipped: no WebGPU adapter]`, () => undefined);
    return;
  }
  if (needF16 && !ctx.hasF16) {
    const why = f16DisabledOnPurpose
      ? 'shader-f16 disabled by AMPC_DISABLE_F16=1'
      : `adapter '${ctx.adapterInfo.name}' has no shader-f16 (features: ${ctx.adapterFeatures.join(' ') || 'none'})`;
    if (requireGpu && !f16DisabledOnPurpose) test(title, (t) => t.fail(`AMPC_REQUIRE_GPU=1 but ${why}`));
    else test.skip(`${title} [skipped: ${why}]`, () => undefined);
    return;
  }
  test(title, (t) => serially(() => fn(t, ctx)));
}

// GPU tests of one file run one at a time: ava starts them all at once, and
// on a CPU adapter (lavapipe) concurrent kernels only fight for the cores.
let tail: Promise<unknown> = Promise.resolve();
function serially<T>(work: () => Promise<T> | T): Promise<T> {
  const run = tail.then(work, work);
  tail = run.catch(() => undefined);
  return run;
}

/** A test that runs on the shared WebGPU device. */
export function gpuTest(title: string, fn: GpuTestFn): void {
  register(title, fn, false);
}

/** A test that needs shader-f16 (`enable f16;` in WGSL) on the shared device. */
export function gpuF16Test(title: string, fn: GpuTestFn): void {
  register(title, fn, true);
}

/** A test body of one mode, given that mode's storage dtype and f16 mode. */
export type ModeTestFn = (t: ExecutionContext, ctx: GpuContext, dtype: 'f32' | 'f16', f16Mode: F16Mode) => Promise<void> | void;

/** A GPU test of one mode, titled `${title} [${mode}]`; mode 'f16' needs shader-f16. */
export function modeTest(mode: Mode, title: string, fn: ModeTestFn): void {
  register(`${title} [${mode}]`, (t, ctx) => fn(t, ctx, dtypeOf(mode), f16ModeOf(mode)), needsShaderF16(mode));
}

/** The same device, compiled for as if its adapter were of kind `kind`: the other kind's kernel choices, run on this adapter. */
export function asAdapterKind(ctx: GpuContext, kind: AdapterKind): GpuContext {
  if (adapterKindOf(ctx.adapterInfo) === kind) return ctx;
  // The name alone would say "llvmpipe" and make a CPU of it: a GPU gets a neutral description.
  const info = kind === 'cpu'
    ? { ...ctx.adapterInfo, isFallbackAdapter: true, name: `${ctx.adapterInfo.name} (compiled for a CPU)` }
    : { vendor: 'ampc-test', architecture: '', device: '', description: 'a GPU', isFallbackAdapter: false, name: `${ctx.adapterInfo.name} (compiled for a GPU)` };
  return Object.create(ctx, { adapterInfo: { value: info } }) as GpuContext;
}

/**
 * modeTest for kernels whose strategy depends on the adapter kind (row schemes, matmul
 * configurations): once as compiled for this adapter, once as for the other kind.
 */
export function modeTestPerKind(mode: Mode, title: string, fn: ModeTestFn): void {
  for (const kind of ['cpu', 'gpu'] as const) {
    modeTest(mode, `${title} (${kind} kernel choices)`, (t, ctx, dtype, f16Mode) => fn(t, asAdapterKind(ctx, kind), dtype, f16Mode));
  }
}

/** The same device with a smaller workgroup-grid limit, so that a modest dispatch needs y (and z). */
export function withMaxWorkgroups(ctx: GpuContext, perDim: number): GpuContext {
  return Object.create(ctx, { limits: { value: { ...ctx.limits, maxComputeWorkgroupsPerDimension: perDim } } }) as GpuContext;
}
