// Gradient accumulation in the train step (optimizer spec `accumulate: K`):
// each step (micro-batch) adds its unscaled gradients to state inputs
// `accum.<p>`; every K-th step the optimizer updates with their mean and the
// sums restart from 0, as one step on a batch K times larger would (the loss
// being a mean over the batch, the big batch's gradient is the mean of the
// micro-batches' for equal micro-batches). Between updates no parameter,
// optimizer state or step counter moves, and the loss scale is held fixed:
// the scale state moves only on the last micro-step, from the finiteness of
// every micro-batch of the update (`accum.skip` remembers a non-finite one),
// as PyTorch's GradScaler does when `scaler.step`/`update` run once per K
// backward passes. State: `accum.<p>` (f32, each param's shape),
// `accum.count` (micro-steps since the last update, f32), and under loss
// scaling `accum.skip` (1 when a micro-batch since the last update was not
// finite), all starting at 0.

import type { Value } from '../ir/graph.ts';
import type { UpdateBuilder } from './update-builder.ts';

export const ACCUM_COUNT_INPUT = 'accum.count';
export const ACCUM_SKIP_INPUT = 'accum.skip';

export interface AccumulationState {
  readonly sums: readonly Value[];
  readonly count: Value;
  readonly skip?: Value;
}

export interface Accumulated {
  /** The mean gradient of the micro-batches (meaningful on the last micro-step). */
  readonly mean: Value[];
  /** True on the last micro-step of an update. */
  readonly commit: Value;
  /** Under loss scaling: every micro-batch of this update was finite. */
  readonly finiteAll?: Value;
  /** When the optimizer's update applies: `commit`, and `finiteAll` under loss scaling. */
  readonly apply: Value;
  /** The new accumulation state, in AccumulationState order (sums, count, skip), named `new.<input>`. */
  readonly newState: Value[];
}

export function accumulateGradients(b: UpdateBuilder, k: number, st: AccumulationState, grads: readonly Value[], finite: Value | undefined): Accumulated {
  const count1 = b.add(st.count, b.c(1));
  const commit = b.named(b.op('equal', [count1, b.c(k)]), 'accum.commit');
  const sums = grads.map((g, i) => b.add(st.sums[i]!, g));
  const mean = sums.map((s) => b.div(s, b.c(k)));
  let finiteAll: Value | undefined;
  let skipped: Value | undefined;
  if (finite && st.skip) {
    // skip' = max(skip, !finite); every micro-batch finite = skip' == 0.
    skipped = b.op('maximum', [st.skip, b.op('select', [finite, b.c(0), b.c(1)])]);
    finiteAll = b.named(b.op('equal', [skipped, b.c(0)]), 'accum.finite');
  }
  const apply = finiteAll ? b.named(b.op('select', [commit, finiteAll, commit]), 'accum.apply') : commit;
  const zero = b.c(0);
  const newState = [
    ...sums.map((s, i) => b.named(b.op('select', [commit, zero, s]), `new.${st.sums[i]!.name}`)),
    b.named(b.op('select', [commit, zero, count1]), `new.${st.count.name}`),
    ...(st.skip && skipped ? [b.named(b.op('select', [commit, zero, skipped]), `new.${st.skip.name}`)] : []),
  ];
  return { mean, commit, ...(finiteAll ? { finiteAll } : {}), apply, newState };
}
