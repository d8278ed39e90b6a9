// Attention: `scaledDotProductAttention` (PyTorch's F.scaled_dot_product_attention)
// and nn.MultiheadAttention, batch first ([batch, sequence, embed]).
//
//   scores = q · kᵀ / sqrt(headDim)  (+ mask)   [batch, heads, target, source]
//   out    = softmax(scores, -1) · v
//
// Masks follow PyTorch: a bool mask is true where a position may NOT attend
// (its score becomes -inf), a float mask is added to the scores; either
// broadcasts to [batch, heads, target, source]. `causal: true` lets target i
// attend to sources j <= i (built in the graph from two iotas, no host data).
// A row with every position masked gives NaN, as in PyTorch.
//
// nn.MultiheadAttention(embedDim, numHeads) owns `in_proj_weight` [E, 3E]
// (q, k, v projections side by side), `in_proj_bias` [3E] and `out_proj`
// (an nn.Linear(E, E)), PyTorch's names; like nn.Linear the weights are
// stored [in, out], the transpose of PyTorch's layout. Its forward returns the
// output only (PyTorch also returns the averaged weights). Self-attention
// (key and value omitted or the query itself) projects with one matmul;
// otherwise each of q, k, v with its own slice of the weight.
// Under AMP the projections and both attention matmuls run in f16 (allow
// list) and the softmax in f32 (deny list), as torch.autocast does.

import { AmpcError } from '../../errors.ts';
import { checkOptions } from '../build.ts';
import { iota, read, scalar } from '../functions.ts';
import { callerLoc, markEntry } from '../loc.ts';
import type { Parameter } from '../state.ts';
import { uniformInit, zerosInit } from '../state.ts';
import { Tensor } from '../tensor.ts';
import { tracedInput } from './check.ts';
import { Linear, positiveInt } from './linear.ts';
import { Module } from './module.ts';

export interface AttentionOptions {
  /** Bool (true = may not attend) or float (added) mask, broadcastable to [batch, heads, target, source]. */
  readonly attnMask?: Tensor;
  /** Target i attends to sources j <= i only. */
  readonly causal?: boolean;
}

/** softmax(q·kᵀ/sqrt(d) + mask)·v over the last two dimensions of q [..., T, d], k [..., S, d], v [..., S, dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const loc = callerLoc();
  checkOptions('scaledDotProductAttention', opts, ['attnMask', 'causal'], loc);
  for (const [name, x] of [['query', q], ['key', k], ['value', v]] as const) {
    if (!(x instanceof Tensor) || x.rank < 2) throw new AmpcError('E0203', `scaledDotProductAttention: ${name} must be a traced tensor of rank >= 2`, loc);
  }
  const d = q.shape[q.rank - 1]!;
  let scores = q.matmul(k, { transposeB: true }).mul(1 / Math.sqrt(d));
  const t = scores.shape[scores.rank - 2]!, s = scores.shape[scores.rank - 1]!;
  if (opts.causal) {
    const future = iota([t, s], 1).greater(iota([t, s], 0)); // j > i
    scores = future.select(scalar(-Infinity, scores.dtype), scores);
  }
  const m = opts.attnMask;
  if (m !== undefined) {
    if (!(m instanceof Tensor)) throw new AmpcError('E0102', 'scaledDotProductAttention: attnMask must be a traced tensor (bool or float)', loc);
    scores = m.dtype === 'bool' ? m.select(scalar(-Infinity, scores.dtype), scores) : scores.add(m);
  }
  return scores.softmax(-1).matmul(v);
}

export interface MultiheadAttentionOptions {
  /** Biases on the input and output projections (default true). */
  readonly bias?: boolean;
}

export class MultiheadAttention extends Module {
  readonly inProjWeight: Parameter;
  readonly inProjBias: Parameter | undefined;
  readonly outProj: Linear;
  readonly headDim: number;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super();
    const loc = callerLoc();
    checkOptions('nn.MultiheadAttention', opts, ['bias'], loc);
    positiveInt('nn.MultiheadAttention', 'embedDim', embedDim, loc);
    positiveInt('nn.MultiheadAttention', 'numHeads', numHeads, loc);
    if (embedDim % numHeads !== 0) throw new AmpcError('E0104', `nn.MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`, loc);
    this.headDim = embedDim / numHeads;
    // PyTorch: xavier_uniform_ on in_proj_weight ([3E, E]: bound sqrt(6 / (E + 3E))), zero biases.
    const bound = Math.sqrt(6 / (4 * embedDim));
    this.inProjWeight = this.param('in_proj_weight', [embedDim, 3 * embedDim], uniformInit(bound));
    this.inProjBias = opts.bias === false ? undefined : this.param('in_proj_bias', [3 * embedDim], zerosInit());
    this.outProj = this.register('out_proj', new Linear(embedDim, embedDim, { bias: opts.bias !== false }));
  }

  /** Attention of `query` [B, T, E] over `key` [B, S, E] / `value` [B, S, E] (default: the query: self-attention); [B, T, E]. */
  forward(query: Tensor, key?: Tensor, value?: Tensor, opts: AttentionOptions = {}): Tensor {
    markEntry(MultiheadAttention.prototype.forward);
    const loc = callerLoc();
    query = tracedInput(query, 'nn.MultiheadAttention');
    const k0 = key === undefined ? query : tracedInput(key, 'nn.MultiheadAttention');
    const v0 = value === undefined ? k0 : tracedInput(value, 'nn.MultiheadAttention');
    const e = this.embedDim;
    for (const [name, x] of [['query', query], ['key', k0], ['value', v0]] as const) {
      if (x.rank !== 3 || x.shape[2] !== e) throw new AmpcError('E0201', `nn.MultiheadAttention: ${name} must be [batch, sequence, ${e}], got [${x.shape.join(', ')}]`, loc);
    }
    let q: Tensor, k: Tensor, v: Tensor;
    if (k0 === query && v0 === query) {
      let qkv = query.matmul(this.inProjWeight);
      if (this.inProjBias) qkv = qkv.add(this.inProjBias);
      [q, k, v] = [0, 1, 2].map((i) => qkv.slice([0, 0, i * e], [qkv.shape[0]!, qkv.shape[1]!, (i + 1) * e])) as [Tensor, Tensor, Tensor];
    } else {
      const proj = (x: Tensor, i: number) => {
        const y = x.matmul(read(this.inProjWeight).slice([0, i * e], [e, (i + 1) * e]));
        return this.inProjBias ? y.add(read(this.inProjBias).slice([i * e], [(i + 1) * e])) : y;
      };
      [q, k, v] = [proj(query, 0), proj(k0, 1), proj(v0, 2)];
    }
    const heads = (x: Tensor) => x.reshape([x.shape[0]!, x.shape[1]!, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]);
    const o = scaledDotProductAttention(heads(q), heads(k), heads(v), opts);
    const merged = o.transpose([0, 2, 1, 3]).reshape([query.shape[0]!, query.shape[1]!, e]);
    return this.outProj.forward(merged);
  }
}
