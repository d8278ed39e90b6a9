// What an nn block's forward takes: a traced Tensor. A block called on plain
// data (a Float32Array, a number) or outside any trace says what to do
// instead of failing inside ampc with a TypeError.

import { AmpcError } from '../../errors.ts';
import { callerLoc } from '../loc.ts';
import { Tensor } from '../tensor.ts';

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'an object';
}

/** `x` as a Tensor, or E0501 at the user's line naming the block and what it got. */
export function tracedInput(x: unknown, block: string): Tensor {
  if (x instanceof Tensor) return x;
  throw new AmpcError(
    'E0501',
    `${block}.forward: expects a traced Tensor, got ${describe(x)}: nn blocks build graphs, so call them inside trace() or traceModule(), ` +
      'or run the model on data with a Trainer (trainer.predict(x)) or a compiled artifact',
    callerLoc(),
  );
}
