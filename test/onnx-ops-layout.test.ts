// ONNX layout, generator and transposed-convolution mappings (compiler/onnx/
// ops/layout.ts, generators.ts, norm-extra.ts, conv-transpose.ts): models
// built here with onnx-proto, imported, run on the reference interpreter and
// compared with values computed independently in this file (index formulas,
// direct loops); the shipped ONNX node tests of these ops on the reference;
// E0901 for the forms that are refused; an imported ConvTranspose's
// gradients against finite differences; and one chain on the device.

import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR, shippedOnReference, TOLERANCE } from './helpers/onnx-conformance.ts';
import { ai, ais, af, as, i64, f32i, vi, model, ft, numel, vals, unravel, at, run, near, refused } from './helpers/onnx-build.ts';
import type { Attr } from './helpers/onnx-build.ts';

// ------------------------------------------------------------- DepthToSpace / SpaceToDepth

test('DepthToSpace DCR (default, and before opset 11) and CRD; SpaceToDepth inverts DCR', (t) => {
  const s = [2, 8, 2, 3], b = 2, x = vals(numel(s));
  const d2s = (mode: string | undefined, opset: number) => run(model(
    [{ opType: 'DepthToSpace', input: ['x'], output: ['y'], attribute: [ai('blocksize', b), ...(mode ? [as('mode', mode)] : [])] }],
    [vi('x', s)], [], opset), { x: ft(s, x) });
  const out = [2, 2, 4, 6];
  const want = (crd: boolean) => Array.from({ length: numel(out) }, (_, f) => {
    const [n, c, h, w] = unravel(f, out) as [number, number, number, number];
    const i = h % b, j = w % b;
    const ch = crd ? c * b * b + i * b + j : (i * b + j) * 2 + c;
    return at(x, s, [n, ch, Math.floor(h / b), Math.floor(w / b)]);
  });
  near(t, d2s(undefined, 13), out, want(false), 0, 0);
  near(t, d2s('DCR', 11), out, want(false), 0, 0);
  near(t, d2s(undefined, 1), out, want(false), 0, 0);
  near(t, d2s('CRD', 13), out, want(true), 0, 0);
  refused(t, model([{ opType: 'DepthToSpace', input: ['x'], output: ['y'], attribute: [ai('blocksize', 2), as('mode', 'XYZ')] }], [vi('x', s)]), /mode 'XYZ'/);
  refused(t, model([{ opType: 'DepthToSpace', input: ['x'], output: ['y'], attribute: [ai('blocksize', 2), as('mode', 'CRD')] }], [vi('x', s)], [], 9),
    /attribute 'mode' is not supported/);

  const y = run(model([{ opType: 'SpaceToDepth', input: ['x'], output: ['y'], attribute: [ai('blocksize', b)] }], [vi('x', out)]), { x: ft(out, want(false)) });
  near(t, y, s, x, 0, 0);
});

// ------------------------------------------------------------- Pad

type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';
/** numpy.pad per axis (negative pads crop), computed by index mapping. */
function padRef(x: readonly number[], s: readonly number[], begin: readonly number[], end: readonly number[], mode: PadMode, value = 0) {
  const out = s.map((d, i) => d + begin[i]! + end[i]!);
  const data = Array.from({ length: numel(out) }, (_, f) => {
    const idx = unravel(f, out);
    const src: number[] = [];
    for (let a = 0; a < s.length; a++) {
      const d = s[a]!, j = idx[a]! - begin[a]!;
      if (j >= 0 && j < d) src.push(j);
      else if (mode === 'constant') return value;
      else if (mode === 'edge') src.push(Math.min(Math.max(j, 0), d - 1));
      else if (mode === 'reflect') src.push(j < 0 ? -j : 2 * (d - 1) - j);
      else src.push(((j % d) + d) % d);
    }
    return at(x, s, src);
  });
  return { out, data };
}

