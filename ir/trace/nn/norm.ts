// Normalization blocks. nn.BatchNorm2d owns weight (ones) and bias (zeros)
// parameters and running_mean (zeros) / running_var (ones) buffers; in
// training mode it normalizes with batch statistics (batch_norm {training =
// true}) and gives the buffers their updated values, which the trace returns
// as extra outputs; in eval mode it uses the running statistics. nn.LayerNorm
// normalizes over the trailing `normalizedShape` dimensions.

import { tracedInput } from './check.ts';
import { AmpcError } from '../../errors.ts';
import { checkOptions } from '../build.ts';
import { full, updateBuffer } from '../functions.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Buffer, Parameter } from '../state.ts';
import { onesInit, zerosInit } from '../state.ts';
import type { Tensor } from '../tensor.ts';
import { positiveInt } from './linear.ts';
import { Module } from './module.ts';

export interface BatchNorm2dOptions {
  readonly eps?: number;
  /** Weight of the batch statistic in the running update (PyTorch's convention, default 0.1). */
  readonly momentum?: number;
}

export class BatchNorm2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Buffer;
  readonly runningVar: Buffer;
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    opts: BatchNorm2dOptions = {},
  ) {
    super();
    const loc = callerLoc();
    checkOptions('nn.BatchNorm2d', opts, ['eps', 'momentum'], loc);
    positiveInt('nn.BatchNorm2d', 'numFeatures', numFeatures, loc);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.weight = this.param('weight', [numFeatures], onesInit());
    this.bias = this.param('bias', [numFeatures], zerosInit());
    this.runningMean = this.buffer('running_mean', [numFeatures], zerosInit());
    this.runningVar = this.buffer('running_var', [numFeatures], onesInit());
  }

  forward(x: Tensor): Tensor {
    markEntry(BatchNorm2d.prototype.forward);
    x = tracedInput(x, 'nn.BatchNorm2d');
    if (x.rank !== 4) throw new AmpcError('E0203', `nn.BatchNorm2d: expects NCHW input of rank 4, got ${x.dtype}[${x.shape.join(',')}]`, callerLoc());
    const opts = { eps: this.eps, momentum: this.momentum };
    if (!this.training) return x.batchNorm(this.weight, this.bias, this.runningMean, this.runningVar, opts);
    const [y, mean, variance] = x.batchNorm(this.weight, this.bias, this.runningMean, this.runningVar, { ...opts, training: true });
    updateBuffer(this.runningMean, mean);
    updateBuffer(this.runningVar, variance);
    return y;
  }
}

export interface LayerNormBlockOptions {
  readonly eps?: number;
  /** Learnable weight (ones) and bias (zeros); default true. */
  readonly elementwiseAffine?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Parameter | undefined;
  readonly bias: Parameter | undefined;
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormBlockOptions = {}) {
    super();
    const loc = callerLoc();
    checkOptions('nn.LayerNorm', opts, ['eps', 'elementwiseAffine'], loc);
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0) throw new AmpcError('E0104', 'nn.LayerNorm: normalizedShape is empty', loc);
    this.normalizedShape.forEach((d) => positiveInt('nn.LayerNorm', 'normalizedShape', d, loc));
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', this.normalizedShape, onesInit()) : undefined;
    this.bias = affine ? this.param('bias', this.normalizedShape, zerosInit()) : undefined;
  }

  forward(x: Tensor): Tensor {
    markEntry(LayerNorm.prototype.forward);
    x = tracedInput(x, 'nn.LayerNorm');
    const gamma = this.weight ?? full(this.normalizedShape, 1, x.dtype);
    const beta = this.bias ?? full(this.normalizedShape, 0, x.dtype);
    return x.layerNorm(gamma, beta, { axis: -this.normalizedShape.length, eps: this.eps });
  }
}
