// nn.MultiheadAttention, scaledDotProductAttention and nn.ModuleList: the
// traced attention on the reference interpreter against a direct host
// computation (self- and cross-attention, causal, bool and float masks), its
// gradients against finite differences, on the adapter in f32 and under AMP
// (matmuls f16, softmax f32) against the reference, PyTorch's state names,
// and errors at the user's line.

import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import type { HostTensor } from '../ir/interp/index.ts';
import { bool, f32, initialValues, nn, sum, traceModule } from '../ir/trace/index.ts';
import type { Tensor, TraceResult } from '../ir/trace/index.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import { seededValues } from './helpers/compare.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { gpuTest } from './helpers/gpu.ts';

const B = 2, T = 4, S = 3, E = 6, H = 2, D = E / H;

type Arr = number[];
/** x [n, k] · w [k, m] + b. */
function dense(x: Arr, n: number, k: number, w: Arr, m: number, wOff: number, wStride: number, b?: Arr, bOff = 0): Arr {
  const out: Arr = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = b ? b[bOff + j]! : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[p * wStride + wOff + j]!;
      out.push(s);
    }
  }
  return out;
}

interface Weights { inW: Arr; inB: Arr; outW: Arr; outB: Arr }

/** Multi-head attention of one batch element on the host, in f64. `masked(i, j)` true: target i may not attend to source j; `bias(i, j)` added. */
function hostMha(q: Arr, kv: Arr, t: number, s: number, w: Weights, masked: (i: number, j: number) => boolean, bias: (i: number, j: number) => number): Arr {
  const Q = dense(q, t, E, w.inW, E, 0, 3 * E, w.inB, 0);
  const K = dense(kv, s, E, w.inW, E, E, 3 * E, w.inB, E);
  const V = dense(kv, s, E, w.inW, E, 2 * E, 3 * E, w.inB, 2 * E);
  const merged: Arr = new Array(t * E).fill(0);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < t; i++) {
      const scores: Arr = [];
      for (let j = 0; j < s; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += Q[i * E + h * D + d]! * K[j * E + h * D + d]!;
        scores.push(masked(i, j) ? -Infinity : dot / Math.sqrt(D) + bias(i, j));
      }
      const max = Math.max(...scores);
      const ex = scores.map((x) => Math.exp(x - max));
      const z = ex.reduce((a, x) => a + x, 0);
      for (let d = 0; d < D; d++) merged[i * E + h * D + d] = ex.reduce((a, p, j) => a + (p / z) * V[j * E + h * D + d]!, 0);
    }
  }
  return dense(merged, t, E, w.outW, E, 0, E, w.outB, 0);
}

function weightsOf(traced: TraceResult, seed: number): { inputs: Record<string, HostTensor>; w: Weights } {
  const inputs: Record<string, HostTensor> = {};
  const vals: Record<string, Arr> = {};
  traced.params.forEach((p, i) => {
    const v = [...initialValues(p, seed + i)].map((x, j) => (p.name.endsWith('bias') ? 0.1 * Math.sin(j + i) : x));
    inputs[p.name] = hostTensor('f32', [...p.type.shape], v);
    vals[p.name] = v;
  });
  return { inputs, w: { inW: vals.in_proj_weight!, inB: vals.in_proj_bias!, outW: vals['out_proj.weight']!, outB: vals['out_proj.bias']! } };
}

const X = seededValues(71, B * T * E, -1, 1);
const KV = seededValues(72, B * S * E, -1, 1);
const near = (a: readonly number[], b: readonly number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)));

test('nn.MultiheadAttention: PyTorch\'s state names and shapes ([in, out] layout)', (t) => {
  const traced = traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, E])]);
  t.deepEqual(traced.params.map((p) => `${p.name}: [${p.type.shape.join(',')}]`), ['in_proj_weight: [6,18]', 'in_proj_bias: [18]', 'out_proj.weight: [6,6]', 'out_proj.bias: [6]']);
  t.deepEqual(traceModule(new nn.MultiheadAttention(E, H, { bias: false }), [f32([B, T, E])]).params.map((p) => p.name), ['in_proj_weight', 'out_proj.weight']);
});

for (const variant of ['plain', 'causal', 'bool mask', 'float mask'] as const) {
  test(`nn.MultiheadAttention self-attention (${variant}) equals the host computation`, (t) => {
    const mha = new nn.MultiheadAttention(E, H);
    const maskBits = Array.from({ length: T * T }, (_, k) => (k % T) > Math.floor(k / T) + 1 || k === 2); // row 0 keeps sources 0, 1
    const biasVals = seededValues(73, T * T, -1, 1);
    const specs = [f32([B, T, E]), ...(variant === 'bool mask' ? [bool([T, T])] : variant === 'float mask' ? [f32([T, T])] : [])];
    const traced = specs.length > 1
      ? traceModule(mha, specs, { call: (m, x: Tensor, mask: Tensor) => m.forward(x, undefined, undefined, { attnMask: mask }) })
      : traceModule(mha, specs, { call: (m, x: Tensor) => m.forward(x, undefined, undefined, variant === 'causal' ? { causal: true } : {}) });
    const { inputs, w } = weightsOf(traced, 5);
    inputs[traced.graph.inputs[0]!.name!] = hostTensor('f32', [B, T, E], X);
    if (specs.length > 1) inputs[traced.graph.inputs[1]!.name!] = variant === 'bool mask' ? hostTensor('bool', [T, T], maskBits.map(Number)) : hostTensor('f32', [T, T], biasVals);
    const [y] = interpret(traced.graph, inputs);
    const masked = (i: number, j: number) => (variant === 'causal' ? j > i : variant === 'bool mask' ? maskBits[i * T + j]! : false);
    const bias = (i: number, j: number) => (variant === 'float mask' ? biasVals[i * T + j]! : 0);
    const want = [0, 1].flatMap((b) => hostMha(X.slice(b * T * E, (b + 1) * T * E), X.slice(b * T * E, (b + 1) * T * E), T, T, w, masked, bias));
    t.deepEqual(y!.shape, [B, T, E]);
    t.true(near([...y!.data].map(Number), want, 1e-9), `${[...y!.data].slice(0, 4)} vs ${want.slice(0, 4)}`);
    t.is(traced.graph.nodes.filter((n) => n.op === 'softmax').length, 1);
    t.is(traced.graph.nodes.filter((n) => n.op === 'matmul').length, 4, 'one projection for q, k and v, two attention matmuls, the output projection');
  });
}