test('Pad: opset 1 paddings / opset 2 pads attributes with value; modes constant, reflect, edge', (t) => {
  const s = [3, 4], x = vals(12);
  const attrPad = (opset: number, key: string, pads: number[], mode: string, value?: number) => run(model(
    [{ opType: 'Pad', input: ['x'], output: ['y'], attribute: [ais(key, pads), as('mode', mode), ...(value !== undefined ? [af('value', value)] : [])] }],
    [vi('x', s)], [], opset), { x: ft(s, x) });
  let r = padRef(x, s, [1, 2], [2, 0], 'constant', 1.5);
  near(t, attrPad(1, 'paddings', [1, 2, 2, 0], 'constant', 1.5), r.out, r.data, 0, 0);
  r = padRef(x, s, [1, 2], [2, 3], 'reflect');
  near(t, attrPad(2, 'pads', [1, 2, 2, 3], 'reflect'), r.out, r.data, 0, 0);
  r = padRef(x, s, [0, 5], [4, 1], 'edge');
  near(t, attrPad(2, 'pads', [0, 5, 4, 1], 'edge'), r.out, r.data, 0, 0);
  r = padRef(x, s, [-1, 1], [2, -2], 'constant', 0);
  near(t, attrPad(2, 'pads', [-1, 1, 2, -2], 'constant'), r.out, r.data, 0, 0);
});

test('Pad: opset 11+ pads and run-time constant_value inputs, negative pads crop; opset 18 axes; opset 19 wrap', (t) => {
  const s = [2, 3, 4], x = vals(24, 2);
  const padIn = (pads: number[], mode: string, opset: number, extra: { value?: number; axes?: number[] } = {}) => {
    const inputs = ['x', 'pads', extra.value !== undefined ? 'v' : '', ...(extra.axes ? ['axes'] : [])];
    const inits = [i64('pads', [pads.length], pads), ...(extra.axes ? [i64('axes', [extra.axes.length], extra.axes)] : [])];
    const feeds: Record<string, HostTensor> = { x: ft(s, x), ...(extra.value !== undefined ? { v: ft([], [extra.value]) } : {}) };
    return run(model([{ opType: 'Pad', input: inputs, output: ['y'], attribute: [as('mode', mode)] }],
      [vi('x', s), ...(extra.value !== undefined ? [vi('v', [])] : [])], inits, opset), feeds);
  };
  let r = padRef(x, s, [0, 1, -1], [1, 2, 1], 'constant', 2.5);
  near(t, padIn([0, 1, -1, 1, 2, 1], 'constant', 13, { value: 2.5 }), r.out, r.data, 0, 0);
  r = padRef(x, s, [1, 0, 2], [0, -1, 3], 'reflect');
  near(t, padIn([1, 0, 2, 0, -1, 3], 'reflect', 11), r.out, r.data, 0, 0);
  r = padRef(x, s, [0, 0, 1], [1, 0, 2], 'edge');
  near(t, padIn([1, 0, 2, 1], 'edge', 18, { axes: [-1, 0] }), r.out, r.data, 0, 0);
  r = padRef(x, s, [1, 2, 4], [2, 0, 3], 'wrap');
  near(t, padIn([1, 2, 4, 2, 0, 3], 'wrap', 19), r.out, r.data, 0, 0);
  // Refused: reflections wider than the axis less one, wrap before opset 19, a pad and a crop on one axis
  // outside constant mode, run-time pads.
  const padModel = (pads: number[], mode: string, opset = 13) =>
    model([{ opType: 'Pad', input: ['x', 'pads'], output: ['y'], attribute: [as('mode', mode)] }], [vi('x', s)], [i64('pads', [6], pads)], opset);
  refused(t, padModel([0, 0, 4, 0, 0, 0], 'reflect'), /reflect padding of 4 on an axis of 4/);
  refused(t, padModel([0, 0, 1, 0, 0, 0], 'wrap', 18), /mode 'wrap'/);
  refused(t, padModel([0, 0, -1, 0, 0, 2], 'edge'), /mode 'edge' with a negative pad and a positive pad on axis 2/);
  refused(t, model([{ opType: 'Pad', input: ['x', 'p'], output: ['y'] }], [vi('x', s), vi('p', [6], 7)]), /input 1 \(pads\) must be known at import/);
});

// ------------------------------------------------------------- OneHot

