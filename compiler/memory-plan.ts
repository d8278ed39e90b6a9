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
// Allocation is the "greedy by size" assignment of shared objects: buffers
// in decreasing size, each into the smallest device buffer none of whose
// holders' ranges overlaps its own, else a new device buffer of its size.
// Device buffers thus never grow. Only 'intermediate' buffers (scratch
// included) share; every other buffer keeps a device buffer of its own.

import type { Plan, PlanBuffer, PlanCopy, PlanDispatch, PlanStorage } from '../runtime/plan.ts';

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

/**
 * The plan's buffers, each with a `storage` index, and the device buffers
 * they index. Buffers other than intermediates get one each, in buffer
 * order; intermediates share by greedy-by-size (see the file header).
 */
export function planMemory(
  plan: Pick<Plan, 'buffers' | 'dispatches' | 'updates'>,
  spans: readonly DispatchSpan[],
): { buffers: PlanBuffer[]; storage: PlanStorage[] } {
  const ranges = liveRanges(plan.buffers.length, plan.dispatches, spans, plan.updates);
  const storage: PlanStorage[] = [];
  const storageOf: number[] = new Array(plan.buffers.length);
  for (const b of plan.buffers) {
    if (b.role !== 'intermediate') storageOf[b.id] = storage.push({ byteSize: b.byteSize }) - 1;
  }

  // Shared device buffers: their size (the first, largest holder's) and their holders' ranges.
  const pools: { storage: number; byteSize: number; held: (LiveRange | undefined)[] }[] = [];
  const order = plan.buffers
    .filter((b) => b.role === 'intermediate')
    .sort((a, b) => b.byteSize - a.byteSize || (ranges[a.id]?.from ?? -1) - (ranges[b.id]?.from ?? -1) || a.id - b.id);
  for (const b of order) {
    const r = ranges[b.id];
    let best: (typeof pools)[number] | undefined;
    for (const p of pools) {
      if (p.byteSize >= b.byteSize && (!best || p.byteSize < best.byteSize) && !p.held.some((h) => overlaps(h, r))) best = p;
    }
    if (!best) {
      best = { storage: storage.push({ byteSize: b.byteSize }) - 1, byteSize: b.byteSize, held: [] };
      pools.push(best);
    }
    best.held.push(r);
    storageOf[b.id] = best.storage;
  }
  return { buffers: plan.buffers.map((b) => ({ ...b, storage: storageOf[b.id]! })), storage };
}
