// Gradient checks of whole small models traced with ir/trace (nn modules):
// an MLP (Linear, ReLU or GELU, Linear, cross_entropy), a CNN (Conv2d,
// BatchNorm2d in training mode, ReLU, MaxPool2d, Flatten, Linear,
// cross_entropy) and an attention block (matmuls with transpose, softmax,
// layer_norm, residual, mse_loss). Every parameter's gradient is compared
// with central finite differences on the interpreter.

import test from 'ava';
import { interpret, randomInputs } from '../ir/interp/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { crossEntropy, f32, i32, mseLoss, nn, traceModule } from '../ir/trace/index.ts';
import { verifyGraph } from '../ir/verify.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { gradcheck } from './helpers/gradcheck.ts';

test('MLP: Linear, ReLU, Linear, cross_entropy', (t) => {
  const net = new nn.Sequential(new nn.Linear(6, 10), new nn.ReLU(), new nn.Linear(10, 4));
  const r = traceModule(net, [f32([5, 6]), i32([5])], { call: (m, x, labels) => crossEntropy(m.forward(x), labels) });
  const report = gradcheck(r.graph, { seed: 3 });
  t.deepEqual(report.params.map((p) => p.name), r.params.map((p) => p.name));
  t.deepEqual(report.params.map((p) => p.name), ['0.weight', '0.bias', '2.weight', '2.bias']);
  t.true(report.ok, report.text);
});

test('MLP: Linear, GELU (tanh), Linear, cross_entropy sum', (t) => {
  const net = new nn.Sequential(new nn.Linear(6, 8), new nn.GELU({ approximate: 'tanh' }), new nn.Linear(8, 3));
  const r = traceModule(net, [f32([4, 6]), i32([4])], { call: (m, x, labels) => crossEntropy(m.forward(x), labels, 'sum') });
  const report = gradcheck(r.graph, { seed: 4 });
  t.is(report.params.length, 4);
  t.true(report.ok, report.text);
});

class CNN extends nn.Module {
  conv = this.register('conv', new nn.Conv2d(2, 4, 3, { padding: 1 }));
  bn = this.register('bn', new nn.BatchNorm2d(4));
  pool = this.register('pool', new nn.MaxPool2d(2));
  fc = this.register('fc', new nn.Linear(4 * 3 * 3, 3));
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(this.bn.forward(this.conv.forward(x)).relu());
    return this.fc.forward(h.flatten(1));
  }
}

test('CNN: Conv2d, BatchNorm2d (training), ReLU, MaxPool2d, Flatten, Linear, cross_entropy', (t) => {
  const r = traceModule(new CNN(), [f32([2, 2, 6, 6]), i32([2])], { call: (m, x, labels) => crossEntropy(m.forward(x), labels) });
  t.true(r.graph.nodes.some((n) => n.op === 'batch_norm' && n.attrs.training === true));
  t.is(r.graph.outputs.length, 3, 'the loss, then the two running statistics');
  const report = gradcheck(r.graph, { seed: 5 });
  t.deepEqual(report.params.map((p) => p.name), ['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias']);
  t.true(report.ok, report.text);
  // Batch statistics remove a per-channel constant: the conv bias gradient is zero.
  const grads = interpret(gradientGraph(r.graph), randomInputs(r.graph, 5));
  const convBias = grads[3 + 1]!;
  t.true(Array.from(convBias.data).every((v) => Math.abs(v) < 1e-12));
});

class Attention extends nn.Module {
  ln = this.register('ln', new nn.LayerNorm(8));
  q = this.register('q', new nn.Linear(8, 8, { bias: false }));
  k = this.register('k', new nn.Linear(8, 8, { bias: false }));
  v = this.register('v', new nn.Linear(8, 8, { bias: false }));
  o = this.register('o', new nn.Linear(8, 8));
  forward(x: Tensor): Tensor {
    const h = this.ln.forward(x);
    const scores = this.q.forward(h).matmul(this.k.forward(h), { transposeB: true }).mul(1 / Math.sqrt(8));
    const attn = scores.softmax(-1).matmul(this.v.forward(h));
    return this.o.forward(attn).add(x);
  }
}

test('attention block: layer_norm, q·kᵀ, softmax, residual, mse_loss', (t) => {
  const r = traceModule(new Attention(), [f32([2, 4, 8]), f32([2, 4, 8])], { call: (m, x, target) => mseLoss(m.forward(x), target) });
  t.true(r.graph.nodes.some((n) => n.op === 'matmul' && n.attrs.transpose_b === true));
  const grad = gradientGraph(r.graph);
  verifyGraph(grad);
  const report = gradcheck(r.graph, { seed: 6 });
  t.deepEqual(report.params.map((p) => p.name), ['ln.weight', 'ln.bias', 'q.weight', 'k.weight', 'v.weight', 'o.weight', 'o.bias']);
  t.true(report.ok, report.text);
});
