// ONNX control flow (compiler/onnx/ops/control-flow.ts): If, Scan and Loop
// imported inline into the static IR graph. Models built here with
// onnx-proto, imported, run on the reference interpreter and compared with
// values computed in this file (the branch taken by hand, running sums by
// loops); the shipped ONNX node tests on the reference; E0901 for the forms
// whose output shape would depend on run-time values; gradients of an
// imported If and Scan against finite differences; and one model on the device.

import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { importOnnx } from '../compiler/onnx/import.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { interpret } from '../ir/interp/interpret.ts';
import { gpuTest } from './helpers/gpu.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR, TOLERANCE } from './helpers/onnx-conformance.ts';
import { T, ai, ais, i64, f32i, vi, graphModel, ft, numel, vals, runAll, near, refused } from './helpers/onnx-build.ts';
import type { Attr, VI, TP, Node } from './helpers/onnx-build.ts';

interface Sub { nodes: Node[]; inputs?: VI[]; outputs: VI[]; name?: string }

const ag = (name: string, g: Sub): Attr => ({ name, type: T.GRAPH, g: { name: g.name ?? name, node: g.nodes, input: g.inputs ?? [], output: g.outputs } });
const bool = (name: string, v: boolean): TP => ({ name, dims: [], dataType: 9, int32Data: [v ? 1 : 0] });
const bt = (v: boolean): HostTensor => ({ dtype: 'bool', shape: [], data: Uint8Array.of(v ? 1 : 0) });

/** The graph's outputs are declared without a shape. */
const model = (nodes: Node[], inputs: VI[], outputs: string[], initializer: TP[] = [], opset = 13): Uint8Array =>
  graphModel(nodes, inputs, outputs.map((o) => vi(o, undefined)), initializer, opset);

// ------------------------------------------------------------- If

/** If(cond): then y = x + W, z = x·x; else y = x·V, z = 3 (a constant of the same shape). x, W, V from the outer scope. */
function ifModel(cond: 'input' | boolean, elseShape = [2, 3]): Uint8Array {
  const thenB: Sub = {
    nodes: [{ opType: 'Add', input: ['x', 'W'], output: ['ty'], name: 'add_w' }, { opType: 'Mul', input: ['x', 'x'], output: ['tz'] }],
    outputs: [vi('ty', [2, 3]), vi('tz', [2, 3])],
  };
  const elseB: Sub = {
    nodes: [{ opType: 'Mul', input: ['x', 'V'], output: ['ey'], name: 'mul_v' }, { opType: 'Constant', input: [], output: ['ez'], attribute: [{ name: 'value', type: T.TENSOR, t: f32i('', elseShape, new Array(numel(elseShape)).fill(3)) }] }],
    outputs: [vi('ey', [2, 3]), vi('ez', elseShape)],
  };
  return model(
    [{ opType: 'If', input: ['c'], output: ['y', 'z'], name: 'branch', attribute: [ag('then_branch', thenB), ag('else_branch', elseB)] }],
    [vi('x', [2, 3]), ...(cond === 'input' ? [vi('c', [], 9)] : [])], ['y', 'z'],
    [f32i('W', [2, 3], vals(6, 2)), f32i('V', [3], [0.5, -1, 2]), ...(cond === 'input' ? [] : [bool('c', cond)])], 11);
}

test('If with a run-time condition imports both branches and selects: both values of the condition match the branch computed here', (t) => {
  const x = vals(6, 1), W = vals(6, 2).map(Math.fround), V = [0.5, -1, 2];
  const bytes = ifModel('input');
  const r = importOnnx(bytes, { file: 'm.onnx' });
  t.is(r.graph.nodes.filter((n) => n.op === 'select').length, 2);
  const add = r.graph.nodes.find((n) => n.op === 'add')!;
  t.regex(add.loc!.node!, /node 'branch' \(If\) then_branch: node 'add_w' \(Add\)/);
  for (const c of [true, false]) {
    const [y, z] = runAll(bytes, { x: ft([2, 3], x), c: bt(c) });
    near(t, y!, [2, 3], x.map((v, i) => (c ? v + W[i]! : v * V[i % 3]!)));
    near(t, z!, [2, 3], x.map((v) => (c ? v * v : 3)));
  }
});

