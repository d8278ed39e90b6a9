// Tracing TS functions into graphs: printed graphs, scalar and shape
// broadcasting, -1 reshapes, errors placed at the user's line, re-entrancy,
// and every op of the op table reachable from the API.
import test from 'ava';
import { AmpcError, OP_NAMES, printGraph, verifyGraph } from '../ir/index.ts';
import type { Graph } from '../ir/index.ts';
import * as T from '../ir/trace/index.ts';
import {
  bool, f16, f32, i32, trace, traceWithState, Tensor, TRACED_BY, parameterNames,
  add, sub, mul, div, maximum, minimum, pow, equal, less, greater, lessEqual, greaterEqual, where, cast, full, matmul, conv2d,
  maxPool2d, avgPool2d, sum, mean, max, softmax, logSoftmax, layerNorm, batchNorm, crossEntropy, mseLoss, oneHot, reshape,
  transpose, broadcastTo, slice, concat, neg, abs, exp, log, sqrt, rsqrt, reciprocal, tanh, sigmoid, relu, gelu, sin, cos, floor, scalar,
  tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, erf, round, ceil, sign, isinf, isnan, fmod, prod, gatherElements, gather, scatterElements, cumsum, resize, gridSample, argmax, argmin,
  randomUniform, iota,
} from '../ir/trace/index.ts';
import { traceDepth } from '../ir/trace/context.ts';
import { locFromStack } from '../ir/trace/loc.ts';
import { sourceMarks } from './helpers/source-marks.ts';

const { lineOf, colOf } = sourceMarks(import.meta.url);

const lines = (...ls: string[]) => ls.join('\n') + '\n';
const ops = (g: Graph) => g.nodes.map((n) => n.op);

test('a function traces into a printed graph; inputs are named after its parameters', (t) => {
  const g = trace((x, w1, b1) => x.matmul(w1).add(b1).relu(), [
    f32([64, 784]),
    f32([784, 256], { param: true }),
    f32([256], { param: true }),
  ]);
  verifyGraph(g);
  t.is(
    printGraph(g),
    lines(
      'graph @main(%x: f32[64,784], %w1: f32[784,256] {param}, %b1: f32[256] {param}) -> (f32[64,256]) {',
      '  %0 = matmul %x, %w1 {acc = f32} : f32[64,256]',
      '  %1 = add %0, %b1 : f32[64,256]',
      '  %2 = relu %1 : f32[64,256]',
      '  return %2',
      '}',
    ),
  );
});

test('spec names win over parameter names; a named function names the graph', (t) => {
  function mlp(a: Tensor, b: Tensor) {
    return a.matmul(b);
  }
  const g = trace(mlp, [f32([2, 3], 'images'), f32([3, 4], { name: 'w', param: true })]);
  t.is(g.name, 'mlp');
  t.deepEqual(g.inputs.map((v) => [v.name, v.isParam]), [['images', false], ['w', true]]);
  t.is(trace((x) => x.relu(), [f32([2])], { name: 'act' }).name, 'act');
});

test('parameter names come from the source, else argN', (t) => {
  t.deepEqual(parameterNames((x: unknown, w: unknown) => [x, w]), ['x', 'w']);
  t.deepEqual(parameterNames((x: unknown) => x), ['x']);
  t.deepEqual(parameterNames(function f(a: unknown, /* c */ b: unknown) { return [a, b]; }), ['a', 'b']);
  t.is(parameterNames(({ a }: { a: unknown }) => a), undefined);
  const g = trace((...xs: Tensor[]) => xs[0]!.add(xs[1]!), [f32([2]), f32([2])]);
  t.deepEqual(g.inputs.map((v) => v.name), ['arg0', 'arg1']);
});

test('outputs: a list keeps its order; record keys name the result values', (t) => {
  const g = trace((x) => [x.exp(), x.neg()], [f32([3])]);
  t.deepEqual(ops(g), ['exp', 'neg']);
  t.is(g.outputs.length, 2);
  const r = traceWithState((x, y) => ({ loss: x.sub(y).square().mean(), diff: x.sub(y), y }), [f32([3]), f32([3])]);
  t.deepEqual(r.outputNames, ['loss', 'diff', 'y']);
  t.is(
    printGraph(r.graph),
    lines(
      'graph @main(%x: f32[3], %y: f32[3]) -> (f32[], f32[3], f32[3]) {',
      '  %0 = sub %x, %y : f32[3]',
      '  %1 = mul %0, %0 : f32[3]',
      '  %loss = reduce_mean %1 {axes = [0], acc = f32} : f32[]',
      '  %diff = sub %x, %y : f32[3]',
      '  return %loss, %diff, %y',
      '}',
    ),
  );
});

