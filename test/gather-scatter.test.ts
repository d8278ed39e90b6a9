// gather (ONNX Gather, numpy take) and scatter_elements (ONNX
// ScatterElements): the reference against values computed here by hand and
// by plain loops (negative and out-of-range indices, duplicates, every
// reduction), type errors, the gradients (explicit scatter-adds and the
// winner-only rule of `none`), the tracing API, the ONNX mapping (Gather,
// ScatterElements, Scatter, GatherND, ScatterND; the node tests on the
// reference), and the adapter against the reference in every f16 mode,
// forward and backward.

import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { importOnnx } from '../compiler/onnx/import.ts';
import { Graph } from '../ir/graph.ts';
import { isAmpcError } from '../ir/errors.ts';
import { evalOp, interpret } from '../ir/interp/interpret.ts';
import { fromNested, hostTensor, toNested } from '../ir/interp/tensor.ts';
import type { Nested } from '../ir/interp/tensor.ts';
import { gather, scatterElements, trace } from '../ir/trace/index.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { checkAgainstReference, MODES, seededValues } from './helpers/compare.ts';
import { modeTest } from './helpers/gpu.ts';
import { compareOutputs, loadCase, ONNX_NODE_DIR } from './helpers/onnx-conformance.ts';
import { checkPieces, input } from './helpers/pieces.ts';

const { onnx } = onnxProto;

const take = (x: Nested, idx: Nested, axis: number, dtype: 'f32' | 'i32' = 'f32') =>
  toNested(evalOp('gather', [fromNested(dtype, x), fromNested('i32', idx)], { axis })[0]!);
const scatter = (x: Nested, idx: Nested, u: Nested, axis: number, reduction = 'none', dtype: 'f32' | 'i32' = 'f32') =>
  toNested(evalOp('scatter_elements', [fromNested(dtype, x), fromNested('i32', idx), fromNested(dtype, u)], { axis, reduction })[0]!);

test('gather: ONNX examples, index tensors of any rank, negative indices, a scalar index', (t) => {
  const x = [[1, 1.2], [2.3, 3.4], [4.5, 5.7]];
  t.deepEqual(take(x, [[0, 1], [1, 2]], 0), [[[1, 1.2], [2.3, 3.4]], [[2.3, 3.4], [4.5, 5.7]]]);
  const y = [[1, 1.2, 1.9], [2.3, 3.4, 3.9], [4.5, 5.7, 5.9]];
  t.deepEqual(take(y, [[0, 2]], 1), [[[1, 1.9]], [[2.3, 3.9]], [[4.5, 5.9]]]);
  t.deepEqual(take([10, 20, 30], [-1, -3, 1], 0), [30, 10, 20]);
  t.deepEqual(take(y, 1, -1), [1.2, 3.4, 5.7]);
  t.deepEqual(take(y, [], 0), []);
});

test('gather: an index outside [-n, n) gives 0; integer data; matches a plain loop on rank 3', (t) => {
  t.deepEqual(take([[1, 2], [3, 4]], [2, -3, 1], 0), [[0, 0], [0, 0], [3, 4]]);
  t.deepEqual(take([5, 6, 7], [[2, -4], [0, 3]], 0, 'i32'), [[7, 0], [5, 0]]);
  const xs = seededValues(3, 2 * 5 * 3, -2, 2);
  const iv = [4, -1, 0, 9, 2, -6];
  const got = evalOp('gather', [hostTensor('f32', [2, 5, 3], xs), hostTensor('i32', [3, 2], iv)], { axis: 1 })[0]!;
  t.deepEqual(got.shape, [2, 3, 2, 3]);
  const want: number[] = [];
  for (let a = 0; a < 2; a++) for (const j of iv) for (let c = 0; c < 3; c++) want.push(j >= -5 && j < 5 ? xs[a * 15 + ((j + 5) % 5) * 3 + c]! : 0);
  t.deepEqual([...got.data], want);
});

test('scatter_elements: ONNX examples, negative indices, smaller indices, out-of-range ones dropped', (t) => {
  t.deepEqual(scatter([[1, 2, 3, 4, 5]], [[1, 3]], [[1.1, 2.1]], 1), [[1, 1.1, 3, 2.1, 5]]);
  t.deepEqual(scatter([[1, 2, 3, 4, 5]], [[1, -3]], [[1.1, 2.1]], 1), [[1, 1.1, 2.1, 4, 5]]);
  const zeros = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  t.deepEqual(scatter(zeros, [[1, 0, 2], [0, 2, 1]], [[1, 1.1, 1.2], [2, 2.1, 2.2]], 0), [[2, 1.1, 0], [1, 0, 2.2], [0, 2.1, 1.2]]);
  t.deepEqual(scatter([[1, 2, 3], [4, 5, 6]], [[2], [0]], [[9], [8]], -1), [[1, 2, 9], [8, 5, 6]]);
  t.deepEqual(scatter([1, 2, 3], [3, -4, 0], [7, 8, 9], 0), [9, 2, 3]);
});