test('OneHot: depth folded, values at run time or constant, axis, negative indices (opset 11) and truncated float indices', (t) => {
  const idx = [1, 9, -2, 4.7, 10, -11];
  const oneHot = (opset: number, axis: number | undefined, constValues: boolean) => run(model(
    [{ opType: 'OneHot', input: ['i', 'depth', 'values'], output: ['y'], attribute: axis === undefined ? [] : [ai('axis', axis)] }],
    [vi('i', [2, 3]), ...(constValues ? [] : [vi('values', [2])])],
    [i64('depth', [], [10]), ...(constValues ? [{ name: 'values', dims: [2], dataType: 6, int32Data: [-1, 5] }] : [])], opset),
  { i: ft([2, 3], idx), ...(constValues ? {} : { values: ft([2], [0.25, 3]) }) });
  const hot = (v: number, opset: number) => {
    const k = Math.trunc(v);
    return opset >= 11 && k < 0 ? k + 10 : k;
  };
  const want = (opset: number, axis: number, off: number, on: number) => {
    const out = [2, 3, 10];
    if (axis === 1) out.splice(1, 0, out.pop()!);
    return { out, data: Array.from({ length: 60 }, (_, f) => {
      const u = unravel(f, out);
      const [i, j, d] = axis === 1 ? [u[0]!, u[2]!, u[1]!] : [u[0]!, u[1]!, u[2]!];
      return hot(idx[i * 3 + j]!, opset) === d ? on : off;
    }) };
  };
  let w = want(11, 1, 0.25, 3);
  near(t, oneHot(11, 1, false), w.out, w.data, 0, 0);
  w = want(11, 1, 0.25, 3);
  near(t, oneHot(11, -2, false), w.out, w.data, 0, 0);
  w = want(9, 2, 0.25, 3);
  near(t, oneHot(9, undefined, false), w.out, w.data, 0, 0);
  w = want(11, 2, -1, 5);
  const y = oneHot(11, -1, true);
  t.is(y.dtype, 'i32');
  near(t, y, w.out, w.data, 0, 0);
  refused(t, model([{ opType: 'OneHot', input: ['i', 'depth', 'values'], output: ['y'] }], [vi('i', [3]), vi('depth', []), vi('values', [2])], [], 11),
    /input 1 \(depth\) must be known at import/);
});

// ------------------------------------------------------------- elementwise / normalization

test('Shrink (defaults, lambd and bias), MeanVarianceNormalization (default and given axes), LRN (odd and even sizes)', (t) => {
  const xs = [-2, -1.5, -1, -0.3, 0, 0.6, 1, 1.5, 2];
  const shrink = (attrs: Attr[]) => run(model([{ opType: 'Shrink', input: ['x'], output: ['y'], attribute: attrs }], [vi('x', [9])], [], 9), { x: ft([9], xs) });
  const sref = (l: number, b: number) => xs.map((v) => (v < -l ? v + b : v > l ? v - b : 0));
  near(t, shrink([]), [9], sref(0.5, 0));
  near(t, shrink([af('lambd', 1), af('bias', 0.5)]), [9], sref(1, 0.5));

  const s = [2, 3, 2, 2], x = vals(24, 3);
  const mvn = (attrs: Attr[]) => run(model([{ opType: 'MeanVarianceNormalization', input: ['x'], output: ['y'], attribute: attrs }], [vi('x', s)]), { x: ft(s, x) });
  const mref = (axes: number[]) => x.map((v, f) => {
    const idx = unravel(f, s);
    const group = x.filter((_, g) => unravel(g, s).every((c, a) => axes.includes(a) || c === idx[a]));
    const mean = group.reduce((a, b) => a + b, 0) / group.length;
    const variance = group.reduce((a, b) => a + (b - mean) ** 2, 0) / group.length;
    return (v - mean) / (Math.sqrt(variance) + 1e-9);
  });
  near(t, mvn([]), s, mref([0, 2, 3]), 1e-5, 1e-6);
  near(t, mvn([ais('axes', [1, -1])]), s, mref([1, 3]), 1e-5, 1e-6);

  const ls = [2, 5, 3, 2], lx = vals(60, 4);
  const lrn = (size: number) => run(model([{ opType: 'LRN', input: ['x'], output: ['y'], attribute: [ai('size', size), af('alpha', 0.3), af('beta', 0.75), af('bias', 1.5)] }],
    [vi('x', ls)]), { x: ft(ls, lx) });
  const lref = (size: number) => lx.map((v, f) => {
    const [n, c, h, w] = unravel(f, ls) as [number, number, number, number];
    let sum = 0;
    for (let i = Math.max(0, c - Math.floor((size - 1) / 2)); i <= Math.min(4, c + Math.ceil((size - 1) / 2)); i++) sum += at(lx, ls, [n, i, h, w]) ** 2;
    return v / (1.5 + (Math.fround(0.3) / size) * sum) ** 0.75;
  });
  near(t, lrn(3), ls, lref(3), 1e-5, 1e-6);
  near(t, lrn(4), ls, lref(4), 1e-5, 1e-6);
});

