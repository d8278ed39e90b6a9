// The emitter table: one WGSL emitter per IR op, typed over OpName so the
// type checker rejects an op without one.

import type { EmitterTable } from './context.ts';
import { emitConv2d } from './conv.ts';
import { emitConv2dGradInput, emitConv2dGradWeight } from './conv-grad.ts';
import { emitBinary, emitCast, emitConstant, emitSelect, emitUnary } from './elementwise.ts';
import { emitGeluGrad } from './elementwise-grad.ts';
import { emitCumsum } from './cumsum.ts';
import { emitGather, emitScatterElements } from './gather-scatter.ts';
import { emitIota, emitRandomUniform } from './generate.ts';
import { emitFused } from './fused.ts';
import { emitMatmul } from './matmul.ts';
import { emitAvgPool2d, emitMaxPool2d } from './pool.ts';
import { emitAvgPool2dGrad, emitMaxPool2dGrad } from './pool-grad.ts';
import { emitBroadcastTo, emitConcat, emitGatherElements, emitOneHot, emitReshape, emitSlice, emitTranspose } from './shape.ts';
import { emitBatchNorm } from './batch-norm.ts';
import { emitCrossEntropy, emitMseLoss } from './loss.ts';
import { emitUnscaleCheck } from './loss-scaling.ts';
import { emitArgReduce, emitReduce } from './reduce.ts';
import { emitGridSample, emitGridSampleGradGrid, emitGridSampleGradInput } from './grid-sample.ts';
import { emitResize, emitResizeGrad } from './resize.ts';
import { emitLayerNorm, emitSoftmax } from './rows.ts';

export const EMITTERS: EmitterTable = {
  neg: emitUnary, abs: emitUnary, exp: emitUnary, log: emitUnary, sqrt: emitUnary, rsqrt: emitUnary,
  reciprocal: emitUnary, tanh: emitUnary, sigmoid: emitUnary, relu: emitUnary, gelu: emitUnary, sin: emitUnary, cos: emitUnary, floor: emitUnary,
  tan: emitUnary, asin: emitUnary, acos: emitUnary, atan: emitUnary, sinh: emitUnary, cosh: emitUnary, asinh: emitUnary,
  acosh: emitUnary, atanh: emitUnary, erf: emitUnary, round: emitUnary, ceil: emitUnary, sign: emitUnary, isinf: emitUnary, isnan: emitUnary,
  add: emitBinary, sub: emitBinary, mul: emitBinary, div: emitBinary, maximum: emitBinary, minimum: emitBinary, pow: emitBinary, mod: emitBinary,
  equal: emitBinary, less: emitBinary, greater: emitBinary, less_equal: emitBinary, greater_equal: emitBinary,
  select: emitSelect,
  cast: emitCast,
  constant: emitConstant,
  matmul: emitMatmul,
  conv2d: emitConv2d,
  max_pool2d: emitMaxPool2d,
  avg_pool2d: emitAvgPool2d,
  reduce_sum: emitReduce,
  reduce_mean: emitReduce,
  reduce_max: emitReduce,
  reduce_prod: emitReduce,
  argmax: emitArgReduce,
  argmin: emitArgReduce,
  softmax: emitSoftmax,
  log_softmax: emitSoftmax,
  layer_norm: emitLayerNorm,
  batch_norm: emitBatchNorm,
  cross_entropy: emitCrossEntropy,
  mse_loss: emitMseLoss,
  one_hot: emitOneHot,
  gather_elements: emitGatherElements,
  gather: emitGather,
  scatter_elements: emitScatterElements,
  cumsum: emitCumsum,
  resize: emitResize,
  grid_sample: emitGridSample,
  random_uniform: emitRandomUniform,
  iota: emitIota,
  reshape: emitReshape,
  transpose: emitTranspose,
  broadcast_to: emitBroadcastTo,
  slice: emitSlice,
  concat: emitConcat,
  conv2d_grad_input: emitConv2dGradInput,
  conv2d_grad_weight: emitConv2dGradWeight,
  max_pool2d_grad: emitMaxPool2dGrad,
  avg_pool2d_grad: emitAvgPool2dGrad,
  gelu_grad: emitGeluGrad,
  resize_grad: emitResizeGrad,
  grid_sample_grad_input: emitGridSampleGradInput,
  grid_sample_grad_grid: emitGridSampleGradGrid,
  unscale_check: emitUnscaleCheck,
  finite_check: emitUnscaleCheck,
  fused: emitFused,
};