test('scatter_elements: duplicates apply in order along the axis (none: the last wins); add, mul, max, min', (t) => {
  const x = [[1, 2, 3, 4, 5]];
  t.deepEqual(scatter(x, [[1, 1]], [[1.5, 2.5]], 1), [[1, 2.5, 3, 4, 5]]);
  t.deepEqual(scatter(x, [[1, 1]], [[1.5, 2.5]], 1, 'add'), [[1, 6, 3, 4, 5]]);
  t.deepEqual(scatter(x, [[1, 1]], [[1.5, 2.5]], 1, 'mul'), [[1, 7.5, 3, 4, 5]]);
  t.deepEqual(scatter(x, [[1, 1, 4]], [[1.5, 2.5, 0]], 1, 'max'), [[1, 2.5, 3, 4, 5]]);
  t.deepEqual(scatter(x, [[1, 1, 4]], [[1.5, 2.5, 0]], 1, 'min'), [[1, 1.5, 3, 4, 0]]);
  t.deepEqual(scatter([[1, 2], [3, 4]], [[1, 0], [1, 0]], [[10, 20], [30, 40]], 0), [[1, 40], [30, 4]]);
  t.deepEqual(scatter([2, 3], [0, 0, 1], [3, -4, 5], 0, 'mul', 'i32'), [-24, 15]);
  t.true(Number.isNaN((scatter([1, 2], [0], [NaN], 0, 'max') as number[])[0]!));
});

test('type rules', (t) => {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
  const code = (f: () => unknown) => {
    const e = t.throws(f);
    t.true(isAmpcError(e));
    return (e as unknown as { code: string }).code;
  };
  const i = (shape: number[], dtype: 'i32' | 'f32' = 'i32') => g.addInput(`i${g.inputs.length}`, { dtype, shape });
  t.is(code(() => g.add('gather', [x, i([2], 'f32')])), 'E0206');
  t.is(code(() => g.add('gather', [x, i([2])], { axis: 2 })), 'E0204');
  t.is(code(() => g.add('gather', [g.addInput('e', { dtype: 'f32', shape: [0, 2] }), i([1])])), 'E0201');
  t.deepEqual(g.add('gather', [x, i([4, 5])], { axis: 1 }).type.shape, [2, 4, 5]);
  t.deepEqual(g.add('gather', [x, i([])], { axis: 0 }).type.shape, [3]);
  const u = (shape: number[]) => g.addInput(`u${g.inputs.length}`, { dtype: 'f32', shape });
  t.is(code(() => g.add('scatter_elements', [x, i([2]), u([2])])), 'E0203');
  t.is(code(() => g.add('scatter_elements', [x, i([2, 2]), u([2, 1])])), 'E0201');
  t.is(code(() => g.add('scatter_elements', [x, i([2, 4]), u([2, 4])])), 'E0201');
  t.is(code(() => g.add('scatter_elements', [x, i([1, 2]), g.addInput('h', { dtype: 'f16', shape: [1, 2] })])), 'E0205');
  t.is(code(() => g.add('scatter_elements', [x, i([1, 2]), u([1, 2])], { reduction: 'sum' })), 'E0104');
  t.deepEqual(g.add('scatter_elements', [x, i([5, 1]), u([5, 1])], { axis: 0, reduction: 'add' }).type.shape, [2, 3]);
});

/** loss = sum(op(x, ...) · w): the interpreter's gradients of x and (for scatter) of the updates. */
function grads(op: 'gather' | 'scatter_elements', xs: number[], is: number[], attrs: Record<string, string | number>, iv: number[], xv: number[], uv?: number[]) {
  const g = new Graph('t');
  const x = g.addInput('x', { dtype: 'f32', shape: xs }, { param: true });
  const idx = g.addInput('idx', { dtype: 'i32', shape: is });
  const u = op === 'scatter_elements' ? [g.addInput('u', { dtype: 'f32', shape: is }, { param: true })] : [];
  const y = g.add(op, [x, idx, ...u], attrs);
  const w = g.addInput('w', y.type);
  g.setOutputs([g.add('reduce_sum', [g.add('mul', [y, w])], { axes: y.type.shape.map((_, k) => k) })]);
  const wv = Array.from({ length: y.type.shape.reduce((a, b) => a * b, 1) }, (_, k) => k + 1);
  const ins = { x: hostTensor('f32', xs, xv), idx: hostTensor('i32', is, iv), w: hostTensor('f32', y.type.shape, wv), ...(uv ? { u: hostTensor('f32', is, uv) } : {}) };
  const r = interpret(gradientGraph(g), ins);
  return { wv, dx: [...r[1]!.data], du: uv ? [...r[2]!.data] : undefined };
}

