// The fused op: several elementwise ops run as one kernel (passes/fusion.ts
// forms them). Its body is an ordinary graph, printed right after the node
// and parsed back with it, as XLA's fusion computations are:
//
//   %new.w, %new.m = fused %w, %g, %m, %lr : f32[16,32], f32[16,32]  // fused: 14 ops (...)
//     graph @fused.0(%w: f32[16,32], %g: f32[16,32], %m: f32[16,32], %lr: f32[]) -> (f32[16,32], f32[16,32]) {
//       ...
//       return %0, %1
//     }
//
// The operands are the body's inputs, in order and of the same types; the
// results are the body's outputs. The body holds elementwise ops and splat
// constants, all broadcasting to one iteration shape (the shape of every
// result), so one invocation per element evaluates it; or one matmul or
// reduction (its anchor) giving that shape, whose elementwise consumers in
// the body are its epilogue, applied before the anchor's result is stored. An
// anchor may read casts of body inputs as it loads (its prologue): a matmul or
// finite_check any cast, a reduction or batch_norm an exact widening one (f16
// -> f32), so a deny-listed op reads f16 storage. A batch_norm body is the op
// and its prologue only; its results are its own. A fused node's
// numerics are those of its body: the dtype of every intermediate is in the
// body, and kernels round an f16 intermediate exactly where the unfused graph
// stored it.

import type { OpDef } from './op-def.ts';
import { AmpcError } from './errors.ts';

export function fusedDefs() {
  return {
    fused: {
      operands: { min: 0 },
      attrs: {},
      traits: [],
      infer: (_operands, _attrs, declared) => {
        if (!declared || declared.length === 0) throw new AmpcError('E0404', 'fused: needs a body graph (its results are the body\'s outputs)');
        return declared.map((t) => ({ dtype: t.dtype, shape: [...t.shape] }));
      },
    },
  } satisfies Record<string, OpDef>;
}
