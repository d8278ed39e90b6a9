// VJP_RULES: the vjp rule of every op, in one table typed over the op names
// (so an op added to ir/ops.ts without a rule here does not type-check).
//
// 'nondifferentiable' ops:
// - compares (equal, less, ...): bool results carry no gradient;
// - one_hot: its operand is i32 labels;
// - random_uniform: its operand is a u32 seed (a mask made from it is a
//   constant to the backward pass, as a dropout mask is);
// - constant and iota: no operands;
// - the gradient ops (conv2d_grad_weight, *_pool2d_grad, gelu_grad, resize_grad, grid_sample_grad_*): autodiff
//   emits them but does not differentiate them again (no second-order
//   gradients); reaching one on a path to the loss is an error.
//   conv2d_grad_input has a rule: an imported ConvTranspose is one, and it
//   trains.
// Ops with integer operands in some uses (cast to or from integers, the
// labels of cross_entropy, integer arithmetic) have rules, but the driver
// never asks for the gradient of an integer or bool value, and those
// operands get none.

import type { OpName } from '../../ir/ops.ts';
import type { VjpRule } from './builder.ts';
import * as cs from './cumsum.ts';
import * as ew from './elementwise.ts';
import * as gs from './gather-scatter.ts';
import * as la from './linalg.ts';
import * as ls from './loss-shape.ts';
import * as rn from './reduce-norm.ts';
import * as gsp from './grid-sample.ts';
import * as rz from './resize.ts';

export const VJP_RULES: { readonly [P in OpName]: VjpRule | 'nondifferentiable' } = {
  neg: ew.neg,
  abs: ew.abs,
  exp: ew.exp,
  log: ew.log,
  sqrt: ew.sqrt,
  rsqrt: ew.rsqrt,
  reciprocal: ew.reciprocal,
  tanh: ew.tanh,
  sin: ew.sin,
  cos: ew.cos,
  floor: ew.floor,
  tan: ew.tan,
  asin: ew.asin,
  acos: ew.acos,
  atan: ew.atan,
  sinh: ew.sinh,
  cosh: ew.cosh,
  asinh: ew.asinh,
  acosh: ew.acosh,
  atanh: ew.atanh,
  erf: ew.erf,
  round: ew.round,
  ceil: ew.ceil,
  sign: ew.sign,
  isinf: 'nondifferentiable',
  isnan: 'nondifferentiable',
  sigmoid: ew.sigmoid,
  relu: ew.relu,
  gelu: ew.gelu,

  add: ew.add,
  sub: ew.sub,
  mul: ew.mul,
  div: ew.div,
  maximum: ew.maximum,
  minimum: ew.minimum,
  pow: ew.pow,
  mod: ew.mod,

  equal: 'nondifferentiable',
  less: 'nondifferentiable',
  greater: 'nondifferentiable',
  less_equal: 'nondifferentiable',
  greater_equal: 'nondifferentiable',
  select: ew.select,

  cast: ew.cast,
  constant: 'nondifferentiable',

  matmul: la.matmul,
  conv2d: la.conv2d,
  max_pool2d: la.maxPool2d,
  avg_pool2d: la.avgPool2d,

  reduce_sum: rn.reduceSum,
  reduce_mean: rn.reduceMean,
  reduce_max: rn.reduceMax,
  reduce_prod: rn.reduceProd,
  argmax: 'nondifferentiable',
  argmin: 'nondifferentiable',

  softmax: rn.softmax,
  log_softmax: rn.logSoftmax,
  layer_norm: rn.layerNorm,
  batch_norm: rn.batchNorm,

  cross_entropy: ls.crossEntropy,
  mse_loss: ls.mseLoss,
  one_hot: 'nondifferentiable',
  gather_elements: ls.gatherElements,
  gather: gs.gather,
  scatter_elements: gs.scatterElements,
  cumsum: cs.cumsum,
  resize: rz.resize,
  grid_sample: gsp.gridSample,
  random_uniform: 'nondifferentiable',
  iota: 'nondifferentiable',

  reshape: ls.reshape,
  transpose: ls.transpose,
  broadcast_to: ls.broadcastTo,
  slice: ls.slice,
  concat: ls.concat,

  conv2d_grad_input: la.conv2dGradInput,
  conv2d_grad_weight: 'nondifferentiable',
  max_pool2d_grad: 'nondifferentiable',
  avg_pool2d_grad: 'nondifferentiable',
  gelu_grad: 'nondifferentiable',
  resize_grad: 'nondifferentiable',
  grid_sample_grad_input: 'nondifferentiable',
  grid_sample_grad_grid: 'nondifferentiable',
  unscale_check: 'nondifferentiable',
  finite_check: 'nondifferentiable',
  fused: 'nondifferentiable', // fusion runs after autodiff
};

/** Ops with a vjp rule. */
export function isDifferentiable(op: OpName): boolean {
  return VJP_RULES[op] !== 'nondifferentiable';
}
