// nn.Linear: y = x · W + b with W stored as [in, out], so forward is a plain
// `x.matmul(weight)` (no transpose in the graph). This is the transpose of
// PyTorch's [out, in] layout: to load a PyTorch state_dict, transpose
// `weight`. Initialization as PyTorch: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).

import { tracedInput } from './check.ts';
import { AmpcError } from '../../errors.ts';
import { checkOptions } from '../build.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Parameter } from '../state.ts';
import type { Tensor } from '../tensor.ts';
import { fanInInit } from './init.ts';
import { Module } from './module.ts';

export interface LinearOptions {
  /** Add a bias (default true). */
  readonly bias?: boolean;
}

export function positiveInt(block: string, name: string, v: unknown, loc = callerLoc()): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new AmpcError('E0104', `${block}: ${name} must be a positive integer, got ${JSON.stringify(v)}`, loc);
  }
  return v;
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | undefined;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    const loc = callerLoc();
    checkOptions('nn.Linear', opts, ['bias'], loc);
    positiveInt('nn.Linear', 'inFeatures', inFeatures, loc);
    positiveInt('nn.Linear', 'outFeatures', outFeatures, loc);
    this.weight = this.param('weight', [inFeatures, outFeatures], fanInInit(inFeatures));
    this.bias = opts.bias === false ? undefined : this.param('bias', [outFeatures], fanInInit(inFeatures));
  }

  forward(x: Tensor): Tensor {
    markEntry(Linear.prototype.forward);
    x = tracedInput(x, 'nn.Linear');
    const y = x.matmul(this.weight);
    return this.bias ? y.add(this.bias) : y;
  }
}

