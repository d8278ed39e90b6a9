// Neural-network ONNX ops: MatMul (1-D operands promoted and squeezed as
// numpy does, batched for rank >= 3), Gemm (alpha, beta, transA, transB),
// Conv (2-D, and 1-D as 2-D with height 1; auto_pad), MaxPool/AveragePool
// (2-D and 1-D; ceil_mode as extra end padding where that is exact; 3-D and
// dilated MaxPool in pool-nd.ts),
// GlobalAverage/MaxPool, Softmax/LogSoftmax/Hardmax (opset < 13 flattens to
// 2-D; Hardmax is one_hot(argmax), the first maximum winning ties),
// LayerNormalization (with its Mean and InvStdDev outputs), BatchNormalization (inference; training_mode = 1 in training.ts), InstanceNormalization
// (layer_norm over the spatial axes, then the per-channel affine), Dropout
// (inference: the identity, and an all-true mask).

import type { Value } from '../../../ir/graph.ts';
import type { OpName } from '../../../ir/ops.ts';
import type { NodeCtx } from '../context.ts';
import { poolNd } from './pool-nd.ts';
import { batchNormTraining } from './training.ts';
import type { OpMapping } from './types.ts';
import { axisOf, lit, rankOf, reshapeTo, val, windowPads } from './types.ts';

function matmul(c: NodeCtx): Value {
  let a = c.value(0), b = c.value(1);
  const ra = rankOf(a), rb = rankOf(b);
  if (ra === 1) a = reshapeTo(c, a, [1, a.type.shape[0]!]);
  if (rb === 1) b = reshapeTo(c, b, [b.type.shape[0]!, 1]);
  let y = c.add('matmul', [a, b]);
  if (ra === 1 || rb === 1) {
    const s = [...y.type.shape];
    if (rb === 1) s.splice(s.length - 1, 1);
    if (ra === 1) s.splice(s.length - (rb === 1 ? 1 : 2), 1);
    y = reshapeTo(c, y, s);
  }
  return y;
}


/** A 1-D (rank 3) tensor as 2-D with height 1 (rank 4); rank 4 as is; other ranks refused. */
function as2d(c: NodeCtx, x: Value, what: string): { x: Value; oneD: boolean } {
  const r = rankOf(x);
  if (r === 4) return { x, oneD: false };
  if (r === 3) return { x: reshapeTo(c, x, [x.type.shape[0]!, x.type.shape[1]!, 1, x.type.shape[2]!]), oneD: true };
  return c.unsupported(`${what} of rank ${r}: only 1-D and 2-D (rank 3 and 4) are supported`);
}

/** Window attributes, 1-D ones lifted to 2-D: kernel, stride, dilation, [top, left, bottom, right] pads. */
function windowAttrs(c: NodeCtx, spatial: readonly number[], kernel: readonly number[], oneD: boolean) {
  const n = kernel.length;
  const strides = c.intList('strides') ?? new Array<number>(n).fill(1);
  const dil = c.intList('dilations') ?? new Array<number>(n).fill(1);
  const pads = windowPads(c, spatial, kernel, strides, dil);
  if (!oneD) return { kernel: [...kernel], stride: strides, dilation: dil, pads };
  return { kernel: [1, kernel[0]!], stride: [1, strides[0]!], dilation: [1, dil[0]!], pads: [0, pads[0]!, 0, pads[1]!] };
}

function unlift(c: NodeCtx, y: Value, oneD: boolean): Value {
  if (!oneD) return y;
  const [n, ch, , w] = y.type.shape as [number, number, number, number];
  return reshapeTo(c, y, [n, ch, w]);
}

const conv: OpMapping = {
  map: (c) => {
    const { x, oneD } = as2d(c, c.value(0), 'Conv');
    const w0 = c.value(1);
    const w = oneD ? reshapeTo(c, w0, [w0.type.shape[0]!, w0.type.shape[1]!, 1, w0.type.shape[2]!]) : w0;
    const kernel = c.intList('kernel_shape') ?? w0.type.shape.slice(2);
    if (kernel.some((k, i) => k !== w0.type.shape[2 + i])) c.bad(`kernel_shape [${kernel.join(',')}] differs from the weight's`);
    const spatial = c.value(0).type.shape.slice(2);
    const a = windowAttrs(c, spatial, kernel, oneD);
    let y = c.add('conv2d', [x, w], { stride: a.stride, padding: a.pads, dilation: a.dilation, groups: c.int('group', 1) });
    if (c.has(2)) {
      const b = c.value(2);
      y = c.add('add', [y, reshapeTo(c, b, [1, b.type.shape[0]!, 1, 1])]);
    }
    return val(unlift(c, y, oneD));
  },
};

