// jit / grad / valueAndGrad (compiler/functional.ts): gradients against the
// analytic ones and finite differences on the reference interpreter, the
// same on the adapter (compiled once per signature), AMP close to f32,
// argnums lists, and errors at the user's line.

import test from 'ava';
import { grad, jit, valueAndGrad } from '../compiler/functional.ts';
import { AmpcError } from '../ir/errors.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { matmul, mseLoss, relu, sum, tanh } from '../ir/trace/functions.ts';
import type { Tensor } from '../ir/trace/tensor.ts';
import { seededValues } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

const W = hostTensor('f32', [3, 2], seededValues(41, 6));
const X = hostTensor('f32', [4, 3], seededValues(42, 12, -2, 2));
const Y = hostTensor('f32', [4, 2], seededValues(43, 8));

/** mean((tanh(x·w) - y)²). */
const loss = (w: Tensor, x: Tensor, y: Tensor) => mseLoss(tanh(matmul(x, w)), y);

/** The same loss on the host in f64. */
function hostLoss(w: number[], x: number[], y: number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) {
    let z = 0;
    for (let k = 0; k < 3; k++) z += x[i * 3 + k]! * w[k * 2 + j]!;
    s += (Math.tanh(z) - y[i * 2 + j]!) ** 2;
  }
  return s / 8;
}

const vals = (t: HostTensor) => [...t.data].map(Number);

/** Central finite differences of the host loss in argument `which` (0: w, 1: x). */
function numericGrad(which: 0 | 1): number[] {
  const args = [vals(W), vals(X), vals(Y)];
  return args[which]!.map((_, i) => {
    const h = 1e-6;
    const plus = args.map((a, k) => (k === which ? a.map((v, j) => (j === i ? v + h : v)) : a));
    const minus = args.map((a, k) => (k === which ? a.map((v, j) => (j === i ? v - h : v)) : a));
    return (hostLoss(plus[0]!, plus[1]!, plus[2]!) - hostLoss(minus[0]!, minus[1]!, minus[2]!)) / (2 * h);
  });
}

const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)));

test('grad and valueAndGrad on the reference match the host loss and finite differences', async (t) => {
  const dw = await jit(grad(loss), { backend: 'reference' })(W, X, Y) as HostTensor;
  t.deepEqual(dw.shape, [3, 2]);
  t.true(near(vals(dw), numericGrad(0), 1e-5), `${vals(dw)} vs ${numericGrad(0)}`);
  const [value, [gw, gx]] = await jit(valueAndGrad(loss, [0, 1]), { backend: 'reference' })(W, X, Y) as [HostTensor, HostTensor[]];
  t.true(Math.abs(vals(value)[0]! - hostLoss(vals(W), vals(X), vals(Y))) < 1e-6);
  t.deepEqual(vals(gw!), vals(dw));
  t.true(near(vals(gx!), numericGrad(1), 1e-5));
});

test('bad argnums and non-functions are E0609; a non-scalar output is E0405 at the user\'s line', async (t) => {
  t.is(t.throws(() => grad(loss, [0, 0]), { instanceOf: AmpcError })?.code, 'E0609');
  t.is(t.throws(() => grad(loss, -1), { instanceOf: AmpcError })?.code, 'E0609');
  t.is(t.throws(() => jit(42 as never), { instanceOf: AmpcError })?.code, 'E0609');
  const notScalar = (w: Tensor, x: Tensor) => relu(matmul(x, w)); // @not-scalar
  const e = await t.throwsAsync(jit(grad(notScalar), { backend: 'reference' })(W, X), { instanceOf: AmpcError });
  t.is(e?.code, 'E0405');
  t.regex(e?.message ?? '', /functional\.test\.ts:\d+:\d+: error E0405: autodiff: output 0/);
  const far = await t.throwsAsync(jit(grad(loss, 3), { backend: 'reference' })(W, X, Y), { instanceOf: AmpcError });
  t.is(far?.code, 'E0609');
});

gpuTest('jit on the adapter: the same gradients, compiled once per signature; AMP within f16 bounds', async (t, ctx) => {
  const f32 = jit(valueAndGrad(loss), { device: ctx });
  const amp = jit(valueAndGrad(loss), { device: ctx, precision: 'amp' });
  const ref = jit(valueAndGrad(loss), { backend: 'reference' });
  try {
    const [rv, rg] = await ref(W, X, Y) as [HostTensor, HostTensor];
    for (let k = 0; k < 2; k++) {
      const [v, g] = await f32(W, X, Y) as [HostTensor, HostTensor];
      t.true(near(vals(v), vals(rv), 1e-5) && near(vals(g), vals(rg), 1e-5), `f32 call ${k}`);
    }
    t.deepEqual(f32.compiledSignatures, ['f32[3,2], f32[4,3], f32[4,2]']);
    const [av, ag] = await amp(W, X, Y) as [HostTensor, HostTensor];
    t.true(near(vals(av), vals(rv), 1e-2) && near(vals(ag), vals(rg), 2e-2), `amp: ${vals(ag)} vs ${vals(rg)}`);
    // Another batch size: a second program.
    const x8 = hostTensor('f32', [8, 3], seededValues(44, 24)), y8 = hostTensor('f32', [8, 2], seededValues(45, 16));
    await f32(W, x8, y8);
    t.is(f32.compiledSignatures.length, 2);
    // A plain function, jitted: its output.
    const fwd = jit((w: Tensor, x: Tensor) => sum(matmul(x, w)), { device: ctx });
    const s = await fwd(W, X) as HostTensor;
    let want = 0;
    for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) for (let j = 0; j < 2; j++) want += vals(X)[i * 3 + k]! * vals(W)[k * 2 + j]!;
    t.true(Math.abs(vals(s)[0]! - want) < 1e-5 * Math.max(1, Math.abs(want)), `${vals(s)} vs ${want}`);
    fwd.destroy();
  } finally {
    f32.destroy();
    amp.destroy();
  }
});
