// nn.Embedding: a table of `num` vectors of `dim` values (weight [num, dim],
// initialized N(0, 1) as PyTorch); forward(indices) looks rows up with the
// IR's `gather` along axis 0 (a copy: no arithmetic). Its gradient is the
// scatter-add of the output gradient into the rows used, as PyTorch's
// (gather's vjp: one_hot(indices)ᵀ · g, a matmul, deterministic). gather
// follows its operand's precision, so under AMP the vectors come out as the
// f32 master weights are (ops after it cast them as their classes say). An
// index outside [0, num) gives a zero vector, where PyTorch raises: negative
// indices are first moved out of range (gather alone would count them from
// the end), then gather reads 0 for them.

import { AmpcError } from '../../errors.ts';
import { checkOptions, gather } from '../build.ts';
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
    const inRangeOrPast = indices.less(0).select(this.numEmbeddings, indices);
    return gather(this.weight, inRangeOrPast, 0, callerLoc());
  }
}
