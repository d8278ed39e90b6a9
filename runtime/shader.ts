// Compiling WGSL with errors that name the op a shader came from (E0703), and
// runCompute: upload, dispatch, read back — a small helper for tests and smoke
// checks, not the runtime Session (that one caches pipelines and buffers).

import { AmpcError } from '../ir/errors.ts';
import type { GpuContext } from './device.ts';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec, so this file does not
// depend on the globals dawn.node installs.
const USAGE = { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 } as const;
const MAP_MODE_READ = 0x0001;

/** WGSL compiler messages as one readable block: `label:line:col: error: text`, the line, a caret. */
export function formatCompilationMessages(code: string, label: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = code.split('\n');
  const out: string[] = [];
  for (const m of messages) {
    const text = m.message.trim();
    if (m.lineNum > 0) {
      out.push(`${label}:${m.lineNum}:${m.linePos}: ${m.type}: ${text}`);
      const src = lines[m.lineNum - 1];
      if (src !== undefined) {
        const gutter = `${m.lineNum} | `;
        out.push(`  ${gutter}${src.replace(/\t/g, ' ')}`);
        const width = Math.max(1, Math.min(m.length || 1, src.length - m.linePos + 1));
        out.push(`  ${' '.repeat(gutter.length + Math.max(0, m.linePos - 1))}${'^'.repeat(width)}`);
      }
    } else {
      out.push(`${label}: ${m.type}: ${text}`);
    }
  }
  return out.join('\n');
}

/**
 * Creates a shader module and waits for its compilation result; WGSL errors
 * throw E0703 naming `label` (the op the shader came from), each message with
 * line:col and the offending source line. Warnings are not reported.
 */
export async function compileShader(ctx: GpuContext, code: string, label: string): Promise<GPUShaderModule> {
  const { device } = ctx;
  // Push and pop in the same synchronous stretch: other async work on the
  // shared device cannot slip its errors into this scope.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label });
  const scoped = device.popErrorScope();
  const [info, scopeError] = await Promise.all([module.getCompilationInfo(), scoped]);
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length === 0 && !scopeError) return module;

  let detail = `WGSL for '${label}' does not compile:\n${formatCompilationMessages(code, label, errors)}`;
  if (errors.length === 0 && scopeError) detail += scopeError.message.trim();
  if (!ctx.hasF16 && /^\s*enable\s+f16\s*;/m.test(code)) {
    detail += '\n(this device has no shader-f16: use f16 packed in u32 with pack2x16float/unpack2x16float instead)';
  }
  throw new AmpcError('E0703', detail);
}

export interface ComputeBinding {
  /** Initial contents (zeros when omitted; then `size` is required). */
  data?: ArrayBuffer | ArrayBufferView;
  /** Byte size of the buffer (default: data's byte length); padded to a multiple of 4. */
  size?: number;
  /** Copy the buffer back after the dispatch; runCompute returns one ArrayBuffer per such binding. */
  readBack?: boolean;
  /** A uniform buffer instead of a storage buffer. */
  uniform?: boolean;
}