function pool(kind: 'max' | 'avg'): OpMapping {
  return {
    map: (c) => {
      if (kind === 'max') {
        c.onlyOutputs(1, '(Indices) is not supported');
        if (c.int('storage_order', 0) !== 0 && c.outputCount > 1) c.unsupported('storage_order 1');
      }
      const x0 = c.value(0);
      // 3-D pools and dilated MaxPool: separable 1-D pools (pool-nd.ts).
      if (rankOf(x0) >= 5 || (kind === 'max' && (c.intList('dilations') ?? []).some((d) => d !== 1))) return val(poolNd(c, kind, x0));
      const { x, oneD } = as2d(c, x0, c.op);
      const kernel = c.intList('kernel_shape') ?? c.bad('kernel_shape is required');
      const spatial = x0.type.shape.slice(2);
      const a = windowAttrs(c, spatial, kernel, oneD);
      if (a.dilation.some((d) => d !== 1)) c.unsupported(`dilations [${a.dilation.join(',')}] (only 1)`);
      const countIncludePad = kind === 'avg' ? c.int('count_include_pad', 0) === 1 : false;
      if (c.int('ceil_mode', 0) === 1) {
        // ceil_mode = extra padding at the end, exact where padded elements are ignored
        // (max pooling; averages that exclude padding).
        const sp = oneD ? [1, spatial[0]!] : spatial;
        for (let i = 0; i < 2; i++) {
          const padded = sp[i]! + a.pads[i]! + a.pads[i + 2]!;
          const floorOut = Math.floor((padded - a.kernel[i]!) / a.stride[i]!) + 1;
          let ceilOut = Math.ceil((padded - a.kernel[i]!) / a.stride[i]!) + 1;
          // The last window must start inside the input or the begin padding.
          if ((ceilOut - 1) * a.stride[i]! >= sp[i]! + a.pads[i]!) ceilOut--;
          if (ceilOut > floorOut) {
            if (countIncludePad) c.unsupported('ceil_mode with count_include_pad');
            a.pads[i + 2] = a.pads[i + 2]! + (ceilOut - 1) * a.stride[i]! + a.kernel[i]! - padded;
          }
        }
      }
      const op: OpName = kind === 'max' ? 'max_pool2d' : 'avg_pool2d';
      const attrs = { kernel: a.kernel, stride: a.stride, padding: a.pads, ...(kind === 'avg' ? { count_include_pad: countIncludePad } : {}) };
      return val(unlift(c, c.add(op, [x], attrs), oneD));
    },
  };
}

function globalPool(op: OpName): OpMapping {
  return {
    map: (c) => {
      const x = c.value(0);
      const axes = x.type.shape.map((_, i) => i).slice(2);
      return val(c.add(op, [x], { axes, keepdims: true }));
    },
  };
}

function softmax(op: 'softmax' | 'log_softmax'): OpMapping {
  return {
    map: (c) => {
      const x = c.value(0);
      const r = rankOf(x);
      if (c.opset >= 13) return val(c.add(op, [x], { axis: axisOf(c, c.int('axis', -1), r) }));
      // Before opset 13 the input is taken as 2-D: [prod(dims before axis), prod(dims from axis)].
      const axis = axisOf(c, c.int('axis', 1), r);
      if (axis === r - 1) return val(c.add(op, [x], { axis }));
      const s = x.type.shape;
      const flat = reshapeTo(c, x, [s.slice(0, axis).reduce((a, b) => a * b, 1), s.slice(axis).reduce((a, b) => a * b, 1)]);
      return val(reshapeTo(c, c.add(op, [flat], { axis: 1 }), s));
    },
  };
}

/** one_hot(argmax(x along axis)) with the one-hot axis moved back to `axis`. */
function hardmaxAlong(c: NodeCtx, x: Value, axis: number): Value {
  const r = rankOf(x);
  const n = x.type.shape[axis]!;
  const oh = c.add('one_hot', [c.add('argmax', [x], { axis })], { classes: n, dtype: x.type.dtype });
  if (axis === r - 1) return oh;
  const perm = [...Array(r).keys()].map((k) => (k < axis ? k : k === axis ? r - 1 : k - 1));
  return c.add('transpose', [oh], { perm });
}

const hardmax: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const r = rankOf(x);
    if (x.type.shape.some((d) => d === 0)) return val(x);
    if (c.opset >= 13) return val(hardmaxAlong(c, x, axisOf(c, c.int('axis', -1), r)));
    const axis = axisOf(c, c.int('axis', 1), r);
    const s = x.type.shape;
    const flat = reshapeTo(c, x, [s.slice(0, axis).reduce((a, b) => a * b, 1), s.slice(axis).reduce((a, b) => a * b, 1)]);
    return val(reshapeTo(c, hardmaxAlong(c, flat, 1), s));
  },
};

