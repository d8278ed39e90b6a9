// Gradient checks of every differentiable op: each case builds a small graph
// `loss = reduce_sum(op(...) · w)` (w a fixed random non-param input, so the
// cotangent is not uniform) with every float operand a {param}, and compares
// the gradients of gradientGraph on the interpreter with central finite
// differences (test/helpers/gradcheck.ts). The table is keyed by op name and
// a test fails if an op with a vjp rule has no case.

import test from 'ava';
import type { AttrValue } from '../ir/attrs.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import type { Value } from '../ir/graph.ts';
import { interpret, hostTensor } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import type { OpName } from '../ir/ops.ts';
import { OP_NAMES } from '../ir/ops.ts';
import { gradientGraph, VJP_RULES } from '../passes/autodiff.ts';
import { awayFromHalfIntegers, awayFromIntegers, awayFromZero, distinct, gradcheck, positive, within } from './helpers/gradcheck.ts';

type InputSpec = readonly number[] | { readonly shape: readonly number[]; readonly dtype?: DType; readonly param?: boolean };
type Prepare = (inputs: Record<string, HostTensor>) => void;

interface OpCase {
  readonly title: string;
  /** Inputs by name: a shape (an f32 param) or a full spec. */
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** Builds the op; returns the result to put into the loss. */
  readonly build: (g: Graph, v: Readonly<Record<string, Value>>) => Value;
  readonly prepare?: Prepare;
}

/** The op applied to the inputs in order, with attributes. */
function op(name: OpName, attrs: Record<string, AttrValue> = {}): OpCase['build'] {
  return (g, v) => g.addNode(name, Object.values(v), attrs).results[0]!;
}

function c(title: string, inputs: OpCase['inputs'], build: OpCase['build'], prepare?: Prepare): OpCase {
  return { title, inputs, build, prepare };
}

const M34 = { x: [3, 4] };
const unary = (name: OpName, prepare?: (n: string) => Prepare, attrs: Record<string, AttrValue> = {}): OpCase[] => {
  const what = Object.entries(attrs).map(([k, v]) => ` ${k} ${String(v)}`).join('');
  return [
    c(`${name}${what} [3,4]`, M34, op(name, attrs), prepare?.('x')),
    c(`${name}${what} [2,1,3]`, { x: [2, 1, 3] }, op(name, attrs), prepare?.('x')),
  ];
};
const binary = (name: OpName, prepare?: Prepare): OpCase[] => [
  c(`${name} same shape`, { a: [3, 4], b: [3, 4] }, op(name), prepare),
  c(`${name} broadcast [3,1] x [4]`, { a: [3, 1], b: [4] }, op(name), prepare),
  c(`${name} broadcast scalar x [2,3]`, { a: [], b: [2, 3] }, op(name), prepare),
  c(`${name} broadcast [2,1,4] x [3,1]`, { a: [2, 1, 4], b: [3, 1] }, op(name), prepare),
];
const labels = (n: number) => ({ shape: [n], dtype: 'i32' as DType, param: false });

/**
 * Moves grid_sample's grid (random in [-1, 1]) onto coordinates that span a
 * little beyond the edges, unnormalized off integers and half-integers (the
 * kinks of bilinear taps, clamping, reflection and nearest rounding).
 */
const offGridLines = (h: number, w: number, align: boolean): Prepare => (ins) => {
  const d = ins.grid!.data;
  for (let k = 0; k < d.length; k++) {
    const n = k % 2 === 0 ? w : h;
    const u = -1.6 + (n + 2.2) * ((Number(d[k]) + 1) / 2);
    const fl = Math.floor(u), fr = u - fl;
    const v = fl + (fr < 0.5 ? 0.1 + 0.6 * fr : 0.6 + 0.6 * (fr - 0.5));
    d[k] = align ? (2 * v) / (n - 1) - 1 : (2 * v + 1) / n - 1;
  }
};
const gridCase = (mode: string, padding_mode: string, align_corners: boolean): OpCase =>
  c(`grid_sample ${mode} ${padding_mode} align_corners ${align_corners}`, { x: [2, 2, 3, 4], grid: [2, 3, 2, 2] },
    op('grid_sample', { mode, padding_mode, align_corners }), offGridLines(3, 4, align_corners));
