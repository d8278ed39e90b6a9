// Memory planning: intermediate buffers whose live ranges do not overlap
// share one device buffer, so a plan needs about its peak live bytes rather
// than the sum of all its intermediates.
//
// Live ranges are computed at node granularity from the lowered dispatches,
// so that they are easy to check:
// - a node's launches are the span [first, last] of dispatch indices;
// - a buffer is live over the whole span of every node whose launches bind
//   it, and in between: from the first dispatch of the first such node to
//   the last dispatch of the last such node (a reshape view binds its
//   operand's buffer, so views keep it live; update copies, which run after
//   every dispatch, count as a node after the last).
// Every buffer a node binds (operands, results, scratch) is therefore live
// over all of that node's launches, so results never share memory with an
// operand or scratch of their own node; and since a span contains each of
// its dispatches, a range contains the first-to-last-binding interval that
// the runtime checks (runtime/session.ts).
//
// Allocation is "greedy by size" with offsets (as TFLite's arena planner):
// buffers in decreasing size, each at the lowest offset of a shared device
// buffer (an arena) where it overlaps no placed buffer live at the same time
// — the smallest gap between those that fits, else after the last of them —
// so that small buffers fill the space of a large one around their lives.
// An arena grows to its highest end, up to ARENA_MAX_BYTES; a buffer that
// fits no arena opens a new one. Offsets are multiples of
// STORAGE_OFFSET_ALIGNMENT. WebGPU checks a dispatch's usage of a buffer as
// a whole, so two buffers one dispatch binds, one of them writable, never
// share an arena (ranges of one GPUBuffer bound writable and read in one
// dispatch are an error even where they do not overlap). Only 'intermediate'
// buffers (scratch included) and donated inputs share; every other buffer
// keeps a device buffer of its own. Whole-buffer sharing (each device buffer
// holding one live buffer at a time) left the
// AMP MNIST CNN train step at 13.70 MiB of intermediates for a peak of 9.49
// MiB live (bench/memory.ts).
//
// Donated inputs (PlanIO.donated: written by the caller before every run,
// as the Trainer's batches) share like intermediates, live from the start
// of the run to their last read: after it, their bytes may hold the run's
// intermediates. In an AMP step whose batch is read once, by its cast to
// f16, the batch's f32 buffer then holds the activations.

import type { Plan, PlanBuffer, PlanCopy, PlanDispatch, PlanStorage } from '../runtime/plan.ts';
import { boundTogetherWritable, STORAGE_OFFSET_ALIGNMENT } from '../runtime/plan.ts';

/** Largest shared device buffer: WebGPU's default maxStorageBufferBindingSize (a bigger buffer opens an arena of its own). */
export const ARENA_MAX_BYTES = 128 * 2 ** 20;

/** A node's launches: dispatch indices first..last, inclusive. */
export interface DispatchSpan {
  readonly first: number;
  readonly last: number;
}

/** Inclusive live range in dispatch indices. */
export interface LiveRange {
  readonly from: number;
  readonly to: number;
}

/**
 * Live range of every buffer (undefined: never bound, nor copied). `spans`
 * are the nodes' launches; a dispatch in none counts as a node of its own.
 */
export function liveRanges(
  bufferCount: number,
  dispatches: readonly PlanDispatch[],
  spans: readonly DispatchSpan[],
  updates: readonly PlanCopy[] = [],
): (LiveRange | undefined)[] {
  const spanOf: DispatchSpan[] = dispatches.map((_, d) => ({ first: d, last: d }));
  for (const s of spans) for (let d = s.first; d <= s.last; d++) spanOf[d] = s;
  const ranges: (LiveRange | undefined)[] = new Array(bufferCount).fill(undefined);
  const cover = (id: number, span: DispatchSpan) => {
    const r = ranges[id];
    ranges[id] = r ? { from: Math.min(r.from, span.first), to: Math.max(r.to, span.last) } : { from: span.first, to: span.last };
  };
  dispatches.forEach((d, i) => d.bindings.forEach((id) => cover(id, spanOf[i]!)));
  const end = { first: dispatches.length, last: dispatches.length };
  for (const u of updates) {
    cover(u.from, end);
    cover(u.to, end);
  }
  return ranges;
}

const overlaps = (a: LiveRange | undefined, b: LiveRange | undefined) => !!a && !!b && a.from <= b.to && b.from <= a.to;

/** Where each intermediate lives: its device buffer (index into the shared ones) and offset. */
interface Sharing {
  readonly sizes: number[];
  readonly of: Map<number, { storage: number; offset: number }>;
}

/** Whole-buffer sharing: each shared device buffer holds one live buffer at a time (greedy by size, never growing). */
function wholeBuffers(order: readonly PlanBuffer[], ranges: readonly (LiveRange | undefined)[]): Sharing {
  const sizes: number[] = [];
  const of = new Map<number, { storage: number; offset: number }>();
  const pools: { storage: number; held: (LiveRange | undefined)[] }[] = [];
  for (const b of order) {
    const r = ranges[b.id];
    let best: (typeof pools)[number] | undefined;
    for (const p of pools) {
      if (sizes[p.storage]! >= b.byteSize && (!best || sizes[p.storage]! < sizes[best.storage]!) && !p.held.some((h) => overlaps(h, r))) best = p;
    }
    if (!best) pools.push((best = { storage: sizes.push(b.byteSize) - 1, held: [] }));
    best.held.push(r);
    of.set(b.id, { storage: best.storage, offset: 0 });
  }
  return { sizes, of };
}

