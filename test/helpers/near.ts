// Element-by-element comparison of a reference-interpreter result with
// hand-computed values.

import type { ExecutionContext } from 'ava';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { toArray } from '../../ir/interp/tensor.ts';

/**
 * Asserts `got` holds `want`: each finite element within `tol` relative to
 * max(1, |want|), infinities equal, NaN where NaN is wanted. `msg` prefixes
 * the assertion messages.
 */
export function near(t: ExecutionContext, got: HostTensor, want: number[], tol = 1e-15, msg = ''): void {
  const g = toArray(got);
  t.is(g.length, want.length, `${msg ? `${msg} ` : ''}element count`);
  want.forEach((w, i) => {
    const v = g[i]!;
    if (Number.isNaN(w)) t.true(Number.isNaN(v), `${msg}[${i}]: expected NaN, got ${v}`);
    else if (!Number.isFinite(w)) t.is(v, w, `${msg}[${i}]`);
    else t.true(Math.abs(v - w) <= tol * Math.max(1, Math.abs(w)), `${msg}[${i}]: expected ${w}, got ${v}`);
  });
}