const cond = (shape: number[]) => ({ shape, dtype: 'bool' as DType, param: false });

const CASES: { readonly [P in OpName]?: readonly OpCase[] } = {
  neg: unary('neg'),
  abs: unary('abs', awayFromZero),
  exp: unary('exp'),
  log: unary('log', positive),
  sqrt: unary('sqrt', positive),
  rsqrt: unary('rsqrt', positive),
  reciprocal: unary('reciprocal', (n) => awayFromZero(n, 0.3)),
  tanh: unary('tanh'),
  sin: unary('sin'),
  cos: unary('cos'),
  floor: unary('floor', awayFromIntegers),
  tan: unary('tan', (n) => within(n, -1.2, 1.2)),
  asin: unary('asin', (n) => within(n, -0.8, 0.8)),
  acos: unary('acos', (n) => within(n, -0.8, 0.8)),
  atan: unary('atan', (n) => within(n, -3, 3)),
  sinh: unary('sinh', (n) => within(n, -2, 2)),
  cosh: unary('cosh', (n) => within(n, -2, 2)),
  asinh: unary('asinh', (n) => within(n, -3, 3)),
  acosh: unary('acosh', (n) => within(n, 1.2, 3)),
  atanh: unary('atanh', (n) => within(n, -0.8, 0.8)),
  erf: unary('erf', (n) => within(n, -2, 2)),
  round: unary('round', awayFromHalfIntegers),
  ceil: unary('ceil', awayFromIntegers),
  sign: unary('sign', awayFromZero),
  sigmoid: unary('sigmoid'),
  relu: unary('relu', awayFromZero),
  gelu: [...unary('gelu', undefined, { approximate: 'none' }), ...unary('gelu', undefined, { approximate: 'tanh' })],

  add: [...binary('add'), c('add x + x (fan-out)', M34, (g, { x }) => g.add('add', [x!, x!]))],
  sub: binary('sub'),
  mul: [...binary('mul'), c('mul x · x (fan-out)', M34, (g, { x }) => g.add('mul', [x!, x!]))],
  div: binary('div', awayFromZero('b', 0.3)),
  maximum: binary('maximum'),
  minimum: binary('minimum'),
  pow: binary('pow', positive('a')),
  // a at k + 1/4 .. k + 3/4 and b in [1, 1.05): a / b stays 0.1 away from the integers where fmod jumps.
  mod: binary('mod', (ins) => { awayFromIntegers('a')(ins); within('b', 1, 1.05)(ins); }),

  select: [
    c('select same shape', { c: cond([3, 4]), a: [3, 4], b: [3, 4] }, op('select')),
    c('select broadcast cond [3,1], a [4], b []', { c: cond([3, 1]), a: [4], b: [] }, op('select')),
  ],
  cast: [c('cast f32 -> f32', M34, op('cast', { to: 'f32' }))],

  matmul: [
    c('matmul [3,4]x[4,5]', { a: [3, 4], b: [4, 5] }, op('matmul')),
    c('matmul transpose_a', { a: [4, 3], b: [4, 5] }, op('matmul', { transpose_a: true })),
    c('matmul transpose_b', { a: [3, 4], b: [5, 4] }, op('matmul', { transpose_b: true })),
    c('matmul transpose_a and transpose_b', { a: [4, 3], b: [5, 4] }, op('matmul', { transpose_a: true, transpose_b: true })),
    c('matmul batched [2,3,4]x[4,5]', { a: [2, 3, 4], b: [4, 5] }, op('matmul')),
    c('matmul batch broadcast [2,1,3,4]x[3,4,2]', { a: [2, 1, 3, 4], b: [3, 4, 2] }, op('matmul')),
    c('matmul batch broadcast [1,4,3]x[2,5,4] transposes', { a: [1, 4, 3], b: [2, 5, 4] }, op('matmul', { transpose_a: true, transpose_b: true })),
    c('matmul [3,4]x[2,4,5] transpose_b on batched b', { a: [3, 4], b: [2, 5, 4] }, op('matmul', { transpose_b: true })),
  ],
  conv2d: [
    c('conv2d 3x3', { x: [2, 3, 5, 5], w: [4, 3, 3, 3] }, op('conv2d')),
    c('conv2d stride 2 padding 1', { x: [1, 2, 6, 6], w: [3, 2, 3, 3] }, op('conv2d', { stride: [2, 2], padding: [1, 1, 1, 1] })),
    c('conv2d dilation 2', { x: [1, 2, 7, 6], w: [2, 2, 3, 2] }, op('conv2d', { dilation: [2, 2] })),
    c('conv2d groups 2', { x: [2, 4, 5, 5], w: [6, 2, 3, 3] }, op('conv2d', { groups: 2, padding: [1, 1, 1, 1] })),
    c('conv2d asymmetric stride and padding', { x: [1, 2, 5, 6], w: [2, 2, 2, 3] }, op('conv2d', { stride: [2, 1], padding: [1, 0, 0, 2] })),
  ],
  max_pool2d: [
    c('max_pool2d 2x2 stride 2', { x: [2, 2, 4, 4] }, op('max_pool2d', { kernel: [2, 2], stride: [2, 2] }), distinct('x')),
    c('max_pool2d 3x3 stride 1 padding 1 (overlapping)', { x: [1, 2, 4, 5] }, op('max_pool2d', { kernel: [3, 3], padding: [1, 1, 1, 1] }), distinct('x')),
  ],
  avg_pool2d: [
    c('avg_pool2d 2x2 stride 2', { x: [2, 2, 4, 4] }, op('avg_pool2d', { kernel: [2, 2], stride: [2, 2] })),
    c('avg_pool2d 3x3 stride 2 padding 1', { x: [1, 2, 5, 5] }, op('avg_pool2d', { kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] })),
    c('avg_pool2d count_include_pad', { x: [1, 2, 5, 5] }, op('avg_pool2d', { kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1], count_include_pad: true })),
  ],
  // A transposed convolution (ONNX ConvTranspose): gradients w.r.t. dy and w.
  conv2d_grad_input: [
    c('conv2d_grad_input 3x3', { dy: [2, 4, 3, 3], w: [4, 3, 3, 3] }, op('conv2d_grad_input', { input_shape: [2, 3, 5, 5] })),
    c('conv2d_grad_input stride 2 padding 1', { dy: [1, 3, 3, 3], w: [3, 2, 3, 3] },
      op('conv2d_grad_input', { input_shape: [1, 2, 6, 6], stride: [2, 2], padding: [1, 1, 1, 1] })),
    c('conv2d_grad_input groups 2, dilation, asymmetric stride and padding', { dy: [1, 6, 6, 3], w: [6, 2, 2, 3] },
      op('conv2d_grad_input', { input_shape: [1, 4, 7, 6], groups: 2, dilation: [2, 1], stride: [1, 2], padding: [1, 0, 0, 2] })),
  ],

  reduce_sum: [
    c('reduce_sum axes [1]', { x: [3, 4, 2] }, op('reduce_sum', { axes: [1] })),
    c('reduce_sum axes [0, 2] keepdims', { x: [3, 4, 2] }, op('reduce_sum', { axes: [0, 2], keepdims: true })),
    c('reduce_sum axes [-1]', { x: [3, 4, 2] }, op('reduce_sum', { axes: [-1] })),
    c('reduce_sum all axes', { x: [3, 4] }, op('reduce_sum', { axes: [0, 1] })),
  ],
  reduce_mean: [
    c('reduce_mean axes [1]', { x: [3, 4, 2] }, op('reduce_mean', { axes: [1] })),
    c('reduce_mean axes [-3, -1] keepdims', { x: [3, 4, 2] }, op('reduce_mean', { axes: [-3, -1], keepdims: true })),
    c('reduce_mean all axes', { x: [3, 4] }, op('reduce_mean', { axes: [0, 1] })),
  ],
  // Repeated, negative and out-of-range indices.
  gather_elements: [0, 1].map((axis) => c(`gather_elements axis ${axis}`, { x: [3, 4], idx: { shape: [2, 3], dtype: 'i32', param: false } },
    op('gather_elements', { axis }), (ins) => {
      ins.idx = { ...ins.idx!, data: Int32Array.from(axis === 0 ? [0, 2, -1, 0, 0, 5] : [3, 3, -4, 1, -1, 4]) };
    })),
  // Repeated, negative and out-of-range indices; indices of rank 2 (the gathered axis becomes two).
  gather: [0, 1].map((axis) => c(`gather axis ${axis}`, { x: [3, 4], idx: { shape: [2, 3], dtype: 'i32', param: false } },
    op('gather', { axis }), (ins) => {
      ins.idx = { ...ins.idx!, data: Int32Array.from(axis === 0 ? [0, 2, -1, 0, 0, 5] : [3, 3, -4, 1, -1, 4]) };
    })),
  // Duplicates (none: only the last gets a gradient; add: all), negative and out-of-range indices.
  scatter_elements: (['none', 'add'] as const).flatMap((reduction) => [0, 1].map((axis) => c(`scatter_elements ${reduction} axis ${axis}`,
    { x: [3, 4], idx: { shape: [2, 3], dtype: 'i32', param: false }, u: [2, 3] },
    op('scatter_elements', { axis, reduction }), (ins) => {
      ins.idx = { ...ins.idx!, data: Int32Array.from(axis === 0 ? [1, 2, -1, 1, 5, 2] : [3, 3, -4, 1, -1, 4]) };
    }))),
  // Linear in x: the gradient is the cumsum of the cotangent the other way round, same exclusivity.
  cumsum: [false, true].flatMap((exclusive) => [false, true].map((reverse) =>
    c(`cumsum axis ${exclusive ? -1 : 1} exclusive ${exclusive} reverse ${reverse}`, { x: [2, 4, 3] }, op('cumsum', { axis: exclusive ? -1 : 1, exclusive, reverse })))),
  // Linear in x: the gradient is the adjoint of the interpolation (taps clamped onto the edges add up).
  resize: [
    c('resize nearest up 2x3 half_pixel', { x: [1, 2, 3, 4] }, op('resize', { sizes: [1, 2, 6, 7], mode: 'nearest' })),
    c('resize nearest down floor asymmetric', { x: [2, 7, 5] }, op('resize', { sizes: [2, 3, 2], nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' })),
    c('resize linear up and down', { x: [2, 3, 5] }, op('resize', { sizes: [2, 7, 3], mode: 'linear' })),
    c('resize linear align_corners', { x: [3, 4] }, op('resize', { sizes: [5, 9], mode: 'linear', coordinate_transformation_mode: 'align_corners' })),
    c('resize cubic scales exclude_outside', { x: [4, 5] }, op('resize', { sizes: [6, 3], scales: [1.5, 0.6], mode: 'cubic', cubic_coeff_a: -0.5, exclude_outside: true })),
    c('resize linear tf_crop_and_resize', { x: [4, 4] }, op('resize', { sizes: [3, 5], mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize',
      roi: [0.2, -0.3, 0.9, 1.2], extrapolation_value: 7 })),
  ],
  // dx: the adjoint of the sampling; dgrid: the derivative of the weights (zero for nearest).
  grid_sample: [
    gridCase('bilinear', 'zeros', false), gridCase('bilinear', 'border', true), gridCase('bilinear', 'reflection', false),
    gridCase('bilinear', 'reflection', true), gridCase('bicubic', 'zeros', true), gridCase('bicubic', 'border', false),
    gridCase('bicubic', 'reflection', false), gridCase('nearest', 'reflection', true), gridCase('nearest', 'zeros', false),
  ],
  // Zeros: none, one in a row (its gradient is the product of the others) and two (all zero).
  reduce_prod: [
    c('reduce_prod axes [1]', { x: [3, 4, 2] }, op('reduce_prod', { axes: [1] }), within('x', 0.5, 1.5)),
    c('reduce_prod axes [0, 2] keepdims', { x: [3, 4, 2] }, op('reduce_prod', { axes: [0, 2], keepdims: true }), awayFromZero('x', 0.3)),
    c('reduce_prod with zeros', { x: [3, 4] }, op('reduce_prod', { axes: [1] }), (ins) => {
      awayFromZero('x', 0.3)(ins);
      const d = ins.x!.data;
      d[1] = 0; // row 0: one zero
      d[8] = 0; d[10] = 0; // row 2: two zeros
    }),
  ],
  reduce_max: [
    c('reduce_max axes [1]', { x: [3, 4, 2] }, op('reduce_max', { axes: [1] }), distinct('x')),
    c('reduce_max axes [-1] keepdims', { x: [3, 4, 2] }, op('reduce_max', { axes: [-1], keepdims: true }), distinct('x')),
    c('reduce_max axes [0, 2]', { x: [3, 4, 2] }, op('reduce_max', { axes: [0, 2] }), distinct('x')),
  ],

  softmax: [
    c('softmax axis -1', { x: [3, 5] }, op('softmax', { axis: -1 })),
    c('softmax axis 1 of rank 3', { x: [2, 4, 3] }, op('softmax', { axis: 1 })),
  ],
  log_softmax: [
    c('log_softmax axis -1', { x: [3, 5] }, op('log_softmax', { axis: -1 })),
    c('log_softmax axis 0', { x: [4, 3] }, op('log_softmax', { axis: 0 })),
  ],
  layer_norm: [
    c('layer_norm axis -1', { x: [3, 5], g: [5], b: [5] }, op('layer_norm', { axis: -1 })),
    c('layer_norm axis -2', { x: [2, 3, 4], g: [3, 4], b: [3, 4] }, op('layer_norm', { axis: -2, epsilon: 1e-3 })),
    c('layer_norm axis 0', { x: [2, 3], g: [2, 3], b: [2, 3] }, op('layer_norm', { axis: 0 })),
  ],
  batch_norm: [
    c('batch_norm training NCHW', { x: [4, 3, 2, 2], g: [3], b: [3], m: [3], v: [3] }, op('batch_norm', { training: true }), positive('v')),
    c('batch_norm training [N, C]', { x: [6, 3], g: [3], b: [3], m: [3], v: [3] }, op('batch_norm', { training: true, epsilon: 1e-3 }), positive('v')),
    c('batch_norm inference', { x: [4, 3, 2, 2], g: [3], b: [3], m: [3], v: [3] }, op('batch_norm', { training: false }), positive('v')),
  ],

  cross_entropy: ['mean', 'sum', 'none'].map((r) =>
    c(`cross_entropy reduction ${r}`, { logits: [4, 5], labels: labels(4) }, op('cross_entropy', { reduction: r })),
  ),
  mse_loss: ['mean', 'sum', 'none'].map((r) => c(`mse_loss reduction ${r}`, { a: [3, 4], b: [3, 4] }, op('mse_loss', { reduction: r }))),

  reshape: [c('reshape [3,4] -> [2,6]', M34, op('reshape', { shape: [2, 6] }))],
  transpose: [c('transpose [2,0,1]', { x: [2, 3, 4] }, op('transpose', { perm: [2, 0, 1] }))],
  broadcast_to: [c('broadcast_to [3,1] -> [2,3,4]', { x: [3, 1] }, op('broadcast_to', { shape: [2, 3, 4] }))],
  slice: [
    c('slice interior of two axes', { x: [4, 5, 3] }, op('slice', { starts: [1, 0, 1], ends: [3, 5, 2] })),
    c('slice a prefix', { x: [4, 5] }, op('slice', { starts: [0, 0], ends: [2, 5] })),
  ],
  concat: [
    c('concat three along axis 1', { a: [2, 1, 3], b: [2, 2, 3], e: [2, 3, 3] }, op('concat', { axis: 1 })),
    c('concat axis -1', { a: [2, 2], b: [2, 3] }, op('concat', { axis: -1 })),
  ],
};

/** graph: the case's inputs, a weight %cot of the result's shape, loss = reduce_sum(result · cot). */
function caseGraph(k: OpCase): Graph {
  const g = new Graph('gradcheck');
  const v: Record<string, Value> = {};
  for (const [name, spec] of Object.entries(k.inputs)) {
    const s = Array.isArray(spec) ? { shape: spec as number[] } : (spec as Exclude<InputSpec, readonly number[]>);
    const dtype = s.dtype ?? 'f32';
    v[name] = g.addInput(name, { dtype, shape: s.shape }, { param: s.param ?? dtype === 'f32' });
  }
  const y = k.build(g, v);
  const w = g.addInput('cot', y.type);
  const p = g.add('mul', [y, w]);
  const loss = g.add('reduce_sum', [p], { axes: p.type.shape.map((_, i) => i) }, { names: ['loss'] });
  g.setOutputs([loss]);
  return g;
}

const differentiable = OP_NAMES.filter((name) => VJP_RULES[name] !== 'nondifferentiable');

test('every differentiable op has a gradient check case', (t) => {
  const missing = differentiable.filter((name) => !CASES[name]?.length);
  t.deepEqual(missing, [], `ops with a vjp rule but no gradcheck case: ${missing.join(', ')}`);
  const extra = Object.keys(CASES).filter((name) => !differentiable.includes(name as OpName));
  t.deepEqual(extra, [], 'cases for ops without a vjp rule');
});

for (const name of differentiable) {
  for (const k of CASES[name] ?? []) {
    test(`gradcheck: ${k.title}`, (t) => {
      const r = gradcheck(caseGraph(k), { seed: 11, prepare: k.prepare });
      t.true(r.ok, r.text);
      t.true(r.params.length > 0);
    });
  }
}

test('cast f32 -> f16 -> f32: the gradient is the cotangent cast back to f32', (t) => {
  // f16 rounding makes the loss piecewise constant, so finite differences say nothing here:
  // d/dx of sum(cast(cast(x, f16), f32) · w) is w (exactly: w is f16-representable).
  const g = new Graph('cast16');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] }, { param: true });
  const w = g.addInput('w', { dtype: 'f32', shape: [2, 3] });
  const h = g.add('cast', [x], { to: 'f16' });
  const back = g.add('cast', [h], { to: 'f32' });
  g.setOutputs([g.add('reduce_sum', [g.add('mul', [back, w])], { axes: [0, 1] })]);
  const grad = gradientGraph(g);
  const ops = grad.nodes.map((n) => n.op);
  t.true(ops.filter((o) => o === 'cast').length >= 3, 'the cotangent is cast back to f16 and then f32');
  const wv = [0.5, -1.25, 2, 0.125, -3, 1];
  const [, dx] = interpret(grad, { x: hostTensor('f32', [2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), w: hostTensor('f32', [2, 3], wv) });
  t.deepEqual(Array.from(dx!.data), wv);
  t.is(dx!.dtype, 'f32');
});
