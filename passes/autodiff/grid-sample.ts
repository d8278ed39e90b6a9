// Vjp rule of grid_sample (ir/grid-sample.ts), for x and for the grid.
//
// dx = grid_sample_grad_input(g, grid): the adjoint of the sampling, linear
// in x (the weights depend on the grid only). Because the grid is data, which
// outputs read an input element is known only at run time; the kernel
// (compiler/kernels/grid-sample.ts) lets each input element walk every output
// position of its batch, recompute that position's taps and add g · weight
// where one lands on it: O(N · C · H · W · Ho · Wo) work, deterministic and
// without atomics (fine for small images and grids; a scatter with float
// atomics would be O(N · C · Ho · Wo · taps) but order-dependent).
//
// dgrid = grid_sample_grad_grid(x, grid, g): per grid position, the sum over
// channels of g times the derivative of the interpolation weights (bilinear,
// bicubic; through the unnormalization and the padding map) times x: O(N · C
// · Ho · Wo · taps), deterministic. Nearest has a zero grid gradient (the
// kernel gives zeros, as PyTorch does).

import type { Value } from '../../ir/graph.ts';
import type { VjpRule } from './builder.ts';

export const gridSample: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [xv, grid] = x as [Value, Value];
  const a = { mode: attrs.mode, padding_mode: attrs.padding_mode, align_corners: attrs.align_corners };
  return [
    needs[0] ? b.op('grid_sample_grad_input', [g, grid], { input_shape: [...xv.type.shape], ...a }) : undefined,
    needs[1] ? (attrs.mode === 'nearest' ? b.zerosLike(grid) : b.op('grid_sample_grad_grid', [xv, grid, g], a)) : undefined,
  ];
};
