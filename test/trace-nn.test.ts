// nn blocks under tracing: parameter naming and specs, printed MLP / CNN /
// attention graphs, BatchNorm2d state updates in train vs eval, seeded
// initial values, and errors inside modules placed at the user's line.
import test from 'ava';
import { AmpcError, printGraph, verifyGraph } from '../ir/index.ts';
import { crossEntropy, f32, i32, initialValues, nn, softmax, trace, traceModule, Tensor, read } from '../ir/trace/index.ts';
import { sourceMarks } from './helpers/source-marks.ts';

const { lineOf, colOf } = sourceMarks(import.meta.url);
const lines = (...ls: string[]) => ls.join('\n') + '\n';

class MLP extends nn.Module {
  layers = this.register('layers', new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10)));
  forward(x: Tensor): Tensor {
    return this.layers.forward(x); // @mlp-forward
  }
}

test('MLP via nn.Sequential: printed graph, state_dict names, specs', (t) => {
  const r = traceModule(new MLP(), [f32([64, 784]), i32([64])], {
    call: (m, x, labels) => crossEntropy(m.forward(x), labels),
  });
  verifyGraph(r.graph);
  t.is(
    printGraph(r.graph),
    lines(
      'graph @MLP(%x: f32[64,784], %labels: i32[64], %layers.0.weight: f32[784,256] {param}, %layers.0.bias: f32[256] {param}, %layers.2.weight: f32[256,10] {param}, %layers.2.bias: f32[10] {param}) -> (f32[]) {',
      '  %0 = matmul %x, %layers.0.weight {acc = f32} : f32[64,256]',
      '  %1 = add %0, %layers.0.bias : f32[64,256]',
      '  %2 = relu %1 : f32[64,256]',
      '  %3 = matmul %2, %layers.2.weight {acc = f32} : f32[64,10]',
      '  %4 = add %3, %layers.2.bias : f32[64,10]',
      '  %5 = cross_entropy %4, %labels : f32[]',
      '  return %5',
      '}',
    ),
  );
  t.deepEqual(r.params, [
    { name: 'layers.0.weight', type: { dtype: 'f32', shape: [784, 256] }, init: { kind: 'uniform', bound: 1 / Math.sqrt(784) }, inputIndex: 2 },
    { name: 'layers.0.bias', type: { dtype: 'f32', shape: [256] }, init: { kind: 'uniform', bound: 1 / Math.sqrt(784) }, inputIndex: 3 },
    { name: 'layers.2.weight', type: { dtype: 'f32', shape: [256, 10] }, init: { kind: 'uniform', bound: 1 / 16 }, inputIndex: 4 },
    { name: 'layers.2.bias', type: { dtype: 'f32', shape: [10] }, init: { kind: 'uniform', bound: 1 / 16 }, inputIndex: 5 },
  ]);
  t.deepEqual(r.buffers, []);
  t.deepEqual(r.stateUpdates, []);
});

test('a bare nn.Sequential names its state 0.weight, 0.bias, … as PyTorch', (t) => {
  const net = new nn.Sequential(new nn.Linear(4, 8), new nn.GELU({ approximate: 'tanh' }), new nn.Linear(8, 2, { bias: false }));
  const r = traceModule(net, [f32([3, 4])]);
  t.deepEqual(r.graph.inputs.map((v) => [v.name, v.isParam]), [['x', false], ['0.weight', true], ['0.bias', true], ['2.weight', true]]);
  t.deepEqual(r.graph.nodes.map((n) => n.op), ['matmul', 'add', 'gelu', 'matmul']);
  t.deepEqual(net.namedParameters().map(([k]) => k), ['0.weight', '0.bias', '2.weight']);
  t.is(r.graph.name, 'Sequential');
});