test('numbers become scalar constants of the tensor dtype and broadcast', (t) => {
  const g = trace((x, h, n) => [x.sub(1), sub(1, x), h.mul(0.5), n.add(2), x.greater(0), div(x, 4)], [f32([2, 3]), f16([4]), i32([5])]);
  verifyGraph(g);
  t.is(
    printGraph(g),
    lines(
      'graph @main(%x: f32[2,3], %h: f16[4], %n: i32[5]) -> (f32[2,3], f32[2,3], f16[4], i32[5], bool[2,3], f32[2,3]) {',
      '  %0 = constant {value = 1.0} : f32[]',
      '  %1 = sub %x, %0 : f32[2,3]',
      '  %2 = constant {value = 1.0} : f32[]',
      '  %3 = sub %2, %x : f32[2,3]',
      '  %4 = constant {value = 0.5} : f16[]',
      '  %5 = mul %h, %4 : f16[4]',
      '  %6 = constant {value = 2} : i32[]',
      '  %7 = add %n, %6 : i32[5]',
      '  %8 = constant {value = 0.0} : f32[]',
      '  %9 = greater %x, %8 : bool[2,3]',
      '  %10 = constant {value = 4.0} : f32[]',
      '  %11 = div %x, %10 : f32[2,3]',
      '  return %1, %3, %5, %7, %9, %11',
      '}',
    ),
  );
});

test('shapes broadcast as numpy; select takes numbers from the other branch', (t) => {
  const g = trace((col, row, c) => [col.add(row), where(c, col, 0), c.select(1, 2)], [f32([64, 1]), f32([10]), bool([64, 1])]);
  t.deepEqual(g.outputs.map((v) => v.type), [
    { dtype: 'f32', shape: [64, 10] },
    { dtype: 'f32', shape: [64, 1] },
    { dtype: 'f32', shape: [64, 1] },
  ]);
  const e = t.throws(() => trace((a, b) => a.add(b), [f32([3, 4]), f32([5])]), { instanceOf: AmpcError });
  t.is(e?.code, 'E0202');
});

test('reshape resolves one -1; more than one, or an impossible one, is an error', (t) => {
  const g = trace((x) => [x.reshape([-1, 4]), x.reshape([2, -1]), x.flatten(), x.flatten(1)], [f32([2, 3, 4])]);
  t.deepEqual(g.outputs.map((v) => v.type.shape), [[6, 4], [2, 12], [24], [2, 12]]);
  t.deepEqual(g.nodes.map((n) => n.attrs.shape), [[6, 4], [2, 12], [24], [2, 12]]);
  t.is(t.throws(() => trace((x) => x.reshape([-1, -1]), [f32([2, 3])]))?.message.includes('more than one -1'), true);
  const e = t.throws(() => trace((x) => x.reshape([5, -1]), [f32([2, 3])]), { instanceOf: AmpcError });
  t.is(e?.code, 'E0201');
  t.is(e?.detail, 'reshape: cannot reshape [2,3] (6 elements) to [5, -1]');
});

test('shape conveniences: T, transpose, slice, concat, squeeze, unsqueeze, broadcastTo', (t) => {
  const g = trace(
    (x, v) => [x.T, x.transpose(), x.transpose([0, 2, 1]), x.slice([1], [-0 + 2, -1]), concat([x, x], -1), x.unsqueeze(0), x.unsqueeze(0).squeeze(0), v.T, v.broadcastTo([3, 4])],
    [f32([2, 3, 4]), f32([4])],
  );
  t.deepEqual(g.outputs.map((v) => v.type.shape), [[2, 4, 3], [4, 3, 2], [2, 4, 3], [1, 2, 4], [2, 3, 8], [1, 2, 3, 4], [2, 3, 4], [4], [3, 4]]);
  const sl = g.nodes.find((n) => n.op === 'slice')!;
  t.deepEqual([sl.attrs.starts, sl.attrs.ends], [[1, 0, 0], [2, 2, 4]]);
  t.deepEqual(g.nodes.find((n) => n.op === 'transpose')!.attrs.perm, [0, 2, 1]);
});

