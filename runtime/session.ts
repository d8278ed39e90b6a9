// A Session runs a Plan on a device: it checks the plan against the device's
// limits (and its memory plan, if any, for soundness), creates the device
// buffers once (one per Plan.storage entry, which intermediates may share,
// and one per plan buffer outside it; `bufferBytes` is their total),
// compiles each kernel once (pipelines are cached per device), and encodes
// all dispatches of a run into one command buffer, followed (in the same
// command buffer) by the plan's in-place update copies. Inputs are uploaded
// when written; only the outputs (or inputs) asked for are read back, so a
// training loop moves nothing but the batch between host and device.

import { AmpcError } from '../ir/errors.ts';
import type { GpuContext } from './device.ts';
import type { Plan, PlanCopy, PlanIO } from './plan.ts';
import { boundTogetherWritable, deviceBuffers, STORAGE_OFFSET_ALIGNMENT } from './plan.ts';
import { encodeTensor } from './host-data.ts';
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
  if (plan.f16Mode !== 'packed' && plan.kernels.some((k) => k.usesF16) && !ctx.hasF16) {
    throw new AmpcError('E0702', `this plan uses f16 storage (f16 mode '${plan.f16Mode}'), but the device has no shader-f16; compile it with f16 mode 'packed'`);
  }
  const maxBinding = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  for (const b of plan.buffers) {
    if (b.byteSize > maxBinding) {
      throw new AmpcError('E0702', `buffer ${b.name ? '%' + b.name : '#' + b.id} of ${b.byteSize} bytes exceeds the device's largest storage binding (${maxBinding} bytes)`);
    }
  }
  checkUpdates(plan);
  checkStorage(plan);
  for (const size of deviceBuffers(plan).sizes) {
    if (size > ctx.limits.maxBufferSize) throw new AmpcError('E0702', `a device buffer of ${size} bytes exceeds the device's maxBufferSize (${ctx.limits.maxBufferSize} bytes)`);
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

/** Throws E0702 for update copies a device would reject (bad ids, a buffer onto itself, sizes that differ). */
function checkUpdates(plan: Plan): void {
  const label = (id: number) => {
    const b = plan.buffers[id];
    return b?.name ? `%${b.name}` : `#${id}`;
  };
  for (const u of plan.updates ?? []) {
    const from = plan.buffers[u.from], to = plan.buffers[u.to];
    if (!from || !to) throw new AmpcError('E0702', `plan update ${u.from} -> ${u.to} names a buffer the plan does not have (${plan.buffers.length} buffers)`);
    if (u.from === u.to) throw new AmpcError('E0702', `plan update copies buffer ${label(u.from)} onto itself`);
    if (from.byteSize !== to.byteSize) {
      throw new AmpcError('E0702', `plan update copies ${label(u.from)} (${from.byteSize} bytes) into ${label(u.to)} (${to.byteSize} bytes)`);
    }
  }
}

/**
 * Throws E0702 for a memory plan that could corrupt results: a storage index
 * out of range, a device buffer smaller than a plan buffer it holds, or a
 * shared device buffer holding a non-intermediate buffer (other than a
 * donated input) or two buffers live at once. A buffer is live from the
 * first dispatch that binds it to the last one (a donated input from the
 * first dispatch of the run); update copies count as one more dispatch after the last.
 */
function checkStorage(plan: Plan): void {
  const storage = plan.storage ?? [];
  const holders: number[][] = storage.map(() => []);
  plan.buffers.forEach((b, id) => {
    if (b.storage === undefined) return;
    const s = Number.isInteger(b.storage) ? storage[b.storage] : undefined;
    if (!s) throw new AmpcError('E0702', `plan buffer #${id} names device buffer ${b.storage}; the plan has ${storage.length}`);
    const at = b.offset ?? 0;
    if (!Number.isInteger(at) || at < 0 || at % STORAGE_OFFSET_ALIGNMENT !== 0) throw new AmpcError('E0702', `plan buffer #${id} has offset ${at}, not a multiple of ${STORAGE_OFFSET_ALIGNMENT}`);
    if (s.byteSize < at + b.byteSize) throw new AmpcError('E0702', `plan buffer #${id} (${b.byteSize} bytes at ${at}) does not fit device buffer ${b.storage} of ${s.byteSize} bytes`);
    holders[b.storage]!.push(id);
  });
  if (!holders.some((ids) => ids.length > 1)) return;
  // WebGPU validates a dispatch's usage per device buffer: one dispatch never binds two of its
  // holders with one of them writable.
  const conflicts = boundTogetherWritable(plan);
  holders.forEach((ids, s) => {
    for (const a of ids) for (const b of ids) {
      if (a < b && conflicts.get(a)?.has(b)) throw new AmpcError('E0702', `a dispatch binds plan buffers #${a} and #${b}, one of them writable, but they share device buffer ${s}`);
    }
  });
  const first = new Map<number, number>(), last = new Map<number, number>();
  const touch = (id: number, at: number) => {
    if (!first.has(id)) first.set(id, at);
    last.set(id, at);
  };
  // A donated input holds the host's bytes from the start of the run.
  const donated = new Set(plan.inputs.filter((io) => io.donated).map((io) => io.buffer));
  for (const id of donated) touch(id, 0);
  plan.dispatches.forEach((d, at) => d.bindings.forEach((id) => touch(id, at)));
  for (const u of plan.updates ?? []) {
    touch(u.from, plan.dispatches.length);
    touch(u.to, plan.dispatches.length);
  }
  holders.forEach((ids, s) => {
    if (ids.length < 2) return;
    const other = ids.find((id) => plan.buffers[id]!.role !== 'intermediate' && !donated.has(id));
    if (other !== undefined) throw new AmpcError('E0702', `device buffer ${s} is shared, but holds plan buffer #${other} (${plan.buffers[other]!.role})`);
    // Two holders whose bytes overlap must not be live at once.
    const live = ids.filter((id) => first.has(id)).map((id) => {
      const b = plan.buffers[id]!;
      return { id, from: first.get(id)!, to: last.get(id)!, lo: b.offset ?? 0, hi: (b.offset ?? 0) + b.byteSize };
    }).sort((a, b) => a.from - b.from);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length && live[j]!.from <= live[i]!.to; j++) {
        const a = live[i]!, b = live[j]!;
        if (a.lo < b.hi && b.lo < a.hi) throw new AmpcError('E0702', `plan buffers #${a.id} and #${b.id} share bytes of device buffer ${s} but are live at once (dispatch ${b.from})`);
      }
    }
  });
}

