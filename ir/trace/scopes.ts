// Trace scopes: every traced node records where it was made — the dotted
// path of the nn module whose forward ran it (`encoder.attention`, as
// PyTorch's named_modules spells it), or of a `scope('name', () => ...)`
// block (as jax.named_scope / tf.name_scope). Passes match them: the AMP
// policy takes per-scope overrides (`ampScopes: { attention: 'f32' }`,
// passes/precision/policy.ts), so a user can keep one block of a model in
// f32 without naming its ops.

import { AmpcError } from '../errors.ts';
import { currentContext, requireContext } from './context.ts';
import { callerLoc, markEntry } from './loc.ts';

const SCOPE_NAME = /^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$/;

/** Runs `body` (while tracing) with the nodes it records in scope `name`, nested in the current scope. */
export function scope<T>(name: string, body: () => T): T {
  const loc = callerLoc();
  if (typeof name !== 'string' || !SCOPE_NAME.test(name)) {
    throw new AmpcError('E0501', `scope: the name must be letters, digits and _ (dots between parts), got ${JSON.stringify(name)}`, loc);
  }
  if (typeof body !== 'function') throw new AmpcError('E0501', 'scope: the second argument must be a function to trace in the scope', loc);
  const ctx = requireContext('scope()', loc);
  return ctx.inScope(ctx.scope ? `${ctx.scope}.${name}` : name, body);
}

interface ModuleTree {
  namedModules(): [string, object][];
}

type Forward = (...args: unknown[]) => unknown;

/** markEntry tokens of the two functions of the scoped forward (they are closures, one per submodule). */
const SCOPED_FORWARD = {};
const SCOPED_BODY = {};

/**
 * Runs `body` with the forward of every submodule of `model` (when it has
 * named submodules) recording its nodes in the scope of the submodule's
 * qualified name; the modules are restored afterwards.
 */
export function withModuleScopes<T>(model: unknown, body: () => T): T {
  if (!model || typeof (model as Partial<ModuleTree>).namedModules !== 'function') return body();
  const restores = (model as ModuleTree).namedModules().filter(([name]) => name !== '').map(([name, m]) => {
    const target = m as { forward?: Forward };
    const own = Object.prototype.hasOwnProperty.call(target, 'forward');
    const original = target.forward;
    if (typeof original !== 'function') return () => undefined;
    // Both functions are marked as tracer entries, so that the nodes of an nn
    // block are placed at the user's call of it also in a bundle (loc.ts).
    target.forward = function (this: unknown, ...args: unknown[]) {
      markEntry(SCOPED_FORWARD);
      const ctx = currentContext();
      return ctx
        ? ctx.inScope(name, () => {
            markEntry(SCOPED_BODY);
            return original.apply(this, args);
          })
        : original.apply(this, args);
    };
    return () => {
      if (own) target.forward = original;
      else delete target.forward;
    };
  });
  try {
    return body();
  } finally {
    for (const r of restores) r();
  }
}
