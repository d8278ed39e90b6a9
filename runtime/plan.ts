// A Plan is what the compiler hands the runtime: WGSL kernels, the buffers
// they bind, the dispatches of one run in order, and which buffers are the
// graph's inputs and outputs, and the buffer copies that update inputs in
// place after the dispatches (a train step). Plan buffers are logical: with
// a memory plan (`storage`), intermediates whose lifetimes do not overlap
// share one device buffer. It is plain data
// (JSON-serializable), so an ahead-of-time artifact is a saved Plan that the
// runtime alone can run.

import type { DType } from '../ir/dtype.ts';

/**
 * How f16 tensors live on the device and are computed: `native` stores
 * `array<f16>` and computes in f16 (needs the adapter's shader-f16; for
 * adapters with fast f16 arithmetic, GPUs); `storage` stores `array<f16>`
 * but computes in f32 registers, rounding each result to f16 (needs
 * shader-f16; for adapters whose f16 arithmetic is slower than f32, such as
 * lavapipe); `packed` keeps two halves per u32 and computes in f32 through
 * unpack2x16float / pack2x16float (no shader-f16 needed). All lay halves out
 * the same way in memory, so uploads and read-backs do not depend on the mode.
 */
export type F16Mode = 'native' | 'storage' | 'packed';

export interface PlanKernel {
  /** What the kernel computes, for error messages and profiles (e.g. "matmul %3"). */
  readonly label: string;
  readonly code: string;
  readonly entryPoint: string;
  /** The shader declares `enable f16;`. */
  readonly usesF16: boolean;
}

export type BufferRole = 'input' | 'param' | 'output' | 'intermediate' | 'constant';

export interface PlanBuffer {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Bytes, a multiple of 4 (f16 and bool sizes rounded up). */
  readonly byteSize: number;
  readonly role: BufferRole;
  /** Graph value name, where it has one. */
  readonly name?: string;
  /**
   * Index into Plan.storage: the device buffer holding this one, bound as
   * its `byteSize` bytes from `offset`. Only 'intermediate' buffers share a
   * device buffer, and two of them overlap in bytes only when their live
   * ranges do not (see Plan.storage). Absent: a device buffer of its own.
   */
  readonly storage?: number;
  /** Byte offset into its storage (a multiple of STORAGE_OFFSET_ALIGNMENT); absent: 0. */
  readonly offset?: number;
}

/**
 * Alignment of offsets into a shared device buffer: WebGPU's default (and
 * largest allowed) minStorageBufferOffsetAlignment, which every device accepts.
 */
export const STORAGE_OFFSET_ALIGNMENT = 256;

/** The binding indices a kernel declares `read_write` (it may write them). */
export function writableBindings(code: string): Set<number> {
  return new Set([...code.matchAll(/@binding\((\d+)\)\s+var<storage,\s*read_write>/g)].map((m) => Number(m[1])));
}

/**
 * Pairs of plan buffers that one dispatch binds with at least one of them
 * writable: WebGPU validates a dispatch's usage per device buffer (not per
 * range), so such a pair may never share one. Keyed by buffer id.
 */
export function boundTogetherWritable(plan: { readonly kernels: readonly { readonly code: string }[]; readonly dispatches: readonly PlanDispatch[] }): Map<number, Set<number>> {
  const writable = plan.kernels.map((k) => writableBindings(k.code));
  const out = new Map<number, Set<number>>();
  const add = (a: number, b: number) => {
    let s = out.get(a);
    if (!s) out.set(a, (s = new Set()));
    s.add(b);
  };
  for (const d of plan.dispatches) {
    const w = writable[d.kernel]!;
    d.bindings.forEach((a, i) => d.bindings.forEach((b, j) => {
      if (a !== b && (w.has(i) || w.has(j))) add(a, b);
    }));
  }
  return out;
}

/** A device buffer of a memory plan. */
export interface PlanStorage {
  /** Bytes, a multiple of 4, at least the byteSize of every plan buffer it holds. */
  readonly byteSize: number;
}

export interface PlanDispatch {
  /** Index into Plan.kernels. */
  readonly kernel: number;
  /** Buffer ids bound at @group(0) @binding(0..n-1), in order. */
  readonly bindings: readonly number[];
  readonly workgroups: readonly [number, number, number];
}

export interface PlanIO {
  readonly name: string;
  readonly buffer: number;
  /**
   * An f16 input kept equal to the f16 rounding (nearest even, overflow to
   * inf) of the f32 input of this name: Session.write of that input writes
   * this one too (a weight copy, compiler/weight-copies.ts).
   */
  readonly derivedFrom?: string;
  /**
   * A donated input (as XLA's donated arguments): the caller writes it
   * before every run, so after its last read in a run its buffer may hold
   * that run's intermediates (the memory plan places them there). A
   * Session refuses to run again, or to read it back, until it is written.
   */
  readonly donated?: true;
}

/** A whole-buffer copy (`from` and `to` have the same byteSize). */
export interface PlanCopy {
  readonly from: number;
  readonly to: number;
}

export interface Plan {
  readonly version: 1;
  readonly f16Mode: F16Mode;
  readonly kernels: readonly PlanKernel[];
  readonly buffers: readonly PlanBuffer[];
  readonly dispatches: readonly PlanDispatch[];
  /** Graph inputs (params too), in graph order. */
  readonly inputs: readonly PlanIO[];
  /** Graph outputs, in return order (names are the printed value names). */
  readonly outputs: readonly PlanIO[];
  /**
   * Copies run after the dispatches, in order, in the same command buffer
   * (after the compute pass): in-place updates of input buffers (parameters,
   * optimizer state) from output buffers. The compiler orders them so that
   * no copy reads a buffer an earlier copy wrote.
   */
  readonly updates?: readonly PlanCopy[];
  /**
   * The memory plan (absent in plans made without one: every buffer is a
   * device buffer of its own): the device buffers the runtime creates,
   * which PlanBuffer.storage points into. Plan buffers sharing one are all
   * 'intermediate', and those whose bytes overlap have disjoint live ranges, a buffer being live
   * from the first dispatch that binds it to the last (update copies count
   * as dispatches after the last one).
   */
  readonly storage?: readonly PlanStorage[];
}

/** Bytes a tensor of `count` elements occupies, padded to a multiple of 4. */
export function storageBytes(dtype: DType, count: number): number {
  const raw = dtype === 'f16' ? count * 2 : count * 4;
  return Math.max(4, Math.ceil(raw / 4) * 4);
}

/**
 * The device buffers a plan needs: their sizes, and for each plan buffer the
 * index of the device buffer holding it. Plan.storage comes first, in order;
 * each plan buffer without `storage` gets one of its own after them.
 */
export function deviceBuffers(plan: Plan): { sizes: number[]; of: number[] } {
  const sizes = (plan.storage ?? []).map((s) => s.byteSize);
  const of = plan.buffers.map((b) => b.storage ?? sizes.push(b.byteSize) - 1);
  return { sizes, of };
}

/** Bytes of all device buffers a plan needs (a Session creates exactly these, for its whole life). */
export function planBufferBytes(plan: Plan): number {
  return deviceBuffers(plan).sizes.reduce((a, b) => a + b, 0);
}