// ------------------------------------------------------------- generators

test('Hann/Hamming/BlackmanWindow and EyeLike fold to constants (exact π; the shipped 1.12 data used 3.1415)', (t) => {
  const win = (op: string, periodic: number, size: number) => {
    const r = importOnnx(model([{ opType: op, input: ['n'], output: ['y'], attribute: [ai('periodic', periodic)] }], [], [i64('n', [], [size])], 17));
    t.false(r.graph.nodes.some((n) => n.op !== 'constant'), 'folded at import');
    return interpret(r.graph, r.values)[0]!;
  };
  const coeffs: Record<string, number[]> = { HannWindow: [0.5, 0.5, 0], HammingWindow: [25 / 46, 21 / 46, 0], BlackmanWindow: [0.42, 0.5, 0.08] };
  const wref = ([a0, a1, a2]: number[], N: number, size: number, pi = Math.PI) =>
    Array.from({ length: size }, (_, k) => Math.fround(a0! - a1! * Math.cos((2 * pi * k) / N) + a2! * Math.cos((4 * pi * k) / N)));
  for (const [op, a] of Object.entries(coeffs)) {
    near(t, win(op, 1, 10), [10], wref(a, 10, 10), 0, 0);
    near(t, win(op, 0, 7), [7], wref(a, 6, 7), 0, 0);
    const shipped = join(ONNX_NODE_DIR, `test_${op.replace('Window', '').toLowerCase()}window`);
    if (existsSync(shipped)) {
      const want = loadCase(ONNX_NODE_DIR, `test_${op.replace('Window', '').toLowerCase()}window`).expected[0]!;
      t.is(compareOutputs([ft([10], wref(a, 10, 10, 3.1415))], [want], { rtol: 0, atol: 3e-7 }), undefined, `${op}: the shipped data is π = 3.1415`);
    }
  }
  const eye = (s: number[], attrs: Attr[]) => run(model([{ opType: 'EyeLike', input: ['x'], output: ['y'], attribute: attrs }], [vi('x', s)], [], 9), { x: ft(s, vals(numel(s))) });
  near(t, eye([3, 4], [ai('k', 1)]), [3, 4], [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 0, 0);
  const e2 = eye([4, 3], [ai('k', -2), ai('dtype', 6)]);
  t.is(e2.dtype, 'i32');
  near(t, e2, [4, 3], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0], 0, 0);
});

// ------------------------------------------------------------- ConvTranspose

interface CT { s: number[]; d: number[]; group: number; pb: number[]; pe: number[]; op: number[] }
/** Direct scatter: y[n, g·OG + oc, i·s + k·d - pb] += x[n, ci, i] · w[ci, oc, k], 2-D. */
function convTRef(x: number[], xs: number[], w: number[], ws: number[], bias: number[] | undefined, p: CT) {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [, OG, KH, KW] = ws as [number, number, number, number];
  const out = [N, OG * p.group, ...[H, W].map((n, i) => (n - 1) * p.s[i]! + ((i ? KW : KH) - 1) * p.d[i]! + 1 + p.op[i]! - p.pb[i]! - p.pe[i]!)];
  const y = new Array<number>(numel(out)).fill(0);
  for (let n = 0; n < N; n++) for (let ci = 0; ci < C; ci++) for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
    for (let oc = 0; oc < OG; oc++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const o = Math.floor(ci / (C / p.group)) * OG + oc;
      const oh = ih * p.s[0]! + kh * p.d[0]! - p.pb[0]!, ow = iw * p.s[1]! + kw * p.d[1]! - p.pb[1]!;
      if (oh < 0 || ow < 0 || oh >= out[2]! || ow >= out[3]!) continue;
      y[((n * out[1]! + o) * out[2]! + oh) * out[3]! + ow] += at(x, xs, [n, ci, ih, iw]) * at(w, ws, [ci, oc, kh, kw]);
    }
  }
  if (bias) y.forEach((_, f) => (y[f]! += bias[unravel(f, out)[1]!]!));
  return { out, y };
}

