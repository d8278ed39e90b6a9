// Normalizations: softmax and log_softmax along an axis (stable: the maximum
// is subtracted first), layer_norm over axes axis..end, and batch_norm in
// inference (running statistics) and training (batch statistics) modes.

import { normalizeAxis } from '../../shape-rules.ts';
import type { HostTensor } from '../tensor.ts';
import type { Kernel } from './elementwise.ts';
import { makeTensor, splitAxes } from './util.ts';

/** Calls f with the element offsets of every 1-D slice along `axis`. */
function forEachSlice(x: HostTensor, axis: number, f: (offsets: number[]) => void): void {
  const { outer, inner } = splitAxes(x.shape, [axis]);
  const offsets = new Array<number>(inner.length);
  for (let o = 0; o < outer.length; o++) {
    for (let r = 0; r < inner.length; r++) offsets[r] = outer[o]! + inner[r]!;
    f(offsets);
  }
}

/** max of a slice and log Σ exp(x - max) over it. */
function logSumExpParts(xd: HostTensor['data'], offsets: readonly number[]): { max: number; logSum: number } {
  let max = -Infinity;
  for (const i of offsets) max = Math.max(max, xd[i]!);
  let sum = 0;
  for (const i of offsets) sum += Math.exp(xd[i]! - max);
  return { max, logSum: Math.log(sum) };
}

export const softmax: Kernel = ([x], a, [out]) => {
  const axis = normalizeAxis('softmax', a.axis as number, x!.shape.length);
  const values = new Float64Array(x!.data.length);
  const xd = x!.data;
  forEachSlice(x!, axis, (offs) => {
    let max = -Infinity;
    for (const i of offs) max = Math.max(max, xd[i]!);
    let sum = 0;
    for (const i of offs) {
      const e = Math.exp(xd[i]! - max);
      values[i] = e;
      sum += e;
    }
    for (const i of offs) values[i] = values[i]! / sum;
  });
  return [makeTensor(out!, values)];
};

/** log_softmax = x - max - log Σ exp(x - max). */
export const logSoftmax: Kernel = ([x], a, [out]) => {
  const axis = normalizeAxis('log_softmax', a.axis as number, x!.shape.length);
  const values = new Float64Array(x!.data.length);
  const xd = x!.data;
  forEachSlice(x!, axis, (offs) => {
    const { max, logSum } = logSumExpParts(xd, offs);
    for (const i of offs) values[i] = xd[i]! - max - logSum;
  });
  return [makeTensor(out!, values)];
};

export { logSumExpParts };

/** y = (x - mean) / sqrt(var + eps) · gamma + beta over axes axis..end, biased variance. */
export const layerNorm: Kernel = ([x, g, b], a, [out]) => {
  const rank = x!.shape.length;
  const axis = normalizeAxis('layer_norm', a.axis as number, rank);
  const eps = a.epsilon as number;
  const normAxes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const { outer, inner } = splitAxes(x!.shape, normAxes);
  const xd = x!.data, gd = g!.data, bd = b!.data;
  const n = inner.length;
  const values = new Float64Array(xd.length);
  for (let o = 0; o < outer.length; o++) {
    const base = outer[o]!;
    let sum = 0;
    for (let r = 0; r < n; r++) sum += xd[base + inner[r]!]!;
    const mean = sum / n;
    let sq = 0;
    for (let r = 0; r < n; r++) {
      const d = xd[base + inner[r]!]! - mean;
      sq += d * d;
    }
    const rstd = 1 / Math.sqrt(sq / n + eps);
    // inner[r] enumerates the normalized axes row-major, so r is the flat index into gamma and beta
    for (let r = 0; r < n; r++) {
      const i = base + inner[r]!;
      values[i] = (xd[i]! - mean) * rstd * gd[r]! + bd[r]!;
    }
  }
  return [makeTensor(out!, values)];
};

/**
 * training = false: y = (x - running_mean) / sqrt(running_var + eps) · gamma + beta.
 * training = true (PyTorch): normalize with the batch mean and biased batch
 * variance over every axis but 1; also return
 * (1 - momentum)·running_mean + momentum·batch_mean and
 * (1 - momentum)·running_var + momentum·unbiased_batch_var
 * (with one value per channel the unbiased variance is 0/0 = NaN).
 */
export const batchNorm: Kernel = ([x, g, b, rm, rv], a, results) => {
  const eps = a.epsilon as number;
  const momentum = a.momentum as number;
  const training = a.training as boolean;
  const rank = x!.shape.length;
  const C = x!.shape[1]!;
  const others = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 1);
  const { outer, inner } = splitAxes(x!.shape, others); // outer: one offset per channel
  const xd = x!.data;
  const n = inner.length;
  const values = new Float64Array(xd.length);
  const newMean = new Float64Array(C);
  const newVar = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const base = outer[c]!;
    let mean: number, variance: number;
    if (training) {
      let sum = 0;
      for (let r = 0; r < n; r++) sum += xd[base + inner[r]!]!;
      mean = sum / n;
      let sq = 0;
      for (let r = 0; r < n; r++) {
        const d = xd[base + inner[r]!]! - mean;
        sq += d * d;
      }
      variance = sq / n;
      newMean[c] = (1 - momentum) * rm!.data[c]! + momentum * mean;
      newVar[c] = (1 - momentum) * rv!.data[c]! + momentum * (sq / (n - 1));
    } else {
      mean = rm!.data[c]!;
      variance = rv!.data[c]!;
    }
    const scale = g!.data[c]! / Math.sqrt(variance + eps);
    for (let r = 0; r < n; r++) {
      const i = base + inner[r]!;
      values[i] = (xd[i]! - mean) * scale + b!.data[c]!;
    }
  }
  const y = makeTensor(results[0]!, values);
  return training ? [y, makeTensor(results[1]!, newMean), makeTensor(results[2]!, newVar)] : [y];
};
