// Counting read-backs: wraps GPUBuffer.prototype.mapAsync of a device so a
// test can assert how many buffer maps (host round trips) some code makes.

import type { GpuContext } from '../../runtime/device.ts';

export interface MapCounter {
  /** Maps made since the counter was installed. */
  readonly count: number;
  /** Puts the original mapAsync back. */
  restore(): void;
}

export function countMaps(ctx: GpuContext): MapCounter {
  const probe = ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
  const proto = Object.getPrototypeOf(probe) as { mapAsync: (...args: unknown[]) => Promise<void> };
  probe.destroy();
  const original = proto.mapAsync;
  let count = 0;
  proto.mapAsync = function (this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  return {
    get count() {
      return count;
    },
    restore: () => {
      proto.mapAsync = original;
    },
  };
}
