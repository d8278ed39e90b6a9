// Acquiring a WebGPU device: Dawn (the `webgpu` package) in Node, navigator.gpu
// in a browser, or a GPU object the caller hands in (`gpu`, in either). When
// no adapter is found, the request is made once more in WebGPU's
// compatibility mode (featureLevel 'compatibility'; the context says which
// one it got). The device gets shader-f16 when the adapter offers it and the
// adapter's maximum for the limits a compiler sizes kernels by. Device loss and
// uncaptured errors become E0702 AmpcErrors; no adapter at all is E0701 with a
// message that says how to get one.

import { AmpcError } from '../ir/errors.ts';

/** The limits ampc requests at the adapter's maximum and sizes kernels by. */
export const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];
export type DeviceLimits = { readonly [K in LimitName]: number };

/** What the adapter says about itself (empty strings where it says nothing). */
export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter: boolean;
  /** A human-readable name: the description, else vendor/architecture/device. */
  readonly name: string;
}

/** The Dawn toggle without which Dawn hides shader-f16 on NVIDIA GPUs. */
export const NVIDIA_F16_TOGGLE = 'vulkan_enable_f16_on_nvidia';

export interface AcquireOptions {
  /**
   * The GPU object to take adapters from instead of Dawn (Node) or
   * navigator.gpu (browser): e.g. a Dawn GPU created elsewhere, or a browser's
   * GPU from another frame. WebGPU's globals (GPUBufferUsage, …) must exist, as
   * they do in a browser; in Node install them first with
   * `Object.assign(globalThis, (await import('webgpu')).globals)`. Neither
   * `dawnFlags` nor AMPC_DAWN_FLAGS apply to it, nor the retry with the NVIDIA
   * f16 toggle (that needs a Dawn GPU created here).
   */
  gpu?: GPU;
  /** Extra dawn.node flags (Node only), merged with AMPC_DAWN_FLAGS. */
  dawnFlags?: readonly string[];
  powerPreference?: GPUPowerPreference;
  /** Do not request shader-f16 even when offered (also AMPC_DISABLE_F16=1). */
  disableF16?: boolean;
  /**
   * Called with each uncaptured WebGPU error and with an unexpected device loss
   * (both as E0702). Default: print the first few to stderr. Either way they are
   * kept and the next `check()` throws the first one.
   */
  onError?: (error: AmpcError) => void;
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapterInfo: AdapterDescription;
  /** Features enabled on the device, sorted. */
  readonly features: readonly string[];
  /** Features the adapter offers, sorted (a superset of `features`). */
  readonly adapterFeatures: readonly string[];
  /** The device was created with shader-f16: WGSL may `enable f16;`. */
  readonly hasF16: boolean;
  readonly limits: DeviceLimits;
  /** 'dawn' (Node, the `webgpu` package) or 'browser' (navigator.gpu); an injected GPU counts as Node's or the browser's by where it runs. */
  readonly backend: 'dawn' | 'browser';
  /** The dawn.node flags the GPU was created with (empty in a browser and for an injected GPU). */
  readonly dawnFlags: readonly string[];
  /** 'core' WebGPU, or 'compatibility' when only the retry in compatibility mode found an adapter. */
  readonly featureLevel: FeatureLevel;
  /** Throws the first E0702 recorded since the last check (uncaptured error or device loss). */
  check(): void;
  /** True once the device is lost or destroyed. */
  readonly isLost: boolean;
  /** Destroys the device and lets go of the GPU object (idempotent). */
  destroy(): void;
}