/** Arenas: buffers at offsets, around the lives of the others (see the file header). */
function arenasWithOffsets(order: readonly PlanBuffer[], ranges: readonly (LiveRange | undefined)[], plan: Pick<Plan, 'kernels' | 'dispatches'>): Sharing {
  const sizes: number[] = [];
  const of = new Map<number, { storage: number; offset: number }>();
  const arenas: { storage: number; placed: { id: number; at: number; end: number; range: LiveRange | undefined }[] }[] = [];
  // WebGPU validates usage per buffer, not per range: a dispatch may not bind one device buffer
  // writable and again in any other way, so two buffers one dispatch binds, one of them
  // writable, never share an arena (two it only reads may).
  const together = boundTogetherWritable(plan);
  const align = (n: number) => Math.ceil(n / STORAGE_OFFSET_ALIGNMENT) * STORAGE_OFFSET_ALIGNMENT;
  for (const b of order) {
    const r = ranges[b.id];
    let choice: { arena: (typeof arenas)[number]; at: number; gap: number } | undefined;
    for (const arena of arenas) {
      if (arena.placed.some((p) => together.get(b.id)?.has(p.id))) continue;
      const busy = arena.placed.filter((p) => overlaps(p.range, r)).sort((x, y) => x.at - y.at);
      let at = 0;
      let best: { at: number; gap: number } | undefined;
      for (const p of busy) {
        if (p.at - at >= b.byteSize && (!best || p.at - at < best.gap)) best = { at, gap: p.at - at };
        at = Math.max(at, align(p.end));
      }
      best ??= { at, gap: Infinity };
      // An arena stays within ARENA_MAX_BYTES (a larger buffer gets an arena of its own).
      if (best.at + b.byteSize > ARENA_MAX_BYTES) continue;
      if (!choice || best.gap < choice.gap) choice = { arena, ...best };
      if (best.gap !== Infinity) break;
    }
    if (!choice) {
      const arena = { storage: sizes.push(0) - 1, placed: [] };
      arenas.push(arena);
      choice = { arena, at: 0, gap: Infinity };
    }
    choice.arena.placed.push({ id: b.id, at: choice.at, end: choice.at + b.byteSize, range: r });
    sizes[choice.arena.storage] = Math.max(sizes[choice.arena.storage]!, choice.at + b.byteSize);
    of.set(b.id, { storage: choice.arena.storage, offset: choice.at });
  }
  return { sizes, of };
}

/**
 * The plan's buffers, each with a `storage` index (and, in an arena, an
 * offset), and the device buffers they index. Buffers other than
 * intermediates (and `donated` inputs) get one each, in buffer order;
 * intermediates and donated inputs share by the
 * better (fewer bytes) of whole-buffer sharing and arenas with offsets: each
 * wins on some graphs (MNIST CNN train step: f32 16.46 against 19.93 MiB of
 * intermediates, AMP 13.70 against 11.43).
 */
export function planMemory(
  plan: Pick<Plan, 'buffers' | 'dispatches' | 'updates' | 'kernels'>,
  spans: readonly DispatchSpan[],
  donated: ReadonlySet<number> = new Set(),
): { buffers: PlanBuffer[]; storage: PlanStorage[] } {
  const ranges = liveRanges(plan.buffers.length, plan.dispatches, spans, plan.updates);
  // A donated input holds its value from the host's write, before the first dispatch.
  for (const id of donated) ranges[id] = { from: 0, to: ranges[id]?.to ?? 0 };
  const shares = (b: PlanBuffer) => b.role === 'intermediate' || donated.has(b.id);
  const storage: PlanStorage[] = [];
  const storageOf: number[] = new Array(plan.buffers.length);
  for (const b of plan.buffers) {
    if (!shares(b)) storageOf[b.id] = storage.push({ byteSize: b.byteSize }) - 1;
  }
  const order = plan.buffers
    .filter(shares)
    .sort((a, b) => b.byteSize - a.byteSize || (ranges[a.id]?.from ?? -1) - (ranges[b.id]?.from ?? -1) || a.id - b.id);
  const total = (x: Sharing) => x.sizes.reduce((a, b) => a + b, 0);
  const whole = wholeBuffers(order, ranges), arenas = arenasWithOffsets(order, ranges, plan);
  const chosen = total(arenas) < total(whole) ? arenas : whole;
  const first = storage.length;
  for (const size of chosen.sizes) storage.push({ byteSize: size });
  const offsetOf = new Map<number, number>();
  for (const [id, at] of chosen.of) {
    storageOf[id] = first + at.storage;
    if (at.offset) offsetOf.set(id, at.offset);
  }
  return { buffers: plan.buffers.map((b) => ({ ...b, storage: storageOf[b.id]!, ...(offsetOf.has(b.id) ? { offset: offsetOf.get(b.id)! } : {}) })), storage };
}