test('gather gradient: the cotangent scatter-added into zeros (repeats add, out of range gets nothing)', (t) => {
  const iv = [2, -1, 0, 2, 7, -4];
  const { wv, dx } = grads('gather', [2, 3, 2], [3, 2], { axis: 1 }, iv, seededValues(1, 12));
  const want = new Array<number>(12).fill(0);
  for (let a = 0; a < 2; a++) {
    iv.forEach((j, p) => {
      if (j < -3 || j >= 3) return;
      for (let c = 0; c < 2; c++) want[a * 6 + ((j + 3) % 3) * 2 + c]! += wv[(a * 6 + p) * 2 + c]!;
    });
  }
  t.deepEqual(dx, want);
});

test('scatter_elements gradients: none zeroes the written places and only the winning update gets one; add passes it through', (t) => {
  // x [2, 3], axis 1; row 0 writes column 2 twice (the second wins) and column 0; row 1 column 1 twice and an out-of-range index.
  const iv = [2, -1, 0, 1, 3, 1];
  const none = grads('scatter_elements', [2, 3], [2, 3], { axis: 1, reduction: 'none' }, iv, seededValues(2, 6), seededValues(3, 6));
  t.deepEqual(none.dx, [0, 2, 0, 4, 0, 6]);
  t.deepEqual(none.du, [0, 3, 1, 0, 0, 5]);
  const add = grads('scatter_elements', [2, 3], [2, 3], { axis: 1, reduction: 'add' }, iv, seededValues(2, 6), seededValues(3, 6));
  t.deepEqual(add.dx, [1, 2, 3, 4, 5, 6]);
  t.deepEqual(add.du, [3, 3, 1, 5, 0, 5]);
});

test('scatter_elements with mul, max or min is not differentiable (E0405)', (t) => {
  for (const reduction of ['mul', 'max', 'min']) {
    const e = t.throws(() => grads('scatter_elements', [3], [2], { axis: 0, reduction }, [0, 1], [1, 2, 3], [4, 5]));
    t.is((e as unknown as { code: string }).code, 'E0405', reduction);
    t.regex(e!.message, new RegExp(`reduction '${reduction}' is not differentiable`));
  }
});

