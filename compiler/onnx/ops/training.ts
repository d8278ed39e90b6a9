// Training-time ONNX ops built from elementwise IR ops. The optimizers of
// the ai.onnx.preview.training domain (opset 1), each updating n tensors
// per node (inputs R, T, then n X, n G and the n of each state; outputs the
// n new X, then the n of each new state), per the spec and its reference:
//   g = norm_coefficient·X + G (the gradient of the L2 term added),
//   Adagrad: r = R / (1 + T·decay_factor); H' = H + g²;
//            X' = X - r·g / (√H' + epsilon)
//   Momentum: β = beta when T > 0, 1 at T = 0; V' = alpha·V + β·g;
//            standard X' = X - R·V'; nesterov X' = X - R·(g + alpha·V')
//   Adam:    V' = alpha·V + (1 - alpha)·g; H' = beta·H + (1 - beta)·g²;
//            r = R·√(1 - beta^T) / (1 - alpha^T) when T > 0, R at T = 0;
//            X' = (1 - norm_coefficient_post)·(X - r·V' / (√H' + epsilon))
// T known at import (an initializer, or folded) makes r's factor an f64
// constant; a run-time T is cast to the values' float type in the graph
// (exact below 2^24 steps). BatchNormalization with training_mode = 1
// (opset 14+; called from nn.ts) is below: batchNormTraining.

