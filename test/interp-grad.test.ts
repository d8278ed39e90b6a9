// Reference interpreter, gradient ops (the oracle autodiff is checked
// against, so checked here independently of the rules' own formulas):
// - hand-computed tiny cases of every op (stride, padding, groups, the
//   input_shape a strided conv cannot recover, first-max ties, NaN and -inf
//   windows, count_include_pad, gelu' at known points);
// - the adjoint identities <conv2d(x, w), dy> = <x, conv2d_grad_input(dy, w)>
//   = <w, conv2d_grad_weight(x, dy)> and <avg_pool2d(x), dy> =
//   <x, avg_pool2d_grad(dy)> to 1e-12 in f64, over stride, asymmetric padding,
//   dilation, groups and depthwise;
// - central finite differences of sum(dy · max_pool2d(x)) and of gelu;
// - acc = f16 rounding at every addition, in the documented order.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { f16round } from '@petamoriken/float16';
import type { AttrValue } from '../ir/attrs.ts';
import type { DType } from '../ir/dtype.ts';
import { evalOp } from '../ir/interp/interpret.ts';
import type { HostTensor, Nested } from '../ir/interp/tensor.ts';
import { fromNested, hostTensor, toArray, toNested } from '../ir/interp/tensor.ts';
import type { OpName } from '../ir/ops.ts';
import { seededValues } from './helpers/compare.ts';
import { near } from './helpers/near.ts';

type Attrs = Record<string, AttrValue>;
const F = (nested: Nested): HostTensor => fromNested('f32', nested);
const run1 = (op: OpName, xs: HostTensor[], attrs: Attrs = {}): HostTensor => evalOp(op, xs, attrs)[0]!;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const rand = (seed: number, shape: number[], lo = -1, hi = 1): HostTensor => hostTensor('f32', shape, seededValues(seed, numel(shape), lo, hi));

/** <a, b> and the sum of |a_i b_i| (the scale a rounding error is relative to). */
function dot(a: HostTensor, b: HostTensor): { value: number; scale: number } {
  let value = 0, scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    value += a.data[i]! * b.data[i]!;
    scale += Math.abs(a.data[i]! * b.data[i]!);
  }
  return { value, scale };
}

function sameDot(t: ExecutionContext, p: { value: number; scale: number }, q: { value: number; scale: number }, what: string): void {
  const err = Math.abs(p.value - q.value) / Math.max(p.scale, q.scale, 1e-300);
  t.true(err <= 1e-12, `${what}: ${p.value} vs ${q.value} (relative ${err})`);
}

// ---------------------------------------------------------------- conv2d_grad_input, by hand

test('conv2d_grad_input: stride 1 is the full correlation with the kernel', (t) => {
  const w = F([[[[1, 2], [3, 4]]]]);
  const one = run1('conv2d_grad_input', [F([[[[1, 0], [0, 0]]]]), w], { input_shape: [1, 1, 3, 3] });
  t.deepEqual(toNested(one), [[[[1, 2, 0], [3, 4, 0], [0, 0, 0]]]]);
  const all = run1('conv2d_grad_input', [F([[[[1, 1], [1, 1]]]]), w], { input_shape: [1, 1, 3, 3] });
  t.deepEqual(toNested(all), [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]]);
});

test('conv2d_grad_input: stride 2 spreads dy with gaps; input_shape gives the rows and columns no window read', (t) => {
  const dy = F([[[[1, 2], [3, 4]]]]);
  const w = F([[[[2]]]]);
  t.deepEqual(toNested(run1('conv2d_grad_input', [dy, w], { input_shape: [1, 1, 3, 3], stride: [2, 2] })), [[[[2, 0, 4], [0, 0, 0], [6, 0, 8]]]]);
  t.deepEqual(toNested(run1('conv2d_grad_input', [dy, w], { input_shape: [1, 1, 4, 4], stride: [2, 2] })),
    [[[[2, 0, 4, 0], [0, 0, 0, 0], [6, 0, 8, 0], [0, 0, 0, 0]]]]);
});