test('reductions default to all axes; keepdims and acc map to attributes', (t) => {
  const g = trace((x) => [x.sum(), x.mean(1, true), x.max([0, -1], { keepdims: false }), sum(x, 0, { acc: 'f16' })], [f32([2, 3, 4])]);
  t.deepEqual(g.nodes.map((n) => n.attrs), [
    { axes: [0, 1, 2], keepdims: false, acc: 'f32' },
    { axes: [1], keepdims: true, acc: 'f32' },
    { axes: [0, -1], keepdims: false },
    { axes: [0], keepdims: false, acc: 'f16' },
  ]);
  t.deepEqual(g.outputs.map((v) => v.type.shape), [[], [2, 1, 4], [3], [3, 4]]);
});

test('camelCase options map to snake_case attributes', (t) => {
  const g = trace(
    (x, w, img, k) => [
      x.matmul(w, { transposeB: true, acc: 'f16' }),
      img.conv2d(k, { stride: 2, padding: [1, 2], dilation: [1, 1], groups: 1 }),
      img.conv2d(k, { padding: 'same' }),
      img.avgPool2d([2, 2], { stride: 1, padding: 1, countIncludePad: true }),
      img.maxPool2d(2),
      x.gelu('tanh'),
    ],
    [f32([8, 4]), f32([5, 4]), f32([1, 3, 8, 8]), f32([6, 3, 4, 4])],
  );
  const printed = printGraph(g).split('\n').slice(1, 7);
  t.deepEqual(printed, [
    '  %0 = matmul %x, %w {transpose_b = true, acc = f16} : f32[8,5]',
    '  %1 = conv2d %img, %k {stride = [2, 2], padding = [1, 2, 1, 2], acc = f32} : f32[1,6,4,5]',
    '  %2 = conv2d %img, %k {padding = [1, 1, 2, 2], acc = f32} : f32[1,6,8,8]',
    '  %3 = avg_pool2d %img {kernel = [2, 2], padding = [1, 1, 1, 1], count_include_pad = true} : f32[1,3,9,9]',
    '  %4 = max_pool2d %img {kernel = [2, 2], stride = [2, 2]} : f32[1,3,4,4]',
    '  %5 = gelu %x {approximate = "tanh"} : f32[8,4]',
  ]);
});

test('batchNorm returns one tensor in inference and three in training', (t) => {
  const g = trace((x, g, b, m, v) => {
    const y = x.batchNorm(g, b, m, v, { eps: 1e-3 });
    const [z, nm, nv] = batchNorm(x, g, b, m, v, { training: true, momentum: 0.2 });
    return [y, z, nm, nv];
  }, [f32([4, 3, 2, 2]), f32([3]), f32([3]), f32([3]), f32([3])]);
  t.deepEqual(g.nodes.map((n) => [n.op, n.results.length, n.attrs.training]), [['batch_norm', 1, false], ['batch_norm', 3, true]]);
  t.deepEqual(g.nodes[0]!.attrs, { epsilon: 1e-3, momentum: 0.1, training: false });
});

test('a cast to the same dtype records nothing', (t) => {
  const g = trace((x) => [x.cast('f32'), x.astype('f16')], [f32([2])]);
  t.deepEqual(ops(g), ['cast']);
  t.is(g.outputs[0], g.inputs[0]);
});

// ---------------------------------------------------------------- errors at the user's line

test('a shape error points at the offending line of this test file', (t) => {
  const e = t.throws(() =>
    trace((x, w) => {
      const h = x.relu();
      return h.matmul(w); // @matmul-error
    }, [f32([64, 784]), f32([256, 10])]),
  { instanceOf: AmpcError });
  const line = lineOf('matmul-error');
  t.is(e?.message, `test/trace.test.ts:${line}:${colOf(line, 'matmul(')}: error E0201: matmul: inner dimensions differ (784 vs 256)`);
  t.is(e?.loc?.file, 'test/trace.test.ts');
});

