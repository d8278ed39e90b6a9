// Parameter-free blocks (nn.ReLU, nn.GELU, nn.Flatten) and the container
// nn.Sequential, whose children are named '0', '1', … as in PyTorch.

import { tracedInput } from './check.ts';
import { AmpcError } from '../../errors.ts';
import { checkOptions } from '../build.ts';
import { callerLoc, markEntry } from '../loc.ts';
import { Tensor } from '../tensor.ts';
import { Module } from './module.ts';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    markEntry(ReLU.prototype.forward);
    x = tracedInput(x, 'nn.ReLU');
    return x.relu();
  }
}

export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(opts: { readonly approximate?: 'none' | 'tanh' } = {}) {
    super();
    checkOptions('nn.GELU', opts, ['approximate'], callerLoc());
    this.approximate = opts.approximate ?? 'none';
  }

  forward(x: Tensor): Tensor {
    markEntry(GELU.prototype.forward);
    x = tracedInput(x, 'nn.GELU');
    return x.gelu(this.approximate);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    markEntry(Tanh.prototype.forward);
    x = tracedInput(x, 'nn.Tanh');
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    markEntry(Sigmoid.prototype.forward);
    x = tracedInput(x, 'nn.Sigmoid');
    return x.sigmoid();
  }
}

export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  /** Merges dimensions startDim..endDim (default 1..-1: all but the batch). */
  constructor(opts: { readonly startDim?: number; readonly endDim?: number } = {}) {
    super();
    checkOptions('nn.Flatten', opts, ['startDim', 'endDim'], callerLoc());
    this.startDim = opts.startDim ?? 1;
    this.endDim = opts.endDim ?? -1;
  }

  forward(x: Tensor): Tensor {
    markEntry(Flatten.prototype.forward);
    x = tracedInput(x, 'nn.Flatten');
    return x.flatten(this.startDim, this.endDim);
  }
}

export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => this.register(String(i), m));
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    markEntry(Sequential.prototype.forward);
    x = tracedInput(x, 'nn.Sequential');
    // A loop, not forEach: a callback would be one more frame between the user and the layers.
    let y: unknown = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i]!;
      y = m.forward(y);
      if (!(y instanceof Tensor)) {
        throw new AmpcError('E0501', `nn.Sequential: layer ${i} (${m.constructor.name}) returned something other than one tensor`, callerLoc());
      }
    }
    return y as Tensor;
  }
}
