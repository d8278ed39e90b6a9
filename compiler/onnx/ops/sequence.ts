// ReverseSequence (opset 10): for each batch element b, the first
// sequence_lens[b] entries along time_axis are reversed and the rest kept.
// batch_axis and time_axis are 0 and 1 (either way round; anything else is
// E0902), the input has rank >= 2. With sequence_lens known at import, the
// two leading axes are flattened into one and the IR's gather takes them in
// the reversed order by constant indices (an identity when every length is
// 0 or 1), so the mapping is differentiable in the data; a length outside
// 0..time extent is E0902. A run-time sequence_lens is E0901. All-constant
// inputs fold at import.

import type { NodeCtx } from '../context.ts';
import { ct, gather, reshaped } from '../fold.ts';
import type { ConstTensor } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { reshapeTo, val } from './types.ts';

/** For data of `shape`: the source position along the flattened two leading axes of each output position, or undefined for an identity. */
function sourceIndices(c: NodeCtx, shape: readonly number[], lens: ConstTensor): number[] | undefined {
  if (c.opset < 10) c.unsupported('ReverseSequence exists from opset 10');
  const batchAxis = c.int('batch_axis', 1), timeAxis = c.int('time_axis', 0);
  if (shape.length < 2) c.bad(`input of rank ${shape.length} (at least 2)`);
  if (![0, 1].includes(batchAxis) || ![0, 1].includes(timeAxis) || batchAxis === timeAxis) {
    c.bad(`batch_axis ${batchAxis} and time_axis ${timeAxis} (one is 0, the other 1)`);
  }
  const nb = shape[batchAxis]!, nt = shape[timeAxis]!;
  if (lens.shape.length !== 1 || lens.shape[0] !== nb) c.bad(`sequence_lens of shape ${JSON.stringify(lens.shape)} for a batch of ${nb} (shape [${nb}])`);
  const len = [...lens.data];
  const bad = len.findIndex((l) => !(l >= 0 && l <= nt));
  if (bad >= 0) c.bad(`sequence_lens[${bad}] = ${len[bad]} is outside 0..${nt}, the extent of the time axis`);
  if (len.every((l) => l <= 1)) return undefined;
  const src: number[] = [];
  for (let a = 0; a < shape[0]!; a++) {
    for (let b = 0; b < shape[1]!; b++) {
      const [bi, t] = batchAxis === 0 ? [a, b] : [b, a];
      const l = len[bi]!;
      const from = t < l ? l - 1 - t : t;
      src.push(batchAxis === 0 ? bi * nt + from : from * nb + bi);
    }
  }
  return src;
}

function lensOf(c: NodeCtx): ConstTensor {
  const e = c.entry(1);
  if (e.kind !== 'const') c.unsupported('a run-time sequence_lens (input 1; an initializer, a Constant or shape arithmetic on them is mapped)');
  return e.t;
}

export const SEQUENCE_OPS: Record<string, OpMapping> = {
  ReverseSequence: {
    map: (c) => {
      const x = c.value(0);
      const s = x.type.shape;
      const src = sourceIndices(c, s, lensOf(c));
      if (!src) return val(x);
      const flat = reshapeTo(c, x, [s[0]! * s[1]!, ...s.slice(2)]);
      const idx = c.materialize(ct('int64', [src.length], src), `${c.name}_indices`);
      return val(reshapeTo(c, c.add('gather', [flat, idx], { axis: 0 }), s));
    },
    fold: (c, [x, lens]) => {
      const s = x!.shape;
      const src = sourceIndices(c, s, lens!);
      if (!src) return [x!];
      const y = gather(reshaped(x!, [s[0]! * s[1]!, ...s.slice(2)]), ct('int64', [src.length], src), 0);
      return [reshaped(y, s)];
    },
  },
};