export interface ComputeSpec {
  code: string;
  /** Names the shader in errors (the op it came from). */
  label: string;
  entryPoint?: string;
  /** @group(0) @binding(i) for bindings[i]. */
  bindings: readonly ComputeBinding[];
  workgroups: readonly [number, number?, number?];
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const pad4 = (n: number): number => Math.max(4, Math.ceil(n / 4) * 4);

/**
 * Compiles `code`, uploads the bindings, dispatches once, and returns the
 * read-back bindings' contents (each `size ?? data.byteLength` bytes, in
 * binding order). Buffers are freed before it returns.
 */
export async function runCompute(ctx: GpuContext, spec: ComputeSpec): Promise<ArrayBuffer[]> {
  ctx.check();
  const { device } = ctx;
  const [x, y = 1, z = 1] = spec.workgroups;
  const maxGroups = ctx.limits.maxComputeWorkgroupsPerDimension;
  if ([x, y, z].some((n) => !Number.isInteger(n) || n < 0 || n > maxGroups)) {
    throw new AmpcError('E0702', `${spec.label}: workgroup counts [${x}, ${y}, ${z}] exceed this device's limit of ${maxGroups} per dimension`);
  }
  const module = await compileShader(ctx, spec.code, spec.label);
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label: spec.label,
      layout: 'auto',
      compute: { module, entryPoint: spec.entryPoint ?? 'main' },
    });
  } catch (e) {
    throw new AmpcError('E0703', `cannot create the compute pipeline for '${spec.label}': ${(e as Error).message.trim()}`);
  }

  const sizes = spec.bindings.map((b, i) => {
    const n = b.size ?? b.data?.byteLength;
    if (n === undefined) throw new AmpcError('E0702', `${spec.label}: binding ${i} has neither data nor size`);
    if (b.data && b.data.byteLength > n) throw new AmpcError('E0702', `${spec.label}: binding ${i} data (${b.data.byteLength} bytes) exceeds its size ${n}`);
    return n;
  });
  const buffers: GPUBuffer[] = [];
  const staging: { buffer: GPUBuffer; bytes: number }[] = [];
  try {
    // Everything between push and pop is synchronous (see compileShader), and
    // the scopes are popped even when a step throws.
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let scopes: Promise<[GPUError | null, GPUError | null]>;
    try {
      encodeAndSubmit(device, spec, pipeline, sizes, buffers, staging, [x, y, z]);
    } finally {
      const validation = device.popErrorScope();
      const oom = device.popErrorScope();
      scopes = Promise.all([validation, oom]);
      scopes.catch(() => undefined);
    }
    const [vErr, oErr] = await scopes;
    const err = vErr ?? oErr;
    if (err) throw new AmpcError('E0702', `${spec.label}: ${err.message.trim()}`);

    const results: ArrayBuffer[] = [];
    for (const s of staging) {
      await s.buffer.mapAsync(MAP_MODE_READ);
      results.push(s.buffer.getMappedRange(0, pad4(s.bytes)).slice(0, s.bytes));
      s.buffer.unmap();
    }
    ctx.check();
    return results;
  } finally {
    for (const b of buffers) b.destroy();
    for (const s of staging) s.buffer.destroy();
  }
}

function encodeAndSubmit(
  device: GPUDevice,
  spec: ComputeSpec,
  pipeline: GPUComputePipeline,
  sizes: readonly number[],
  buffers: GPUBuffer[],
  staging: { buffer: GPUBuffer; bytes: number }[],
  [x, y, z]: readonly [number, number, number],
): void {
  spec.bindings.forEach((b, i) => {
    const size = pad4(sizes[i]!);
    const usage = (b.uniform ? USAGE.UNIFORM : USAGE.STORAGE) | USAGE.COPY_SRC | USAGE.COPY_DST;
    const buffer = device.createBuffer({ label: `${spec.label}#${i}`, size, usage, mappedAtCreation: b.data !== undefined });
    buffers.push(buffer);
    if (b.data) {
      new Uint8Array(buffer.getMappedRange()).set(bytesOf(b.data));
      buffer.unmap();
    }
  });
  const encoder = device.createCommandEncoder({ label: spec.label });
  const pass = encoder.beginComputePass({ label: spec.label });
  pass.setPipeline(pipeline);
  if (buffers.length > 0) {
    const bindGroup = device.createBindGroup({
      label: spec.label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    pass.setBindGroup(0, bindGroup);
  }
  pass.dispatchWorkgroups(x, y, z);
  pass.end();
  spec.bindings.forEach((b, i) => {
    if (!b.readBack) return;
    const size = pad4(sizes[i]!);
    const buffer = device.createBuffer({ label: `${spec.label}#${i} readback`, size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    staging.push({ buffer, bytes: sizes[i]! });
    encoder.copyBufferToBuffer(buffers[i]!, 0, buffer, 0, size);
  });
  device.queue.submit([encoder.finish()]);
}
