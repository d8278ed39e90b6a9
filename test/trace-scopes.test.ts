// Trace scopes (ir/trace/scopes.ts) and the AMP overrides by scope: nodes
// record the nn module whose forward made them (qualified names, nested
// modules inside their parents) or the `scope()` block they were traced in;
// the modules are restored after tracing; `ampScopes` keeps a whole block in
// f32 (or f16) with a note naming the scope, the innermost scope given wins,
// node overrides win over scopes, scopes survive the amp pipeline and the
// train step, and bad scope options are refused.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { crossEntropy, f32, i32, nn, scope, softmax, trace, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import type { PassOptions } from '../passes/pass.ts';

class Attention extends nn.Module {
  readonly q: nn.Linear;
  readonly k: nn.Linear;
  constructor(d: number) {
    super();
    this.q = this.register('q', new nn.Linear(d, d));
    this.k = this.register('k', new nn.Linear(d, d));
  }
  forward(x: Tensor): Tensor {
    return softmax(this.q.forward(x).matmul(this.k.forward(x), { transposeB: true }), -1).matmul(x);
  }
}

class Net extends nn.Module {
  readonly attention: Attention;
  readonly head: nn.Linear;
  constructor() {
    super();
    this.attention = this.register('attention', new Attention(8));
    this.head = this.register('head', new nn.Linear(8, 3));
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.attention.forward(x).relu());
  }
}

const traceNet = (net = new Net()) => traceModule(net, [f32([4, 8]), i32([4])], { call: (m: Net, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
const ops = (g: Graph, scopeName: string | undefined): string[] => g.nodes.filter((n) => n.scope === scopeName).map((n) => n.op);

test('nodes record the qualified name of the module whose forward made them; modules are restored', (t) => {
  const net = new Net();
  const { graph } = traceNet(net);
  t.deepEqual(ops(graph, 'attention.q'), ['matmul', 'add']);
  t.deepEqual(ops(graph, 'attention.k'), ['matmul', 'add']);
  t.deepEqual(ops(graph, 'attention'), ['matmul', 'softmax', 'matmul']);
  t.deepEqual(ops(graph, 'head'), ['matmul', 'add']);
  t.deepEqual(ops(graph, undefined), ['relu', 'cross_entropy']);
  t.false(Object.prototype.hasOwnProperty.call(net.attention, 'forward'), 'the wrapper is gone after tracing');
  t.is(net.attention.forward, Attention.prototype.forward);
});

test('scope() nests inside the current scope and is an error outside a trace or with a bad name', (t) => {
  const g = trace((x: Tensor) => scope('block', () => scope('inner', () => x.exp()).add(1)).neg(), [f32([2])]);
  t.deepEqual(g.nodes.map((n) => [n.op, n.scope]), [['exp', 'block.inner'], ['constant', 'block'], ['add', 'block'], ['neg', undefined]]);
  const outside = t.throws(() => scope('a', () => 1), { instanceOf: AmpcError });
  t.regex(outside!.message, /scope\(\) is only available while tracing/);
  const bad = t.throws(() => trace((x: Tensor) => scope('a b', () => x), [f32([2])]), { instanceOf: AmpcError });
  t.regex(bad!.message, /scope: the name must be letters, digits and _/);
});

test('ampScopes: a whole block in f32 with a note naming the scope; the innermost scope given wins', (t) => {
  const { graph } = traceNet();
  const plain = runPipeline(graph, pipelineByName('amp'), { options: {} });
  t.true(plain.nodes.filter((n) => n.scope?.startsWith('attention') && n.op === 'matmul').every((n) => n.results[0]!.type.dtype === 'f16'));

  const kept = runPipeline(graph, pipelineByName('amp'), { options: { ampScopes: { attention: 'f32', 'attention.q': 'f16' } } });
  const mm = (s: string) => kept.nodes.filter((n) => n.scope === s && n.op === 'matmul');
  for (const n of [...mm('attention'), ...mm('attention.k')]) {
    t.is(n.results[0]!.type.dtype, 'f32');
    t.regex(n.note ?? '', /^f32: override\(scope attention\)$/);
  }
  for (const n of mm('attention.q')) t.regex(n.note ?? '', /^f16: override\(scope attention\.q\)$/);
  const head = mm('head')[0]!;
  t.is(head.results[0]!.type.dtype, 'f16', 'outside the scope the defaults hold');
  t.is(head.note, 'f16: allow(matmul)');
});

test('ampNodes win over ampScopes; the scope note shows in the dump', (t) => {
  const g = parseModule(`graph @g(%x: f32[4,4], %w: f32[4,4] {param}) -> (f32[4,4]) {
  %a = matmul %x, %w : f32[4,4]
  %b = matmul %a, %w : f32[4,4]
  return %b
}`, 'g.ir').main;
  for (const n of g.nodes) n.scope = 'block';
  const out = runPipeline(g, pipelineByName('amp'), { options: { ampScopes: { block: 'f32' }, ampNodes: { b: 'f16' } } });
  const text = printGraph(out);
  t.regex(text, /%a = matmul %x, %w \{acc = f32\} : f32\[4,4\]  \/\/ f32: override\(scope block\)/);
  t.regex(text, /%b = matmul %\d+, %\d+ \{acc = f32\} : f16\[4,4\]  \/\/ f16: override\(node %b\)/);
});

test('scopes survive the train step; an AMP train step with the attention block in f32 keeps its backward matmuls in f32', (t) => {
  const { graph } = traceNet();
  const step = trainStepGraph(graph, { kind: 'sgd', lr: 0.1 }, { precision: 'amp', ampOptions: { ampScopes: { attention: 'f32' } } });
  const fwd = step.graph.nodes.filter((n) => n.scope?.startsWith('attention') && n.op === 'matmul');
  t.true(fwd.length >= 4);
  t.true(fwd.every((n) => n.results[0]!.type.dtype === 'f32'));
  t.true(step.graph.nodes.some((n) => n.scope === 'head' && n.op === 'matmul' && n.results[0]!.type.dtype === 'f16'));
});

test('bad ampScopes are refused (E0609)', (t) => {
  const { graph } = traceNet();
  for (const [opt, want] of [[['attention'], /ampScopes: expects an object of trace scope to f16\|f32/], [{ attention: 'bf16' }, /ampScopes: scope 'attention' must be 'f16' or 'f32', got 'bf16'/]] as const) {
    const e = t.throws(() => runPipeline(graph, pipelineByName('amp'), { options: { ampScopes: opt } as unknown as PassOptions }), { instanceOf: AmpcError });
    t.is(e!.code, 'E0609');
    t.regex(e!.message, want);
  }
});