function convT(t: import('ava').ExecutionContext, xs: number[], ws: number[], attrs: Attr[], bias: boolean, opset = 11) {
  const x = vals(numel(xs), 5), w = vals(numel(ws), 6), b = bias ? vals(ws[1]! * ((attrs.find((a) => a.name === 'group')?.i as number) ?? 1), 7) : undefined;
  const r = importOnnx(model([{ opType: 'ConvTranspose', input: ['x', 'W', ...(b ? ['B'] : [])], output: ['y'], attribute: attrs }], [vi('x', xs)],
    [f32i('W', ws, w), ...(b ? [f32i('B', [b.length], b)] : [])], opset));
  t.true(r.graph.nodes.some((n) => n.op === 'conv2d_grad_input'), 'maps to conv2d_grad_input');
  return { y: interpret(r.graph, { ...r.values, x: ft(xs, x) })[0]!, x: x.map(Math.fround), w: w.map(Math.fround), b: b?.map(Math.fround) };
}
test('ConvTranspose 2-D: group, strides, dilations, asymmetric pads, output_padding, bias', (t) => {
  const xs = [1, 4, 3, 4], ws = [4, 3, 2, 3];
  const r = convT(t, xs, ws, [ai('group', 2), ais('strides', [2, 3]), ais('dilations', [2, 1]), ais('pads', [1, 0, 0, 2]), ais('output_padding', [1, 2])], true);
  const want = convTRef(r.x, xs, r.w, ws, r.b, { s: [2, 3], d: [2, 1], group: 2, pb: [1, 0], pe: [0, 2], op: [1, 2] });
  near(t, r.y, want.out, want.y, 1e-5, 1e-5);
});

test('ConvTranspose: output_shape larger than the full output (zero rows both sides), auto_pad SAME_UPPER / SAME_LOWER, 1-D; 3-D refused', (t) => {
  const xs = [1, 1, 3, 3], ws = [1, 2, 3, 3];
  let r = convT(t, xs, ws, [ais('strides', [3, 2]), ais('output_shape', [11, 9])], false);
  // full 9 x 7: totals -2 and -2 split begin = total - ⌊total/2⌋ = -1, end = -1.
  let want = convTRef(r.x, xs, r.w, ws, undefined, { s: [3, 2], d: [1, 1], group: 1, pb: [-1, -1], pe: [-1, -1], op: [0, 0] });
  near(t, r.y, [1, 2, 11, 9], want.y, 1e-5, 1e-5);
  for (const [mode, pb, pe] of [['SAME_UPPER', [0, 0], [1, 1]], ['SAME_LOWER', [1, 1], [0, 0]]] as const) {
    r = convT(t, [1, 2, 3, 3], [2, 1, 3, 3], [as('auto_pad', mode), ais('strides', [2, 2])], true);
    want = convTRef(r.x, [1, 2, 3, 3], r.w, [2, 1, 3, 3], r.b, { s: [2, 2], d: [1, 1], group: 1, pb: [...pb], pe: [...pe], op: [0, 0] });
    near(t, r.y, [1, 1, 6, 6], want.y, 1e-5, 1e-5);
  }
  r = convT(t, [2, 2, 5], [2, 3, 3], [ais('strides', [2]), ais('pads', [1, 2])], true, 1);
  want = convTRef(r.x, [2, 2, 1, 5], r.w, [2, 3, 1, 3], r.b, { s: [1, 2], d: [1, 1], group: 1, pb: [0, 1], pe: [0, 2], op: [0, 0] });
  near(t, r.y, [2, 3, 8], want.y, 1e-5, 1e-5);
  refused(t, model([{ opType: 'ConvTranspose', input: ['x', 'W'], output: ['y'] }], [vi('x', [1, 1, 2, 2, 2])], [f32i('W', [1, 1, 1, 1, 1], [1])]),
    /input of rank 5/);
});

