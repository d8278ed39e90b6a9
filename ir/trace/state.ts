// Model state that lives outside a trace: trainable parameters and
// non-trainable buffers. Each has a type and an initialization described as
// data (the runtime materializes it with a seeded RNG, see nn/init.ts).
// Inside a trace, the first use of a state tensor makes it a graph input,
// named by its path in the module tree like a PyTorch state_dict key.

import type { DType } from '../dtype.ts';
import type { Shape, TensorType } from '../types.ts';
import { tensorType } from '../types.ts';
import { AmpcError } from '../errors.ts';
import { callerLoc } from './loc.ts';
import { checkShape } from './spec.ts';

/** How a state tensor starts out. `uniform` draws from U(-bound, bound), `bits` random u32 values. */
export type Init =
  | { readonly kind: 'uniform'; readonly bound: number }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'normal'; readonly std: number }
  /** Uniform random integers in [0, 2^32) (a u32 random seed, e.g. nn.Dropout's). */
  | { readonly kind: 'bits' }
  /** Given values, row-major (an imported or pretrained weight; the seed plays no part). */
  | { readonly kind: 'values'; readonly data: ArrayLike<number> };

export const zerosInit = (): Init => ({ kind: 'zeros' });
export const onesInit = (): Init => ({ kind: 'ones' });
export const uniformInit = (bound: number): Init => ({ kind: 'uniform', bound });
export const normalInit = (std = 1): Init => ({ kind: 'normal', std });
export const bitsInit = (): Init => ({ kind: 'bits' });
export const valuesInit = (data: ArrayLike<number>): Init => ({ kind: 'values', data });

/** What owns state: a module, linked to its parent under a key. */
export interface StateOwner {
  /** Set when the owner is registered in a parent; the first registration wins. */
  readonly parentLink: { readonly parent: StateOwner; readonly key: string } | undefined;
}

export interface StateOptions {
  readonly dtype?: DType;
  /** Name for a state tensor that no module owns. */
  readonly name?: string;
}

export abstract class StateTensor {
  abstract readonly kind: 'param' | 'buffer';
  readonly type: TensorType;
  /** Owner and key, set by `Module.param` / `Module.buffer`. */
  owner: StateOwner | undefined;
  key: string | undefined;
  readonly explicitName: string | undefined;

  constructor(
    shape: Shape,
    readonly init: Init,
    opts: StateOptions = {},
  ) {
    checkShape(new.target.name, shape);
    this.type = tensorType(opts.dtype ?? 'f32', shape);
    this.explicitName = opts.name;
  }

  get shape(): Shape {
    return this.type.shape;
  }

  get dtype(): DType {
    return this.type.dtype;
  }

  /**
   * The state_dict-style name: owner keys joined by dots, from the topmost
   * owner or from `root` when it is on the way. Undefined if it has none.
   */
  path(root?: StateOwner): string | undefined {
    if (this.key === undefined) return this.explicitName;
    const parts = [this.key];
    let o = this.owner;
    while (o && o !== root && o.parentLink) {
      parts.unshift(o.parentLink.key);
      o = o.parentLink.parent;
    }
    return parts.join('.');
  }
}

/** A trainable parameter: a `{param}` graph input, of a float dtype (gradients flow only through floats). */
export class Parameter extends StateTensor {
  readonly kind = 'param' as const;

  constructor(shape: Shape, init: Init, opts: StateOptions = {}) {
    super(shape, init, opts);
    if (this.type.dtype !== 'f32' && this.type.dtype !== 'f16') {
      throw new AmpcError('E0501', `a trainable parameter must be f32 or f16, got ${this.type.dtype}: keep integer state in a buffer (this.buffer(name, shape, init, { dtype: '${this.type.dtype}' }))`, callerLoc());
    }
  }
}

/** A non-trainable buffer (running statistics): a plain graph input. A trace may update it. */
export class Buffer extends StateTensor {
  readonly kind = 'buffer' as const;
}