test('tracing: gather and scatterElements as functions and methods', (t) => {
  const g = trace((x, i) => {
    const a = gather(x, i, 1);
    const b = x.scatterElements(i.reshape([1, 2]), a.slice([0, 0], [1, 2]), 1, 'add');
    return [a, b, x.gather(i), scatterElements(x, i.reshape([1, 2]), a.slice([0, 0], [1, 2]), -1)];
  }, [{ dtype: 'f32', shape: [4, 3] }, { dtype: 'i32', shape: [2] }]);
  t.deepEqual(g.nodes.filter((n) => n.op === 'gather' || n.op === 'scatter_elements').map((n) => n.op), ['gather', 'scatter_elements', 'gather', 'scatter_elements']);
  const y = interpret(g, { x: hostTensor('f32', [4, 3], [...Array(12).keys()]), i: hostTensor('i32', [2], [2, -3]) });
  t.deepEqual([...y[0]!.data], [2, 0, 5, 3, 8, 6, 11, 9]);
  t.deepEqual([...y[1]!.data], [0, 1, 4, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

// ---------------------------------------------------------------- ONNX

type OnnxNode = { opType: string; input: string[]; output: string[]; name?: string; attribute?: onnxProto.onnx.IAttributeProto[] };
const vi = (name: string, shape: number[], elemType = 1): onnxProto.onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
const INT = onnx.AttributeProto.AttributeType.INT, STRING = onnx.AttributeProto.AttributeType.STRING;

function scatterModel(opType: string, opset: number, attrs: onnxProto.onnx.IAttributeProto[]): Uint8Array {
  const nodes: OnnxNode[] = [
    { opType: 'Cast', input: ['f'], output: ['i'], name: 'c', attribute: [{ name: 'to', type: INT, i: 7 }] },
    { opType, input: ['x', 'i', 'u'], output: ['y'], name: 's', attribute: attrs },
  ];
  const m = onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, input: [vi('x', [2, 3]), vi('f', [2, 2]), vi('u', [2, 2])], output: [vi('y', [2, 3])] },
  });
  return onnx.ModelProto.encode(m).finish();
}

test('ONNX: ScatterElements (reduction by opset) and Scatter map onto scatter_elements', (t) => {
  const feeds = { x: hostTensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]), f: hostTensor('f32', [2, 2], [2, 2, 0, -1]), u: hostTensor('f32', [2, 2], [10, 20, 30, 40]) };
  const run = (opType: string, opset: number, attrs: onnxProto.onnx.IAttributeProto[]) => {
    const r = importOnnx(scatterModel(opType, opset, attrs), { file: 's.onnx' });
    const n = r.graph.nodes.find((k) => k.op === 'scatter_elements')!;
    return { reduction: n.attrs.reduction, y: [...interpret(r.graph, feeds)[0]!.data] };
  };
  const axis1 = { name: 'axis', type: INT, i: 1 };
  t.deepEqual(run('ScatterElements', 11, [axis1]), { reduction: 'none', y: [1, 2, 20, 30, 5, 40] });
  t.deepEqual(run('ScatterElements', 16, [axis1, { name: 'reduction', type: STRING, s: new TextEncoder().encode('add') }]), { reduction: 'add', y: [1, 2, 33, 34, 5, 46] });
  t.deepEqual(run('ScatterElements', 18, [axis1, { name: 'reduction', type: STRING, s: new TextEncoder().encode('min') }]), { reduction: 'min', y: [1, 2, 3, 4, 5, 6] });
  t.deepEqual(run('Scatter', 9, [axis1]), { reduction: 'none', y: [1, 2, 20, 30, 5, 40] });
  const refused = (opset: number, red: string) => {
    const e = t.throws(() => run('ScatterElements', opset, [axis1, { name: 'reduction', type: STRING, s: new TextEncoder().encode(red) }]));
    t.is((e as unknown as { code: string }).code, 'E0901', `${red} at opset ${opset}`);
  };
  refused(16, 'max');
  refused(11, 'add');
});

test('ONNX: GatherND and ScatterND (batch_dims 0) on a flattened view; coordinates wrap once, out of range reads 0 / is dropped', (t) => {
  const nd = (opType: string, attrs: onnxProto.onnx.IAttributeProto[] = []) => {
    const withU = opType === 'ScatterND';
    const m = onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 18 }],
      graph: {
        name: 'g',
        node: [{ opType: 'Cast', input: ['f'], output: ['i'], name: 'c', attribute: [{ name: 'to', type: INT, i: 7 }] },
          { opType, input: ['x', 'i', ...(withU ? ['u'] : [])], output: ['y'], name: 'n', attribute: attrs }],
        input: [vi('x', [2, 3, 2]), vi('f', [4, 2]), ...(withU ? [vi('u', [4, 2])] : [])], output: [vi('y', withU ? [2, 3, 2] : [4, 2])],
      },
    });
    return importOnnx(onnx.ModelProto.encode(m).finish(), { file: 'nd.onnx' }).graph;
  };
  const xs = [...Array(12).keys()].map((k) => k + 1);
  const feeds = { x: hostTensor('f32', [2, 3, 2], xs), f: hostTensor('f32', [4, 2], [-1, 0, 0, 3, 1, -3, 1, 1]), u: hostTensor('f32', [4, 2], [10, 20, 30, 40, 50, 60, 70, 80]) };
  // (-1, 0) is (1, 0); (0, 3) is out of range; (1, -3) is (1, 0) again; then (1, 1).
  t.deepEqual([...interpret(nd('GatherND'), { x: feeds.x, f: feeds.f })[0]!.data], [7, 8, 0, 0, 7, 8, 9, 10]);
  const want = [...xs];
  want[6] = 50; want[7] = 60; want[8] = 70; want[9] = 80; // none: row (1, 0) twice (the last, [50, 60], wins) and (1, 1)
  t.deepEqual([...interpret(nd('ScatterND'), feeds)[0]!.data], want);
  const added = [...xs];
  added[6] += 10 + 50; added[7] += 20 + 60; added[8] += 70; added[9] += 80;
  t.deepEqual([...interpret(nd('ScatterND', [{ name: 'reduction', type: STRING, s: new TextEncoder().encode('add') }]), feeds)[0]!.data], added);
  const e = t.throws(() => nd('GatherND', [{ name: 'batch_dims', type: INT, i: 1 }]));
  t.is((e as unknown as { code: string }).code, 'E0901');
});

