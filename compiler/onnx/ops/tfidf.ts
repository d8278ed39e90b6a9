// TfIdfVectorizer (opset 9) with pool_int64s, evaluated at import: its
// output depends only on its integer input and its attributes, so a constant
// input (an initializer, a Constant, a graph input given as a constant) folds
// to a float constant. Semantics as onnx.reference and onnxruntime compute
// them: input [C] (or a scalar) → [K], [B, C] → [B, K], K = max(ngram_indexes)
// + 1; the pool holds the n-grams of each size n (ngram_counts[n-1] is where
// they start) and only sizes min_gram_length..max_gram_length are looked for;
// an n-gram of size n ≥ 2 is taken at every skip distance d = 1..
// max_skip_count + 1 (positions s, s + d, …, s + (n-1)d of a row, rows never
// mixed), a unigram once per position. Each hit of the pool's i-th n-gram
// counts at coordinate ngram_indexes[i]; then mode TF keeps the counts, IDF
// gives weights[j] (1 without weights) where the count at coordinate j is
// non-zero, TFIDF count × weights[j]. Weights are indexed by output
// coordinate j, as both runtimes do (the spec's text says by pool n-gram;
// the two agree when ngram_indexes is the identity).
//
// Refused (E0901): a run-time input (counting n-grams of values has no IR
// form), pool_strings (the IR holds no strings). E0902: missing or
// inconsistent attributes, duplicate n-grams in the pool (onnxruntime's
// check), an input of rank above 2 or of a non-integer type.

import type { NodeCtx } from '../context.ts';
import { ct, storeElem } from '../fold.ts';
import type { ConstTensor } from '../proto.ts';
import { isIntElem } from '../proto.ts';
import type { OpMapping } from './types.ts';

interface TfIdfSpec {
  minN: number;
  maxN: number;
  maxSkip: number;
  mode: 'TF' | 'IDF' | 'TFIDF';
  /** Pool n-gram key (`n:v1,v2,…`) → its index i in the pool (counted in n-grams, all sizes). */
  pool: Map<string, number>;
  indexes: number[];
  weights: number[] | undefined;
  outSize: number;
}

function required(c: NodeCtx, name: string): number {
  const v = c.int(name);
  if (v === undefined) c.bad(`attribute '${name}' is required`);
  return v;
}

function requiredList(c: NodeCtx, name: string): number[] {
  const v = c.intList(name);
  if (v === undefined || v.length === 0) c.bad(`attribute '${name}' is required (non-empty)`);
  return v;
}