class CNN extends nn.Module {
  conv = this.register('conv', new nn.Conv2d(1, 8, 3, { padding: 1 }));
  bn = this.register('bn', new nn.BatchNorm2d(8));
  relu = this.register('relu', new nn.ReLU());
  pool = this.register('pool', new nn.MaxPool2d(2));
  flatten = this.register('flatten', new nn.Flatten());
  fc = this.register('fc', new nn.Linear(8 * 14 * 14, 10));
  forward(images: Tensor): Tensor {
    const h = this.pool.forward(this.relu.forward(this.bn.forward(this.conv.forward(images))));
    return this.fc.forward(this.flatten.forward(h));
  }
}

const CNN_INPUTS = [
  '%images: f32[32,1,28,28], %labels: i32[32], %conv.weight: f32[8,1,3,3] {param}, %conv.bias: f32[8] {param}, %bn.weight: f32[8] {param}, ',
  '%bn.bias: f32[8] {param}, %bn.running_mean: f32[8], %bn.running_var: f32[8], %fc.weight: f32[1568,10] {param}, %fc.bias: f32[10] {param}',
].join('');

test('CNN in training mode: batch_norm {training = true}, running stats come out as state updates', (t) => {
  const model = new CNN();
  const r = traceModule(model, [f32([32, 1, 28, 28]), i32([32])], {
    call: (m, images, labels) => crossEntropy(m.forward(images), labels),
  });
  verifyGraph(r.graph);
  t.is(
    printGraph(r.graph),
    lines(
      `graph @CNN(${CNN_INPUTS}) -> (f32[], f32[8], f32[8]) {`,
      '  %0 = conv2d %images, %conv.weight {padding = [1, 1, 1, 1], acc = f32} : f32[32,8,28,28]',
      '  %1 = reshape %conv.bias {shape = [8, 1, 1]} : f32[8,1,1]',
      '  %2 = add %0, %1 : f32[32,8,28,28]',
      '  %3, %4, %5 = batch_norm %2, %bn.weight, %bn.bias, %bn.running_mean, %bn.running_var {training = true} : f32[32,8,28,28], f32[8], f32[8]',
      '  %6 = relu %3 : f32[32,8,28,28]',
      '  %7 = max_pool2d %6 {kernel = [2, 2], stride = [2, 2]} : f32[32,8,14,14]',
      '  %8 = reshape %7 {shape = [32, 1568]} : f32[32,1568]',
      '  %9 = matmul %8, %fc.weight {acc = f32} : f32[32,10]',
      '  %10 = add %9, %fc.bias : f32[32,10]',
      '  %11 = cross_entropy %10, %labels : f32[]',
      '  return %11, %4, %5',
      '}',
    ),
  );
  t.deepEqual(r.stateUpdates, [{ name: 'bn.running_mean', outputIndex: 1 }, { name: 'bn.running_var', outputIndex: 2 }]);
  t.deepEqual(r.buffers.map((b) => [b.name, b.init.kind, b.inputIndex]), [['bn.running_mean', 'zeros', 6], ['bn.running_var', 'ones', 7]]);
  t.deepEqual(r.params.map((p) => [p.name, p.init.kind]), [
    ['conv.weight', 'uniform'], ['conv.bias', 'uniform'], ['bn.weight', 'ones'], ['bn.bias', 'zeros'], ['fc.weight', 'uniform'], ['fc.bias', 'uniform'],
  ]);
  t.is((r.params[0]!.init as { bound: number }).bound, 1 / 3); // fan_in = 1 * 3 * 3
  t.deepEqual(model.namedBuffers().map(([k]) => k), ['bn.running_mean', 'bn.running_var']);
});

test('CNN in eval mode: batch_norm {training = false}, no state updates', (t) => {
  const model = new CNN().eval();
  t.false(model.bn.training);
  const r = traceModule(model, [f32([32, 1, 28, 28])]);
  t.deepEqual(r.stateUpdates, []);
  t.is(r.graph.outputs.length, 1);
  const bn = r.graph.nodes.find((n) => n.op === 'batch_norm')!;
  t.deepEqual([bn.attrs.training, bn.results.length], [false, 1]);
  t.true(model.train().bn.training);
});

