// Generated values: random_uniform (the counter-based hash of ir/random.ts,
// element by element over the row-major flat index) and iota (each element's
// index along an axis, stored as its dtype stores an integer).

import type { DType } from '../../dtype.ts';
import { uniformBits, uniformKeys, uniformValue } from '../../random.ts';
import { normalizeAxis } from '../../shape-rules.ts';
import { numel, stridesOf } from '../../types.ts';
import { allocData, storeAs } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';

export const randomUniform: Kernel = ([seed], a, [out]) => {
  const keys = uniformKeys(seed!.data[0]!, a.salt as number);
  const n = numel(out!.shape);
  const data = allocData('f32', n);
  for (let i = 0; i < n; i++) data[i] = uniformValue(uniformBits(keys, i));
  return [{ dtype: 'f32', shape: [...out!.shape], data }];
};

export const iota: Kernel = (_inputs, a, [out]) => {
  const shape = out!.shape;
  const axis = normalizeAxis('iota', a.axis as number, shape.length);
  const stride = stridesOf(shape)[axis]!, extent = shape[axis]!;
  const dtype = out!.dtype as DType;
  const data = allocData(dtype, numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = storeAs(dtype, Math.floor(i / stride) % extent);
  return [{ dtype, shape: [...shape], data }];
};
