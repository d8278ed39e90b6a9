// Reference interpreter: shape ops (reshape, transpose, broadcast_to, slice,
// concat) and whole-graph interpretation — input checks (E0603), errors
// placed at the failing node, intermediates from interpretAll, the rule
// table covering every op. Expected values are computed by hand.
import test from 'ava';
import type { DType } from '../ir/dtype.ts';
import type { OpName } from '../ir/ops.ts';
import { OP_NAMES } from '../ir/ops.ts';
import type { AttrValue } from '../ir/attrs.ts';
import { AmpcError } from '../ir/errors.ts';
import { Graph } from '../ir/graph.ts';
import { parseModule } from '../ir/text/parser.ts';
import type { HostTensor, Nested } from '../ir/interp/tensor.ts';
import { fromNested, get, hostTensor, toArray, toNested } from '../ir/interp/tensor.ts';
import { evalNode, evalOp, interpret, interpretAll } from '../ir/interp/interpret.ts';
import { INTERP_RULES } from '../ir/interp/rules.ts';

const T = (dtype: DType, nested: Nested): HostTensor => fromNested(dtype, nested);
const F = (nested: Nested): HostTensor => fromNested('f32', nested);
const run1 = (op: OpName, xs: HostTensor[], attrs: Record<string, AttrValue> = {}): HostTensor => evalOp(op, xs, attrs)[0]!;
const arange = (dtype: DType, shape: number[]): HostTensor =>
  hostTensor(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

// ---------------------------------------------------------------- shape ops

test('reshape keeps row-major order', (t) => {
  const r = run1('reshape', [F([[1, 2, 3], [4, 5, 6]])], { shape: [3, 2] });
  t.deepEqual(r.shape, [3, 2]);
  t.deepEqual(toNested(r), [[1, 2], [3, 4], [5, 6]]);
  t.deepEqual(toNested(run1('reshape', [F([7])], { shape: [] })), 7);
  t.deepEqual(toNested(run1('reshape', [T('bool', [true, false, true, true])], { shape: [2, 1, 2] })), [[[true, false]], [[true, true]]]);
});

test('transpose of a matrix and of a rank-3 tensor', (t) => {
  t.deepEqual(toNested(run1('transpose', [F([[1, 2, 3], [4, 5, 6]])], { perm: [1, 0] })), [[1, 4], [2, 5], [3, 6]]);
  // shape [2,2,3]: x[i,j,k] = 6i + 3j + k; perm [2,0,1] gives y[k,i,j] = x[i,j,k]
  const x = arange('i32', [2, 2, 3]);
  const y = run1('transpose', [x], { perm: [2, 0, 1] });
  t.deepEqual(y.shape, [3, 2, 2]);
  t.deepEqual(toNested(y), [[[0, 3], [6, 9]], [[1, 4], [7, 10]], [[2, 5], [8, 11]]]);
  t.is(get(y, [2, 1, 0]), 8); // x[1,0,2] = 6 + 0 + 2
  const z = run1('transpose', [x], { perm: [1, 0, 2] });
  t.deepEqual(toNested(z), [[[0, 1, 2], [6, 7, 8]], [[3, 4, 5], [9, 10, 11]]]);
  t.deepEqual(toNested(run1('transpose', [x], { perm: [0, 1, 2] })), toNested(x));
});

test('broadcast_to', (t) => {
  t.deepEqual(toNested(run1('broadcast_to', [F([1, 2, 3])], { shape: [2, 3] })), [[1, 2, 3], [1, 2, 3]]);
  t.deepEqual(toNested(run1('broadcast_to', [F([[1], [2]])], { shape: [2, 3] })), [[1, 1, 1], [2, 2, 2]]);
  t.deepEqual(toNested(run1('broadcast_to', [F(5)], { shape: [2, 2] })), [[5, 5], [5, 5]]);
  const r = run1('broadcast_to', [T('i32', [[1, 2]])], { shape: [2, 2, 2] });
  t.deepEqual(toNested(r), [[[1, 2], [1, 2]], [[1, 2], [1, 2]]]);
  t.true(r.data instanceof Int32Array);
});

test('slice', (t) => {
  const x = arange('f32', [3, 3]); // 0..8
  const r = run1('slice', [x], { starts: [1, 0], ends: [3, 2] });
  t.deepEqual(r.shape, [2, 2]);
  t.deepEqual(toNested(r), [[3, 4], [6, 7]]);
  t.deepEqual(toNested(run1('slice', [x], { starts: [0, 2], ends: [3, 3] })), [[2], [5], [8]]);
  const e = run1('slice', [x], { starts: [1, 1], ends: [1, 3] });
  t.deepEqual(e.shape, [0, 2]);
  t.is(e.data.length, 0);
  const y = arange('i32', [2, 3, 4]);
  t.deepEqual(toNested(run1('slice', [y], { starts: [1, 1, 2], ends: [2, 3, 4] })), [[[18, 19], [22, 23]]]);
});

test('concat along first, last and negative axes', (t) => {
  const a = F([[1, 2], [3, 4]]);
  const b = F([[5, 6]]);
  t.deepEqual(toNested(run1('concat', [a, b], { axis: 0 })), [[1, 2], [3, 4], [5, 6]]);
  const c = F([[7], [8]]);
  t.deepEqual(toNested(run1('concat', [a, c], { axis: 1 })), [[1, 2, 7], [3, 4, 8]]);
  t.deepEqual(toNested(run1('concat', [c, a, c], { axis: -1 })), [[7, 1, 2, 7], [8, 3, 4, 8]]);
  t.deepEqual(toNested(run1('concat', [a], { axis: 0 })), [[1, 2], [3, 4]]);
  const r = run1('concat', [T('bool', [true]), T('bool', [false, true])], { axis: 0 });
  t.deepEqual(toNested(r), [true, false, true]);
  // rank 3 along the middle axis
  const p = F([[[1, 2]], [[3, 4]]]); // [2,1,2]
  const q = F([[[5, 6], [7, 8]], [[9, 10], [11, 12]]]); // [2,2,2]
  t.deepEqual(toNested(run1('concat', [p, q], { axis: 1 })), [[[1, 2], [5, 6], [7, 8]], [[3, 4], [9, 10], [11, 12]]]);
});

test('shape ops move f16 values unchanged', (t) => {
  const h = T('f16', [[0.1, 0.2], [1 / 3, 65504]]);
  const tr = run1('transpose', [h], { perm: [1, 0] });
  t.is(tr.dtype, 'f16');
  t.deepEqual(toNested(tr), [[0.0999755859375, 0.333251953125], [0.199951171875, 65504]]);
});

// ---------------------------------------------------------------- whole graphs

function mlp(): Graph {
  const g = new Graph('mlp');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 2] });
  const w = g.addInput('w', { dtype: 'f32', shape: [2, 3] }, { param: true });
  const b = g.addInput('b', { dtype: 'f32', shape: [3] }, { param: true });
  const h = g.add('matmul', [x, w], {}, { names: ['h'] });
  const s = g.add('add', [h, b], {}, { names: ['s'] });
  const y = g.add('relu', [s], {}, { names: ['y'] });
  const total = g.add('reduce_sum', [y], { axes: [0, 1] }, { names: ['total'] });
  g.setOutputs([y, total]);
  return g;
}