import type { Value } from '../../../ir/graph.ts';
import { isFloat } from '../../../ir/dtype.ts';
import type { Entry, NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { asDtype, lit, rankOf, reshapeTo } from './types.ts';

/** The n tensors of each of `groups` kinds after R and T (X, G, then the states), checked for shape and dtype. */
function groupsOf(c: NodeCtx, groups: number): Value[][] {
  const count = (c.node.input ?? []).length - 2;
  if (count < groups || count % groups !== 0) c.bad(`${count} tensor inputs after R and T (expected a multiple of ${groups}: ${groups === 4 ? 'X, G, V, H' : groups === 3 ? 'X, G and the state' : ''})`);
  const n = count / groups;
  const out: Value[][] = [];
  for (let k = 0; k < groups; k++) out.push(Array.from({ length: n }, (_, i) => c.value(2 + k * n + i)));
  for (let i = 0; i < n; i++) {
    const x = out[0]![i]!;
    if (!isFloat(x.type.dtype)) c.bad(`X${i + 1} of dtype ${x.type.dtype} (a float tensor)`);
    for (let k = 1; k < groups; k++) {
      const t = out[k]![i]!;
      if (t.type.dtype !== x.type.dtype || t.type.shape.join(',') !== x.type.shape.join(',')) {
        c.bad(`input ${2 + k * n + i} (${t.type.dtype}[${t.type.shape.join(',')}]) differs from X${i + 1} (${x.type.dtype}[${x.type.shape.join(',')}])`);
      }
    }
  }
  if ((c.node.output ?? []).length > groups * n - n) c.bad(`${(c.node.output ?? []).length} outputs (expected at most ${groups * n - n})`);
  return out;
}

/** R, a float scalar, as a value of dtype `dtype`. */
function rate(c: NodeCtx, dtype: Value['type']['dtype']): Value {
  if (c.shape(0).length > 1 || c.shape(0).reduce((a, b) => a * b, 1) !== 1) c.bad(`R of shape [${c.shape(0).join(',')}] (a scalar)`);
  const r = c.value(0);
  if (!isFloat(r.type.dtype)) c.bad(`R of dtype ${r.type.dtype} (a float scalar)`);
  return asDtype(c, reshapeTo(c, r, []), dtype);
}

/** T: its value when known at import, else the run-time scalar as an i32 value. */
function step(c: NodeCtx): { known: number } | { v: Value } {
  if (c.shape(1).length > 1 || c.shape(1).reduce((a, b) => a * b, 1) !== 1) c.bad(`T of shape [${c.shape(1).join(',')}] (a scalar)`);
  const e = c.entry(1);
  if (e.kind === 'const') return { known: e.t.data[0]! };
  const v = c.value(1);
  if (v.type.dtype !== 'i32') c.bad(`T of dtype ${v.type.dtype} (an int64 scalar)`);
  return { v: reshapeTo(c, v, []) };
}

/** norm_coefficient·X + G (G itself when the coefficient is 0). */
function regularized(c: NodeCtx, x: Value, g: Value, norm: number): Value {
  return norm === 0 ? g : c.add('add', [c.add('mul', [x, lit(c, x, norm)]), g]);
}

const out = (vs: Value[]): Entry[] => vs.map((v) => ({ kind: 'value', v }));

const adagrad: OpMapping = {
  map: (c) => {
    const [xs, gs, hs] = groupsOf(c, 3) as [Value[], Value[], Value[]];
    const dtype = xs[0]!.type.dtype;
    const decay = c.float('decay_factor', 0), eps = c.float('epsilon', 1e-6), norm = c.float('norm_coefficient', 0);
    const R = rate(c, dtype);
    const t = step(c);
    let r: Value;
    if ('known' in t) r = c.add('div', [R, c.scalar(1 + t.known * decay, dtype)]);
    else r = c.add('div', [R, c.add('add', [c.scalar(1, dtype), c.add('mul', [asDtype(c, t.v, dtype), c.scalar(decay, dtype)])])]);
    const newX: Value[] = [], newH: Value[] = [];
    xs.forEach((x, i) => {
      const g = regularized(c, x, gs[i]!, norm);
      const h = c.add('add', [hs[i]!, c.add('mul', [g, g])]);
      const denom = c.add('add', [c.add('sqrt', [h]), lit(c, h, eps)]);
      newX.push(c.add('sub', [x, c.add('div', [c.add('mul', [r, g]), denom])]));
      newH.push(h);
    });
    return out([...newX, ...newH]);
  },
};

const momentum: OpMapping = {
  map: (c) => {
    const [xs, gs, vs] = groupsOf(c, 3) as [Value[], Value[], Value[]];
    const dtype = xs[0]!.type.dtype;
    const need = (name: string) => (c.hasAttr(name) ? c.float(name, 0) : c.bad(`attribute '${name}' is required`));
    const alpha = need('alpha'), beta = need('beta'), norm = need('norm_coefficient');
    if (!c.hasAttr('mode')) c.bad(`attribute 'mode' is required`);
    const mode = c.string('mode', 'standard');
    if (mode !== 'standard' && mode !== 'nesterov') c.bad(`mode '${mode}' (standard or nesterov)`);
    const R = rate(c, dtype);
    const t = step(c);
    // The gradient's coefficient is 1 at the first step (T = 0).
    const b: Value = 'known' in t
      ? c.scalar(t.known > 0 ? beta : 1, dtype)
      : c.add('select', [c.add('greater', [t.v, c.scalar(0, 'i32')]), c.scalar(beta, dtype), c.scalar(1, dtype)]);
    const newX: Value[] = [], newV: Value[] = [];
    xs.forEach((x, i) => {
      const g = regularized(c, x, gs[i]!, norm);
      const v = c.add('add', [c.add('mul', [vs[i]!, lit(c, x, alpha)]), c.add('mul', [b, g])]);
      const dir = mode === 'standard' ? v : c.add('add', [g, c.add('mul', [v, lit(c, v, alpha)])]);
      newX.push(c.add('sub', [x, c.add('mul', [R, dir])]));
      newV.push(v);
    });
    return out([...newX, ...newV]);
  },
};

const adam: OpMapping = {
  map: (c) => {
    const [xs, gs, vs, hs] = groupsOf(c, 4) as [Value[], Value[], Value[], Value[]];
    const dtype = xs[0]!.type.dtype;
    const alpha = c.float('alpha', 0.9), beta = c.float('beta', 0.999), eps = c.float('epsilon', 1e-6);
    const norm = c.float('norm_coefficient', 0), post = c.float('norm_coefficient_post', 0);
    const R = rate(c, dtype);
    const t = step(c);
    let r: Value;
    if ('known' in t) {
      // Bias correction from T > 0 on, in f64 at import.
      r = t.known > 0 ? c.add('mul', [R, c.scalar(Math.sqrt(1 - beta ** t.known) / (1 - alpha ** t.known), dtype)]) : R;
    } else {
      // pow(a, T) for a run-time T needs a positive base (WGSL's pow is exp2(T·log2 a)).
      if (!(alpha > 0) || !(beta > 0)) c.unsupported(`alpha ${alpha} and beta ${beta} with a run-time T (the bias correction alpha^T, beta^T needs positive bases)`);
      const tf = asDtype(c, t.v, dtype);
      const one = c.scalar(1, dtype);
      const bt = c.add('sub', [one, c.add('pow', [c.scalar(beta, dtype), tf])]);
      const at = c.add('sub', [one, c.add('pow', [c.scalar(alpha, dtype), tf])]);
      const factor = c.add('div', [c.add('sqrt', [bt]), at]);
      const positive = c.add('greater', [t.v, c.scalar(0, 'i32')]);
      r = c.add('mul', [R, c.add('select', [positive, factor, one])]);
    }
    const newX: Value[] = [], newV: Value[] = [], newH: Value[] = [];
    xs.forEach((x, i) => {
      const g = regularized(c, x, gs[i]!, norm);
      const v = c.add('add', [c.add('mul', [vs[i]!, lit(c, x, alpha)]), c.add('mul', [g, lit(c, x, 1 - alpha)])]);
      const h = c.add('add', [c.add('mul', [hs[i]!, lit(c, x, beta)]), c.add('mul', [c.add('mul', [g, g]), lit(c, x, 1 - beta)])]);
      const denom = c.add('add', [c.add('sqrt', [h]), lit(c, h, eps)]);
      let xn = c.add('sub', [x, c.add('mul', [r, c.add('div', [v, denom])])]);
      if (post !== 0) xn = c.add('mul', [xn, lit(c, xn, 1 - post)]);
      newX.push(xn);
      newV.push(v);
      newH.push(h);
    });
    return out([...newX, ...newV, ...newH]);
  },
};

/**
 * BatchNormalization with training_mode = 1 (opset 14+): Y normalized with
 * the batch mean and population variance over every axis but 1 (the IR's
 * batch_norm {training = true}; with one value per channel, where the IR's
 * refuses, the same formula in elementwise ops), and ONNX's running
 * statistics: running_mean = mean·momentum + batch_mean·(1 - momentum),
 * running_var = var·momentum + batch_var·(1 - momentum), ONNX's momentum
 * weighting the OLD value and batch_var the POPULATION variance (the
 * reference's np.var). The IR's own running statistics weight the new value
 * and take the unbiased variance, so they are computed here instead.
 */
export function batchNormTraining(c: NodeCtx): Entry[] {
  if (c.int('spatial', 1) !== 1) c.unsupported('spatial 0');
  const eps = c.float('epsilon', 1e-5), m = c.float('momentum', 0.9);
  const x = c.value(0);
  const [s, b, rm, rv] = [1, 2, 3, 4].map((i) => c.value(i)) as [Value, Value, Value, Value];
  const r = rankOf(x);
  if (r < 2) c.bad(`input of rank ${r} (N, C, ...)`);
  const ch = x.type.shape[1]!;
  const axes = [...Array(r).keys()].filter((k) => k !== 1);
  const perChannel = x.type.shape.reduce((p, d) => p * d, 1) / ch;
  const mean = c.add('reduce_mean', [x], { axes, keepdims: true });
  const d = c.add('sub', [x, mean]);
  const variance = c.add('reduce_mean', [c.add('mul', [d, d])], { axes, keepdims: true });
  let y: Value;
  if (perChannel > 1) {
    const n = c.g.addNode('batch_norm', [x, s, b, rm, rv], { epsilon: eps, training: true }, { loc: c.loc });
    n.note = `onnx ${c.op} '${c.name}'`;
    y = n.results[0]!;
  } else {
    const shape = [1, ch, ...axes.slice(1).map(() => 1)];
    const inv = c.add('div', [reshapeTo(c, asDtype(c, s, x.type.dtype), shape), c.add('sqrt', [c.add('add', [variance, lit(c, variance, eps)])])]);
    y = c.add('add', [c.add('mul', [d, inv]), reshapeTo(c, asDtype(c, b, x.type.dtype), shape)]);
  }
  const running = (old: Value, batch: Value): Value => {
    const cur = asDtype(c, reshapeTo(c, batch, [ch]), old.type.dtype);
    return c.add('add', [c.add('mul', [old, lit(c, old, m)]), c.add('mul', [cur, lit(c, old, 1 - m)])]);
  };
  return [y, running(rm, mean), running(rv, variance)].map((v) => ({ kind: 'value', v }) as const);
}

export const TRAINING_OPS: Record<string, OpMapping> = {
  Adagrad: adagrad,
  Momentum: momentum,
  Adam: adam,
};