test('free functions, dtype and attribute errors point at their lines too', (t) => {
  const free = t.throws(() => trace((a, b) => matmul(a, b), [f32([2, 3]), f32([4, 5])]), { instanceOf: AmpcError }); // @free-error
  t.is(free?.loc?.line, lineOf('free-error'));
  t.is(free?.loc?.col, colOf(lineOf('free-error'), 'matmul(a'));

  const dtype = t.throws(() => trace((a, b) => a.add(b), [f32([2]), f16([2])]), { instanceOf: AmpcError }); // @dtype-error
  t.is(dtype?.code, 'E0205');
  t.is(dtype?.loc?.line, lineOf('dtype-error'));

  const axis = t.throws(() => trace((x) => x.softmax(3), [f32([2, 3])]), { instanceOf: AmpcError }); // @axis-error
  t.is(axis?.code, 'E0204');
  t.is(axis?.loc?.line, lineOf('axis-error'));

  const attr = t.throws(() => trace((x) => x.gelu('fast' as 'tanh'), [f32([2])]), { instanceOf: AmpcError }); // @attr-error
  t.is(attr?.code, 'E0104');
  t.is(attr?.loc?.line, lineOf('attr-error'));

  const opt = t.throws(() => trace((x, k) => x.conv2d(k, { stide: 2 } as object), [f32([1, 1, 4, 4]), f32([1, 1, 3, 3])]), { instanceOf: AmpcError }); // @option-error
  t.is(opt?.code, 'E0101');
  t.is(opt?.loc?.line, lineOf('option-error'));
  t.regex(opt!.detail, /unknown option 'stide'/);

  const pad = t.throws(() => trace((x, k) => x.conv2d(k, { padding: [1, 2, 3] as unknown as number }), [f32([1, 1, 4, 4]), f32([1, 1, 3, 3])]), { instanceOf: AmpcError }); // @pad-error
  t.is(pad?.code, 'E0104');
  t.is(pad?.loc?.line, lineOf('pad-error'));

  const labels = t.throws(() => trace((x, y) => crossEntropy(x, y), [f32([4, 10]), f32([4])]), { instanceOf: AmpcError }); // @labels-error
  t.is(labels?.code, 'E0206');
  t.is(labels?.loc?.line, lineOf('labels-error'));
});

test('a bad input spec is reported at the trace call', (t) => {
  const e = t.throws(() => trace((x) => x, [f32([2, -1])]), { instanceOf: AmpcError }); // @spec-error
  t.is(e?.code, 'E0006');
  t.is(e?.loc?.line, lineOf('spec-error'));
  t.is(t.throws(() => trace((x, _y) => x, [f32([2]), f32([2], 'x')]), { instanceOf: AmpcError })?.code, 'E0005');
  t.is(t.throws(() => trace(() => 3 as unknown as Tensor, []), { instanceOf: AmpcError })?.code, 'E0501');
});

test('a spec count that differs from the function\'s arguments is refused at the trace call (issue #12)', (t) => {
  const extra = t.throws(() => trace((x) => x, [f32([2]), f32([3])]), { instanceOf: AmpcError }); // @too-many-specs
  t.is(extra!.message, `${extra!.loc!.file}:${lineOf('too-many-specs')}:${extra!.loc!.col}: error E0501: trace: the function takes 1 argument (x), but 2 input specs were given`);
  const few = t.throws(() => trace((x, w) => x.matmul(w), [f32([2, 2])]), { instanceOf: AmpcError });
  t.regex(few!.message, /error E0501: trace: the function takes 2 arguments \(x, w\), but 1 input spec was given$/);
  // Rest parameters take any number.
  t.notThrows(() => trace((...xs: Tensor[]) => xs[0]!.add(xs[1]!), [f32([2]), f32([2])]));
});

test('JS operators on tensors throw instead of producing strings', (t) => {
  const e = t.throws(() => trace((x) => (x as unknown as number) + 1 as unknown as Tensor, [f32([2])]), { instanceOf: AmpcError });
  t.regex(e!.message, /JS operators do not work on traced tensors/);
  trace((x) => {
    t.is(`${x}`, 'Tensor(%x: f32[2])');
    return x;
  }, [f32([2])]);
});

// ---------------------------------------------------------------- contexts

test('tensors are only valid inside their own trace', (t) => {
  let leaked: Tensor | undefined;
  trace((x) => (leaked = x.relu()), [f32([2])]);
  const after = t.throws(() => leaked!.exp(), { instanceOf: AmpcError });
  t.is(after?.code, 'E0501');
  t.regex(after!.detail, /trace that has ended/);
  const inOther = t.throws(() => trace((y) => y.add(leaked!), [f32([2])]), { instanceOf: AmpcError });
  t.regex(inOther!.detail, /trace that has ended/);
  t.is(t.throws(() => full([2], 0), { instanceOf: AmpcError })?.code, 'E0501');
});