const mlpInputs = () => ({
  x: F([[1, 2], [3, -4]]),
  w: F([[1, 0, -1], [0, 1, 1]]),
  b: F([0.5, -3, 0]),
});

test('interpret evaluates a small MLP; outputs in return order', (t) => {
  // x·w = [[1, 2, 1], [3, -4, -7]]; + b = [[1.5, -1, 1], [3.5, -7, -7]]; relu; sum = 6
  const [y, total] = interpret(mlp(), mlpInputs());
  t.deepEqual(toNested(y!), [[1.5, 0, 1], [3.5, 0, 0]]);
  t.deepEqual(toNested(total!), 6);
});

test('interpretAll exposes every intermediate; onNode sees each node in order', (t) => {
  const g = mlp();
  const seen: string[] = [];
  const env = interpretAll(g, mlpInputs(), { onNode: (n) => seen.push(n.op) });
  t.deepEqual(seen, ['matmul', 'add', 'relu', 'reduce_sum']);
  t.is(env.size, 3 + 4);
  t.deepEqual(toNested(env.get(g.nodes[0]!.results[0]!)!), [[1, 2, 1], [3, -4, -7]]);
  t.deepEqual(toNested(env.get(g.nodes[1]!.results[0]!)!), [[1.5, -1, 1], [3.5, -7, -7]]);
  t.deepEqual(toNested(env.get(g.inputs[2]!)!), [0.5, -3, 0]);
});

