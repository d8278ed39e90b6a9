// One conv2d configuration of the GPU conv and conv-gradient tests.

import type { DType } from '../../ir/dtype.ts';

export interface ConvCase {
  readonly name: string;
  readonly x: [number, number, number, number];
  readonly w: [number, number, number, number];
  readonly stride?: [number, number];
  readonly padding?: [number, number, number, number];
  readonly dilation?: [number, number];
  readonly groups?: number;
  readonly acc?: DType;
}

/** The conv2d attributes of `c` (absent ones undefined: the op's defaults). */
export function convAttrs(c: ConvCase) {
  return { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, acc: c.acc };
}