test('If with a condition known at import imports only the taken branch; branches of different shapes then work', (t) => {
  const x = vals(6, 1), W = vals(6, 2);
  for (const c of [true, false]) {
    const r = importOnnx(ifModel(c, [4]), { file: 'm.onnx' });
    t.false(r.graph.nodes.some((n) => n.op === 'select'));
    t.is(r.graph.nodes.some((n) => n.op === 'add'), c, 'then_branch imported only when taken');
    const [y, z] = interpret(r.graph, { ...r.values, x: ft([2, 3], x) });
    near(t, y!, [2, 3], x.map((v, i) => (c ? v + W[i]! : v * [0.5, -1, 2][i % 3]!)));
    if (c) near(t, z!, [2, 3], x.map((v) => v * v));
    else near(t, z!, [4], [3, 3, 3, 3]);
  }
});

test('If with a run-time condition and branches of different shapes is E0901', (t) => {
  refused(t, ifModel('input', [4]), /output 1 is f32\[2, 3\] in then_branch and f32\[4\] in else_branch: with a run-time condition its shape would depend on the condition/);
});

test('an imported If with a run-time condition trains: gradients of W and V match finite differences for both conditions', (t) => {
  const bytes = model([
    { opType: 'If', input: ['c'], output: ['y', 'z'], attribute: [
      ag('then_branch', { nodes: [{ opType: 'Add', input: ['x', 'W'], output: ['ty'] }, { opType: 'Mul', input: ['ty', 'W'], output: ['tz'] }], outputs: [vi('ty', [2, 3]), vi('tz', [2, 3])] }),
      ag('else_branch', { nodes: [{ opType: 'Mul', input: ['x', 'V'], output: ['ey'] }, { opType: 'Tanh', input: ['ey'], output: ['ez'] }], outputs: [vi('ey', [2, 3]), vi('ez', [2, 3])] }),
    ] },
    { opType: 'Mul', input: ['y', 'z'], output: ['p'] },
    { opType: 'ReduceSum', input: ['p'], output: ['l'], attribute: [ai('keepdims', 0)] },
  ], [vi('x', [2, 3]), vi('c', [], 9)], ['l'], [f32i('W', [2, 3], vals(6, 2)), f32i('V', [3], [0.5, -1, 2])], 11);
  const r = importOnnx(bytes);
  for (const c of [true, false]) {
    const report = gradcheck(r.graph, { inputs: { ...r.values, x: ft([2, 3], vals(6, 3)), c: bt(c) }, wrt: ['W', 'V'] });
    t.true(report.ok, `cond ${c}: ${report.text}`);
  }
});

// ------------------------------------------------------------- Scan

/** A body: s_out = s_in · a + x_t (a from the outer scope), out = s_out, and a second output x_t · 2. */
const sumBody = (shape: number[]): Sub => ({
  name: 'scan_body',
  nodes: [
    { opType: 'Mul', input: ['s_in', 'a'], output: ['sa'], name: 'scale' },
    { opType: 'Add', input: ['sa', 'x_t'], output: ['s_out'] },
    { opType: 'Identity', input: ['s_out'], output: ['o1'] },
    { opType: 'Add', input: ['x_t', 'x_t'], output: ['o2'] },
  ],
  inputs: [vi('s_in', shape), vi('x_t', shape)],
  outputs: [vi('s_out', shape), vi('o1', shape), vi('o2', shape)],
});

