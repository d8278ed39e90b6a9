// A small CNN with BatchNorm (so a train step has running statistics to
// update in place), for tests that train on 8x1x8x8 inputs.

import { nn } from '../../ir/trace/index.ts';
import type { Tensor } from '../../ir/trace/index.ts';

export class TinyCnn extends nn.Module {
  conv = this.register('conv', new nn.Conv2d(1, 4, 3, { padding: 1 }));
  bn = this.register('bn', new nn.BatchNorm2d(4));
  fc = this.register('fc', new nn.Linear(4 * 4 * 4, 3));
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.bn.forward(this.conv.forward(x)).relu().maxPool2d(2).flatten(1));
  }
}
