// The AmpcError a call throws (anything else is rethrown; no throw fails).

import { AmpcError } from '../../ir/errors.ts';

export function errorOf(f: () => unknown): AmpcError {
  try {
    f();
  } catch (e) {
    if (e instanceof AmpcError) return e;
    throw e;
  }
  throw new Error('expected an AmpcError');
}