test('Scan (opset 11): a running sum over axis 1, reversed input, outputs on axes 0 and -1, one reversed; checked against a loop', (t) => {
  const xs = [2, 4, 3], x = vals(24, 4), s0 = vals(6, 5), a = 0.75;
  const bytes = model([{ opType: 'Scan', input: ['s0', 'x'], output: ['sN', 'y1', 'y2'], name: 'scan', attribute: [
    ag('body', sumBody([2, 3])), ai('num_scan_inputs', 1), ais('scan_input_axes', [1]), ais('scan_input_directions', [1]),
    ais('scan_output_axes', [0, -1]), ais('scan_output_directions', [0, 1]),
  ] }], [vi('s0', [2, 3]), vi('x', xs)], ['sN', 'y1', 'y2'], [f32i('a', [], [a])], 11);
  const [sN, y1, y2] = runAll(bytes, { s0: ft([2, 3], s0), x: ft(xs, x) });
  // Reference: t runs 0..3, reading x[:, 3 - t, :].
  let s = [...s0];
  const y1w: number[][] = [], y2w: number[][] = [];
  for (let k = 0; k < 4; k++) {
    const xt = Array.from({ length: 6 }, (_, f) => x[Math.floor(f / 3) * 12 + (3 - k) * 3 + (f % 3)]!);
    s = s.map((v, f) => v * a + xt[f]!);
    y1w.push([...s]);
    y2w.push(xt.map((v) => 2 * v));
  }
  near(t, sN!, [2, 3], s, 1e-6);
  near(t, y1!, [4, 2, 3], y1w.flat(), 1e-6);
  // y2 along the last axis [2, 3, 4], iterations in reverse order.
  near(t, y2!, [2, 3, 4], Array.from({ length: 24 }, (_, f) => y2w[3 - (f % 4)]![Math.floor(f / 4)]!), 1e-6);
});

test('Scan (opset 8): batch axis 0, each batch element unrolled; sequence_lens of full length accepted, shorter ones E0901', (t) => {
  const xs = [2, 3, 2], x = vals(12, 6), s0 = vals(4, 7), a = 1.5;
  const scan8 = (lens: number[] | undefined, dirs: number[]) => model([{ opType: 'Scan', input: [lens ? 'lens' : '', 's0', 'x'], output: ['sN', 'y1', 'y2'], attribute: [
    ag('body', sumBody([2])), ai('num_scan_inputs', 1), ais('directions', dirs),
  ] }], [vi('s0', [2, 2]), vi('x', xs)], ['sN', 'y1', 'y2'], [f32i('a', [], [a]), ...(lens ? [{ name: 'lens', dims: [2], dataType: 6, int32Data: lens }] : [])], 8);
  for (const [lens, rev] of [[undefined, false], [[3, 3], true]] as const) {
    const [sN, y1, y2] = runAll(scan8(lens ? [...lens] : undefined, [rev ? 1 : 0]), { s0: ft([2, 2], s0), x: ft(xs, x) });
    const sw: number[] = [], y1w: number[] = [], y2w: number[] = [];
    for (let b = 0; b < 2; b++) {
      let s = s0.slice(b * 2, b * 2 + 2);
      for (let k = 0; k < 3; k++) {
        const j = rev ? 2 - k : k;
        const xt = [x[b * 6 + j * 2]!, x[b * 6 + j * 2 + 1]!];
        s = s.map((v, f) => v * a + xt[f]!);
        y1w.push(...s);
        y2w.push(...xt.map((v) => 2 * v));
      }
      sw.push(...s);
    }
    near(t, sN!, [2, 2], sw);
    near(t, y1!, [2, 3, 2], y1w);
    near(t, y2!, [2, 3, 2], y2w);
  }
  refused(t, scan8([3, 2], [0]), /sequence_lens \[3, 2\] shorter than the scan length 3/);
});