test('conv2d_grad_input: padding drops the taps that met padding; dilation spaces the taps', (t) => {
  // x 1x1x2x2, 3x3 kernel, padding 1 -> y 2x2; dy = ones.
  const w = F([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
  const dx = run1('conv2d_grad_input', [F([[[[1, 1], [1, 1]]]]), w], { input_shape: [1, 1, 2, 2], padding: [1, 1, 1, 1] });
  // dx[i, j] = sum of w[kh, kw] over oh = i + 1 - kh, ow = j + 1 - kw in {0, 1}
  t.deepEqual(toNested(dx), [[[[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]]]]);
  // dilation 2 on a 1x3 row: y[0] = x0 w0 + x2 w1, so dx = [dy w0, 0, dy w1].
  const dil = run1('conv2d_grad_input', [F([[[[10]]]]), F([[[[2, 3]]]])], { input_shape: [1, 1, 1, 3], dilation: [1, 2] });
  t.deepEqual(toNested(dil), [[[[20, 0, 30]]]]);
});

test('conv2d_grad_input: groups keep channels apart', (t) => {
  // y = [a p, b q] for x = [a, b], w = [p, q], groups 2; dx = [dy0 p, dy1 q].
  const dx = run1('conv2d_grad_input', [F([[[[1]], [[10]]]]), F([[[[2]]], [[[3]]]])], { input_shape: [1, 2, 1, 1], groups: 2 });
  t.deepEqual(toNested(dx), [[[[2]], [[30]]]]);
  // groups 1 mixes them: dx[c] = sum_o dy[o] w[o, c].
  const mixed = run1('conv2d_grad_input', [F([[[[1]], [[10]]]]), F([[[[2]], [[5]]], [[[3]], [[7]]]])], { input_shape: [1, 2, 1, 1] });
  t.deepEqual(toNested(mixed), [[[[2 + 30]], [[5 + 70]]]]);
});

// ---------------------------------------------------------------- conv2d_grad_weight, by hand

test('conv2d_grad_weight: x correlated with dy', (t) => {
  const x = F([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
  const dw = run1('conv2d_grad_weight', [x, F([[[[1, 1], [1, 1]]]])], { weight_shape: [1, 1, 2, 2] });
  t.deepEqual(toNested(dw), [[[[12, 16], [24, 28]]]]);
  const dy = F([[[[1, 0], [0, 2]]]]);
  t.deepEqual(toNested(run1('conv2d_grad_weight', [x, dy], { weight_shape: [1, 1, 2, 2] })), [[[[1 + 10, 2 + 12], [4 + 16, 5 + 18]]]]);
});

test('conv2d_grad_weight: padding, stride and groups', (t) => {
  const x = F([[[[1, 2], [3, 4]]]]);
  const padded = run1('conv2d_grad_weight', [x, F([[[[1, 1], [1, 1]]]])], { weight_shape: [1, 1, 3, 3], padding: [1, 1, 1, 1] });
  t.deepEqual(toNested(padded), [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]]);
  // stride 2 on 1x5 with a 1x2 kernel: y = [x0 w0 + x1 w1, x2 w0 + x3 w1]; x4 is never read.
  const strided = run1('conv2d_grad_weight', [F([[[[1, 2, 3, 4, 5]]]]), F([[[[10, 100]]]])], { weight_shape: [1, 1, 1, 2], stride: [1, 2] });
  t.deepEqual(toNested(strided), [[[[10 + 300, 20 + 400]]]]);
  const grouped = run1('conv2d_grad_weight', [F([[[[2]], [[3]]]]), F([[[[5]], [[7]]]])], { weight_shape: [2, 1, 1, 1], groups: 2 });
  t.deepEqual(toNested(grouped), [[[[10]]], [[[21]]]]);
  // batch sums
  const batch = run1('conv2d_grad_weight', [F([[[[2]]], [[[3]]]]), F([[[[5]]], [[[7]]]])], { weight_shape: [1, 1, 1, 1] });
  t.deepEqual(toNested(batch), [[[[10 + 21]]]]);
});

test('conv gradients with acc = f16 round the running sum at every addition, in the documented order', (t) => {
  // 2048 + 1 = 2049 rounds to 2048 (ties to even), twice; in f32 the sum is 2050.
  const x = hostTensor('f16', [1, 1, 1, 3], [2048, 1, 1]);
  const dy = hostTensor('f16', [1, 1, 1, 3], [1, 1, 1]);
  const attrs = { weight_shape: [1, 1, 1, 1] };
  t.deepEqual(toArray(run1('conv2d_grad_weight', [x, dy], { ...attrs, acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('conv2d_grad_weight', [x, dy], { ...attrs, acc: 'f32' })), [2050]);
  // dx[c] sums over the output channels o in order.
  const dy3 = hostTensor('f16', [1, 3, 1, 1], [2048, 1, 1]);
  const w = hostTensor('f16', [3, 1, 1, 1], [1, 1, 1]);
  t.deepEqual(toArray(run1('conv2d_grad_input', [dy3, w], { input_shape: [1, 1, 1, 1], acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('conv2d_grad_input', [dy3, w], { input_shape: [1, 1, 1, 1], acc: 'f32' })), [2050]);
  // f32 tensors with acc = f16: the running sum is f16 although the result is stored as f32.
  const x32 = hostTensor('f32', [1, 1, 1, 3], [2048, 1, 1]);
  t.deepEqual(toArray(run1('conv2d_grad_weight', [x32, hostTensor('f32', [1, 1, 1, 3], [1, 1, 1])], { ...attrs, acc: 'f16' })), [2048]);
});

test('conv gradients of f16 tensors are stored as f16', (t) => {
  const dy = hostTensor('f16', [1, 2, 3, 3], seededValues(5, 18));
  const w = hostTensor('f16', [2, 3, 2, 2], seededValues(6, 24));
  const dx = run1('conv2d_grad_input', [dy, w], { input_shape: [1, 3, 4, 4] });
  t.is(dx.dtype, 'f16');
  t.true(toArray(dx).every((v) => f16round(v) === v));
  t.true(toArray(dx).some((v) => v !== 0));
});

// ---------------------------------------------------------------- adjoint identities

interface ConvCase {
  readonly name: string;
  readonly x: number[];
  readonly w: number[];
  readonly attrs: Attrs;
}

const CONV_CASES: readonly ConvCase[] = [
  { name: 'stride 2, padding 1, batch 2', x: [2, 3, 7, 8], w: [4, 3, 3, 3], attrs: { stride: [2, 2], padding: [1, 1, 1, 1] } },
  { name: 'asymmetric padding [2,0,1,3]', x: [1, 2, 5, 6], w: [3, 2, 3, 2], attrs: { padding: [2, 0, 1, 3] } },
  { name: 'dilation 2, stride [1,3]', x: [1, 3, 9, 10], w: [2, 3, 3, 3], attrs: { dilation: [2, 2], stride: [1, 3], padding: [1, 2, 0, 1] } },
  { name: 'groups 2', x: [2, 4, 6, 5], w: [6, 2, 3, 3], attrs: { groups: 2, padding: [1, 1, 1, 1] } },
  { name: 'depthwise (groups = C = 5), stride 2', x: [1, 5, 7, 7], w: [5, 1, 3, 3], attrs: { groups: 5, stride: [2, 2], padding: [0, 1, 1, 0] } },
  { name: 'depthwise multiplier 2 (10 outputs from 5 channels)', x: [1, 5, 4, 6], w: [10, 1, 2, 3], attrs: { groups: 5 } },
  { name: '1x1, stride 2, rows the windows never read', x: [3, 4, 6, 5], w: [2, 4, 1, 1], attrs: { stride: [2, 2] } },
  { name: 'padding as large as the kernel (windows entirely in padding)', x: [1, 2, 3, 3], w: [2, 2, 2, 2], attrs: { padding: [2, 2, 2, 2], stride: [2, 1] } },
];

CONV_CASES.forEach((c, k) => {
  test(`adjoint identity <conv2d(x, w), dy> = <x, grad_input> = <w, grad_weight>: ${c.name}`, (t) => {
    const x = rand(10 + k, c.x), w = rand(20 + k, c.w);
    const y = run1('conv2d', [x, w], c.attrs);
    const dy = rand(30 + k, [...y.shape]);
    const dx = run1('conv2d_grad_input', [dy, w], { ...c.attrs, input_shape: c.x });
    const dw = run1('conv2d_grad_weight', [x, dy], { ...c.attrs, weight_shape: c.w });
    t.deepEqual(dx.shape, c.x);
    t.deepEqual(dw.shape, c.w);
    const lhs = dot(y, dy);
    t.true(lhs.scale > 0);
    sameDot(t, lhs, dot(x, dx), 'grad_input');
    sameDot(t, lhs, dot(w, dw), 'grad_weight');
  });
});

interface PoolCase {
  readonly name: string;
  readonly x: number[];
  readonly attrs: Attrs;
}

const POOL_CASES: readonly PoolCase[] = [
  { name: '2x2 stride 2, odd size', x: [2, 3, 7, 5], attrs: { kernel: [2, 2], stride: [2, 2] } },
  { name: '3x3 stride 2, asymmetric padding [1,0,2,1] (overlapping)', x: [1, 2, 8, 9], attrs: { kernel: [3, 3], stride: [2, 2], padding: [1, 0, 2, 1] } },
  { name: '3x2 window stride [1,3], padding 1', x: [2, 2, 6, 11], attrs: { kernel: [3, 2], stride: [1, 3], padding: [1, 1, 1, 1] } },
];

POOL_CASES.forEach((c, k) => {
  for (const includePad of [false, true]) {
    test(`adjoint identity <avg_pool2d(x), dy> = <x, avg_pool2d_grad(dy)>: ${c.name}, count_include_pad ${includePad}`, (t) => {
      const attrs = { ...c.attrs, count_include_pad: includePad };
      const x = rand(40 + k, c.x);
      const y = run1('avg_pool2d', [x], attrs);
      const dy = rand(50 + k, [...y.shape]);
      const dx = run1('avg_pool2d_grad', [dy], { ...attrs, input_shape: c.x });
      t.deepEqual(dx.shape, c.x);
      sameDot(t, dot(y, dy), dot(x, dx), 'avg_pool2d_grad');
    });
  }

  test(`max_pool2d_grad matches central differences of sum(dy · max_pool2d(x)): ${c.name}`, (t) => {
    // Distinct values at least 1e-2 apart (a shuffled ramp): a step of 1e-6 never changes a window's argmax.
    const n = numel(c.x);
    const order = seededValues(60 + k, n).map((r, i) => [r, i] as const).sort((a, b) => a[0] - b[0]);
    const values = new Array<number>(n);
    order.forEach(([, i], rank) => (values[i] = (rank - n / 2) * 1e-2));
    const x = hostTensor('f32', c.x, values);
    const yShape = [...run1('max_pool2d', [x], c.attrs).shape];
    const dy = rand(70 + k, yShape);
    const loss = (xs: number[]) => dot(run1('max_pool2d', [hostTensor('f32', c.x, xs)], c.attrs), dy).value;
    const dx = toArray(run1('max_pool2d_grad', [x, dy], c.attrs));
    const h = 1e-6;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const up = [...values], down = [...values];
      up[i] = values[i]! + h;
      down[i] = values[i]! - h;
      const fd = (loss(up) - loss(down)) / (2 * h);
      if (Math.abs(fd - dx[i]!) > 1e-8) bad++;
    }
    t.is(bad, 0, `${bad} of ${n} elements differ from the finite differences`);
    t.true(dx.some((v) => v !== 0) && dx.some((v) => v === 0));
  });
});

// ---------------------------------------------------------------- pooling gradients, by hand

test('max_pool2d_grad: the window maximum gets dy; overlapping windows add up', (t) => {
  t.deepEqual(toNested(run1('max_pool2d_grad', [F([[[[1, 3], [2, 0]]]]), F([[[[5]]]])], { kernel: [2, 2] })), [[[[0, 5], [0, 0]]]]);
  // The centre of a 3x3 input is the maximum of all four 2x2 windows (stride 1).
  const x = F([[[[1, 2, 3], [4, 9, 5], [6, 7, 8]]]]);
  const dx = run1('max_pool2d_grad', [x, F([[[[1, 10], [100, 1000]]]])], { kernel: [2, 2] });
  t.deepEqual(toNested(dx), [[[[0, 0, 0], [0, 1111, 0], [0, 0, 0]]]]);
});

test('max_pool2d_grad: ties go to the first maximum in scan order (kh, then kw)', (t) => {
  const ones = F([[[[1, 1], [1, 1]]]]);
  t.deepEqual(toNested(run1('max_pool2d_grad', [ones, F([[[[5]]]])], { kernel: [2, 2] })), [[[[5, 0], [0, 0]]]]);
  // Row before column: (0, 1) and (1, 0) tie; (0, 1) comes first.
  const x = F([[[[0, 7], [7, 1]]]]);
  t.deepEqual(toNested(run1('max_pool2d_grad', [x, F([[[[5]]]])], { kernel: [2, 2] })), [[[[0, 5], [0, 0]]]]);
  // Overlapping 1x2 windows over [2, 2, 1]: window 0 ties (first wins), window 1 picks position 1.
  t.deepEqual(toNested(run1('max_pool2d_grad', [F([[[[2, 2, 1]]]]), F([[[[1, 10]]]])], { kernel: [1, 2] })), [[[[1, 10, 0]]]]);
  // A later tie does not take over within a window: [3, 1, 3] with one 1x3 window.
  t.deepEqual(toNested(run1('max_pool2d_grad', [F([[[[3, 1, 3]]]]), F([[[[4]]]])], { kernel: [1, 3] })), [[[[4, 0, 0]]]]);
});

test('max_pool2d_grad: padding never wins, NaN wins (the first one), a window of -inf gives to its first element', (t) => {
  // Each window of this padded all-negative input holds one real element; padding taken as 0 would win instead.
  const neg = F([[[[-3, -1], [-2, -4]]]]);
  const attrs = { kernel: [2, 2], stride: [2, 2], padding: [1, 1, 1, 1] };
  t.deepEqual(toNested(run1('max_pool2d_grad', [neg, F([[[[1, 2], [3, 4]]]])], attrs)), [[[[1, 2], [3, 4]]]]);
  // Padding 1, kernel 2, stride 1 on a 1x2 row: windows [pad, a], [a, b], [b, pad].
  const row = run1('max_pool2d_grad', [F([[[[-5, -6]]]]), F([[[[1, 10, 100]]]])], { kernel: [1, 2], padding: [0, 1, 0, 1] });
  t.deepEqual(toNested(row), [[[[11, 100]]]]);
  const nan = F([[[[1, NaN], [NaN, 2]]]]);
  t.deepEqual(toNested(run1('max_pool2d_grad', [nan, F([[[[5]]]])], { kernel: [2, 2] })), [[[[0, 5], [0, 0]]]]);
  const ninf = F([[[[-Infinity, -Infinity], [-Infinity, -Infinity]]]]);
  t.deepEqual(toNested(run1('max_pool2d_grad', [ninf, F([[[[5]]]])], { kernel: [2, 2] })), [[[[5, 0], [0, 0]]]]);
});

test('avg_pool2d_grad: dy / count to every in-bounds position of the window', (t) => {
  t.deepEqual(toNested(run1('avg_pool2d_grad', [F([[[[4]]]])], { input_shape: [1, 1, 2, 2], kernel: [2, 2] })), [[[[1, 1], [1, 1]]]]);
  // A 1x1 input under padding 1, kernel 2, stride 1: four windows, each with the one real element.
  const dy = F([[[[1, 2], [3, 6]]]]);
  const base = { input_shape: [1, 1, 1, 1], kernel: [2, 2], padding: [1, 1, 1, 1] };
  t.deepEqual(toNested(run1('avg_pool2d_grad', [dy], base)), [[[[12]]]]);
  t.deepEqual(toNested(run1('avg_pool2d_grad', [dy], { ...base, count_include_pad: true })), [[[[3]]]]);
  // 1x3 row, kernel 1x2, padding [0,1,0,0], stride 2: windows [pad, x0] (count 1) and [x1, x2] (count 2).
  const row = run1('avg_pool2d_grad', [F([[[[6, 8]]]])], { input_shape: [1, 1, 1, 3], kernel: [1, 2], stride: [1, 2], padding: [0, 1, 0, 0] });
  t.deepEqual(toNested(row), [[[[6, 4, 4]]]]);
});

// ---------------------------------------------------------------- gelu_grad

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The tanh form's derivative written the textbook way (with tanh), independently of the rule's sigmoid form. */
function geluTanhPrime(x: number): number {
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3);
  const th = Math.tanh(u);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

test('gelu_grad at known points', (t) => {
  for (const approximate of ['none', 'tanh']) {
    const r = run1('gelu_grad', [F([0, 30, -30, Infinity, -Infinity, NaN]), F([1, 2, 3, 4, 5, 6])], { approximate });
    near(t, r, [0.5, 2, 0, 4, 0, NaN], 1e-14, approximate);
  }
  // Φ(1) + φ(1) and Φ(-1) - φ(-1)
  near(t, run1('gelu_grad', [F([1, -1]), F([1, 1])]), [0.8413447460685429 + 0.24197072451914337, 0.15865525393145707 - 0.24197072451914337], 1e-14);
  const xs = [-3, -0.75, 0.3, 1, 2.5];
  near(t, run1('gelu_grad', [F(xs), F(xs.map(() => 1))], { approximate: 'tanh' }), xs.map(geluTanhPrime), 1e-13);
});

test('gelu_grad matches central differences of gelu, both forms', (t) => {
  const xs = [...seededValues(80, 60, -6, 6), -0.7518, 0, 1e-3, -1e-3];
  for (const approximate of ['none', 'tanh']) {
    const dy = seededValues(81, xs.length, -2, 2);
    const d = toArray(run1('gelu_grad', [F(xs), F(dy)], { approximate }));
    const h = 1e-5;
    const gelu = (v: number[]) => toArray(run1('gelu', [F(v)], { approximate }));
    const up = gelu(xs.map((x) => x + h)), down = gelu(xs.map((x) => x - h));
    xs.forEach((x, i) => {
      const fd = (dy[i]! * (up[i]! - down[i]!)) / (2 * h);
      t.true(Math.abs(fd - d[i]!) <= 1e-8, `${approximate} x = ${x}: ${d[i]} vs finite difference ${fd}`);
    });
  }
});

test('gelu_grad of f16 tensors is stored as f16', (t) => {
  const dtype: DType = 'f16';
  const r = run1('gelu_grad', [hostTensor(dtype, [7], seededValues(90, 7, -3, 3)), hostTensor(dtype, [7], seededValues(91, 7))]);
  t.is(r.dtype, 'f16');
  t.true(toArray(r).every((v) => f16round(v) === v));
});
