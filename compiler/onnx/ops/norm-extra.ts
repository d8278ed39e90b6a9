// Normalizations and activations that are exact compositions of IR ops:
// MeanVarianceNormalization (axes, default [0, 2, 3]: (x - mean) /
// (sqrt(mean((x - mean)²)) + 1e-9), ONNX's function body with the variance
// taken centred), Shrink (lambd, bias), and LRN (size, alpha, beta, bias):
// the sum of squares over the channel window [c - ⌊(size-1)/2⌋, c +
// ⌈(size-1)/2⌉] is an avg_pool2d over the channel axis of x² reshaped to
// [N, 1, C, rest] with zero padding counted (count_include_pad), so
// alpha/size · sum = alpha · mean; y = x / (bias + alpha · mean)^beta.

import type { Value } from '../../../ir/graph.ts';
import { isFloat } from '../../../ir/dtype.ts';
import type { OpMapping } from './types.ts';
import { axisOf, lit, rankOf, reshapeTo, val } from './types.ts';

const mvn: OpMapping = {
  map: (c) => {
    if (c.opset < 9) c.unsupported('MeanVarianceNormalization exists from opset 9');
    const x = c.value(0);
    const r = rankOf(x);
    const raw = c.intList('axes') ?? [0, 2, 3];
    const axes = [...new Set(raw.map((a) => axisOf(c, a, r)))].sort((p, q) => p - q);
    const mean = c.add('reduce_mean', [x], { axes, keepdims: true });
    const d = c.add('sub', [x, mean]);
    const variance = c.add('reduce_mean', [c.add('mul', [d, d])], { axes, keepdims: true });
    const std = c.add('add', [c.add('sqrt', [variance]), lit(c, variance, 1e-9)]);
    return val(c.add('div', [d, std]));
  },
};

const shrink: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const lambd = c.float('lambd', 0.5), bias = c.float('bias', 0);
    if (!isFloat(x.type.dtype) && (!Number.isInteger(lambd) || !Number.isInteger(bias))) {
      c.unsupported(`lambd ${lambd} and bias ${bias} on ${x.type.dtype} values (integers only)`);
    }
    const low = c.add('less', [x, lit(c, x, -lambd)]);
    const high = c.add('greater', [x, lit(c, x, lambd)]);
    const upper = c.add('select', [high, c.add('sub', [x, lit(c, x, bias)]), lit(c, x, 0)]);
    return val(c.add('select', [low, c.add('add', [x, lit(c, x, bias)]), upper]));
  },
};

const lrn: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const s = x.type.shape;
    if (s.length < 3) c.bad(`input of rank ${s.length} (LRN takes N, C and spatial dimensions)`);
    if (!isFloat(x.type.dtype)) c.bad(`input of dtype ${x.type.dtype}`);
    const size = c.int('size') ?? c.bad('size is required');
    if (size < 1) c.bad(`size ${size}`);
    const alpha = c.float('alpha', 1e-4), beta = c.float('beta', 0.75), bias = c.float('bias', 1);
    const [n, ch] = s as [number, number];
    const rest = s.slice(2).reduce((a, b) => a * b, 1);
    const sq = reshapeTo(c, c.add('mul', [x, x]), [n, 1, ch, rest]);
    const before = Math.floor((size - 1) / 2), after = Math.ceil((size - 1) / 2);
    const mean = c.add('avg_pool2d', [sq], { kernel: [size, 1], stride: [1, 1], padding: [before, 0, after, 0], count_include_pad: true });
    const base = c.add('add', [c.add('mul', [mean, lit(c, mean, alpha)]), lit(c, mean, bias)]);
    const denom: Value = beta === 1 ? base : c.add('pow', [base, lit(c, base, beta)]);
    return val(c.add('div', [x, reshapeTo(c, denom, s)]));
  },
};

export const NORM_EXTRA_OPS: Record<string, OpMapping> = {
  MeanVarianceNormalization: mvn,
  Shrink: shrink,
  LRN: lrn,
};
