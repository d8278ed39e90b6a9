// Loss-scaling kernels of the reference interpreter (ir/ops-amp.ts).

import type { Kernel } from './elementwise.ts';

/**
 * unscale_check: u_i = g_i · inv_scale for every f32 gradient (in f64, as the
 * interpreter keeps f32 tensors, except that a product beyond f32's range is
 * the ±inf an f32 store makes of it), and one bool: every element of every
 * u_i is finite.
 */
export const unscaleCheck: Kernel = ([inv, ...grads]) => {
  const s = inv!.data[0]!;
  let finite = true;
  const outs = grads.map((g) => {
    const data = new Float64Array(g.data.length);
    for (let i = 0; i < data.length; i++) {
      let u = g.data[i]! * s;
      if (!Number.isFinite(Math.fround(u))) {
        finite = false;
        u = Math.fround(u);
      }
      data[i] = u;
    }
    return { dtype: g.dtype, shape: [...g.shape], data };
  });
  return [...outs, { dtype: 'bool', shape: [], data: Uint8Array.of(finite ? 1 : 0) }];
};

/** finite_check: the flag of unscale_check alone (every g_i · inv_scale finite in f32). */
export const finiteCheck: Kernel = (inputs, attrs, results) => [unscaleCheck(inputs, attrs, results).at(-1)!];