test('traces nest; an outer tensor inside an inner trace is an error', (t) => {
  let inner: Graph | undefined;
  const outer = trace((x) => {
    inner = trace((y) => y.exp(), [f32([3])]);
    t.is(traceDepth(), 1);
    const e = t.throws(() => trace((y) => y.add(x), [f32([3])]), { instanceOf: AmpcError });
    t.regex(e!.detail, /another trace/);
    return x.neg();
  }, [f32([3])]);
  t.deepEqual(ops(outer), ['neg']);
  t.deepEqual(ops(inner!), ['exp']);
  t.is(traceDepth(), 0);
});

test('an exception inside a trace leaves no active context behind', (t) => {
  t.throws(() => trace(() => { throw new Error('boom'); }, []), { message: 'boom' });
  t.throws(() => trace((x) => x.reshape([7]), [f32([2])]), { instanceOf: AmpcError });
  t.is(traceDepth(), 0);
  t.is(t.throws(() => scalar(1), { instanceOf: AmpcError })?.code, 'E0501');
});

// ---------------------------------------------------------------- every op reachable

test('every op of the op table has a tracing API', (t) => {
  const api = T as unknown as Record<string, unknown>;
  for (const op of OP_NAMES) {
    const fn = TRACED_BY[op];
    if (fn === null) continue;
    t.is(typeof api[fn], 'function', `${op}: free function ${fn}`);
    // constant, select and the generated values (random_uniform, iota) have free functions only.
    if (!['constant', 'select', 'random_uniform', 'iota'].includes(op)) t.is(typeof (Tensor.prototype as unknown as Record<string, unknown>)[fn], 'function', `${op}: method ${fn}`);
  }
});

function allMethods(x: Tensor, w: Tensor, img: Tensor, k: Tensor, labels: Tensor, g: Tensor, b: Tensor): Tensor[] {
  const out = [
    x.neg(), x.abs(), x.exp(), x.log(), x.sqrt(), x.rsqrt(), x.reciprocal(), x.tanh(), x.sigmoid(), x.relu(), x.gelu(), x.sin(), x.cos(), x.floor(),
    x.tan(), x.asin(), x.acos(), x.atan(), x.sinh(), x.cosh(), x.asinh(), x.acosh(), x.atanh(), x.erf(), x.round(), x.ceil(), x.sign(), x.isinf(), x.isnan(), x.fmod(2),
    x.add(x), x.sub(1), x.mul(2), x.div(x), x.maximum(0), x.minimum(x), x.pow(2),
    x.equal(x), x.less(x), x.greater(x), x.lessEqual(x), x.greaterEqual(0),
    x.greater(0).select(x, 0), x.cast('f16'),
    x.matmul(w), img.conv2d(k), img.maxPool2d(2), img.avgPool2d(2),
    x.sum(), x.mean(0), x.max(1), x.prod(0, true),
    x.softmax(), x.logSoftmax(), x.layerNorm(g, b), img.batchNorm(g.slice([0], [3]), b.slice([0], [3]), g.slice([0], [3]), b.slice([0], [3])),
    x.crossEntropy(labels), x.mseLoss(x), labels.oneHot(4), x.gatherElements(labels.reshape([8, 1]), 1), x.gather(labels, 0), x.scatterElements(labels.reshape([8, 1]), x.slice([0, 0], [8, 1]), 1, 'add'), x.cumsum(1, { exclusive: true }), x.argmax(1), x.argmin(0, { keepdims: true, selectLastIndex: true }),
    img.resize([2, 3, 16, 12], { mode: 'linear' }), img.gridSample(full([2, 4, 5, 2], 0.25), { mode: 'bicubic', paddingMode: 'reflection' }),
    x.reshape([-1]), x.transpose(), x.T, x.slice([0, 1]), x.concat(x), x.sum(0, true).broadcastTo([8, 4]), x.flatten(), x.square(),
    randomUniform(full([], 7, 'u32'), [8, 4]).mul(x), iota([8, 4], 1, 'f32').add(x),
  ];
  return out;
}

