// The ONNX op table: every supported ONNX op type (default domain) and its
// mapping. An op type not listed here is refused with E0901 naming the node,
// the op and the opset.

import { COMPRESS_OPS } from './compress.ts';
import { CONTROL_FLOW_OPS } from './control-flow.ts';
import { CONV_TRANSPOSE_OPS } from './conv-transpose.ts';
import { ELEMENTWISE_OPS } from './elementwise.ts';
import { GENERATOR_OPS } from './generators.ts';
import { GRID_SAMPLE_OPS } from './grid-sample.ts';
import { LAYOUT_OPS } from './layout.ts';
import { LOSS_OPS } from './loss.ts';
import { NN_OPS } from './nn.ts';
import { NORM_EXTRA_OPS } from './norm-extra.ts';
import { RECURRENT_OPS } from './recurrent.ts';
import { REDUCE_OPS } from './reduce.ts';
import { RESIZE_OPS } from './resize.ts';
import { SCATTER_OPS } from './scatter.ts';
import { SHAPE_OPS } from './shape.ts';
import { TRAINING_OPS } from './training.ts';
import { UNPOOL_OPS } from './unpool.ts';
import { SEQUENCE_OPS } from './sequence.ts';
import { LINALG_OPS } from './linalg.ts';
import { TFIDF_OPS } from './tfidf.ts';
import { QUANTIZE_OPS } from './quantize.ts';
import { ROI_ALIGN_OPS } from './roi-align.ts';
import { SPECTRAL_OPS } from './spectral.ts';
import { SPECTRAL_MEL_OPS } from './spectral-mel.ts';
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
  ...GRID_SAMPLE_OPS,
  ...LAYOUT_OPS,
  ...GENERATOR_OPS,
  ...NORM_EXTRA_OPS,
  ...CONV_TRANSPOSE_OPS,
  ...COMPRESS_OPS,
  ...SPECTRAL_OPS,
  ...SPECTRAL_MEL_OPS,
  ...CONTROL_FLOW_OPS,
  ...RECURRENT_OPS,
  ...ROI_ALIGN_OPS,
  ...UNPOOL_OPS,
  ...SEQUENCE_OPS,
  ...LINALG_OPS,
  ...TFIDF_OPS,
  ...QUANTIZE_OPS,
};

/** Ops of other domains the importer maps, by domain (each mapped at its domain's opset). */
export const ONNX_DOMAIN_OPS: Readonly<Record<string, Readonly<Record<string, OpMapping>>>> = {
  'ai.onnx.preview.training': TRAINING_OPS,
};

/** The ONNX op types the importer maps, sorted. */
export const SUPPORTED_ONNX_OPS: readonly string[] = Object.keys(ONNX_OPS).sort();