export class Session {
  /** Bytes of the device buffers this session holds for its life (read-back staging buffers, freed after each read, are not counted). */
  readonly bufferBytes: number;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: Plan,
    /** The device buffer of each plan buffer (shared ones repeat). */
    private readonly buffers: readonly GPUBuffer[],
    /** Every device buffer, once. */
    private readonly owned: readonly GPUBuffer[],
    private readonly steps: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: readonly [number, number, number] }[],
    private readonly updates: readonly PlanCopy[],
  ) {
    this.bufferBytes = owned.reduce((n, b) => n + b.size, 0);
    this.donated = plan.inputs.filter((io) => io.donated).map((io) => io.name);
    for (const io of plan.inputs) {
      if (io.derivedFrom === undefined) continue;
      const from = this.io(plan.inputs, io.derivedFrom, 'input');
      const [f, c] = [plan.buffers[from.buffer]!, plan.buffers[io.buffer]!];
      if (f.dtype !== 'f32' || c.dtype !== 'f16' || f.shape.join(',') !== c.shape.join(',')) {
        throw new AmpcError('E0603', `input '${io.name}': derived from '${from.name}', which must be f32 of its shape (it is kept as its f16 copy)`);
      }
      this.derived.set(from.name, [...(this.derived.get(from.name) ?? []), io.name]);
    }
  }

  /** Inputs kept as the f16 copy of an input (PlanIO.derivedFrom), by that input's name. */
  private readonly derived = new Map<string, string[]>();

  /** The names of the donated inputs (PlanIO.donated). */
  private readonly donated: readonly string[];

  /** Donated inputs a run has reused since they were last written. */
  private readonly spent = new Set<string>();

  /** E0603 when `names` include a donated input a run has reused since it was last written. */
  private checkNotSpent(names: readonly string[], doing: string): void {
    const name = names.find((n) => this.spent.has(n));
    if (name !== undefined) {
      throw new AmpcError('E0603', `input '${name}' is donated (the last run reused its buffer for intermediates); write it before ${doing}`);
    }
  }

  static async create(ctx: GpuContext, plan: Plan): Promise<Session> {
    checkPlanFits(ctx, plan);
    const { device } = ctx;
    const { sizes, of } = deviceBuffers(plan);
    const held = sizes.map(() => [] as string[]);
    plan.buffers.forEach((b, id) => held[of[id]!]!.push(b.name ?? `#${b.id}`));
    const owned = sizes.map((size, k) =>
      device.createBuffer({ label: held[k]!.length === 1 ? held[k]![0]! : `shared ${k} (${held[k]!.length} buffers)`, size, usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC }),
    );
    const buffers = of.map((k) => owned[k]!);
    const pipelines = await Promise.all(plan.kernels.map((k) => pipelineFor(ctx, k.code, k.entryPoint, k.label)));
    const steps = plan.dispatches.map((d) => {
      const pipeline = pipelines[d.kernel]!;
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        // A shared device buffer may be larger than the plan buffer bound to it.
        entries: d.bindings.map((id, i) => ({ binding: i, resource: { buffer: buffers[id]!, offset: plan.buffers[id]!.offset ?? 0, size: plan.buffers[id]!.byteSize } })),
      });
      return { pipeline, bindGroup, workgroups: d.workgroups };
    });
    ctx.check();
    return new Session(ctx, plan, buffers, owned, steps, plan.updates ?? []);
  }

  private io(list: readonly PlanIO[], key: string | number, what: string): PlanIO {
    const io = typeof key === 'number' ? list[key] : list.find((x) => x.name === key);
    if (!io) throw new AmpcError('E0603', `no ${what} ${typeof key === 'number' ? '#' + key : "'" + key + "'"} (has: ${list.map((x) => x.name).join(', ')})`);
    return io;
  }

  /** Uploads the bytes of an input (or parameter) by name; ordered before the next run. */
  write(name: string, bytes: Uint8Array): void {
    const io = this.io(this.plan.inputs, name, 'input');
    const size = this.plan.buffers[io.buffer]!.byteSize;
    if (bytes.byteLength > size) throw new AmpcError('E0603', `input '${name}': ${bytes.byteLength} bytes given, the buffer holds ${size}`);
    this.ctx.device.queue.writeBuffer(this.buffers[io.buffer]!, this.plan.buffers[io.buffer]!.offset ?? 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.spent.delete(io.name);
    const copies = this.derived.get(io.name);
    if (copies) {
      // The weight's f16 copies follow it (rounded to nearest even, overflow to inf, as the kernels' casts).
      const values = new Float32Array(bytes.slice().buffer, 0, Math.min(bytes.byteLength >> 2, this.plan.buffers[io.buffer]!.shape.reduce((a, b) => a * b, 1)));
      for (const c of copies) this.write(c, encodeTensor('f16', values));
    }
  }

  /**
   * Encodes every dispatch of the plan, then its update copies, into one
   * command buffer and submits it. Nothing is read back. Donated inputs
   * must have been written since the last run.
   */
  run(): void {
    if (this.spent.size) this.checkNotSpent([...this.spent], 'running again');
    const encoder = this.ctx.device.createCommandEncoder({ label: 'ampc run' });
    const pass = encoder.beginComputePass();
    for (const s of this.steps) {
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.bindGroup);
      pass.dispatchWorkgroups(s.workgroups[0], s.workgroups[1], s.workgroups[2]);
    }
    pass.end();
    for (const u of this.updates) {
      encoder.copyBufferToBuffer(this.buffers[u.from]!, this.plan.buffers[u.from]!.offset ?? 0, this.buffers[u.to]!, this.plan.buffers[u.to]!.offset ?? 0, this.plan.buffers[u.from]!.byteSize);
    }
    this.ctx.device.queue.submit([encoder.finish()]);
    for (const name of this.donated) this.spent.add(name);
  }

  /** Runs dispatch `i` of the plan alone, in a command buffer of its own, without the update copies: for timing dispatches one by one (bench/dispatches.ts). */
  runDispatch(i: number): void {
    const s = this.steps[i];
    if (!s) throw new AmpcError('E0603', `no dispatch #${i} (the plan has ${this.steps.length})`);
    const encoder = this.ctx.device.createCommandEncoder({ label: `ampc dispatch ${i}` });
    const pass = encoder.beginComputePass();
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.bindGroup);
    pass.dispatchWorkgroups(s.workgroups[0], s.workgroups[1], s.workgroups[2]);
    pass.end();
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  /** Reads back outputs (all by default) by index or name, in one copy and one wait. */
  readOutputs(which?: readonly (string | number)[]): Promise<ArrayBuffer[]> {
    const ios = (which ?? this.plan.outputs.map((_, i) => i)).map((k) => this.io(this.plan.outputs, k, 'output'));
    return this.readBuffers(ios, 'ampc read-back');
  }

  /**
   * Reads back the current values of inputs and parameters (all by default)
   * by index or name, in one copy and one wait: after runs with in-place
   * updates, the updated parameters and optimizer state (e.g. to save them).
   */
  readInputs(which?: readonly (string | number)[]): Promise<ArrayBuffer[]> {
    const ios = (which ?? this.plan.inputs.map((_, i) => i)).map((k) => this.io(this.plan.inputs, k, 'input'));
    try {
      this.checkNotSpent(ios.map((io) => io.name), 'reading it back');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.readBuffers(ios, 'ampc read inputs');
  }

  /**
   * Copies the buffers into one staging buffer (more only past the device's
   * maxBufferSize), maps it once, and slices it per buffer.
   */
  private async readBuffers(ios: readonly PlanIO[], label: string): Promise<ArrayBuffer[]> {
    const { device } = this.ctx;
    const limit = this.ctx.limits.maxBufferSize;
    // Group the reads into staging buffers: [first io, end io, bytes].
    const groups: { start: number; end: number; bytes: number }[] = [];
    ios.forEach((io, i) => {
      const size = this.plan.buffers[io.buffer]!.byteSize; // a multiple of 4, as copies need
      const last = groups.at(-1);
      if (last && last.bytes + size <= limit) {
        last.end = i + 1;
        last.bytes += size;
      } else groups.push({ start: i, end: i + 1, bytes: size });
    });
    const encoder = device.createCommandEncoder({ label });
    const staged = groups.map((grp) => {
      const buffer = device.createBuffer({ label: `${label} staging`, size: grp.bytes, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      let offset = 0;
      const ranges = ios.slice(grp.start, grp.end).map((io) => {
        const size = this.plan.buffers[io.buffer]!.byteSize;
        encoder.copyBufferToBuffer(this.buffers[io.buffer]!, this.plan.buffers[io.buffer]!.offset ?? 0, buffer, offset, size);
        offset += size;
        return [offset - size, offset] as const;
      });
      return { buffer, ranges };
    });
    device.queue.submit([encoder.finish()]);
    try {
      const parts = await Promise.all(
        staged.map(async ({ buffer, ranges }) => {
          await buffer.mapAsync(MAP_MODE_READ);
          const all = buffer.getMappedRange();
          const out = ranges.map(([a, b]) => all.slice(a, b));
          buffer.unmap();
          return out;
        }),
      );
      this.ctx.check();
      return parts.flat();
    } finally {
      for (const { buffer } of staged) buffer.destroy();
    }
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
