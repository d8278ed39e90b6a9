// Reference interpreter, reductions: axes (negative, several, none), keepdims,
// accumulation as `acc` says (f16 running sums), integer wrap, reduce_max's
// NaN and empty cases. Expected values are computed by hand.
import test from 'ava';
import type { DType } from '../ir/dtype.ts';
import type { OpName } from '../ir/ops.ts';
import type { AttrValue } from '../ir/attrs.ts';
import type { HostTensor, Nested } from '../ir/interp/tensor.ts';
import { fromNested, hostTensor, toArray, toNested, full, zeros } from '../ir/interp/tensor.ts';
import { evalOp } from '../ir/interp/interpret.ts';

const T = (dtype: DType, nested: Nested): HostTensor => fromNested(dtype, nested);
const run1 = (op: OpName, x: HostTensor, attrs: Record<string, AttrValue>): HostTensor => evalOp(op, [x], attrs)[0]!;
/** 0, 1, 2, ... in the given shape. */
const arange = (dtype: DType, shape: number[]): HostTensor =>
  hostTensor(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

const M = T('f32', [[1, 2, 3], [4, 5, 6]]);

test('reduce_sum over one axis, both axes, and negative axes', (t) => {
  t.deepEqual(toNested(run1('reduce_sum', M, { axes: [1] })), [6, 15]);
  t.deepEqual(toNested(run1('reduce_sum', M, { axes: [0] })), [5, 7, 9]);
  t.deepEqual(toNested(run1('reduce_sum', M, { axes: [-1] })), [6, 15]);
  t.deepEqual(toNested(run1('reduce_sum', M, { axes: [-2] })), [5, 7, 9]);
  const all = run1('reduce_sum', M, { axes: [0, 1] });
  t.deepEqual(all.shape, []);
  t.deepEqual(toNested(all), 21);
  t.deepEqual(toNested(run1('reduce_sum', M, { axes: [1, 0] })), 21);
});

test('reduce_sum with keepdims keeps reduced axes as 1', (t) => {
  const r = run1('reduce_sum', M, { axes: [1], keepdims: true });
  t.deepEqual(r.shape, [2, 1]);
  t.deepEqual(toNested(r), [[6], [15]]);
  const r2 = run1('reduce_sum', M, { axes: [0, -1], keepdims: true });
  t.deepEqual(r2.shape, [1, 1]);
  t.deepEqual(toNested(r2), [[21]]);
});

test('reduce_sum with no axes is the identity', (t) => {
  const r = run1('reduce_sum', M, { axes: [] });
  t.deepEqual(r.shape, [2, 3]);
  t.deepEqual(toNested(r), [[1, 2, 3], [4, 5, 6]]);
});

test('reduce_sum over non-adjacent axes of a rank-3 tensor', (t) => {
  // x[i,j,k] = 12i + 4j + k, shape [2,3,4]; Σ_{i,k} = 48 + 32j + 12
  const x = arange('f32', [2, 3, 4]);
  t.deepEqual(toNested(run1('reduce_sum', x, { axes: [0, 2] })), [60, 92, 124]);
  // Σ_j = 3(12i + k) + 12 → rows i: [12,15,18,21], [48,51,54,57]
  t.deepEqual(toNested(run1('reduce_sum', x, { axes: [1] })), [[12, 15, 18, 21], [48, 51, 54, 57]]);
  const kd = run1('reduce_sum', x, { axes: [-3, -1], keepdims: true });
  t.deepEqual(kd.shape, [1, 3, 1]);
  t.deepEqual(toNested(kd), [[[60], [92], [124]]]);
});

test('acc = f16 rounds the running sum: 3000 ones sum to 2048', (t) => {
  const ones = full('f32', [3000], 1);
  t.deepEqual(toArray(run1('reduce_sum', ones, { axes: [0], acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('reduce_sum', ones, { axes: [0], acc: 'f32' })), [3000]);
  t.deepEqual(toArray(run1('reduce_sum', ones, { axes: [0] })), [3000]); // default acc = f32
  const h = full('f16', [3000], 1);
  t.deepEqual(toArray(run1('reduce_sum', h, { axes: [0], acc: 'f16' })), [2048]);
  // f32 accumulation of f16 data: 3000 is an f16 number (even, below 4096)
  t.deepEqual(toArray(run1('reduce_sum', h, { axes: [0], acc: 'f32' })), [3000]);
  // 4097 ones: the f32 sum 4097 is stored as f16 → 4096 (tie, even)
  t.deepEqual(toArray(run1('reduce_sum', full('f16', [4097], 1), { axes: [0] })), [4096]);
});

test('acc = f16: a small addend is lost once the running sum is large', (t) => {
  // in order: 2048 + 1 = 2048 and again 2048; but 1 + 1 = 2 first, then 2 + 2048 = 2050 (an f16 number)
  t.deepEqual(toArray(run1('reduce_sum', T('f32', [2048, 1, 1]), { axes: [0], acc: 'f16' })), [2048]);
  t.deepEqual(toArray(run1('reduce_sum', T('f32', [1, 1, 2048]), { axes: [0], acc: 'f16' })), [2050]);
  t.deepEqual(toArray(run1('reduce_sum', T('f32', [2048, 1, 1]), { axes: [0], acc: 'f32' })), [2050]);
  // first element is rounded too: 0.1 enters the f16 accumulator as f16(0.1)
  t.deepEqual(toArray(run1('reduce_sum', T('f32', [0.1]), { axes: [0], acc: 'f16' })), [0.0999755859375]);
});

test('reduce_mean, keepdims, acc, and f16 storage of the mean', (t) => {
  t.deepEqual(toNested(run1('reduce_mean', M, { axes: [1] })), [2, 5]);
  t.deepEqual(toNested(run1('reduce_mean', M, { axes: [0], keepdims: true })), [[2.5, 3.5, 4.5]]);
  t.deepEqual(toNested(run1('reduce_mean', M, { axes: [-2, -1] })), 3.5);
  t.deepEqual(toArray(run1('reduce_mean', T('f16', [1, 0, 0]), { axes: [0] })), [0.333251953125]);
  t.deepEqual(toArray(run1('reduce_mean', T('f32', [1, 0, 0]), { axes: [0] })), [1 / 3]);
  // f16 accumulator: the sum stops at 2048, the mean is 2048/3000 (in f32 storage)
  t.deepEqual(toArray(run1('reduce_mean', full('f32', [3000], 1), { axes: [0], acc: 'f16' })), [2048 / 3000]);
  t.deepEqual(toArray(run1('reduce_mean', full('f32', [3000], 1), { axes: [0] })), [1]);
  const empty = run1('reduce_mean', zeros('f32', [2, 0]), { axes: [1] });
  t.deepEqual(empty.shape, [2]);
  t.true(Number.isNaN(empty.data[0]!) && Number.isNaN(empty.data[1]!));
});

test('integer reduce_sum wraps', (t) => {
  t.deepEqual(toArray(run1('reduce_sum', T('i32', [2147483647, 1]), { axes: [0] })), [-2147483648]);
  t.deepEqual(toArray(run1('reduce_sum', T('i32', [2147483647, 1, -1]), { axes: [0] })), [2147483647]);
  t.deepEqual(toArray(run1('reduce_sum', T('i32', [[-5, 3], [7, -1]]), { axes: [0] })), [2, 2]);
  t.deepEqual(toArray(run1('reduce_sum', T('u32', [4294967295, 2]), { axes: [0] })), [1]);
  const r = run1('reduce_sum', T('i32', [[1, 2], [3, 4]]), { axes: [1] });
  t.is(r.dtype, 'i32');
  t.true(r.data instanceof Int32Array);
  t.deepEqual(toArray(r), [3, 7]);
});

test('reduce_max over axes, with keepdims and negative axes', (t) => {
  const x = T('f32', [[1, 5, 3], [-2, -8, -1]]);
  t.deepEqual(toNested(run1('reduce_max', x, { axes: [1] })), [5, -1]);
  t.deepEqual(toNested(run1('reduce_max', x, { axes: [0] })), [1, 5, 3]);
  t.deepEqual(toNested(run1('reduce_max', x, { axes: [-1], keepdims: true })), [[5], [-1]]);
  t.deepEqual(toNested(run1('reduce_max', x, { axes: [0, 1] })), 5);
  t.deepEqual(toNested(run1('reduce_max', T('f32', [-Infinity, -Infinity]), { axes: [0] })), -Infinity);
  t.deepEqual(toNested(run1('reduce_max', T('i32', [[-7, 3], [4, -9]]), { axes: [1] })), [3, 4]);
});

test('reduce_prod over axes, with keepdims; empty is 1; integers wrap; f16 rounds once', (t) => {
  const x = T('f32', [[1, 5, 3], [-2, -8, 0.5]]);
  t.deepEqual(toNested(run1('reduce_prod', x, { axes: [1] })), [15, 8]);
  t.deepEqual(toNested(run1('reduce_prod', x, { axes: [0], keepdims: true })), [[-2, -40, 1.5]]);
  t.deepEqual(toNested(run1('reduce_prod', x, { axes: [-1, 0] })), 120);
  t.deepEqual(toNested(run1('reduce_prod', x, { axes: [] })), [[1, 5, 3], [-2, -8, 0.5]]);
  t.deepEqual(toArray(run1('reduce_prod', zeros('f32', [2, 0]), { axes: [1] })), [1, 1]);
  t.deepEqual(toArray(run1('reduce_prod', T('i32', [65536, 65537, 3]), { axes: [0] })), [(65536 * 3) | 0]);
  t.deepEqual(toArray(run1('reduce_prod', T('f16', [300, 300, 0.001]), { axes: [0] })), [90.0625]); // 300 · 300 would be inf in f16
  t.true(Number.isNaN(run1('reduce_prod', T('f32', [2, NaN, 0]), { axes: [0] }).data[0]!));
});

test('reduce_max propagates NaN', (t) => {
  const r = run1('reduce_max', T('f32', [[1, NaN, 3], [4, 5, 6], [NaN, 0, Infinity]]), { axes: [1] });
  t.true(Number.isNaN(r.data[0]!));
  t.is(r.data[1], 6);
  t.true(Number.isNaN(r.data[2]!));
});

test('reduce_max over an empty axis is -inf (i32: its lowest value)', (t) => {
  const r = run1('reduce_max', zeros('f32', [2, 0]), { axes: [1] });
  t.deepEqual(r.shape, [2]);
  t.deepEqual(toArray(r), [-Infinity, -Infinity]);
  t.deepEqual(toArray(run1('reduce_max', zeros('i32', [0]), { axes: [0] })), [-2147483648]);
  t.deepEqual(toArray(run1('reduce_sum', zeros('f32', [0, 3]), { axes: [0] })), [0, 0, 0]);
});

test('reductions on f16 store f16 results', (t) => {
  // 0.1 + 0.2 (as f16 values) summed in f64 = 0.2999267578125 → f16 tie → 0.2998046875
  t.deepEqual(toArray(run1('reduce_sum', T('f16', [0.1, 0.2]), { axes: [0] })), [0.2998046875]);
  t.deepEqual(toArray(run1('reduce_max', T('f16', [0.1, 0.2]), { axes: [0] })), [0.199951171875]);
});