test('nn.MultiheadAttention cross-attention: key/value of another length, each projected with its slice of the weight', (t) => {
  const traced = traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, E]), f32([B, S, E])], { call: (m, q: Tensor, kv: Tensor) => m.forward(q, kv) });
  const { inputs, w } = weightsOf(traced, 8);
  inputs[traced.graph.inputs[0]!.name!] = hostTensor('f32', [B, T, E], X);
  inputs[traced.graph.inputs[1]!.name!] = hostTensor('f32', [B, S, E], KV);
  const [y] = interpret(traced.graph, inputs);
  const want = [0, 1].flatMap((b) => hostMha(X.slice(b * T * E, (b + 1) * T * E), KV.slice(b * S * E, (b + 1) * S * E), T, S, w, () => false, () => 0));
  t.true(near([...y!.data].map(Number), want, 1e-9));
});

test('nn.MultiheadAttention gradients (causal, cross) match finite differences', (t) => {
  for (const cross of [false, true]) {
    const traced = traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, E]), f32([B, S, E]), f32([B, T, E])], {
      call: (m, q: Tensor, kv: Tensor, c: Tensor) => sum(m.forward(q, cross ? kv : undefined, undefined, cross ? {} : { causal: true }).mul(c)),
    });
    const { inputs } = weightsOf(traced, 2);
    inputs[traced.graph.inputs[0]!.name!] = hostTensor('f32', [B, T, E], X);
    inputs[traced.graph.inputs[1]!.name!] = hostTensor('f32', [B, S, E], KV);
    inputs[traced.graph.inputs[2]!.name!] = hostTensor('f32', [B, T, E], seededValues(74, B * T * E, -1, 1));
    const r = gradcheck(traced.graph, { inputs });
    t.true(r.ok, r.text);
  }
});

gpuTest('nn.MultiheadAttention (causal) on the adapter: f32 and AMP (f16 matmuls, f32 softmax) against the reference', async (t, ctx) => {
  const traced = traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, E])], { call: (m, x: Tensor) => m.forward(x, undefined, undefined, { causal: true }) });
  const { inputs } = weightsOf(traced, 4);
  inputs[traced.graph.inputs[0]!.name!] = hostTensor('f32', [B, T, E], X);
  const [ref] = interpret(traced.graph, inputs);
  const [y32] = await runGraphOnGpu(traced.graph, inputs, ctx);
  t.true(near([...y32!.data].map(Number), [...ref!.data].map(Number), 1e-5), 'f32');
  const amp = runPipeline(traced.graph, pipelineByName('amp'), { options: {} });
  const ops = (dtype: string, op: string) => amp.nodes.filter((n) => n.op === op && n.results[0]!.type.dtype === dtype).length;
  t.is(ops('f16', 'matmul'), 4, 'every matmul in f16');
  t.is(ops('f32', 'softmax'), 1, 'the softmax in f32');
  const [yAmp] = await runGraphOnGpu(amp, inputs, ctx);
  t.true(near([...yAmp!.data].map(Number), [...ref!.data].map(Number), 2e-2), 'amp');
});

test('attention errors: heads that do not divide the width, wrong shapes, a non-tensor mask', (t) => {
  t.is(t.throws(() => new nn.MultiheadAttention(6, 4), { instanceOf: AmpcError })?.code, 'E0104');
  const e = t.throws(() => traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, 5])]), { instanceOf: AmpcError });
  t.is(e?.code, 'E0201');
  t.regex(e!.message, /attention\.test\.ts:\d+:\d+: error E0201: nn\.MultiheadAttention: query must be \[batch, sequence, 6\]/);
  const m = t.throws(() => traceModule(new nn.MultiheadAttention(E, H), [f32([B, T, E])], {
    call: (mod, x: Tensor) => mod.forward(x, undefined, undefined, { attnMask: [1, 0] as unknown as Tensor }),
  }), { instanceOf: AmpcError });
  t.is(m?.code, 'E0102');
});

test('nn.ModuleList: children named by index, at() and iteration; no forward of its own', (t) => {
  class Stack extends nn.Module {
    blocks = this.register('blocks', new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]));
    forward(x: Tensor): Tensor {
      for (const b of this.blocks) x = b.forward(x).relu();
      return x;
    }
  }
  const s = new Stack();
  s.blocks.append(new nn.Linear(4, 4));
  t.is(s.blocks.length, 3);
  t.is(s.blocks.at(-1), s.blocks.at(2));
  const traced = traceModule(s, [f32([2, 4])]);
  t.deepEqual(traced.params.map((p) => p.name), ['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'blocks.2.weight', 'blocks.2.bias']);
  t.is(traced.graph.nodes.filter((n) => n.op === 'relu').length, 3);
  t.is(t.throws(() => s.blocks.at(3), { instanceOf: AmpcError })?.code, 'E0104');
  t.is(t.throws(() => traceModule(new nn.ModuleList([new nn.ReLU()]), [f32([2])]), { instanceOf: AmpcError })?.code, 'E0501');
});
