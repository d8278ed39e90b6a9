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

/**
 * nn.ModuleList: modules held in a list, registered as '0', '1', … (PyTorch's
 * names), for a forward that loops over them itself (e.g. a stack of
 * transformer blocks). It has no forward of its own; index with `at(i)` or
 * iterate.
 */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end (registered as its index); returns this. */
  append(m: M): this {
    this.register(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The module at `i` (negative counts from the end); E0104 when out of range. */
  at(i: number): M {
    const j = Number.isInteger(i) && i < 0 ? this.#items.length + i : i;
    const m = Number.isInteger(j) ? this.#items[j] : undefined;
    if (!m) throw new AmpcError('E0104', `nn.ModuleList: index ${JSON.stringify(i)} is out of range (length ${this.#items.length})`, callerLoc());
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }

  forward(): never {
    throw new AmpcError('E0501', 'nn.ModuleList has no forward: loop over its modules in your own forward (for (const block of this.blocks) x = block.forward(x))', callerLoc());
  }
}
