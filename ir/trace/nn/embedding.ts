// nn.Embedding: a table of `num` vectors of `dim` values (weight [num, dim],
// initialized N(0, 1) as PyTorch); forward(indices) looks rows up. The IR
// has no gather op yet, so the lookup is written `one_hot(indices) · weight`
// (exact: one 1 per row, every other product 0, accumulated in f32), whose
// gradient is the scatter-add of the output gradient into the rows used, as
// PyTorch's. Under AMP the matmul runs in f16 like any other, so the vectors
// are rounded to f16 on the way out. An index outside [0, num) gives a zero
// vector (one_hot's rule), where PyTorch raises.

import { AmpcError } from '../../errors.ts';
import { checkOptions } from '../build.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Parameter } from '../state.ts';
import { normalInit } from '../state.ts';
import type { Tensor } from '../tensor.ts';
import { tracedInput } from './check.ts';
import { positiveInt } from './linear.ts';
import { Module } from './module.ts';

export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: Record<string, never> = {},
  ) {
    super();
    const loc = callerLoc();
    checkOptions('nn.Embedding', opts, [], loc);
    positiveInt('nn.Embedding', 'numEmbeddings', numEmbeddings, loc);
    positiveInt('nn.Embedding', 'embeddingDim', embeddingDim, loc);
    this.weight = this.param('weight', [numEmbeddings, embeddingDim], normalInit(1));
  }

  forward(indices: Tensor): Tensor {
    markEntry(Embedding.prototype.forward);
    indices = tracedInput(indices, 'nn.Embedding');
    if (indices.dtype !== 'i32') throw new AmpcError('E0206', `nn.Embedding: indices must be i32, got ${indices.dtype}`, callerLoc());
    return indices.oneHot(this.numEmbeddings).matmul(this.weight);
  }
}
