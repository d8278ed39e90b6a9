// nn.Dropout(p): in training mode each element is zeroed with probability p
// and the others scaled by 1 / (1 - p), as PyTorch's; in eval mode (and so in
// Trainer.predict) it is the identity. The mask comes from the graph itself:
// `random_uniform` (ir/random.ts: a counter-based hash of a seed and the
// element index) of the layer's u32 buffer `seed`, kept where the draw is
// >= p. The step writes seed + 1 back (a buffer update, like BatchNorm's
// running statistics), so every step draws a new mask with no host round
// trip, and a checkpoint holds the seed: a resumed run draws the masks it
// would have drawn. The seed starts as random bits from the Trainer's seed
// and the buffer's name, so two Dropout layers draw independent masks and
// the same seed gives the same run. A layer called twice in one forward
// reads its own update and draws a fresh mask each time.
// Under loss scaling a skipped step keeps the old seed, as it keeps every
// other update, and draws the same mask again.

import { AmpcError } from '../../errors.ts';
import { randomUniform, read, updateBuffer } from '../functions.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Buffer } from '../state.ts';
import { bitsInit } from '../state.ts';
import type { Tensor } from '../tensor.ts';
import { tracedInput } from './check.ts';
import { Module } from './module.ts';

export class Dropout extends Module {
  readonly seed: Buffer;

  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new AmpcError('E0104', `nn.Dropout: p must be a probability in [0, 1], got ${JSON.stringify(p)}`, callerLoc());
    this.seed = this.buffer('seed', [], bitsInit(), { dtype: 'u32' });
  }

  forward(x: Tensor): Tensor {
    markEntry(Dropout.prototype.forward);
    x = tracedInput(x, 'nn.Dropout');
    if (!this.training || this.p === 0) return x;
    const seed = read(this.seed);
    updateBuffer(this.seed, seed.add(1));
    if (this.p === 1) return x.mul(0);
    const keep = randomUniform(seed, x.shape).greaterEqual(this.p);
    return keep.select(x.mul(1 / (1 - this.p)), 0);
  }
}