function allFunctions(x: Tensor, w: Tensor, img: Tensor, k: Tensor, labels: Tensor, g: Tensor, b: Tensor): Tensor[] {
  const g3 = slice(g, [0], [3]), b3 = slice(b, [0], [3]);
  return [
    neg(x), abs(x), exp(x), log(x), sqrt(x), rsqrt(x), reciprocal(x), tanh(x), sigmoid(x), relu(x), gelu(x, 'tanh'), sin(x), cos(x), floor(x),
    tan(x), asin(x), acos(x), atan(x), sinh(x), cosh(x), asinh(x), acosh(x), atanh(x), erf(x), round(x), ceil(x), sign(x), isinf(x), isnan(x), fmod(x, 3),
    add(x, 1), sub(1, x), mul(x, x), div(1, x), maximum(x, x), minimum(0, x), pow(2, x),
    equal(x, 0), less(x, x), greater(x, x), lessEqual(0, x), greaterEqual(x, x),
    where(less(x, 0), 0, x), cast(x, 'f16'), full([2, 2], 3),
    matmul(x, w), conv2d(img, k, { padding: 1 }), maxPool2d(img, 2, { stride: 1 }), avgPool2d(img, 2),
    sum(x), mean(x, -1), max(x), prod(x, [0, 1]),
    softmax(x, 0), logSoftmax(x), layerNorm(x, g, b), batchNorm(img, g3, b3, g3, b3, { training: true })[0],
    crossEntropy(x, labels), mseLoss(x, x, 'sum'), oneHot(labels, 4), gatherElements(x, reshape(labels, [8, 1]), -1), gather(x, labels, 1), scatterElements(x, reshape(labels, [8, 1]), slice(x, [0, 0], [8, 1]), 1), cumsum(x, -2, { reverse: true }), argmax(x, -1, { keepdims: true }), argmin(x),
    resize(img, [2, 3, 4, 4], { mode: 'cubic', coordinateTransformationMode: 'align_corners' }), gridSample(img, full([2, 3, 3, 2], -0.5), { alignCorners: true }),
    reshape(x, [4, -1]), transpose(x, [1, 0]), broadcastTo(b, [8, 4]), concat([x, x], 1),
    randomUniform(full([], 7, 'u32'), [8, 4], { salt: 3 }), iota([8, 4], -2),
  ];
}

const SPECS = [f32([8, 4]), f32([4, 6]), f32([2, 3, 8, 8]), f32([5, 3, 3, 3]), i32([8]), f32([4]), f32([4])];

for (const [title, fn] of [['methods', allMethods], ['free functions', allFunctions]] as const) {
  test(`every traceable op comes out of the tracer (${title})`, (t) => {
    const g = trace(fn, SPECS);
    verifyGraph(g);
    const seen = new Set<string>(ops(g));
    const missing = OP_NAMES.filter((op) => TRACED_BY[op] !== null && !seen.has(op));
    t.deepEqual(missing, []);
  });
}

test('every node records the place of the call that made it', (t) => {
  const g = trace((x) => {
    const y = x.mul(2); // @node-mul
    return y.exp(); // @node-exp
  }, [f32([2])]);
  const [c, m, e] = g.nodes;
  t.deepEqual({ ...c!.loc }, { file: 'test/trace.test.ts', line: lineOf('node-mul'), col: colOf(lineOf('node-mul'), 'mul(') });
  t.is(m!.loc?.line, lineOf('node-mul'));
  t.is(e!.loc?.line, lineOf('node-exp'));
  t.is(JSON.stringify(e!.loc), JSON.stringify({ file: 'test/trace.test.ts', line: lineOf('node-exp'), col: colOf(lineOf('node-exp'), 'exp(') }));
});

test('the text-stack fallback finds the first frame outside the tracer (V8 and Firefox formats)', (t) => {
  const dir = new URL('../ir/trace/', import.meta.url).href;
  const v8 = ['Error', `    at Tensor.add (${dir}tensor.ts:3:4)`, '    at node:internal/x:1:2', `    at model (${process.cwd()}/test/m.ts:12:7)`].join('\n');
  t.deepEqual(locFromStack(v8), { file: 'test/m.ts', line: 12, col: 7 });
  const ff = [`add@${dir}tensor.ts:3:4`, 'model@http://localhost:8000/m.js:5:9'].join('\n');
  t.deepEqual(locFromStack(ff), { file: 'http://localhost:8000/m.js', line: 5, col: 9 });
  t.deepEqual(locFromStack(''), { file: '<unknown>', line: 0, col: 0 });
});
