// The example's model: a tiny GPT-style character language model, written as
// PyTorch users write one (batch first, [B, T, E]):
//
//   x = tok_emb(idx) + pos_emb                      idx i32 [B, T], pos_emb [T, E]
//   N times (pre-norm blocks):
//     x = x + Dropout(MultiheadAttention(LN(x), causal))
//     x = x + Dropout(Linear(GELU(Linear(LN(x)))))   hidden 4E
//   logits = head(LN(x))                            [B, T, V]
//
// The loss is the mean cross-entropy of every position's next character:
// crossEntropy(logits.reshape([B*T, V]), targets.reshape([B*T])). The state
// names are PyTorch's as such a module would have them (tok_emb.weight,
// pos_emb, blocks.0.attn.in_proj_weight, ..., head.weight); Linear weights
// are stored [in, out] (ampc's layout). The positional table is initialized
// N(0, 1), as an nn.Embedding of positions would be.

import { crossEntropy, i32, nn } from '../../ir/trace/index.ts';
import type { InputSpec, Tensor } from '../../ir/trace/index.ts';

export interface ModelConfig {
  /** Vocabulary size (distinct characters). */
  readonly vocab: number;
  /** Context length (characters per window). */
  readonly context: number;
  /** Embedding width. */
  readonly embed: number;
  readonly heads: number;
  readonly layers: number;
  /** Dropout probability after attention and after the MLP. */
  readonly dropout: number;
}

/** One pre-norm transformer block: causal self-attention and a GELU MLP, each in a residual branch. */
export class Block extends nn.Module {
  readonly ln1: nn.LayerNorm;
  readonly attn: nn.MultiheadAttention;
  readonly drop1: nn.Dropout;
  readonly ln2: nn.LayerNorm;
  readonly fc1: nn.Linear;
  readonly gelu: nn.GELU;
  readonly fc2: nn.Linear;
  readonly drop2: nn.Dropout;

  constructor(embed: number, heads: number, dropout: number) {
    super();
    this.ln1 = this.register('ln1', new nn.LayerNorm(embed));
    this.attn = this.register('attn', new nn.MultiheadAttention(embed, heads));
    this.drop1 = this.register('drop1', new nn.Dropout(dropout));
    this.ln2 = this.register('ln2', new nn.LayerNorm(embed));
    this.fc1 = this.register('fc1', new nn.Linear(embed, 4 * embed));
    this.gelu = this.register('gelu', new nn.GELU());
    this.fc2 = this.register('fc2', new nn.Linear(4 * embed, embed));
    this.drop2 = this.register('drop2', new nn.Dropout(dropout));
  }

  forward(x: Tensor): Tensor {
    x = x.add(this.drop1.forward(this.attn.forward(this.ln1.forward(x), undefined, undefined, { causal: true })));
    return x.add(this.drop2.forward(this.fc2.forward(this.gelu.forward(this.fc1.forward(this.ln2.forward(x))))));
  }
}

export class CharTransformer extends nn.Module {
  readonly tokEmb: nn.Embedding;
  readonly posEmb: nn.Parameter;
  readonly blocks: nn.ModuleList<Block>;
  readonly lnF: nn.LayerNorm;
  readonly head: nn.Linear;

  constructor(readonly config: ModelConfig) {
    super();
    const { vocab, context, embed, heads, layers, dropout } = config;
    this.tokEmb = this.register('tok_emb', new nn.Embedding(vocab, embed));
    this.posEmb = this.param('pos_emb', [context, embed], nn.normalInit(1));
    this.blocks = this.register('blocks', new nn.ModuleList(Array.from({ length: layers }, () => new Block(embed, heads, dropout))));
    this.lnF = this.register('ln_f', new nn.LayerNorm(embed));
    this.head = this.register('head', new nn.Linear(embed, vocab));
  }

  /** Logits [B, T, V] of the next character at every position of `idx` (i32 [B, T]). */
  forward(idx: Tensor): Tensor {
    let x = this.tokEmb.forward(idx).add(this.posEmb);
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.lnF.forward(x));
  }
}

/** The loss inputs of a batch: windows i32 [B, T] and their next characters i32 [B, T]. */
export function batchSpecs(batch: number, context: number): InputSpec[] {
  return [i32([batch, context]), i32([batch, context])];
}

/** Mean cross-entropy over every position of every window. */
export function lmLoss(m: CharTransformer, idx: Tensor, targets: Tensor): Tensor {
  const [b, t] = idx.shape as [number, number];
  const v = m.config.vocab;
  return crossEntropy(m.forward(idx).reshape([b * t, v]), targets.reshape([b * t]));
}

/** Number of trainable parameters. */
export function parameterCount(model: nn.Module): number {
  return model.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