test('a buffer updated twice in one step reads its new value and leaves once', (t) => {
  const bn = new nn.BatchNorm2d(2, { momentum: 0.5, eps: 1e-3 });
  const r = traceModule(bn, [f32([4, 2, 3, 3])], { call: (m, x) => m.forward(m.forward(x)) });
  const [first, second] = r.graph.nodes;
  t.is(second!.operands[3], first!.results[1]);
  t.is(second!.operands[4], first!.results[2]);
  t.deepEqual(first!.attrs, { epsilon: 1e-3, momentum: 0.5, training: true });
  t.deepEqual(r.stateUpdates, [{ name: 'running_mean', outputIndex: 1 }, { name: 'running_var', outputIndex: 2 }]);
  t.is(r.graph.outputs[1], second!.results[1]);
});

class Attention extends nn.Module {
  norm = this.register('norm', new nn.LayerNorm(64));
  q = this.register('q', new nn.Linear(64, 64, { bias: false }));
  k = this.register('k', new nn.Linear(64, 64, { bias: false }));
  v = this.register('v', new nn.Linear(64, 64, { bias: false }));
  out = this.register('out', new nn.Linear(64, 64));
  forward(x: Tensor): Tensor {
    const h = this.norm.forward(x);
    const q = this.q.forward(h), k = this.k.forward(h), v = this.v.forward(h);
    const scores = q.matmul(k, { transposeB: true }).mul(1 / Math.sqrt(64));
    return x.add(this.out.forward(softmax(scores, -1).matmul(v)));
  }
}

test('attention block: layer_norm, batched matmuls, scaled softmax, residual', (t) => {
  const r = traceModule(new Attention(), [f32([2, 16, 64])]);
  verifyGraph(r.graph);
  t.is(
    printGraph(r.graph),
    lines(
      'graph @Attention(%x: f32[2,16,64], %norm.weight: f32[64] {param}, %norm.bias: f32[64] {param}, %q.weight: f32[64,64] {param}, %k.weight: f32[64,64] {param}, %v.weight: f32[64,64] {param}, %out.weight: f32[64,64] {param}, %out.bias: f32[64] {param}) -> (f32[2,16,64]) {',
      '  %0 = layer_norm %x, %norm.weight, %norm.bias : f32[2,16,64]',
      '  %1 = matmul %0, %q.weight {acc = f32} : f32[2,16,64]',
      '  %2 = matmul %0, %k.weight {acc = f32} : f32[2,16,64]',
      '  %3 = matmul %0, %v.weight {acc = f32} : f32[2,16,64]',
      '  %4 = matmul %1, %2 {transpose_b = true, acc = f32} : f32[2,16,16]',
      '  %5 = constant {value = 0.125} : f32[]',
      '  %6 = mul %4, %5 : f32[2,16,16]',
      '  %7 = softmax %6 : f32[2,16,16]',
      '  %8 = matmul %7, %3 {acc = f32} : f32[2,16,64]',
      '  %9 = matmul %8, %out.weight {acc = f32} : f32[2,16,64]',
      '  %10 = add %9, %out.bias : f32[2,16,64]',
      '  %11 = add %x, %10 : f32[2,16,64]',
      '  return %11',
      '}',
    ),
  );
  t.deepEqual(r.params.map((p) => p.init.kind), ['ones', 'zeros', 'uniform', 'uniform', 'uniform', 'uniform', 'uniform']);
});

test('LayerNorm over several trailing dims, and without affine parameters', (t) => {
  const ln = new nn.LayerNorm([4, 5], { eps: 1e-6 });
  const plain = new nn.LayerNorm(5, { elementwiseAffine: false });
  const r = traceModule(ln, [f32([3, 4, 5])]);
  t.deepEqual(r.graph.nodes[0]!.attrs, { axis: -2, epsilon: 1e-6 });
  const g = trace((x) => plain.forward(x), [f32([3, 5])]);
  t.deepEqual(g.nodes.map((n) => n.op), ['constant', 'constant', 'layer_norm']);
  t.is(g.params.length, 0);
});