/** WebGPU's feature levels: core, or the restricted compatibility mode (older GPUs and drivers). */
export type FeatureLevel = 'core' | 'compatibility';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** The E0701 text: why there is no adapter and how to get one. */
export function noAdapterMessage(reason?: string, env: 'node' | 'browser' = isNode ? 'node' : 'browser'): string {
  const why = reason ? `no WebGPU adapter available (${reason.trim().split('\n')[0]})` : 'no WebGPU adapter available';
  if (env === 'browser') {
    return (
      `${why}. Use a browser with WebGPU enabled (Chrome/Edge 113+, Firefox 141+, Safari 26+), ` +
      'served over https or localhost, on a machine whose GPU driver the browser accepts.'
    );
  }
  return [
    `${why}.`,
    'ampc runs on WebGPU through Dawn (the `webgpu` npm package), which needs a Vulkan driver on Linux.',
    'Install your GPU vendor\'s driver with Vulkan support (check with `vulkaninfo --summary`), or, on a machine',
    'without a GPU, Mesa\'s lavapipe CPU driver (Mesa 24 or newer). On Debian 12 that comes from bookworm-backports:',
    '  apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1',
    '(Debian 12\'s own Mesa 22.3 is too old for Dawn: it lacks shaderUniform*ArrayDynamicIndexing.)',
    'Extra Dawn flags can be passed in AMPC_DAWN_FLAGS, e.g. AMPC_DAWN_FLAGS="backend=vulkan".',
  ].join('\n');
}

/**
 * Merges dawn.node flags: dawn.node keeps only the last `enable-dawn-features=`
 * (and `disable-dawn-features=`) entry, so all toggles of each go into one entry.
 * Other `key=value` flags: the last one wins. Order of first appearance is kept.
 */
export function mergeDawnFlags(flags: readonly string[]): string[] {
  const order: string[] = [];
  const values = new Map<string, string[]>();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const key = eq < 0 ? flag : flag.slice(0, eq);
    const value = eq < 0 ? '' : flag.slice(eq + 1);
    if (!values.has(key)) {
      order.push(key);
      values.set(key, []);
    }
    const list = values.get(key)!;
    if (key === 'enable-dawn-features' || key === 'disable-dawn-features') {
      for (const t of value.split(',')) if (t && !list.includes(t)) list.push(t);
    } else {
      list.splice(0, list.length, value);
    }
  }
  return order.map((k) => {
    const v = values.get(k)!.join(',');
    return v === '' && !flags.some((f) => f.startsWith(`${k}=`)) ? k : `${k}=${v}`;
  });
}

/** True when the adapter looks like an NVIDIA GPU (vendor or description). */
export function isNvidiaAdapter(info: Pick<AdapterDescription, 'vendor' | 'description'>): boolean {
  return /nvidia/i.test(`${info.vendor} ${info.description}`) || info.vendor === '0x10de';
}

/** True when a retry with the NVIDIA f16 toggle may give shader-f16. */
export function shouldRetryWithNvidiaToggle(
  info: Pick<AdapterDescription, 'vendor' | 'description'>,
  features: ReadonlySet<string>,
  flags: readonly string[],
): boolean {
  if (features.has('shader-f16') || !isNvidiaAdapter(info)) return false;
  return !flags.some((f) => f.startsWith('enable-dawn-features=') && f.split('=')[1]!.split(',').includes(NVIDIA_F16_TOGGLE));
}

function describeAdapterInfo(info: GPUAdapterInfo | undefined): AdapterDescription {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const parts = [vendor, architecture, device].filter((s) => s.length > 0);
  const name = description || (parts.length ? parts.join(' ') : 'unknown adapter');
  return { vendor, architecture, device, description, isFallbackAdapter: info?.isFallbackAdapter ?? false, name };
}

async function adapterInfoOf(adapter: GPUAdapter): Promise<GPUAdapterInfo | undefined> {
  if (adapter.info) return adapter.info;
  // Older browsers: requestAdapterInfo() instead of the `info` attribute.
  const legacy = adapter as unknown as { requestAdapterInfo?: () => Promise<GPUAdapterInfo> };
  return legacy.requestAdapterInfo ? legacy.requestAdapterInfo() : undefined;
}

/** One requestAdapter() at a feature level (core: no featureLevel member, as before). */
async function requestAdapterAt(gpu: GPU, opts: AcquireOptions, level: FeatureLevel): Promise<GPUAdapter | null> {
  const request: GPURequestAdapterOptions = {};
  if (opts.powerPreference) request.powerPreference = opts.powerPreference;
  if (level === 'compatibility') request.featureLevel = 'compatibility';
  return gpu.requestAdapter(Object.keys(request).length > 0 ? request : undefined);
}

/** An adapter found on the first try is core; none: one retry in compatibility mode. */
export interface FoundAdapter {
  readonly adapter: GPUAdapter | null;
  readonly featureLevel: FeatureLevel;
}