test('a Scan body holding an If on a run-time condition of the enclosing graph (outer-scope names two levels up)', (t) => {
  const body: Sub = {
    nodes: [{ opType: 'If', input: ['c'], output: ['s_out'], name: 'inner_if', attribute: [
      ag('then_branch', { nodes: [{ opType: 'Add', input: ['s_in', 'x_t'], output: ['p'] }], outputs: [vi('p', [3])] }),
      ag('else_branch', { nodes: [{ opType: 'Mul', input: ['x_t', 'a'], output: ['q0'] }, { opType: 'Sub', input: ['s_in', 'q0'], output: ['q'] }], outputs: [vi('q', [3])] }),
    ] }],
    inputs: [vi('s_in', [3]), vi('x_t', [3])],
    outputs: [vi('s_out', [3])],
  };
  const bytes = model([{ opType: 'Scan', input: ['s0', 'x'], output: ['sN'], name: 'outer_scan', attribute: [ag('body', body), ai('num_scan_inputs', 1)] }],
    [vi('s0', [3]), vi('x', [4, 3]), vi('c', [], 9)], ['sN'], [f32i('a', [], [2])], 11);
  const r = importOnnx(bytes, { file: 'm.onnx' });
  const sub = r.graph.nodes.find((n) => n.op === 'sub')!;
  t.regex(sub.loc!.node!, /node 'outer_scan' \(Scan\) body iteration 0: node 'inner_if' \(If\) else_branch: node '#2' \(Sub\)/);
  const x = vals(12, 11), s0 = [0.5, -1, 1.5];
  for (const c of [true, false]) {
    const [sN] = interpret(r.graph, { ...r.values, s0: ft([3], s0), x: ft([4, 3], x), c: bt(c) });
    near(t, sN!, [3], s0.map((v, j) => v + (c ? 1 : -2) * [0, 1, 2, 3].reduce((a, k) => a + x[k * 3 + j]!, 0)), 1e-6);
  }
});

test('an imported Scan trains: gradients of the outer-scope a and the initial state match finite differences', (t) => {
  const bytes = model([
    { opType: 'Scan', input: ['s0', 'x'], output: ['sN', 'y1', 'y2'], attribute: [ag('body', sumBody([3])), ai('num_scan_inputs', 1)] },
    { opType: 'Mul', input: ['y1', 'y1'], output: ['sq'] },
    { opType: 'ReduceSum', input: ['sq'], output: ['l1'], attribute: [ai('keepdims', 0)] },
    { opType: 'ReduceSum', input: ['sN'], output: ['l2'], attribute: [ai('keepdims', 0)] },
    { opType: 'Add', input: ['l1', 'l2'], output: ['l'] },
  ], [vi('x', [4, 3])], ['l'], [f32i('a', [], [0.8]), f32i('s0', [3], [0.1, -0.4, 0.7])], 11);
  const r = importOnnx(bytes);
  const report = gradcheck(r.graph, { inputs: { ...r.values, x: ft([4, 3], vals(12, 8)) }, wrt: ['a', 's0'] });
  t.true(report.ok, report.text);
});

// ------------------------------------------------------------- Loop

/** Loop body: y_out = y_in + x[i mod 8] (x a constant, i the iteration), cond_out = i < stopAfter, scan out = y_out. */
function loopModel(trip: number | 'input' | undefined, cond: boolean | 'input' | undefined, stopAfter: number): Uint8Array {
  const body: Sub = {
    nodes: [
      { opType: 'Constant', input: [], output: ['k'], attribute: [{ name: 'value', type: T.TENSOR, t: i64('', [], [stopAfter]) }] },
      { opType: 'Less', input: ['i', 'k'], output: ['cond_out'] },
      { opType: 'Mod', input: ['i', 'eight'], output: ['im'] },
      { opType: 'Unsqueeze', input: ['im', 'zero'], output: ['i1'] },
      { opType: 'Gather', input: ['xs', 'i1'], output: ['xi'] },
      { opType: 'Add', input: ['y_in', 'xi'], output: ['y_out'] },
      { opType: 'Identity', input: ['y_out'], output: ['scan_out'] },
    ],
    inputs: [vi('i', [], 7), vi('cond_in', [], 9), vi('y_in', [1])],
    outputs: [vi('cond_out', [], 9), vi('y_out', [1]), vi('scan_out', [1])],
  };
  const ins = [trip === undefined ? '' : 'M', cond === undefined ? '' : 'cond', 'y'];
  return model([{ opType: 'Loop', input: ins, output: ['yN', 'ys'], attribute: [ag('body', body)] }],
    [vi('y', [1]), ...(trip === 'input' ? [vi('M', [], 7)] : []), ...(cond === 'input' ? [vi('cond', [], 9)] : [])], ['yN', 'ys'],
    [f32i('xs', [8], vals(8, 9)), i64('zero', [1], [0]), i64('eight', [], [8]),
      ...(typeof trip === 'number' ? [i64('M', [], [trip])] : []), ...(typeof cond === 'boolean' ? [bool('cond', cond)] : [])], 13);
}