test('Conv2d: OIHW weight, groups, stride and same padding; AvgPool2d', (t) => {
  const conv = new nn.Conv2d(4, 8, [3, 5], { groups: 2, padding: 'same', bias: false });
  t.deepEqual(conv.weight.shape, [8, 2, 3, 5]);
  t.is((conv.weight.init as { bound: number }).bound, 1 / Math.sqrt(2 * 3 * 5));
  const net = new nn.Sequential(conv, new nn.AvgPool2d(2, { stride: 1 }));
  const g = traceModule(net, [f32([1, 4, 10, 10])]).graph;
  t.deepEqual(g.nodes.map((n) => [n.op, n.attrs.padding, n.attrs.groups]), [['conv2d', [1, 2, 1, 2], 2], ['avg_pool2d', [0, 0, 0, 0], undefined]]);
  t.deepEqual(g.outputs[0]!.type.shape, [1, 8, 9, 9]);
  t.is(t.throws(() => new nn.Conv2d(3, 8, 3, { groups: 2 }), { instanceOf: AmpcError })?.code, 'E0104');
});

// ---------------------------------------------------------------- naming

class Block extends nn.Module {
  fc1 = this.register('fc1', new nn.Linear(8, 8));
  fc2 = this.register('fc2', new nn.Linear(8, 8));
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).relu());
  }
}

