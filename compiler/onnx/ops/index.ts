// The ONNX op table: every supported ONNX op type (default domain) and its
// mapping. An op type not listed here is refused with E0901 naming the node,
// the op and the opset.

import { CONV_TRANSPOSE_OPS } from './conv-transpose.ts';
import { ELEMENTWISE_OPS } from './elementwise.ts';
import { GENERATOR_OPS } from './generators.ts';
import { LAYOUT_OPS } from './layout.ts';
import { LOSS_OPS } from './loss.ts';
import { NN_OPS } from './nn.ts';
import { NORM_EXTRA_OPS } from './norm-extra.ts';
import { REDUCE_OPS } from './reduce.ts';
import { RESIZE_OPS } from './resize.ts';
import { SCATTER_OPS } from './scatter.ts';
import { SHAPE_OPS } from './shape.ts';
import type { OpMapping } from './types.ts';

export type { OpMapping } from './types.ts';

export const ONNX_OPS: Readonly<Record<string, OpMapping>> = {
  ...ELEMENTWISE_OPS,
  ...NN_OPS,
  ...LOSS_OPS,
  ...REDUCE_OPS,
  ...SHAPE_OPS,
  ...SCATTER_OPS,
  ...RESIZE_OPS,
  ...LAYOUT_OPS,
  ...GENERATOR_OPS,
  ...NORM_EXTRA_OPS,
  ...CONV_TRANSPOSE_OPS,
};

/** The ONNX op types the importer maps, sorted. */
export const SUPPORTED_ONNX_OPS: readonly string[] = Object.keys(ONNX_OPS).sort();
