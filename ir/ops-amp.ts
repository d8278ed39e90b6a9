// Loss-scaling ops: the ops passes/loss-scaling.ts adds to an AMP train step.
//
//   %u0, %u1, ..., %finite = unscale_check %inv_scale, %g0, %g1, ...
//
// unscales every f32 gradient (u_i = g_i · inv_scale, as torch's
// _amp_foreach_non_finite_check_and_unscale_; the optimizer's gradients are
// f32 under AMP, so f16 operands are refused rather than silently widened) and
// reports in one bool scalar whether every element of every u_i is finite.
// One op for all gradients, so the check is a single pass over them and the
// finite flag is a value the rest of the step can select on.
//
//   %finite = finite_check %inv_scale, %g0, %g1, ...
//
// is the same check without the unscaled copies: fusion (passes/fusion/
// unscale.ts) gives it to a step whose optimizer kernels recompute
// g_i · inv_scale themselves, so no unscaled gradient is ever stored. Its
// operands may also be f16 (widened exactly to f32): fusion (passes/fusion/
// finite.ts) checks the f16 operands that decide a gradient's finiteness
// instead of the gradient.

import type { OpDef } from './op-def.ts';
import { AmpcError } from './errors.ts';
import type { TensorType } from './types.ts';
import { typeToString } from './types.ts';

const BOOL_SCALAR: TensorType = { dtype: 'bool', shape: [] };

/** An op over (inverse scale, gradients...): f32[] then f32 tensors; its results from the gradients' types. */
function overGradients(op: string, results: (grads: readonly TensorType[]) => TensorType[], allowF16 = false): OpDef {
  return {
    operands: { min: 2 },
    attrs: {},
    traits: [],
    infer: ([inv, ...grads]) => {
      if (inv!.dtype !== 'f32' || inv!.shape.length !== 0) {
        throw new AmpcError('E0206', `${op}: the inverse scale must be f32[], got ${typeToString(inv!)}`);
      }
      for (const g of grads) {
        if (g.dtype !== 'f32' && !(allowF16 && g.dtype === 'f16')) throw new AmpcError('E0206', `${op}: gradients must be f32, got ${typeToString(g)}; cast them first`);
      }
      return results(grads);
    },
  };
}

export function ampDefs() {
  return {
    unscale_check: overGradients('unscale_check', (grads) => [...grads.map((g) => ({ dtype: g.dtype, shape: [...g.shape] })), BOOL_SCALAR]),
    finite_check: overGradients('finite_check', () => [BOOL_SCALAR], true),
  } satisfies Record<string, OpDef>;
}