test('names are relative to the traced module; plain traces use the full path', (t) => {
  const outer = new nn.Sequential(new Block());
  const inner = outer.layers[0] as Block;
  t.deepEqual(traceModule(inner.fc1, [f32([2, 8])]).params.map((p) => p.name), ['weight', 'bias']);
  t.deepEqual(traceModule(inner, [f32([2, 8])]).params.map((p) => p.name), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  const g = trace((x) => inner.forward(x), [f32([2, 8])]);
  t.deepEqual(g.params.map((v) => v.name), ['0.fc1.weight', '0.fc1.bias', '0.fc2.weight', '0.fc2.bias']);
});

test('parameters are inputs only once they are used, in first-use order', (t) => {
  const b = new Block();
  const r = traceModule(b, [f32([2, 8])], { call: (m, x) => m.fc2.forward(x) });
  t.deepEqual(r.params.map((p) => [p.name, p.inputIndex]), [['fc2.weight', 1], ['fc2.bias', 2]]);
  // the same parameter twice is one input
  const g = trace((x) => x.matmul(b.fc1.weight).matmul(b.fc1.weight), [f32([2, 8])]);
  t.deepEqual(g.inputs.map((v) => v.name), ['x', 'fc1.weight']);
});

test('state outside a trace, unnamed state and clashing names are errors', (t) => {
  const lin = new nn.Linear(2, 2);
  t.is(t.throws(() => read(lin.weight), { instanceOf: AmpcError })?.code, 'E0501');
  const free = new nn.Parameter([2], nn.zerosInit());
  t.regex(t.throws(() => trace((x) => x.add(free), [f32([2])]), { instanceOf: AmpcError })!.detail, /without a name/);
  const named = new nn.Parameter([2], nn.onesInit(), { name: 'scale' });
  t.deepEqual(trace((x) => x.mul(named), [f32([2])]).params.map((v) => v.name), ['scale']);
  const a = new nn.Linear(2, 2), b = new nn.Linear(2, 2);
  t.regex(t.throws(() => trace((x) => b.forward(a.forward(x)), [f32([3, 2])]), { instanceOf: AmpcError })!.detail, /both named 'weight'/);
  const m = new nn.Sequential();
  m.register('fc', new nn.Linear(1, 1));
  t.throws(() => m.register('fc', new nn.Linear(1, 1)), { instanceOf: AmpcError, message: /registered twice/ });
});

test('an error inside a module points at the innermost user line that called it', (t) => {
  // A shape error in a Linear inside a Sequential: the first frame outside
  // ir/trace/ is the user's MLP.forward.
  const e = t.throws(() => trace((x) => new MLP().forward(x), [f32([64, 100])]), { instanceOf: AmpcError });
  t.is(e?.code, 'E0201');
  t.is(e?.loc?.file, 'test/trace-nn.test.ts');
  t.is(e?.loc?.line, lineOf('mlp-forward'));
  // A block used directly: the line of the call.
  const lin = new nn.Linear(784, 10);
  const e1 = t.throws(() => trace((x) => lin.forward(x), [f32([64, 100])]), { instanceOf: AmpcError }); // @module-error
  t.is(e1?.loc?.line, lineOf('module-error'));
  class Bad extends nn.Module {
    fc = this.register('fc', new nn.Linear(4, 4));
    forward(x: Tensor): Tensor {
      return this.fc.forward(x).matmul(x); // @forward-error
    }
  }
  const e2 = t.throws(() => traceModule(new Bad(), [f32([2, 4])]), { instanceOf: AmpcError });
  t.is(e2?.loc?.line, lineOf('forward-error'));
  t.is(e2?.message, `test/trace-nn.test.ts:${lineOf('forward-error')}:${colOf(lineOf('forward-error'), 'matmul(')}: error E0201: matmul: inner dimensions differ (4 vs 2)`);
});

// ---------------------------------------------------------------- initial values

test('initialValues is deterministic per seed and name, and follows the init', (t) => {
  const { params } = traceModule(new Block(), [f32([2, 8])]);
  const w = params[0]!;
  const a = initialValues(w, 42), b = initialValues(w, 42), c = initialValues(w, 43);
  t.is(a.length, 64);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  t.notDeepEqual(a, initialValues({ ...w, name: 'fc2.weight' }, 42));
  const bound = 1 / Math.sqrt(8);
  t.true(a.every((v) => Math.abs(v) <= bound));
  t.true(new Set(a).size === 64);
  const big = initialValues({ name: 'w', type: { dtype: 'f32', shape: [100000] }, init: { kind: 'uniform', bound: 1 } }, 7);
  const m = big.reduce((s, v) => s + v, 0) / big.length;
  const v = big.reduce((s, x) => s + x * x, 0) / big.length;
  t.true(Math.abs(m) < 0.01);
  t.true(Math.abs(v - 1 / 3) < 0.01);
  t.deepEqual([...initialValues({ name: 'z', type: { dtype: 'f32', shape: [2, 2] }, init: { kind: 'zeros' } }, 1)], [0, 0, 0, 0]);
  t.deepEqual([...initialValues({ name: 'o', type: { dtype: 'f32', shape: [3] }, init: { kind: 'ones' } }, 1)], [1, 1, 1]);
});

test('an nn block called on plain data or outside a trace says so at the user\'s line (issue #12)', (t) => {
  const layer = new nn.Linear(3, 2);
  const e = t.throws(() => (layer as unknown as { forward(x: unknown): unknown }).forward(new Float32Array(3)), { instanceOf: AmpcError }); // @plain-data
  t.is(e?.loc?.line, lineOf('plain-data'));
  t.regex(e!.message, /error E0501: nn\.Linear\.forward: expects a traced Tensor, got Float32Array: nn blocks build graphs, so call them inside trace\(\) or traceModule\(\)/);
  const seq = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU());
  t.regex(t.throws(() => (seq as unknown as { forward(x: unknown): unknown }).forward(7))!.message, /nn\.Sequential\.forward: expects a traced Tensor, got number/);
  // Inside a trace the same blocks work.
  t.notThrows(() => traceModule(seq, [f32([4, 3])]));
});

test('an integer trainable parameter is refused at the user\'s line; integer buffers are fine (issue #12)', (t) => {
  class Counter extends nn.Module {
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  const m = new Counter();
  const e = t.throws(() => m.param('steps', [1], nn.zerosInit(), { dtype: 'i32' }), { instanceOf: AmpcError }); // @int-param
  t.is(e?.loc?.line, lineOf('int-param'));
  t.regex(e!.message, /error E0501: a trainable parameter must be f32 or f16, got i32: keep integer state in a buffer/);
  t.notThrows(() => m.buffer('steps', [1], nn.zerosInit(), { dtype: 'i32' }));
});
