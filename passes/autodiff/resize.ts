// Vjp rule of resize: dx = resize_grad(g), the adjoint of the interpolation
// (every mode: nearest, n-linear, n-cubic; the weights depend on positions
// only, so the map is linear in x). resize_grad (ir/ops-gradient.ts) lets each
// input element sum g · weight over the outputs whose taps read it: a small
// window of outputs per axis, so no atomics and a deterministic result.
// tf_crop_and_resize outputs set to extrapolation_value get no gradient.

import type { VjpRule } from './builder.ts';

export const resize: VjpRule = ({ b, g, x, attrs }) => [
  b.op('resize_grad', [g], { input_shape: [...x[0]!.type.shape], ...attrs }),
];