/**
 * Asks `gpu` for an adapter, and when it has none, once more with
 * featureLevel 'compatibility'. A throw from the first request is E0701 with
 * its message; a throw from the retry counts as no adapter.
 */
export async function requestAdapterFrom(gpu: GPU, opts: AcquireOptions): Promise<FoundAdapter> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await requestAdapterAt(gpu, opts, 'core');
  } catch (e) {
    // dawn.node throws (e.g. "no suitable backends found") for a bad backend=/adapter= flag.
    throw new AmpcError('E0701', noAdapterMessage((e as Error).message));
  }
  if (adapter) return { adapter, featureLevel: 'core' };
  const compat = await requestAdapterAt(gpu, opts, 'compatibility').catch(() => null);
  return { adapter: compat, featureLevel: 'compatibility' };
}

function envFlag(name: string): string | undefined {
  return isNode ? process.env[name] : undefined;
}

/** Acquires a WebGPU device: Dawn in Node, navigator.gpu in a browser, or from `opts.gpu`. */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<GpuContext> {
  const disableF16 = opts.disableF16 ?? envFlag('AMPC_DISABLE_F16') === '1';
  let gpu: GPU;
  let flags: string[] = [];
  const backend: 'dawn' | 'browser' = isNode ? 'dawn' : 'browser';
  let found: FoundAdapter;

  if (opts.gpu) {
    gpu = opts.gpu;
    if (typeof (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage === 'undefined') {
      throw new AmpcError(
        'E0701',
        noAdapterMessage('the injected GPU object came without WebGPU\'s globals (GPUBufferUsage, …); ' +
          'in Node install them first: Object.assign(globalThis, (await import(\'webgpu\')).globals)'),
      );
    }
    found = await requestAdapterFrom(gpu, opts);
  } else if (isNode) {
    const node = await import('./gpu-node.ts');
    flags = mergeDawnFlags([...node.envDawnFlags(), ...(opts.dawnFlags ?? [])]);
    try {
      gpu = await node.createDawnGpu(flags);
    } catch (e) {
      throw new AmpcError('E0701', noAdapterMessage(`cannot load dawn.node: ${(e as Error).message}`));
    }
    found = await requestAdapterFrom(gpu, opts);
    if (found.adapter && !disableF16) {
      const info = describeAdapterInfo(await adapterInfoOf(found.adapter));
      if (shouldRetryWithNvidiaToggle(info, found.adapter.features as ReadonlySet<string>, flags)) {
        const retryFlags = mergeDawnFlags([...flags, `enable-dawn-features=${NVIDIA_F16_TOGGLE}`]);
        const retryGpu = await node.createDawnGpu(retryFlags);
        const retry = await requestAdapterAt(retryGpu, opts, found.featureLevel).catch(() => null);
        if (retry) {
          gpu = retryGpu;
          flags = retryFlags;
          found = { adapter: retry, featureLevel: found.featureLevel };
        }
      }
    }
  } else {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (!nav?.gpu) throw new AmpcError('E0701', noAdapterMessage('navigator.gpu is missing: this environment has no WebGPU'));
    gpu = nav.gpu;
    found = await requestAdapterFrom(gpu, opts);
  }
  const adapter = found.adapter;
  if (!adapter) throw new AmpcError('E0701', noAdapterMessage('requestAdapter() returned null'));

  const adapterInfo = describeAdapterInfo(await adapterInfoOf(adapter));
  const adapterFeatures = [...(adapter.features as ReadonlySet<string>)].sort();
  const wantF16 = !disableF16 && adapter.features.has('shader-f16');
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) {
    const v = adapter.limits[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'ampc',
      requiredFeatures: wantF16 ? ['shader-f16'] : [],
      requiredLimits,
    });
  } catch (e) {
    throw new AmpcError('E0702', `cannot create a WebGPU device on ${adapterInfo.name}: ${(e as Error).message}`);
  }
  return makeContext(gpu, device, adapterInfo, adapterFeatures, backend, flags, found.featureLevel, opts.onError);
}

/** How many uncaptured errors are kept (and, by default, printed) before the rest are only counted. */
const MAX_KEPT_ERRORS = 8;