test('an imported ConvTranspose trains: gradients of W and B match finite differences', (t) => {
  const r = importOnnx(model([
    { opType: 'ConvTranspose', input: ['x', 'W', 'B'], output: ['c'], attribute: [ai('group', 2), ais('strides', [2, 1]), ais('pads', [0, 1, 1, 0]), ais('output_padding', [1, 0])] },
    { opType: 'Mul', input: ['c', 'c'], output: ['sq'] },
    { opType: 'ReduceSum', input: ['sq'], output: ['y'], attribute: [ai('keepdims', 0)] },
  ], [vi('x', [1, 4, 3, 3])], [f32i('W', [4, 1, 2, 3], vals(24, 8)), f32i('B', [2], [0.3, -0.2])]));
  const report = gradcheck(r.graph, { inputs: { ...r.values, x: ft([1, 4, 3, 3], vals(36, 9)) }, wrt: ['W', 'B'] });
  t.true(report.ok, report.text);
});

// ------------------------------------------------------------- the shipped node tests

const SHIPPED = [
  'depthtospace_crd_mode', 'depthtospace_crd_mode_example', 'depthtospace_dcr_mode', 'depthtospace_example', 'spacetodepth', 'spacetodepth_example',
  'constant_pad', 'edge_pad', 'reflect_pad', 'mvn', 'shrink_hard', 'shrink_soft', 'lrn', 'lrn_default',
  'eyelike_populate_off_main_diagonal', 'eyelike_without_dtype', 'onehot_with_axis', 'onehot_negative_indices', 'convtranspose', 'convtranspose_1d', 'convtranspose_autopad_same',
  'convtranspose_dilations', 'convtranspose_kernel_shape', 'convtranspose_output_shape', 'convtranspose_pad', 'convtranspose_pads', 'convtranspose_with_kernel',
].map((n) => `test_${n}`);

test('the shipped ONNX node tests of these ops match on the reference (OneHot\'s depth folded by the harness; 3-D ConvTranspose is refused)', (t) => {
  if (!existsSync(join(ONNX_NODE_DIR, 'test_convtranspose'))) return t.pass('no ONNX test data');
  shippedOnReference(t, SHIPPED);
  for (const name of ['test_convtranspose_3d']) {
    const e = t.throws(() => loadCase(ONNX_NODE_DIR, name));
    t.regex(e!.message, /E0901: ConvTranspose \(opset 11\): input of rank 5/, name);
  }
});

// ------------------------------------------------------------- on the device

gpuTest('a chain of DepthToSpace, Pad (reflect), LRN, ConvTranspose (output_shape), SpaceToDepth, Shrink matches the reference on the device', async (t, ctx) => {
  const bytes = model([
    { opType: 'DepthToSpace', input: ['x'], output: ['a'], attribute: [ai('blocksize', 2), as('mode', 'CRD')] },
    { opType: 'Pad', input: ['a', 'pads'], output: ['b'], attribute: [as('mode', 'reflect')] },
    { opType: 'LRN', input: ['b'], output: ['c'], attribute: [ai('size', 3)] },
    { opType: 'ConvTranspose', input: ['c', 'W', 'B'], output: ['d'], attribute: [ais('strides', [2, 2]), ais('output_shape', [20, 20])] },
    { opType: 'SpaceToDepth', input: ['d'], output: ['e'], attribute: [ai('blocksize', 2)] },
    { opType: 'Shrink', input: ['e'], output: ['y'], attribute: [af('lambd', 0.1), af('bias', 0.05)] },
  ], [vi('x', [1, 8, 3, 3])], [i64('pads', [8], [0, 0, 1, 2, 0, 0, 2, 1]), f32i('W', [2, 1, 3, 3], vals(18, 10)), f32i('B', [1], [0.1])]);
  const r = importOnnx(bytes);
  const feeds = { ...r.values, x: ft([1, 8, 3, 3], vals(72, 11)) };
  const want = interpret(r.graph, feeds)[0]!;
  t.deepEqual(want.shape, [1, 4, 10, 10]);
  const [got] = await runGraphOnGpu(r.graph, feeds, ctx);
  t.is(compareOutputs([got!], [want], TOLERANCE.f32), undefined);
});
