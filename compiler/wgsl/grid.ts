// Spreading a 1-D index space over a dispatch grid that respects
// maxComputeWorkgroupsPerDimension, and the WGSL that recovers the index.

import { AmpcError } from '../../ir/errors.ts';

export interface Grid {
  readonly workgroups: [number, number, number];
  /** WGSL expression of the flat workgroup index (uses `wid` and `nwg`). */
  readonly groupIndex: string;
}

export const MAX_WORKGROUPS_PER_DIM = 65535;

/** A grid of at least `groups` workgroups (x first, then y, then z). */
export function gridFor(groups: number, maxPerDim = MAX_WORKGROUPS_PER_DIM): Grid {
  const n = Math.max(1, groups);
  if (n <= maxPerDim) return { workgroups: [n, 1, 1], groupIndex: 'wid.x' };
  const y = Math.ceil(n / maxPerDim);
  if (y <= maxPerDim) return { workgroups: [maxPerDim, y, 1], groupIndex: '(wid.x + wid.y * nwg.x)' };
  const z = Math.ceil(y / maxPerDim);
  if (z > maxPerDim) throw new AmpcError('E0702', `a dispatch of ${groups} workgroups exceeds the device grid (${maxPerDim} per dimension)`);
  return { workgroups: [maxPerDim, maxPerDim, z], groupIndex: '(wid.x + (wid.y + wid.z * nwg.y) * nwg.x)' };
}

/** Builtins every kernel's entry point declares. */
export const ENTRY_PARAMS =
  '@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32';
