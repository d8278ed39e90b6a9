// `ampc devices [--json]`: acquires the WebGPU device ampc would use and prints
// the adapter, whether shader-f16 is on, the f16 mode compiles default to
// (compiler/compile.ts), the features and the key limits.
// No adapter is E0701 (exit 1 with the message on how to get one).

import { acquireDevice, formatBytes, LIMIT_NAMES } from '../../runtime/device.ts';
import type { AcquireOptions, GpuContext } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { defaultF16Mode } from '../compile.ts';
import type { CliIO } from './io.ts';

export interface DevicesOptions extends AcquireOptions {
  /** Print one JSON object instead of text. */
  json?: boolean;
}

const F16_MODE_TEXT: { readonly [M in F16Mode]: string } = {
  native: 'native (array<f16>, f16 arithmetic)',
  storage: 'storage (array<f16>, f32 arithmetic: this adapter\'s f16 math is slower than f32)',
  packed: 'packed (two halves per u32, f32 arithmetic)',
};

const BYTE_LIMITS = new Set<string>(['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']);

/** The text `ampc devices` prints for a context. */
export function formatDeviceReport(ctx: GpuContext): string {
  const info = ctx.adapterInfo;
  const field = (k: string, v: string) => `${`${k}:`.padEnd(14)}${v}`;
  const lines = [
    field('adapter', info.name),
    field('vendor', info.vendor || '-'),
    field('architecture', info.architecture || '-'),
    field('device', info.device || '-'),
    field('fallback', info.isFallbackAdapter ? 'yes (software adapter)' : 'no'),
    field('backend', ctx.backend === 'dawn' ? `dawn (node), flags: ${ctx.dawnFlags.join(' ') || 'none'}` : 'browser (navigator.gpu)'),
    field('shader-f16', ctx.hasF16 ? 'yes' : ctx.adapterFeatures.includes('shader-f16') ? 'no (disabled)' : 'no (adapter lacks it; f16 storage packed in u32 still works)'),
    field('f16 mode', F16_MODE_TEXT[defaultF16Mode(ctx)]),
    field('features', ctx.adapterFeatures.join(' ') || 'none'),
    'limits:',
  ];
  const width = Math.max(...LIMIT_NAMES.map((k) => k.length));
  for (const k of LIMIT_NAMES) {
    const v = ctx.limits[k];
    lines.push(`  ${k.padEnd(width)}  ${String(v).padStart(10)}${BYTE_LIMITS.has(k) ? `  (${formatBytes(v)})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export async function devicesCommand(io: CliIO, opts: DevicesOptions = {}): Promise<void> {
  const ctx = await acquireDevice(opts);
  try {
    if (opts.json) {
      const { adapterInfo, features, adapterFeatures, hasF16, limits, backend, dawnFlags } = ctx;
      io.stdout(JSON.stringify({ adapter: adapterInfo, backend, dawnFlags, hasF16, f16Mode: defaultF16Mode(ctx), features, adapterFeatures, limits }, null, 2) + '\n');
    } else {
      io.stdout(formatDeviceReport(ctx));
    }
  } finally {
    ctx.destroy();
  }
}
