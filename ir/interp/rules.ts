// The interpreter's rule table: one kernel per op of the op table, typed over
// `OpName` so that an op without a rule does not type-check. A rule receives
// the operand tensors, the node's complete attributes and the result types
// the op table derived, and returns one tensor per result.

import type { Attrs } from '../attrs.ts';
import type { OpName } from '../ops.ts';
import type { TensorType } from '../types.ts';
import type { HostTensor } from './tensor.ts';
import * as amp from './kernels/amp.ts';
import * as conv from './kernels/conv-pool.ts';
import * as ew from './kernels/elementwise.ts';
import * as gen from './kernels/generate.ts';
import * as cs from './kernels/cumsum.ts';
import * as gs from './kernels/gather-scatter.ts';
import * as grad from './kernels/grad.ts';
import * as loss from './kernels/loss.ts';
import * as mm from './kernels/matmul.ts';
import * as norm from './kernels/norm.ts';
import * as red from './kernels/reduce.ts';
import * as gsm from './kernels/grid-sample.ts';
import * as rs from './kernels/resize.ts';
import * as shape from './kernels/shape.ts';

export type InterpRule = (inputs: HostTensor[], attrs: Attrs, results: TensorType[]) => HostTensor[];

export const INTERP_RULES: { readonly [P in OpName]: InterpRule } = {
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
  isinf: ew.isinf,
  isnan: ew.isnan,
  sigmoid: ew.sigmoidKernel,
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

  equal: ew.equal,
  less: ew.less,
  greater: ew.greater,
  less_equal: ew.lessEqual,
  greater_equal: ew.greaterEqual,
  select: ew.select,

  cast: ew.cast,
  constant: ew.constant,

  matmul: mm.matmul,
  conv2d: conv.conv2d,
  max_pool2d: conv.maxPool2d,
  avg_pool2d: conv.avgPool2d,

  reduce_sum: red.reduceSum,
  reduce_mean: red.reduceMean,
  reduce_max: red.reduceMax,
  reduce_prod: red.reduceProd,
  argmax: red.argmax,
  argmin: red.argmin,

  softmax: norm.softmax,
  log_softmax: norm.logSoftmax,
  layer_norm: norm.layerNorm,
  batch_norm: norm.batchNorm,

  cross_entropy: loss.crossEntropy,
  mse_loss: loss.mseLoss,
  one_hot: loss.oneHot,
  gather_elements: shape.gatherElements,
  gather: gs.gather,
  scatter_elements: gs.scatterElements,
  cumsum: cs.cumsum,
  resize: rs.resize,
  grid_sample: gsm.gridSample,
  random_uniform: gen.randomUniform,
  iota: gen.iota,

  reshape: shape.reshape,
  transpose: shape.transpose,
  broadcast_to: shape.broadcastTo,
  slice: shape.slice,
  concat: shape.concat,

  conv2d_grad_input: grad.conv2dGradInput,
  conv2d_grad_weight: grad.conv2dGradWeight,
  max_pool2d_grad: grad.maxPool2dGrad,
  avg_pool2d_grad: grad.avgPool2dGrad,
  gelu_grad: grad.geluGrad,
  resize_grad: rs.resizeGrad,
  grid_sample_grad_input: gsm.gridSampleGradInput,
  grid_sample_grad_grid: gsm.gridSampleGradGrid,

  unscale_check: amp.unscaleCheck,
  finite_check: amp.finiteCheck,
  // Evaluated through its body graph (evalNode in interpret.ts).
  fused: () => {
    throw new Error('a fused node is evaluated through its body');
  },
};