test('Loop (opset 13) unrolls when the trip count and the condition are known at import: trip count, the body\'s condition, either ending it', (t) => {
  const xs = vals(8, 9), y0 = 0.25;
  const want = (n: number) => {
    const ys: number[] = [];
    let y = Math.fround(y0);
    for (let i = 0; i < n; i++) ys.push((y += xs[i]!));
    return ys;
  };
  for (const [trip, cond, stop, n] of [[5, true, 100, 5], [5, undefined, 2, 3], [undefined, true, 3, 4], [6, true, 0, 1]] as const) {
    const [yN, ys] = runAll(loopModel(trip, cond, stop), { y: ft([1], [y0]) });
    const w = want(n);
    near(t, yN!, [1], [w[n - 1]!], 1e-6);
    near(t, ys!, [n, 1], w, 1e-6);
  }
  refused(t, loopModel(4, false, 10), /a loop of no iterations with scan outputs/);
  refused(t, loopModel(undefined, undefined, 1e6), /more than 4096 iterations/);
});

test('Loop with a run-time condition or trip count is E0901', (t) => {
  refused(t, loopModel(5, 'input', 10), /the condition is known only at run time: the loop could stop early/);
  refused(t, loopModel('input', true, 10), /input 0 \(the trip count\) must be known at import/);
});

// ------------------------------------------------------------- the shipped node tests

test('the shipped If and Scan node tests match on the reference; test_loop11 (a run-time condition) is E0901', (t) => {
  if (!existsSync(join(ONNX_NODE_DIR, 'test_if'))) return t.pass('no ONNX test data');
  for (const name of ['test_if', 'test_scan_sum', 'test_scan9_sum']) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, TOLERANCE.f32), undefined, name);
  }
  const e = t.throws(() => loadCase(ONNX_NODE_DIR, 'test_loop11'));
  t.regex(e!.message, /E0901: Loop \(opset 11\): the condition is known only at run time/);
});

// ------------------------------------------------------------- on the device

gpuTest('an If with a run-time condition feeding a Scan matches the reference on the device, both conditions', async (t, ctx) => {
  const bytes = model([
    { opType: 'If', input: ['c'], output: ['x2'], attribute: [
      ag('then_branch', { nodes: [{ opType: 'Mul', input: ['x', 'x'], output: ['t'] }], outputs: [vi('t', [5, 3])] }),
      ag('else_branch', { nodes: [{ opType: 'Neg', input: ['x'], output: ['e'] }], outputs: [vi('e', [5, 3])] }),
    ] },
    { opType: 'Scan', input: ['s0', 'x2'], output: ['sN', 'y1', 'y2'], attribute: [ag('body', sumBody([3])), ai('num_scan_inputs', 1)] },
  ], [vi('x', [5, 3]), vi('c', [], 9)], ['y1'], [f32i('a', [], [0.5]), f32i('s0', [3], [1, 2, 3])], 11);
  const r = importOnnx(bytes);
  for (const c of [true, false]) {
    const feeds = { ...r.values, x: ft([5, 3], vals(15, 10)), c: bt(c) };
    const want = interpret(r.graph, feeds)[0]!;
    t.deepEqual(want.shape, [5, 3]);
    const [got] = await runGraphOnGpu(r.graph, feeds, ctx);
    t.is(compareOutputs([got!], [want], TOLERANCE.f32), undefined);
  }
});