function cleanDawnMessage(message: string): string {
  // Dawn appends blank lines and a repeated "validation:" copy; keep the first block.
  const text = message.replace(/\r/g, '').trim();
  const cut = text.search(/\n\s*\n\s*validation:\s*\n/);
  return (cut >= 0 ? text.slice(0, cut) : text).replace(/\n{2,}/g, '\n').trim();
}

function makeContext(
  gpuObject: GPU | undefined,
  device: GPUDevice,
  adapterInfo: AdapterDescription,
  adapterFeatures: string[],
  backend: 'dawn' | 'browser',
  dawnFlags: string[],
  featureLevel: FeatureLevel,
  onError: ((e: AmpcError) => void) | undefined,
): GpuContext {
  // Holding the GPU object keeps dawn.node alive while the device is in use.
  let gpu: GPU | undefined = gpuObject;
  let destroyed = false;
  let lostError: AmpcError | undefined;
  const pending: AmpcError[] = [];
  let dropped = 0;

  const report = (e: AmpcError): void => {
    const kept = pending.length < MAX_KEPT_ERRORS;
    if (kept) pending.push(e);
    else dropped++;
    if (onError) onError(e);
    else if (kept) console.error(`ampc: ${e.message}`);
  };

  device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
    report(new AmpcError('E0702', `uncaptured WebGPU error on ${adapterInfo.name}: ${cleanDawnMessage(ev.error.message)}`));
  };
  void device.lost.then((info) => {
    if (destroyed) return;
    lostError = new AmpcError('E0702', `WebGPU device lost (${info.reason}): ${cleanDawnMessage(info.message) || 'no message'}`);
    if (info.reason !== 'destroyed') report(lostError);
  });

  const features = [...(device.features as ReadonlySet<string>)].sort();
  const limits = Object.fromEntries(LIMIT_NAMES.map((k) => [k, device.limits[k]])) as unknown as DeviceLimits;

  return {
    device,
    adapterInfo,
    features,
    adapterFeatures,
    hasF16: device.features.has('shader-f16'),
    limits,
    backend,
    dawnFlags,
    featureLevel,
    get isLost() {
      return destroyed || lostError !== undefined;
    },
    check() {
      if (destroyed) throw new AmpcError('E0702', 'the WebGPU device has been destroyed (destroy() was called)');
      const first = pending.shift();
      const more = pending.length + dropped;
      pending.length = 0;
      dropped = 0;
      if (first) throw more > 0 ? new AmpcError('E0702', `${first.detail}\n(and ${more} more WebGPU error(s))`) : first;
      if (lostError) throw lostError;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.onuncapturederror = null;
      device.destroy();
      gpu = undefined;
    },
  };
}

/** Bytes in the largest binary unit that fits: 134217728 -> "128 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (i < units.length - 1 && n >= 1024 ** (i + 1)) i++;
  const v = n / 1024 ** i;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** One line: adapter, f16 yes/no, and the limits that size kernels. */
export function describeDevice(ctx: GpuContext): string {
  const info = ctx.adapterInfo;
  const kind = [info.vendor, info.architecture].filter((s) => s).join('/');
  const l = ctx.limits;
  return [
    `${info.name}${kind ? ` [${kind}${info.isFallbackAdapter ? ', fallback' : ''}]` : ''}`,
    `${ctx.backend === 'dawn' ? 'dawn' : 'browser'}${ctx.featureLevel === 'compatibility' ? ' (compatibility mode)' : ''}`,
    `f16 ${ctx.hasF16 ? 'yes' : 'no'}`,
    `storage binding ${formatBytes(l.maxStorageBufferBindingSize)}`,
    `buffer ${formatBytes(l.maxBufferSize)}`,
    `workgroup ${l.maxComputeInvocationsPerWorkgroup} invocations (${l.maxComputeWorkgroupSizeX}x${l.maxComputeWorkgroupSizeY}x${l.maxComputeWorkgroupSizeZ})`,
    `${l.maxComputeWorkgroupsPerDimension} workgroups/dim`,
    `shared ${formatBytes(l.maxComputeWorkgroupStorageSize)}`,
    `${l.maxStorageBuffersPerShaderStage} storage buffers/stage`,
  ].join(' · ');
}
