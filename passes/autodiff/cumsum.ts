// Vjp rule of cumsum. y[j] = sum of x[k] over the k before j along the axis
// (inclusive or exclusive), so x[k] reaches every y[j] that comes after it
// (or at it, when inclusive): dx[k] = sum of g[j] over those j, the cumsum of
// the cotangent in the opposite direction with the same exclusivity.

import type { VjpRule } from './builder.ts';

export const cumsum: VjpRule = ({ b, g, attrs }) =>
  [b.op('cumsum', [g], { axis: attrs.axis as number, exclusive: attrs.exclusive === true, reverse: attrs.reverse !== true })];
