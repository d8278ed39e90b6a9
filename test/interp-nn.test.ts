// Reference interpreter, neural-network ops: matmul (batched, broadcast,
// transposed, f16 accumulation), conv2d (padding, stride, dilation, groups),
// pooling, batch_norm in both modes, layer_norm, softmax / log_softmax with
// extreme logits, cross_entropy, mse_loss, one_hot. Expected values are
// computed by hand.
import test from 'ava';
import type { DType } from '../ir/dtype.ts';
import type { OpName } from '../ir/ops.ts';
import type { AttrValue } from '../ir/attrs.ts';
import { AmpcError } from '../ir/errors.ts';
import type { HostTensor, Nested } from '../ir/interp/tensor.ts';
import { fromNested, hostTensor, toArray, toNested, full } from '../ir/interp/tensor.ts';
import { evalOp } from '../ir/interp/interpret.ts';
import { near } from './helpers/near.ts';

const T = (dtype: DType, nested: Nested): HostTensor => fromNested(dtype, nested);
const F = (nested: Nested): HostTensor => fromNested('f32', nested);
const run = (op: OpName, xs: HostTensor[], attrs: Record<string, AttrValue> = {}): HostTensor[] => evalOp(op, xs, attrs);
const run1 = (op: OpName, xs: HostTensor[], attrs: Record<string, AttrValue> = {}): HostTensor => run(op, xs, attrs)[0]!;
/** 1, 2, 3, ... in the given shape (f32). */
const iota1 = (shape: number[]): HostTensor =>
  hostTensor('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + 1));

// ---------------------------------------------------------------- matmul

const A = F([[1, 2, 3], [4, 5, 6]]);
const B = F([[7, 8], [9, 10], [11, 12]]);
const AB = [[58, 64], [139, 154]];

test('matmul 2x3 · 3x2', (t) => {
  const r = run1('matmul', [A, B]);
  t.deepEqual(r.shape, [2, 2]);
  t.deepEqual(toNested(r), AB);
  t.deepEqual(toNested(run1('matmul', [B, A])), [[39, 54, 69], [49, 68, 87], [59, 82, 105]]);
});

test('matmul transposes swap the last two dimensions', (t) => {
  const At = F([[1, 4], [2, 5], [3, 6]]);
  const Bt = F([[7, 9, 11], [8, 10, 12]]);
  t.deepEqual(toNested(run1('matmul', [At, B], { transpose_a: true })), AB);
  t.deepEqual(toNested(run1('matmul', [A, Bt], { transpose_b: true })), AB);
  t.deepEqual(toNested(run1('matmul', [At, Bt], { transpose_a: true, transpose_b: true })), AB);
  // x · xᵀ of a row vector: [1,2,3]·[1,2,3] = 14
  t.deepEqual(toNested(run1('matmul', [F([[1, 2, 3]]), F([[1, 2, 3]])], { transpose_b: true })), [[14]]);
  // xᵀ · x: outer product
  t.deepEqual(toNested(run1('matmul', [F([[1, 2]]), F([[3, 4]])], { transpose_a: true })), [[3, 4], [6, 8]]);
});

test('batched matmul with a broadcast rank-2 operand', (t) => {
  const a = F([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]); // [2,2,2]
  const b = F([[1, 2], [3, 4]]); // [2,2]
  const r = run1('matmul', [a, b]);
  t.deepEqual(r.shape, [2, 2, 2]);
  t.deepEqual(toNested(r), [[[1, 2], [3, 4]], [[2, 4], [6, 8]]]);
  const r2 = run1('matmul', [b, a]); // b · a_i
  t.deepEqual(toNested(r2), [[[1, 2], [3, 4]], [[2, 4], [6, 8]]]);
});

test('batched matmul broadcasts batch dimensions of both operands', (t) => {
  const a = F([[[[1, 2]]], [[[3, 4]]]]); // [2,1,1,2]
  const b = F([[[1], [1]], [[1], [0]], [[0], [1]]]); // [3,2,1]
  const r = run1('matmul', [a, b]);
  t.deepEqual(r.shape, [2, 3, 1, 1]);
  t.deepEqual(toArray(r), [3, 1, 2, 7, 3, 4]);
  // batched with transpose_b: a [2,1,2] · b[2,1,2]ᵀ → per batch dot products
  const p = F([[[1, 2]], [[3, 4]]]);
  const q = F([[[5, 6]], [[7, 8]]]);
  t.deepEqual(toArray(run1('matmul', [p, q], { transpose_b: true })), [17, 53]);
});

test('matmul acc = f16 loses what an f16 accumulator loses', (t) => {
  const a = full('f32', [1, 3000], 1);
  const b = full('f32', [3000, 1], 1);
  t.deepEqual(toArray(run1('matmul', [a, b], { acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('matmul', [a, b])), [3000]);
  const h = run1('matmul', [full('f16', [1, 3000], 1), full('f16', [3000, 1], 1)], { acc: 'f32' });
  t.is(h.dtype, 'f16');
  t.deepEqual(toArray(h), [3000]);
});

test('f16 matmul stores the f64 dot product rounded once', (t) => {
  // f16(0.1)·f16(0.2) = 0.019990235567092896 → f16 0.019989013671875
  t.deepEqual(toArray(run1('matmul', [T('f16', [[0.1]]), T('f16', [[0.2]])])), [0.019989013671875]);
  // f16(0.1) + f16(0.2) accumulated in f32 (f64 here), stored: tie → 0.2998046875
  t.deepEqual(toArray(run1('matmul', [T('f16', [[0.1, 0.2]]), T('f16', [[1], [1]])])), [0.2998046875]);
});

// ---------------------------------------------------------------- conv2d

test('conv2d without padding', (t) => {
  const x = iota1([1, 1, 3, 3]);
  const w = F([[[[1, 0], [0, 1]]]]);
  const r = run1('conv2d', [x, w]);
  t.deepEqual(r.shape, [1, 1, 2, 2]);
  t.deepEqual(toArray(r), [6, 8, 12, 14]);
});

test('conv2d with symmetric padding: neighbourhood sums', (t) => {
  const r = run1('conv2d', [iota1([1, 1, 3, 3]), full('f32', [1, 1, 3, 3], 1)], { padding: [1, 1, 1, 1] });
  t.deepEqual(r.shape, [1, 1, 3, 3]);
  t.deepEqual(toNested(r), [[[[12, 21, 16], [27, 45, 33], [24, 39, 28]]]]);
});

test('conv2d padding is [top, left, bottom, right]', (t) => {
  const w = full('f32', [1, 1, 2, 2], 1);
  const r = run1('conv2d', [iota1([1, 1, 3, 3]), w], { padding: [1, 0, 0, 1] });
  t.deepEqual(r.shape, [1, 1, 3, 3]);
  t.deepEqual(toNested(r), [[[[3, 5, 3], [12, 16, 9], [24, 28, 15]]]]);
  const r2 = run1('conv2d', [iota1([1, 1, 3, 3]), w], { padding: [0, 1, 1, 0] });
  // left column and bottom row of zeros: rows (0,1),(1,2),(2,pad); cols (pad,0),(0,1),(1,2)
  t.deepEqual(toNested(r2), [[[[5, 12, 16], [11, 24, 28], [7, 15, 17]]]]);
});

test('conv2d stride and dilation', (t) => {
  const x = iota1([1, 1, 4, 4]);
  const w = full('f32', [1, 1, 2, 2], 1);
  t.deepEqual(toArray(run1('conv2d', [x, w], { stride: [2, 2] })), [14, 22, 46, 54]);
  t.deepEqual(toArray(run1('conv2d', [x, w], { dilation: [2, 2] })), [24, 28, 40, 44]);
  t.deepEqual(toArray(run1('conv2d', [iota1([1, 1, 3, 3]), w], { dilation: [2, 2] })), [20]);
  // stride [1, 2]: rows every 1, columns every 2 → 3x2 output
  const r = run1('conv2d', [x, w], { stride: [1, 2] });
  t.deepEqual(r.shape, [1, 1, 3, 2]);
  t.deepEqual(toArray(r), [14, 22, 30, 38, 46, 54]);
});

test('conv2d with several channels, batch and groups', (t) => {
  const x = F([[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]]); // [1,2,2,2]
  // groups = 1: one filter summing both channels (1x1 kernel)
  t.deepEqual(toArray(run1('conv2d', [x, F([[[[1]], [[1]]]])])), [6, 8, 10, 12]);
  // groups = 2: depthwise, scale channel 0 by 2 and channel 1 by 3
  const dw = run1('conv2d', [x, F([[[[2]]], [[[3]]]])], { groups: 2 });
  t.deepEqual(dw.shape, [1, 2, 2, 2]);
  t.deepEqual(toArray(dw), [2, 4, 6, 8, 15, 18, 21, 24]);
  // groups = 2 with 4 input channels: output 0 sees channels 0,1; output 1 sees 2,3
  const x4 = F([[[[1]], [[2]], [[3]], [[4]]]]); // [1,4,1,1]
  const w4 = F([[[[1]], [[10]]], [[[100]], [[1000]]]]); // [2,2,1,1]
  t.deepEqual(toArray(run1('conv2d', [x4, w4], { groups: 2 })), [21, 4300]);
  // batch of 2, 2 output channels
  const xb = F([[[[1, 2]]], [[[3, 4]]]]); // [2,1,1,2]
  const wb = F([[[[1, 1]]], [[[1, -1]]]]); // [2,1,1,2]
  const rb = run1('conv2d', [xb, wb]);
  t.deepEqual(rb.shape, [2, 2, 1, 1]);
  t.deepEqual(toArray(rb), [3, -1, 7, -1]);
});

test('conv2d acc = f16 rounds the running sum', (t) => {
  const x = full('f32', [1, 3000, 1, 1], 1);
  const w = full('f32', [1, 3000, 1, 1], 1);
  t.deepEqual(toArray(run1('conv2d', [x, w], { acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('conv2d', [x, w])), [3000]);
});

// ---------------------------------------------------------------- pooling

test('max_pool2d and avg_pool2d without padding', (t) => {
  const x = iota1([1, 1, 4, 4]);
  t.deepEqual(toArray(run1('max_pool2d', [x], { kernel: [2, 2], stride: [2, 2] })), [6, 8, 14, 16]);
  t.deepEqual(toArray(run1('avg_pool2d', [x], { kernel: [2, 2], stride: [2, 2] })), [3.5, 5.5, 11.5, 13.5]);
  const y = iota1([1, 1, 3, 3]);
  t.deepEqual(toArray(run1('avg_pool2d', [y], { kernel: [2, 2] })), [3, 4, 6, 7]);
  t.deepEqual(toArray(run1('max_pool2d', [y], { kernel: [2, 2] })), [5, 6, 8, 9]);
  // channels are pooled separately
  const c2 = F([[[[1, 9], [3, 4]], [[-1, -9], [-3, -4]]]]);
  t.deepEqual(toArray(run1('max_pool2d', [c2], { kernel: [2, 2] })), [9, -1]);
});

test('max_pool2d ignores padding (it is -inf, not 0)', (t) => {
  const x = iota1([1, 1, 3, 3]);
  const attrs = { kernel: [2, 2], stride: [2, 2], padding: [1, 1, 1, 1] };
  const r = run1('max_pool2d', [x], attrs);
  t.deepEqual(r.shape, [1, 1, 2, 2]);
  t.deepEqual(toArray(r), [1, 3, 7, 9]);
  const neg = hostTensor('f32', [1, 1, 3, 3], [-1, -2, -3, -4, -5, -6, -7, -8, -9]);
  t.deepEqual(toArray(run1('max_pool2d', [neg], attrs)), [-1, -2, -4, -5]);
});

test('max_pool2d propagates NaN', (t) => {
  const x = F([[[[1, NaN], [3, 4]]]]);
  const r = run1('max_pool2d', [x], { kernel: [2, 2] });
  t.true(Number.isNaN(r.data[0]!));
});

test('avg_pool2d count_include_pad', (t) => {
  const x = iota1([1, 1, 3, 3]);
  const base = { kernel: [2, 2], stride: [2, 2], padding: [1, 1, 1, 1] };
  t.deepEqual(toArray(run1('avg_pool2d', [x], base)), [1, 2.5, 5.5, 7]); // default false
  t.deepEqual(toArray(run1('avg_pool2d', [x], { ...base, count_include_pad: false })), [1, 2.5, 5.5, 7]);
  t.deepEqual(toArray(run1('avg_pool2d', [x], { ...base, count_include_pad: true })), [0.25, 1.25, 2.75, 7]);
  // asymmetric: only the top padded, kernel [2,1]
  const r = run1('avg_pool2d', [x], { kernel: [2, 1], padding: [1, 0, 0, 0], count_include_pad: true });
  t.deepEqual(r.shape, [1, 1, 3, 3]);
  t.deepEqual(toArray(r), [0.5, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
});

// ---------------------------------------------------------------- softmax family

test('softmax is exact for huge and tiny logits', (t) => {
  t.deepEqual(toArray(run1('softmax', [F([1000, 1000])])), [0.5, 0.5]);
  t.deepEqual(toArray(run1('softmax', [F([1000, 0])])), [1, 0]);
  t.deepEqual(toArray(run1('softmax', [F([-1000, -1000, -1000, -1000])])), [0.25, 0.25, 0.25, 0.25]);
  near(t, run1('softmax', [F([1, 2, 3])]), [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], 1e-14);
  t.deepEqual(toArray(run1('softmax', [T('f16', [1, 2, 3])])), [0.09002685546875, 0.2447509765625, 0.6650390625]);
});

test('softmax along a chosen axis', (t) => {
  const x = F([[0, 1000], [0, 1000]]);
  t.deepEqual(toNested(run1('softmax', [x], { axis: 0 })), [[0.5, 0.5], [0.5, 0.5]]);
  t.deepEqual(toNested(run1('softmax', [x], { axis: -1 })), [[0, 1], [0, 1]]);
  t.deepEqual(toNested(run1('softmax', [x], { axis: 1 })), [[0, 1], [0, 1]]);
  // rank 3, middle axis
  const y = F([[[0, 5], [0, 5]]]); // [1,2,2]
  t.deepEqual(toNested(run1('softmax', [y], { axis: 1 })), [[[0.5, 0.5], [0.5, 0.5]]]);
});

test('log_softmax is exact for logits 1000 and -1000', (t) => {
  t.deepEqual(toArray(run1('log_softmax', [F([1000, 0])])), [0, -1000]);
  t.deepEqual(toArray(run1('log_softmax', [F([-1000, 0])])), [-1000, 0]);
  near(t, run1('log_softmax', [F([-1000, -1000])]), [-Math.LN2, -Math.LN2], 1e-16);
  near(t, run1('log_softmax', [F([1000, 1000, 1000])]), [-1.0986122886681098, -1.0986122886681098, -1.0986122886681098], 1e-14);
  near(t, run1('log_softmax', [F([1, 2, 3])]), [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804], 1e-14);
  near(t, run1('log_softmax', [F([[1, 1000], [2, 1000]])], { axis: 0 }), [-1.3132616875182228, -Math.LN2, -0.31326168751822286, -Math.LN2], 1e-14);
});

// ---------------------------------------------------------------- normalization

test('layer_norm over the last axis', (t) => {
  const x = F([[1, 2, 3], [2, 4, 9]]);
  const ones = F([1, 1, 1]);
  const zero = F([0, 0, 0]);
  near(t, run1('layer_norm', [x, ones, zero], { epsilon: 0 }),
    [-1.224744871391589, 0, 1.224744871391589, -1.0190493307301363, -0.3396831102433787, 1.3587324409735149], 1e-14);
  near(t, run1('layer_norm', [x, F([1, 2, 3]), F([0.5, 0, -1])], { epsilon: 0 }),
    [-0.7247448713915889, 0, 2.674234614174767, -0.5190493307301363, -0.6793662204867574, 3.076197322920544], 1e-14);
  // default epsilon 1e-5 inside the square root
  near(t, run1('layer_norm', [x, ones, zero]),
    [-1.2247356859083902, 0, 1.2247356859083902, -1.0190487428175694, -0.3396829142725232, 1.3587316570900927], 1e-14);
});

test('layer_norm over axes axis..end with gamma and beta of those axes', (t) => {
  const x = hostTensor('f32', [2, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13]);
  const g = F([[1, 2], [3, 4]]);
  const b = F([[0, 0], [0, 1]]);
  // each sample: values v, v+1, v+2, v+3 → mean v+1.5, var 1.25
  const z = [-1.3416407864998738, -0.8944271909999159, 1.3416407864998738, 6.366563145999495];
  near(t, run1('layer_norm', [x, g, b], { axis: 1, epsilon: 0 }), [...z, ...z], 1e-14);
  near(t, run1('layer_norm', [x, g, b], { axis: -2, epsilon: 0 }), [...z, ...z], 1e-14);
  // a constant row normalizes to beta (0/sqrt(eps))
  near(t, run1('layer_norm', [F([[5, 5]]), F([1, 1]), F([0.25, -0.25])]), [0.25, -0.25], 1e-14);
});

test('batch_norm inference uses the running statistics', (t) => {
  const x = F([[1, 2], [3, 4]]); // N=2, C=2
  const g = F([1, 2]), b = F([0, 1]), m = F([1, 2]), v = F([4, 0.25]);
  const out = run('batch_norm', [x, g, b, m, v], { epsilon: 0 });
  t.is(out.length, 1);
  t.deepEqual(toNested(out[0]!), [[0, 1], [1, 9]]);
  const e = run1('batch_norm', [x, g, b, m, v]); // epsilon 1e-5
  near(t, e, [0, 1 + 0 * 2, 0.9999987500023437, 2 * 2 / Math.sqrt(0.25 + 1e-5) + 1], 1e-14);
  // NCHW: the statistics are per channel (axis 1)
  const x4 = F([[[[1, 3]], [[10, 20]]]]); // [1,2,1,2]
  near(t, run1('batch_norm', [x4, F([1, 1]), F([0, 0]), F([2, 15]), F([1, 25])], { epsilon: 0 }), [-1, 1, -1, 1], 1e-14);
});

test('batch_norm training uses batch statistics and updates the running ones (PyTorch)', (t) => {
  // x [N=2, C=2, H=1, W=2]; channel 0 holds 1,2,3,4; channel 1 holds 0,0,4,4
  const x = F([[[[1, 2]], [[0, 0]]], [[[3, 4]], [[4, 4]]]]);
  const g = F([1, 2]), b = F([0, 0.5]), rm = F([0, 1]), rv = F([1, 1]);
  const out = run('batch_norm', [x, g, b, rm, rv], { training: true, epsilon: 0, momentum: 0.1 });
  t.is(out.length, 3);
  const [y, newMean, newVar] = out as [HostTensor, HostTensor, HostTensor];
  t.deepEqual(y.shape, [2, 2, 1, 2]);
  // channel 0: mean 2.5, biased var 1.25; channel 1: mean 2, biased var 4 → (x-2)/2·2 + 0.5
  const s = 1.3416407864998738, h = 0.4472135954999579;
  near(t, y, [-s, -h, -1.5, -1.5, h, s, 2.5, 2.5], 1e-14);
  // running mean: 0.9·old + 0.1·batch; running var uses the unbiased batch variance (5/3 and 16/3)
  near(t, newMean, [0.25, 1.1], 1e-14);
  near(t, newVar, [1.0666666666666667, 1.4333333333333333], 1e-14);
  t.deepEqual(newMean.shape, [2]);
});

test('batch_norm training with f16 input and f32 statistics', (t) => {
  const x = T('f16', [[1], [3]]); // N=2, C=1
  const [y, m, v] = run('batch_norm', [x, F([1]), F([0]), F([0]), F([0])], { training: true, epsilon: 0, momentum: 1 });
  t.is(y!.dtype, 'f16');
  t.is(m!.dtype, 'f32');
  t.deepEqual(toArray(y!), [-1, 1]);
  t.deepEqual(toArray(m!), [2]);
  t.deepEqual(toArray(v!), [2]); // unbiased: ((1-2)² + (3-2)²) / 1
});

// ---------------------------------------------------------------- losses

test('cross_entropy with extreme logits and every reduction', (t) => {
  const logits = F([[1000, 0], [0, 0]]);
  const labels = T('i32', [0, 1]);
  near(t, run1('cross_entropy', [logits, labels], { reduction: 'none' }), [0, Math.LN2], 1e-16);
  near(t, run1('cross_entropy', [logits, labels], { reduction: 'sum' }), [Math.LN2], 1e-16);
  const mean = run1('cross_entropy', [logits, labels]);
  t.deepEqual(mean.shape, []);
  near(t, mean, [Math.LN2 / 2], 1e-16);
  // the wrong class with logit gap 1000 costs exactly 1000
  t.deepEqual(toArray(run1('cross_entropy', [F([[1000, 0]]), T('i32', [1])], { reduction: 'sum' })), [1000]);
  near(t, run1('cross_entropy', [F([[1, 2, 3]]), T('i32', [2])]), [0.4076059644443806], 1e-14);
  near(t, run1('cross_entropy', [F([[1, 2, 3]]), T('i32', [0])]), [2.4076059644443806], 1e-14);
});

test('cross_entropy rejects a label outside 0..C-1, naming the row', (t) => {
  const logits = F([[1, 2], [3, 4], [5, 6]]);
  const e1 = t.throws(() => run1('cross_entropy', [logits, T('i32', [0, 1, 2])]), { instanceOf: AmpcError });
  t.is(e1?.code, 'E0801');
  t.regex(e1!.message, /row 2 has label 2/);
  const e2 = t.throws(() => run1('cross_entropy', [logits, T('i32', [-1, 0, 0])]), { instanceOf: AmpcError });
  t.is(e2?.code, 'E0801');
  t.regex(e2!.message, /row 0 has label -1/);
});

test('mse_loss with mean, sum, none', (t) => {
  const a = F([1, 2, 3]), b = F([1, 0, 6]);
  t.deepEqual(toArray(run1('mse_loss', [a, b], { reduction: 'none' })), [0, 4, 9]);
  t.deepEqual(toArray(run1('mse_loss', [a, b], { reduction: 'sum' })), [13]);
  t.deepEqual(toArray(run1('mse_loss', [a, b])), [13 / 3]);
  const n = run1('mse_loss', [F([[1, 2], [3, 4]]), F([[0, 0], [0, 0]])], { reduction: 'none' });
  t.deepEqual(n.shape, [2, 2]);
  t.deepEqual(toNested(n), [[1, 4], [9, 16]]);
  t.deepEqual(toArray(run1('mse_loss', [T('f16', [300]), T('f16', [0])], { reduction: 'sum' })), [Infinity]); // 90000 overflows f16
});

test('one_hot: out-of-range labels give all-zero rows', (t) => {
  const r = run1('one_hot', [T('i32', [0, 2, -1, 3])], { classes: 3 });
  t.is(r.dtype, 'f32');
  t.deepEqual(toNested(r), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]);
  const r2 = run1('one_hot', [T('i32', [[1, 0], [0, 1]])], { classes: 2, dtype: 'i32' });
  t.deepEqual(r2.shape, [2, 2, 2]);
  t.deepEqual(toNested(r2), [[[0, 1], [1, 0]], [[1, 0], [0, 1]]]);
  t.deepEqual(toNested(run1('one_hot', [T('i32', 1)], { classes: 2, dtype: 'bool' })), [false, true]);
});
