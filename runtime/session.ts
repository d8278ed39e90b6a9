// A Session runs a Plan on a device: it checks the plan against the device's
// limits, creates the buffers once, compiles each kernel once (pipelines are
// cached per device), and encodes all dispatches of a run into one command
// buffer. Inputs are uploaded when written; only the outputs asked for are
// read back.

import { AmpcError } from '../ir/errors.ts';
import type { GpuContext } from './device.ts';
import type { Plan, PlanIO } from './plan.ts';
import { compileShader } from './shader.ts';

const USAGE = { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, STORAGE: 0x0080 } as const;
const MAP_MODE_READ = 0x0001;

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

async function pipelineFor(ctx: GpuContext, code: string, entryPoint: string, label: string): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(ctx.device);
  if (!cache) pipelineCache.set(ctx.device, (cache = new Map()));
  const key = `${entryPoint}\n${code}`;
  let p = cache.get(key);
  if (!p) {
    p = compileShader(ctx, code, label).then((module) =>
      ctx.device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint } }),
    );
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

/** Throws E0702 if the plan cannot run on this device as it is. */
export function checkPlanFits(ctx: GpuContext, plan: Plan): void {
  if (plan.f16Mode === 'native' && plan.kernels.some((k) => k.usesF16) && !ctx.hasF16) {
    throw new AmpcError('E0702', "this plan uses f16 arithmetic (f16 mode 'native'), but the device has no shader-f16; compile it with f16 mode 'packed'");
  }
  const maxBinding = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  for (const b of plan.buffers) {
    if (b.byteSize > maxBinding) {
      throw new AmpcError('E0702', `buffer ${b.name ? '%' + b.name : '#' + b.id} of ${b.byteSize} bytes exceeds the device's largest storage binding (${maxBinding} bytes)`);
    }
  }
  const maxWg = ctx.limits.maxComputeWorkgroupsPerDimension;
  for (const d of plan.dispatches) {
    if (d.workgroups.some((n) => n > maxWg)) {
      throw new AmpcError('E0702', `kernel '${plan.kernels[d.kernel]!.label}' dispatches [${d.workgroups.join(', ')}] workgroups; the device allows ${maxWg} per dimension`);
    }
    const bindings = d.bindings.length;
    if (bindings > ctx.limits.maxStorageBuffersPerShaderStage) {
      throw new AmpcError('E0702', `kernel '${plan.kernels[d.kernel]!.label}' binds ${bindings} storage buffers; the device allows ${ctx.limits.maxStorageBuffersPerShaderStage}`);
    }
  }
}

export class Session {
  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Plan,
    private readonly buffers: GPUBuffer[],
    private readonly steps: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: readonly [number, number, number] }[],
  ) {}

  static async create(ctx: GpuContext, plan: Plan): Promise<Session> {
    checkPlanFits(ctx, plan);
    const { device } = ctx;
    const buffers = plan.buffers.map((b) =>
      device.createBuffer({ label: b.name ?? `#${b.id}`, size: b.byteSize, usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC }),
    );
    const pipelines = await Promise.all(plan.kernels.map((k) => pipelineFor(ctx, k.code, k.entryPoint, k.label)));
    const steps = plan.dispatches.map((d) => {
      const pipeline = pipelines[d.kernel]!;
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: d.bindings.map((id, i) => ({ binding: i, resource: { buffer: buffers[id]! } })),
      });
      return { pipeline, bindGroup, workgroups: d.workgroups };
    });
    ctx.check();
    return new Session(ctx, plan, buffers, steps);
  }

  private io(list: readonly PlanIO[], key: string | number, what: string): PlanIO {
    const io = typeof key === 'number' ? list[key] : list.find((x) => x.name === key);
    if (!io) throw new AmpcError('E0603', `no ${what} ${typeof key === 'number' ? '#' + key : "'" + key + "'"} (has: ${list.map((x) => x.name).join(', ')})`);
    return io;
  }

  /** Uploads the bytes of an input (or parameter) by name. */
  write(name: string, bytes: Uint8Array): void {
    const io = this.io(this.plan.inputs, name, 'input');
    const size = this.plan.buffers[io.buffer]!.byteSize;
    if (bytes.byteLength > size) throw new AmpcError('E0603', `input '${name}': ${bytes.byteLength} bytes given, the buffer holds ${size}`);
    this.ctx.device.queue.writeBuffer(this.buffers[io.buffer]!, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Encodes every dispatch of the plan into one command buffer and submits it. */
  run(): void {
    const encoder = this.ctx.device.createCommandEncoder({ label: 'ampc run' });
    const pass = encoder.beginComputePass();
    for (const s of this.steps) {
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.bindGroup);
      pass.dispatchWorkgroups(s.workgroups[0], s.workgroups[1], s.workgroups[2]);
    }
    pass.end();
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  /** Reads back outputs (all by default) by index or name, in one copy and one wait. */
  async readOutputs(which?: readonly (string | number)[]): Promise<ArrayBuffer[]> {
    const ios = (which ?? this.plan.outputs.map((_, i) => i)).map((k) => this.io(this.plan.outputs, k, 'output'));
    const { device } = this.ctx;
    const encoder = device.createCommandEncoder({ label: 'ampc read-back' });
    const staging = ios.map((io) => {
      const size = this.plan.buffers[io.buffer]!.byteSize;
      const s = device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      encoder.copyBufferToBuffer(this.buffers[io.buffer]!, 0, s, 0, size);
      return s;
    });
    device.queue.submit([encoder.finish()]);
    const out = await Promise.all(
      staging.map(async (s) => {
        await s.mapAsync(MAP_MODE_READ);
        const copy = s.getMappedRange().slice(0);
        s.unmap();
        s.destroy();
        return copy;
      }),
    );
    this.ctx.check();
    return out;
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}