test('every stored f16 value inside a graph is rounded', (t) => {
  const g = new Graph('h');
  const x = g.addInput('x', { dtype: 'f32', shape: [2] });
  const h = g.add('cast', [x], { to: 'f16' });
  const s = g.add('add', [h, h]);
  const back = g.add('cast', [s], { to: 'f32' });
  const exact = g.add('add', [x, x]);
  g.setOutputs([back, exact, x]);
  const [r, e, same] = interpret(g, { x: F([0.1, 40000]) });
  t.deepEqual(toArray(r!), [0.199951171875, Infinity]);
  t.deepEqual(toArray(e!), [0.2, 80000]);
  t.deepEqual(toArray(same!), [0.1, 40000]); // an input returned as an output
});

test('f16 graph inputs are stored as f16', (t) => {
  const g = new Graph('h');
  const x = g.addInput('x', { dtype: 'f16', shape: [1] });
  g.setOutputs([g.add('neg', [x])]);
  const raw: HostTensor = { dtype: 'f16', shape: [1], data: new Float64Array([0.1]) };
  t.deepEqual(toArray(interpret(g, { x: raw })[0]!), [-0.0999755859375]);
});

test('inputs are checked against the graph (E0603 naming the input)', (t) => {
  const g = mlp();
  const ins = mlpInputs();
  const missing = t.throws(() => interpret(g, { x: ins.x, w: ins.w }), { instanceOf: AmpcError });
  t.is(missing?.code, 'E0603');
  t.regex(missing!.message, /input %b \(f32\[3\]\) is missing/);
  const extra = t.throws(() => interpret(g, { ...ins, z: F([1]) }), { instanceOf: AmpcError });
  t.is(extra?.code, 'E0603');
  t.regex(extra!.message, /no input %z/);
  const dtype = t.throws(() => interpret(g, { ...ins, b: T('i32', [1, 2, 3]) }), { instanceOf: AmpcError });
  t.is(dtype?.code, 'E0603');
  t.regex(dtype!.message, /input %b: dtype is i32, the graph expects f32\[3\]/);
  const shape = t.throws(() => interpret(g, { ...ins, x: F([[1, 2, 3], [4, 5, 6]]) }), { instanceOf: AmpcError });
  t.is(shape?.code, 'E0603');
  t.regex(shape!.message, /input %x: shape is f32\[2,3\], the graph expects f32\[2,2\]/);
  const bad: HostTensor = { dtype: 'f32', shape: [3], data: new Float64Array(2) };
  const malformed = t.throws(() => interpret(g, { ...ins, b: bad }), { instanceOf: AmpcError });
  t.is(malformed?.code, 'E0603');
  t.regex(malformed!.message, /input %b: data does not hold 3 f32 values/);
});

test('a failure inside a rule is an AmpcError at the node\'s place', (t) => {
  const m = parseModule([
    'graph @loss(%logits: f32[2,3], %labels: i32[2]) -> (f32[]) {',
    '  %0 = cross_entropy %logits, %labels {reduction = "mean"} : f32[]',
    '  return %0',
    '}',
  ].join('\n'), 'loss.ir');
  const e = t.throws(() => interpret(m.main, { logits: F([[1, 2, 3], [4, 5, 6]]), labels: T('i32', [2, 3]) }), { instanceOf: AmpcError });
  t.is(e?.code, 'E0801');
  t.is(e?.loc?.file, 'loss.ir');
  t.is(e?.loc?.line, 2);
  t.regex(e!.message, /^loss\.ir:2:\d+: error E0801: cross_entropy: row 1 has label 3/);
});

test('evalNode checks operand types and places errors at the node', (t) => {
  const g = new Graph('n');
  const x = g.addInput('x', { dtype: 'f32', shape: [2] });
  const node = g.addNode('exp', [x], {}, { loc: { file: 'm.ir', line: 4, col: 3 } });
  t.deepEqual(toArray(evalNode(node, [F([0, 1])])[0]!), [1, Math.E]);
  const e = t.throws(() => evalNode(node, [F([0, 1, 2])]), { instanceOf: AmpcError });
  t.is(e?.code, 'E0801');
  t.is(e?.message, 'm.ir:4:3: error E0801: exp: operand 0 is f32[3], the node expects f32[2]');
});

test('the rule table covers every op of the op table', (t) => {
  for (const op of OP_NAMES) t.is(typeof INTERP_RULES[op], 'function', op);
  t.is(Object.keys(INTERP_RULES).length, OP_NAMES.length);
});
