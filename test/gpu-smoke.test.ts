// Smoke tests of the WebGPU device on this machine: the adapter, an f32 kernel,
// an f16 kernel (shader-f16), the packed-f16 path without shader-f16, WGSL
// compile errors (E0703), uncaptured errors (E0702) and the E0701 text.

import test from 'ava';
import { Float16Array, f16round } from '@petamoriken/float16';
import { AmpcError } from '../ir/errors.ts';
import {
  acquireDevice,
  describeDevice,
  formatBytes,
  mergeDawnFlags,
  noAdapterMessage,
  NVIDIA_F16_TOGGLE,
  shouldRetryWithNvidiaToggle,
} from '../runtime/device.ts';
import { compileShader, runCompute } from '../runtime/shader.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';

gpuTest('adapter reports a name, features and the limits a compiler needs', (t, ctx) => {
  t.log(describeDevice(ctx));
  t.log(`adapter features: ${ctx.adapterFeatures.join(' ')}`);
  t.true(ctx.adapterInfo.name.length > 0);
  t.true(ctx.adapterFeatures.length > 0);
  t.true(ctx.features.every((f) => ctx.adapterFeatures.includes(f)));
  t.is(ctx.hasF16, ctx.features.includes('shader-f16'));
  if (/llvmpipe|lavapipe/i.test(`${ctx.adapterInfo.device} ${ctx.adapterInfo.description}`)) {
    t.regex(describeDevice(ctx), /llvmpipe/);
  }
  // Requested at the adapter's maximum, which is never below the WebGPU defaults.
  t.true(ctx.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  t.true(ctx.limits.maxComputeInvocationsPerWorkgroup >= 256);
  t.true(ctx.limits.maxComputeWorkgroupStorageSize >= 16384);
  t.true(ctx.limits.maxStorageBuffersPerShaderStage >= 8);
  for (const [k, v] of Object.entries(ctx.limits)) t.is(ctx.device.limits[k as keyof GPUSupportedLimits], v, k);
  t.false(ctx.isLost);
});

const AXPB = /* wgsl */ `
struct Params { a: f32, b: f32, n: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= p.n) { return; }
  y[i] = p.a * x[i] + p.b;
}
`;

function params(a: number, b: number, n: number): ArrayBuffer {
  const buf = new ArrayBuffer(16);
  const v = new DataView(buf);
  v.setFloat32(0, a, true);
  v.setFloat32(4, b, true);
  v.setUint32(8, n, true);
  return buf;
}

gpuTest('f32 kernel y = a*x + b over 1000 elements stops at the bound', async (t, ctx) => {
  const n = 1000;
  const padded = 1024; // 16 workgroups of 64 cover 1024 invocations
  const SENTINEL = -7.5;
  // Values whose products and sums are exact in f32, so the comparison can be exact.
  const x = Float32Array.from({ length: n }, (_, i) => (i - 500) * 0.125);
  const run = (a: number, b: number) =>
    runCompute(ctx, {
      code: AXPB,
      label: 'axpb',
      bindings: [
        { data: params(a, b, n), uniform: true },
        { data: x },
        { data: new Float32Array(padded).fill(SENTINEL), readBack: true },
      ],
      workgroups: [Math.ceil(n / 64)],
    });
  const start = performance.now();
  // Two dispatches in flight at once on the shared device.
  const [[r1], [r2]] = await Promise.all([run(2.5, -3.25), run(-0.5, 8)]);
  t.log(`two axpb dispatches: ${(performance.now() - start).toFixed(1)} ms`);
  const check = (buf: ArrayBuffer | undefined, a: number, b: number) => {
    const y = new Float32Array(buf!);
    t.is(y.length, padded);
    const want = Array.from({ length: padded }, (_, i) => (i < n ? a * x[i]! + b : SENTINEL));
    t.deepEqual(Array.from(y), want);
  };
  check(r1, 2.5, -3.25);
  check(r2, -0.5, 8);
});

gpuF16Test('f16 kernel over array<f16> matches f16 rounding exactly', async (t, ctx) => {
  const code = /* wgsl */ `
enable f16;
@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read_write> y: array<f16>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= arrayLength(&y)) { return; }
  let v = x[i];
  y[i] = v * v + 1.0h;
}
`;
  const n = 1000;
  // x = k/16 with |k| <= 45: x*x is exact in f16, so x*x + 1 is rounded once
  // (with or without a fused multiply-add); k = 43, 45 land on ties.
  const xs = Array.from({ length: n }, (_, i) => ((i % 91) - 45) / 16);
  const x = Float16Array.from(xs);
  const [out] = await runCompute(ctx, {
    code,
    label: 'square_plus_one_f16',
    bindings: [{ data: x.buffer }, { size: n * 2, readBack: true }],
    workgroups: [Math.ceil(n / 64)],
  });
  const got = Array.from(new Float16Array(out!));
  const want = xs.map((v) => f16round(v * v + 1));
  t.true(want.some((w, i) => w !== xs[i]! * xs[i]! + 1), 'some results must need rounding to f16');
  t.deepEqual(got, want);
});

gpuTest('packed f16 without shader-f16: two halves per u32, math in f32', async (t, ctx) => {
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= arrayLength(&y)) { return; }
  let v = unpack2x16float(x[i]);
  y[i] = pack2x16float(v * v + vec2<f32>(1.0));
}
`;
  const n = 1001; // odd: the last u32 carries one real half and a zero
  // x = k/64: x*x + 1 is exact in f32, so pack2x16float rounds it once.
  const xs = Array.from({ length: n }, (_, i) => (i - 500) / 64);
  const x = Float16Array.from(xs);
  t.deepEqual(Array.from(x), xs, 'inputs are exact halves');
  const [out] = await runCompute(ctx, {
    code,
    label: 'square_plus_one_packed',
    bindings: [{ data: x.buffer }, { size: n * 2, readBack: true }],
    workgroups: [Math.ceil(Math.ceil(n / 2) / 64)],
  });
  t.is(out!.byteLength, n * 2);
  const got = Array.from(new Float16Array(out!));
  const want = xs.map((v) => f16round(v * v + 1));
  t.true(want.some((w, i) => w !== xs[i]! * xs[i]! + 1), 'some results must need rounding to f16');
  t.deepEqual(got, want);
});

gpuTest('a WGSL syntax error is E0703 naming the op, the place and the line', async (t, ctx) => {
  const code = ['@group(0) @binding(0) var<storage, read_write> y: array<f32>;', '@compute @workgroup_size(64)', 'fn main( {', '  y[0] = 1.0;', '}'].join('\n');
  const err = await t.throwsAsync(compileShader(ctx, code, 'relu#3'), { instanceOf: AmpcError });
  t.log(err!.message);
  t.is(err!.code, 'E0703');
  t.regex(err!.message, /error E0703: WGSL for 'relu#3' does not compile/);
  t.regex(err!.message, /relu#3:3:\d+: error: .*expected/);
  t.true(err!.message.includes('fn main( {'), 'shows the offending line');
  // The compile error went to the scope, not to the device's uncaptured errors.
  t.notThrows(() => ctx.check());
  // runCompute reports the same way.
  const viaRun = await t.throwsAsync(runCompute(ctx, { code, label: 'relu#3', bindings: [{ size: 4 }], workgroups: [1] }));
  t.is((viaRun as AmpcError).code, 'E0703');
});

gpuTest('an uncaptured WebGPU error is recorded as E0702 and thrown by check()', async (t) => {
  // A device of its own, so the deliberate error cannot reach other tests.
  const seen: AmpcError[] = [];
  const own = await acquireDevice({ onError: (e) => seen.push(e) });
  try {
    own.device.createBuffer({ size: 16, usage: 0xffff });
    await own.device.queue.onSubmittedWorkDone();
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    t.is(seen.length, 1);
    t.is(seen[0]!.code, 'E0702');
    const err = t.throws(() => own.check(), { instanceOf: AmpcError });
    t.is(err!.code, 'E0702');
    t.regex(err!.message, /uncaptured WebGPU error/);
    t.notThrows(() => own.check(), 'check() clears what it reported');
  } finally {
    own.destroy();
  }
  t.true(own.isLost);
  t.throws(() => own.check(), { message: /destroyed/ });
});

test('E0701 message says how to get an adapter', (t) => {
  const err = new AmpcError('E0701', noAdapterMessage('requestAdapter() returned null', 'node'));
  t.regex(err.message, /^error E0701: no WebGPU adapter available \(requestAdapter\(\) returned null\)\./);
  t.true(err.message.includes('Vulkan'));
  t.true(err.message.includes('lavapipe'));
  t.true(err.message.includes('apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1'));
  t.true(err.message.includes('Mesa 22.3 is too old'));
  t.true(err.message.includes('AMPC_DAWN_FLAGS'));
  const browser = noAdapterMessage(undefined, 'browser');
  t.regex(browser, /^no WebGPU adapter available\. Use a browser with WebGPU enabled/);
  t.false(browser.includes('apt-get'));
  // Only the first line of a long reason (dawn.node lists adapters after it).
  t.regex(noAdapterMessage('no suitable backends found\nAvailable adapters:\n * x', 'node'), /^no WebGPU adapter available \(no suitable backends found\)\.\n/);
});

test('dawn flags merge toggles into one entry per key', (t) => {
  t.deepEqual(mergeDawnFlags(['enable-dawn-features=a,b', 'backend=vulkan', 'enable-dawn-features=b,c', 'backend=null', 'verbose']), [
    'enable-dawn-features=a,b,c',
    'backend=null',
    'verbose',
  ]);
  t.deepEqual(mergeDawnFlags([]), []);
});

test('the NVIDIA f16 toggle is retried only for NVIDIA adapters without shader-f16', (t) => {
  const nvidia = { vendor: 'nvidia', description: 'NVIDIA H200' };
  const none = new Set<string>();
  t.true(shouldRetryWithNvidiaToggle(nvidia, none, []));
  t.true(shouldRetryWithNvidiaToggle({ vendor: '', description: 'NVIDIA GeForce RTX 4090' }, none, ['backend=vulkan']));
  t.false(shouldRetryWithNvidiaToggle(nvidia, new Set(['shader-f16']), []));
  t.false(shouldRetryWithNvidiaToggle(nvidia, none, [`enable-dawn-features=x,${NVIDIA_F16_TOGGLE}`]));
  t.false(shouldRetryWithNvidiaToggle({ vendor: 'mesa', description: 'llvmpipe: Mesa 25.0.7' }, none, []));
});

test('byte sizes print in binary units', (t) => {
  t.is(formatBytes(134217728), '128 MiB');
  t.is(formatBytes(32768), '32 KiB');
  t.is(formatBytes(4294967295), '4.0 GiB');
  t.is(formatBytes(100), '100 B');
});
