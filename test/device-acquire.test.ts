// Device acquisition from an injected GPU object (AcquireOptions.gpu), with
// no real device: a fake GPU records the adapter requests it gets. No adapter
// in core WebGPU: one retry in compatibility mode, which the context and
// describeDevice report; no adapter at all: E0701 as before.

import test from 'ava';
import { isAmpcError } from '../ir/errors.ts';
import { acquireDevice, describeDevice, LIMIT_NAMES } from '../runtime/device.ts';

interface FakeGpu {
  readonly gpu: GPU;
  /** The options of every requestAdapter() call, in order. */
  readonly requests: (GPURequestAdapterOptions | undefined)[];
  /** The descriptor of every requestDevice() call. */
  readonly devices: GPUDeviceDescriptor[];
}

type Answer = 'adapter' | 'null' | 'throw';

/** A GPU whose requestAdapter answers `core` for core requests and `compat` for compatibility ones. */
function fakeGpu(core: Answer, compat: Answer, features: string[] = []): FakeGpu {
  const requests: (GPURequestAdapterOptions | undefined)[] = [];
  const devices: GPUDeviceDescriptor[] = [];
  const limits = Object.fromEntries(LIMIT_NAMES.map((k, i) => [k, 1000 + i]));
  const adapter = {
    features: new Set(features),
    limits,
    info: { vendor: 'fake', architecture: 'test', device: '', description: 'Fake adapter', isFallbackAdapter: false },
    async requestDevice(d: GPUDeviceDescriptor) {
      devices.push(d);
      return {
        features: new Set(d.requiredFeatures ?? []),
        limits: { ...limits, ...d.requiredLimits },
        onuncapturederror: null,
        lost: new Promise(() => undefined),
        destroy() {},
      };
    },
  };
  const gpu = {
    async requestAdapter(options?: GPURequestAdapterOptions) {
      requests.push(options === undefined ? undefined : { ...options });
      const answer = options?.featureLevel === 'compatibility' ? compat : core;
      if (answer === 'throw') throw new Error(`no ${options?.featureLevel ?? 'core'} backend`);
      return answer === 'adapter' ? adapter : null;
    },
  };
  return { gpu: gpu as unknown as GPU, requests, devices };
}

// Node has no WebGPU globals until Dawn installs them; acquireDevice checks for them.
const globals = globalThis as { GPUBufferUsage?: unknown };
globals.GPUBufferUsage ??= { MAP_READ: 1 };

test.serial('an adapter in core WebGPU: one request, featureLevel core', async (t) => {
  const fake = fakeGpu('adapter', 'adapter');
  const ctx = await acquireDevice({ gpu: fake.gpu });
  t.deepEqual(fake.requests, [undefined]);
  t.is(ctx.featureLevel, 'core');
  t.is(ctx.backend, 'dawn');
  t.deepEqual(ctx.dawnFlags, []);
  t.notRegex(describeDevice(ctx), /compatibility/);
  t.regex(describeDevice(ctx), /^Fake adapter \[fake\/test\] · dawn · f16 no/);
  ctx.destroy();
});

test.serial('no adapter in core WebGPU: one retry in compatibility mode, and the context says so', async (t) => {
  const fake = fakeGpu('null', 'adapter', ['shader-f16']);
  const ctx = await acquireDevice({ gpu: fake.gpu, powerPreference: 'high-performance' });
  t.deepEqual(fake.requests, [{ powerPreference: 'high-performance' }, { powerPreference: 'high-performance', featureLevel: 'compatibility' }]);
  t.is(ctx.featureLevel, 'compatibility');
  t.regex(describeDevice(ctx), / · dawn \(compatibility mode\) · f16 yes · /);
  // The device is asked for what the adapter offers, as on the first try.
  t.deepEqual(fake.devices[0]!.requiredFeatures, ['shader-f16']);
  t.is((fake.devices[0]!.requiredLimits as Record<string, number>).maxStorageBuffersPerShaderStage, 1000 + LIMIT_NAMES.indexOf('maxStorageBuffersPerShaderStage'));
  ctx.destroy();
});

test.serial('no adapter in either mode: E0701, after exactly two requests', async (t) => {
  for (const compat of ['null', 'throw'] as const) {
    const fake = fakeGpu('null', compat);
    const e = await t.throwsAsync(acquireDevice({ gpu: fake.gpu }));
    t.true(isAmpcError(e), String(e));
    t.is((e as { code?: string }).code, 'E0701');
    t.regex(e!.message, /no WebGPU adapter available \(requestAdapter\(\) returned null\)/);
    t.deepEqual(fake.requests, [undefined, { featureLevel: 'compatibility' }]);
    t.is(fake.devices.length, 0);
  }
});

test.serial('a request that throws is E0701 with its message, and is not retried', async (t) => {
  const fake = fakeGpu('throw', 'adapter');
  const e = await t.throwsAsync(acquireDevice({ gpu: fake.gpu }));
  t.is((e as { code?: string }).code, 'E0701');
  t.regex(e!.message, /no WebGPU adapter available \(no core backend\)/);
  t.deepEqual(fake.requests, [undefined]);
});

test.serial('disableF16: shader-f16 is not requested even when offered', async (t) => {
  const fake = fakeGpu('adapter', 'null', ['shader-f16', 'timestamp-query']);
  const ctx = await acquireDevice({ gpu: fake.gpu, disableF16: true });
  t.deepEqual(fake.devices[0]!.requiredFeatures, []);
  t.false(ctx.hasF16);
  t.deepEqual(ctx.adapterFeatures, ['shader-f16', 'timestamp-query']);
  ctx.destroy();
});

test.serial('an injected GPU without WebGPU\'s globals is refused with how to install them', async (t) => {
  const saved = globals.GPUBufferUsage;
  delete globals.GPUBufferUsage;
  try {
    const fake = fakeGpu('adapter', 'adapter');
    const e = await t.throwsAsync(acquireDevice({ gpu: fake.gpu }));
    t.is((e as { code?: string }).code, 'E0701');
    t.regex(e!.message, /without WebGPU's globals \(GPUBufferUsage, …\).*import\('webgpu'\)\)\.globals/s);
    t.deepEqual(fake.requests, []);
  } finally {
    globals.GPUBufferUsage = saved;
  }
});