const layerNorm: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const axis = axisOf(c, c.int('axis', -1), rankOf(x));
    const eps = c.float('epsilon', 1e-5);
    if (c.int('stash_type', 1) !== 1) c.unsupported('stash_type other than 1 (f32 statistics)');
    const normShape = x.type.shape.slice(axis);
    const fit = (v: Value): Value => {
      if (v.type.shape.length === normShape.length && v.type.shape.every((d, i) => d === normShape[i])) return v;
      const r = v.type.shape.length > normShape.length ? reshapeTo(c, v, v.type.shape.slice(v.type.shape.length - normShape.length)) : v;
      return c.add('broadcast_to', [r], { shape: normShape });
    };
    const g = fit(c.value(1));
    const b = c.has(2) ? fit(c.value(2)) : c.scalar(0, x.type.dtype, normShape);
    const y = c.add('layer_norm', [x, g, b], { axis, epsilon: eps });
    if (c.outputCount === 1) return val(y);
    // Mean and InvStdDev, as ONNX defines them (kept dimensions), from the f32 statistics.
    const axes = normShape.map((_, i) => axis + i);
    const mean = c.add('reduce_mean', [x], { axes, keepdims: true });
    const d = c.add('sub', [x, mean]);
    const variance = c.add('reduce_mean', [c.add('mul', [d, d])], { axes, keepdims: true });
    const inv = c.add('reciprocal', [c.add('sqrt', [c.add('add', [variance, lit(c, variance, eps)])])]);
    return [y, mean, inv].map((v) => ({ kind: 'value', v }) as const);
  },
};

const batchNorm: OpMapping = {
  map: (c) => {
    if (c.opset >= 14 && c.int('training_mode', 0) === 1) return batchNormTraining(c);
    c.onlyOutputs(1, '(training statistics) is not supported: only inference');
    if (c.int('training_mode', 0) !== 0) c.unsupported('training_mode 1 (only inference)');
    if (c.int('spatial', 1) !== 1) c.unsupported('spatial 0');
    if (c.opset < 7 && c.int('is_test', 0) !== 1) c.unsupported('is_test 0 (only inference)');
    c.ignore('momentum', 'consumed_inputs');
    const x = c.value(0);
    const ops = [1, 2, 3, 4].map((i) => c.value(i));
    return val(c.add('batch_norm', [x, ...ops], { epsilon: c.float('epsilon', 1e-5), training: false }));
  },
};

const instanceNorm: OpMapping = {
  map: (c) => {
    const x = c.value(0);
    const s = x.type.shape;
    if (s.length < 3) c.bad(`input of rank ${s.length}; needs N, C and spatial dimensions`);
    const spatial = s.slice(2);
    const norm = c.add('layer_norm', [x, c.scalar(1, x.type.dtype, spatial), c.scalar(0, x.type.dtype, spatial)], { axis: 2, epsilon: c.float('epsilon', 1e-5) });
    const perChannel = [s[1]!, ...spatial.map(() => 1)];
    return val(c.add('add', [c.add('mul', [norm, reshapeTo(c, c.value(1), perChannel)]), reshapeTo(c, c.value(2), perChannel)]));
  },
};

const dropout: OpMapping = {
  map: (c) => {
    if (c.opset >= 12 && c.has(2)) {
      const training = c.constant(2, 'training_mode');
      if (training.data[0]) c.unsupported('training_mode true (only inference)');
    }
    if (c.opset < 7 && c.int('is_test', 0) !== 1) c.unsupported('is_test 0 (only inference)');
    c.ignore('ratio', 'seed', 'consumed_inputs');
    // In inference every element is kept: the mask is all true.
    const mask = c.outputCount > 1 ? c.scalar(1, 'bool', c.shape(0)) : undefined;
    return mask ? [c.entry(0), { kind: 'value', v: mask }] : [c.entry(0)];
  },
};

export const NN_OPS: Record<string, OpMapping> = {
  MatMul: { map: (c) => val(matmul(c)) },
  Gemm: {
    map: (c) => {
      const alpha = c.float('alpha', 1), beta = c.float('beta', 1);
      c.ignore('broadcast');
      let y = c.add('matmul', [c.value(0), c.value(1)], { transpose_a: c.int('transA', 0) === 1, transpose_b: c.int('transB', 0) === 1 });
      if (alpha !== 1) y = c.add('mul', [y, lit(c, y, alpha)]);
      if (c.has(2)) {
        let cc = c.value(2);
        if (beta !== 1) cc = c.add('mul', [cc, lit(c, cc, beta)]);
        y = c.add('add', [y, cc]);
      }
      return val(y);
    },
  },
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool('reduce_mean'),
  GlobalMaxPool: globalPool('reduce_max'),
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('log_softmax'),
  Hardmax: hardmax,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  Dropout: dropout,
};
