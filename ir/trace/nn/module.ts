// nn.Module: the base of blocks that own named state, PyTorch-style. A
// subclass registers its parts in field initializers or its constructor:
//
//   class MLP extends nn.Module {
//     fc1 = this.register('fc1', new nn.Linear(784, 256));
//     fc2 = this.register('fc2', new nn.Linear(256, 10));
//     forward(x: Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
//   }
//
// `this.param(name, shape, init)` and `this.buffer(name, shape, init)` create
// state; tensors, parameters and buffers all work as operands
// (`x.matmul(this.weight)`). Names are registration keys joined by dots
// (`fc1.weight`), the order is PyTorch's state_dict order: a module's
// parameters, then its buffers, then its children.

import { AmpcError } from '../../errors.ts';
import type { Shape } from '../../types.ts';
import { callerLoc } from '../loc.ts';
import type { Init, StateOptions, StateOwner, StateTensor } from '../state.ts';
import { Buffer, Parameter } from '../state.ts';

const KEY_RE = /^[A-Za-z0-9_]+$/;

export abstract class Module implements StateOwner {
  /** Training mode (the default) or evaluation mode; see train() / eval(). */
  training = true;
  parentLink: { readonly parent: StateOwner; readonly key: string } | undefined = undefined;
  readonly #params = new Map<string, Parameter>();
  readonly #buffers = new Map<string, Buffer>();
  readonly #children = new Map<string, Module>();

  /** The computation; called inside a trace with traced tensors. */
  abstract forward(...inputs: any[]): unknown;

  #claim(name: string): void {
    if (typeof name !== 'string' || !KEY_RE.test(name)) {
      throw new AmpcError('E0501', `${this.constructor.name}: '${String(name)}' is not a valid state name (letters, digits, _)`, callerLoc());
    }
    if (this.#params.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new AmpcError('E0501', `${this.constructor.name}: '${name}' is registered twice`, callerLoc());
    }
  }

  /** Registers a child module under `name` and returns it. */
  register<M extends Module>(name: string, child: M): M {
    this.#claim(name);
    if (!(child instanceof Module)) throw new AmpcError('E0501', `${this.constructor.name}.register('${name}'): not a module`, callerLoc());
    this.#children.set(name, child);
    child.parentLink ??= { parent: this, key: name };
    return child;
  }

  /** Creates a trainable parameter named `name` (f32 unless `opts.dtype`). */
  param(name: string, shape: Shape, init: Init, opts: StateOptions = {}): Parameter {
    this.#claim(name);
    const p = new Parameter(shape, init, opts);
    p.owner = this;
    p.key = name;
    this.#params.set(name, p);
    return p;
  }

  /** Creates a non-trainable buffer named `name`. */
  buffer(name: string, shape: Shape, init: Init, opts: StateOptions = {}): Buffer {
    this.#claim(name);
    const b = new Buffer(shape, init, opts);
    b.owner = this;
    b.key = name;
    this.#buffers.set(name, b);
    return b;
  }

  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  children(): Module[] {
    return [...this.#children.values()];
  }

  /** This module and all below it, with dotted paths ('' for this one); each module once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${k}` : k, seen));
    return out;
  }

  /** All state in state_dict order: [name, parameter or buffer]. */
  namedState(): [string, StateTensor][] {
    const out: [string, StateTensor][] = [];
    for (const [path, m] of this.namedModules()) {
      const at = (k: string) => (path ? `${path}.${k}` : k);
      for (const [k, p] of m.#params) out.push([at(k), p]);
      for (const [k, b] of m.#buffers) out.push([at(k), b]);
    }
    return out;
  }

  namedParameters(): [string, Parameter][] {
    return this.namedState().filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  namedBuffers(): [string, Buffer][] {
    return this.namedState().filter((e): e is [string, Buffer] => e[1] instanceof Buffer);
  }

  parameters(): Parameter[] {
    return this.namedParameters().map((e) => e[1]);
  }

  /** Sets training mode here and below; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode here and below (BatchNorm uses its running statistics). */
  eval(): this {
    return this.train(false);
  }
}
