// Which tracing API records each op of the op table. Typed over OpName, so an
// op added to ir/ops.ts without a way to trace it is a type error here: give
// it a method and a free function, or `null` for ops that only passes create
// (gradients, fused kernels, loss-scale state). test/trace.test.ts checks that
// every op with an entry really comes out of the tracer.

import type { OpName } from '../ops.ts';

/** Op name → the free function (and Tensor method of the same name, where one exists) that records it. */
export const TRACED_BY: { readonly [P in OpName]: string | null } = {
  neg: 'neg', abs: 'abs', exp: 'exp', log: 'log', sqrt: 'sqrt', rsqrt: 'rsqrt', reciprocal: 'reciprocal', tanh: 'tanh',
  sigmoid: 'sigmoid', relu: 'relu', gelu: 'gelu', sin: 'sin', cos: 'cos', floor: 'floor',
  tan: 'tan', asin: 'asin', acos: 'acos', atan: 'atan', sinh: 'sinh', cosh: 'cosh', asinh: 'asinh', acosh: 'acosh', atanh: 'atanh', erf: 'erf', round: 'round', ceil: 'ceil', sign: 'sign', isinf: 'isinf', isnan: 'isnan',
  add: 'add', sub: 'sub', mul: 'mul', div: 'div', maximum: 'maximum', minimum: 'minimum', pow: 'pow', mod: 'fmod',
  equal: 'equal', less: 'less', greater: 'greater', less_equal: 'lessEqual', greater_equal: 'greaterEqual',
  select: 'where',
  cast: 'cast',
  constant: 'full',
  matmul: 'matmul',
  conv2d: 'conv2d',
  max_pool2d: 'maxPool2d',
  avg_pool2d: 'avgPool2d',
  reduce_sum: 'sum',
  reduce_mean: 'mean',
  reduce_max: 'max',
  reduce_prod: 'prod',
  softmax: 'softmax',
  log_softmax: 'logSoftmax',
  layer_norm: 'layerNorm',
  batch_norm: 'batchNorm',
  cross_entropy: 'crossEntropy',
  mse_loss: 'mseLoss',
  one_hot: 'oneHot',
  gather_elements: 'gatherElements',
  gather: 'gather',
  scatter_elements: 'scatterElements',
  cumsum: 'cumsum',
  resize: 'resize',
  grid_sample: 'gridSample',
  argmax: 'argmax',
  argmin: 'argmin',
  // Free functions only: no tensor they would be a method of.
  random_uniform: 'randomUniform',
  iota: 'iota',
  reshape: 'reshape',
  transpose: 'transpose',
  broadcast_to: 'broadcastTo',
  slice: 'slice',
  concat: 'concat',
  // Gradient ops: emitted by autodiff, not traced.
  conv2d_grad_input: null,
  conv2d_grad_weight: null,
  max_pool2d_grad: null,
  avg_pool2d_grad: null,
  gelu_grad: null,
  resize_grad: null,
  grid_sample_grad_input: null,
  grid_sample_grad_grid: null,
  unscale_check: null,
  finite_check: null,
  fused: null,
};
