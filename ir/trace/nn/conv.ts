// nn.Conv2d (NCHW input, OIHW weight [out, in/groups, kh, kw], as PyTorch) and
// the pooling blocks nn.MaxPool2d / nn.AvgPool2d (stride defaults to the
// kernel). Conv initialization as PyTorch: weight and bias ~ U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) with fan_in = in/groups · kh · kw. The bias is added after a
// reshape to [out, 1, 1] so that it broadcasts over N, H and W.

import { tracedInput } from './check.ts';
import { AmpcError } from '../../errors.ts';
import type { Padding, Pair } from '../build.ts';
import { checkOptions } from '../build.ts';
import { reshape } from '../functions.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Parameter } from '../state.ts';
import type { Tensor } from '../tensor.ts';
import { fanInInit } from './init.ts';
import { positiveInt } from './linear.ts';
import { Module } from './module.ts';

export interface Conv2dBlockOptions {
  readonly stride?: Pair;
  readonly padding?: Padding | 'valid' | 'same';
  readonly dilation?: Pair;
  readonly groups?: number;
  /** Add a bias (default true). */
  readonly bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | undefined;
  readonly kernelSize: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly opts: Conv2dBlockOptions = {},
  ) {
    super();
    const loc = callerLoc();
    checkOptions('nn.Conv2d', opts, ['stride', 'padding', 'dilation', 'groups', 'bias'], loc);
    positiveInt('nn.Conv2d', 'inChannels', inChannels, loc);
    positiveInt('nn.Conv2d', 'outChannels', outChannels, loc);
    const groups = positiveInt('nn.Conv2d', 'groups', opts.groups ?? 1, loc);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new AmpcError('E0104', `nn.Conv2d: channels (${inChannels} in, ${outChannels} out) must be divisible by groups (${groups})`, loc);
    }
    const k: [number, number] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    k.forEach((d) => positiveInt('nn.Conv2d', 'kernelSize', d, loc));
    this.kernelSize = k;
    const fanIn = (inChannels / groups) * k[0] * k[1];
    this.weight = this.param('weight', [outChannels, inChannels / groups, k[0], k[1]], fanInInit(fanIn));
    this.bias = opts.bias === false ? undefined : this.param('bias', [outChannels], fanInInit(fanIn));
  }

  forward(x: Tensor): Tensor {
    markEntry(Conv2d.prototype.forward);
    x = tracedInput(x, 'nn.Conv2d');
    const { stride, padding, dilation, groups } = this.opts;
    const y = x.conv2d(this.weight, { stride, padding, dilation, groups });
    return this.bias ? y.add(reshape(this.bias, [this.outChannels, 1, 1])) : y;
  }
}

export interface Pool2dBlockOptions {
  /** Default: the kernel size. */
  readonly stride?: Pair;
  readonly padding?: Padding;
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: Pool2dBlockOptions = {},
  ) {
    super();
    checkOptions('nn.MaxPool2d', opts, ['stride', 'padding'], callerLoc());
  }

  forward(x: Tensor): Tensor {
    markEntry(MaxPool2d.prototype.forward);
    x = tracedInput(x, 'nn.MaxPool2d');
    return x.maxPool2d(this.kernelSize, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: Pool2dBlockOptions & { readonly countIncludePad?: boolean } = {},
  ) {
    super();
    checkOptions('nn.AvgPool2d', opts, ['stride', 'padding', 'countIncludePad'], callerLoc());
  }

  forward(x: Tensor): Tensor {
    markEntry(AvgPool2d.prototype.forward);
    x = tracedInput(x, 'nn.AvgPool2d');
    return x.avgPool2d(this.kernelSize, this.opts);
  }
}