test('ONNX node tests of Gather, GatherND, Scatter, ScatterElements and ScatterND import and match on the reference', (t) => {
  const names = existsSync(ONNX_NODE_DIR)
    ? readdirSync(ONNX_NODE_DIR).filter((n) => /^test_(gather_\d|gather_2d|gather_negative|gathernd_example_(float32|int32)$|scatter_|scatternd)/.test(n))
    : [];
  if (names.length === 0) return t.pass('no ONNX test data');
  for (const name of names) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, { rtol: 1e-6, atol: 0 }), undefined, name);
  }
  t.is(names.length, 15);
});

// ---------------------------------------------------------------- adapter

/** Random indices in [-n - 2, n + 1]: negative ones and a few out of range. */
const indices = (seed: number, count: number, n: number) => seededValues(seed, count, -n - 2, n + 2).map(Math.floor);
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

for (const mode of MODES) {
  modeTest(mode, 'gather and scatter_elements on the adapter: axes, index ranks, duplicates, every reduction', async (t, ctx, dtype, f16Mode) => {
    const gathers = [
      { xs: [7], is: [12], axis: 0 },
      { xs: [5, 4], is: [3, 2], axis: 0 },
      { xs: [2, 6, 33], is: [5], axis: 1 },
      { xs: [3, 4, 5], is: [], axis: -1 },
    ];
    const scatters = [
      { xs: [9], is: [12], axis: 0 },
      { xs: [4, 6], is: [3, 6], axis: 0 },
      { xs: [3, 5, 7], is: [2, 9, 7], axis: 1 },
      { xs: [2, 3, 33], is: [2, 2, 40], axis: -1 },
    ];
    await checkPieces(t, ctx, f16Mode, [
      ...gathers.map((c, k) => ({
        what: `gather ${dtype}[${c.xs}] by [${c.is}] axis ${c.axis}`,
        build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
          const x = input(g, inputs, `${prefix}x`, dtype, c.xs, seededValues(10 + k, numel(c.xs), -4, 4));
          const idx = input(g, inputs, `${prefix}i`, 'i32', c.is, indices(20 + k, numel(c.is), c.xs.at(c.axis)!));
          return [g.add('gather', [x, idx], { axis: c.axis })];
        },
      })),
      ...scatters.flatMap((c, k) => ['none', 'add', 'mul', 'max', 'min'].map((reduction) => ({
        what: `scatter_elements ${reduction} ${dtype}[${c.xs}] by [${c.is}] axis ${c.axis}`,
        build: (g: Graph, prefix: string, inputs: Record<string, ReturnType<typeof hostTensor>>) => {
          const x = input(g, inputs, `${prefix}x`, dtype, c.xs, seededValues(30 + k, numel(c.xs), -2, 2));
          const idx = input(g, inputs, `${prefix}i`, 'i32', c.is, indices(40 + k, numel(c.is), c.xs.at(c.axis)!));
          const u = input(g, inputs, `${prefix}u`, dtype, c.is, seededValues(50 + k, numel(c.is), -2, 2));
          return [g.add('scatter_elements', [x, idx, u], { axis: c.axis, reduction })];
        },
      }))),
    ]);
  });

  modeTest(mode, 'gather and scatter_elements gradients on the adapter', async (t, ctx, dtype, f16Mode) => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype, shape: [3, 5, 4] }, { param: true });
    const i = g.addInput('i', { dtype: 'i32', shape: [2, 3] });
    const j = g.addInput('j', { dtype: 'i32', shape: [3, 4, 4] });
    const u = g.addInput('u', { dtype, shape: [3, 4, 4] }, { param: true });
    const a = g.add('gather', [x, i], { axis: 1 });
    const b = g.add('scatter_elements', [x, j, u], { axis: 1, reduction: 'none' });
    const c = g.add('scatter_elements', [x, j, u], { axis: 1, reduction: 'add' });
    const all = [a, b, c].map((v) => g.add('reduce_sum', [g.add('mul', [v, v])], { axes: v.type.shape.map((_, k) => k) }));
    g.setOutputs([g.add('add', [g.add('add', [all[0]!, all[1]!]), all[2]!])]);
    const inputs = {
      x: hostTensor(dtype, [3, 5, 4], seededValues(1, 60)),
      i: hostTensor('i32', [2, 3], indices(2, 6, 5)),
      j: hostTensor('i32', [3, 4, 4], indices(3, 48, 5)),
      u: hostTensor(dtype, [3, 4, 4], seededValues(4, 48)),
    };
    await checkAgainstReference(t, ctx, gradientGraph(g), inputs, f16Mode, { scale: 8 });
  });
}