/** Reads and checks every attribute; the pool as a key map of the sizes looked for. */
function spec(c: NodeCtx): TfIdfSpec {
  if (c.opset < 9) c.unsupported('TfIdfVectorizer exists from opset 9');
  if (c.hasAttr('pool_strings')) {
    c.ignore('pool_strings');
    c.unsupported('pool_strings (string n-grams) is not supported: the IR holds no strings (pool_int64s with an integer input is)');
  }
  const minN = required(c, 'min_gram_length');
  const maxN = required(c, 'max_gram_length');
  const maxSkip = required(c, 'max_skip_count');
  if (minN < 1 || maxN < minN) c.bad(`min_gram_length ${minN} and max_gram_length ${maxN} (need 1 ≤ min ≤ max)`);
  if (maxSkip < 0) c.bad(`max_skip_count ${maxSkip} is negative`);
  const modeStr = c.string('mode', '');
  if (modeStr !== 'TF' && modeStr !== 'IDF' && modeStr !== 'TFIDF') c.bad(`mode '${modeStr}' (TF, IDF or TFIDF)`);
  const counts = requiredList(c, 'ngram_counts');
  const indexes = requiredList(c, 'ngram_indexes');
  const poolVals = c.intList('pool_int64s');
  if (poolVals === undefined || poolVals.length === 0) c.bad('pool_int64s is required (non-empty) when pool_strings is not given');
  const weights = c.floatList('weights');
  if (indexes.some((i) => i < 0)) c.bad('ngram_indexes has a negative entry');
  const outSize = Math.max(...indexes) + 1;
  if (weights && weights.length !== indexes.length) c.bad(`weights has ${weights.length} entries, ngram_indexes ${indexes.length}`);
  if (weights && modeStr !== 'TF' && weights.length < outSize) c.bad(`weights has ${weights.length} entries for ${outSize} output coordinates (weights are read by coordinate)`);

  const pool = new Map<string, number>();
  let id = 0;
  counts.forEach((start, k) => {
    const n = k + 1;
    const end = k + 1 < counts.length ? counts[k + 1]! : poolVals.length;
    if (start < 0 || end < start || end > poolVals.length) c.bad(`ngram_counts ${JSON.stringify(counts)}: the ${n}-grams (${start}..${end}) are outside the pool of ${poolVals.length}`);
    if ((end - start) % n !== 0) c.bad(`the ${end - start} pool entries of ${n}-grams are not whole ${n}-grams`);
    for (let p = start; p < end; p += n, id++) {
      if (n < minN || n > maxN) continue;
      const key = `${n}:${poolVals.slice(p, p + n).join(',')}`;
      if (pool.has(key)) c.bad(`the pool holds the ${n}-gram [${poolVals.slice(p, p + n).join(', ')}] twice`);
      pool.set(key, id);
    }
  });
  if (id !== indexes.length) c.bad(`the pool holds ${id} n-grams, ngram_indexes has ${indexes.length} entries (they are parallel)`);
  return { minN, maxN, maxSkip, mode: modeStr, pool, indexes, weights, outSize };
}

/** The output of one constant input. */
function vectorize(c: NodeCtx, s: TfIdfSpec, x: ConstTensor): ConstTensor {
  if (!isIntElem(x.type)) c.bad(`input of type ${x.type} (int32 or int64)`);
  const r = x.shape.length;
  if (r > 2) c.bad(`input of rank ${r} (rank 1 [C] or 2 [B, C])`);
  const rows = r === 2 ? x.shape[0]! : 1;
  const cols = r === 0 ? 1 : x.shape[r - 1]!;
  if (r === 2 && rows < 1) c.bad('input with no rows ([B, C] needs B ≥ 1)');
  const K = s.outSize;
  const freq = new Float64Array(rows * K);
  for (let b = 0; b < rows; b++) {
    const row = x.data.subarray(b * cols, (b + 1) * cols);
    const hit = (n: number, start: number, d: number) => {
      const items: number[] = [];
      for (let k = 0; k < n; k++) items.push(row[start + k * d]!);
      const i = s.pool.get(`${n}:${items.join(',')}`);
      if (i !== undefined) freq[b * K + s.indexes[i]!]! += 1;
    };
    for (let n = s.minN; n <= s.maxN; n++) {
      if (n === 1) {
        for (let start = 0; start < cols; start++) hit(1, start, 1);
        continue;
      }
      for (let d = 1; d <= s.maxSkip + 1; d++) {
        for (let start = 0; start + (n - 1) * d < cols; start++) hit(n, start, d);
      }
    }
  }
  const w = (j: number) => (s.weights ? s.weights[j]! : 1);
  const y = Array.from(freq, (f, p) => {
    const j = p % K;
    return storeElem('float', s.mode === 'TF' ? f : s.mode === 'IDF' ? (f > 0 ? w(j) : 0) : f * w(j));
  });
  return ct('float', r === 2 ? [rows, K] : [K], y);
}

export const TFIDF_OPS: Record<string, OpMapping> = {
  TfIdfVectorizer: {
    map: (c): never => {
      spec(c);
      return c.unsupported('a run-time input: the output counts n-grams of the input\'s values, which the IR cannot do; the input must be known at import (an initializer, a Constant, or a graph input given as a constant)');
    },
    fold: (c, [x]) => [vectorize(c, spec(c), x!)],
  },
};
