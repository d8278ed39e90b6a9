// The text-format parser: the design.md example, round trips through the
// printer for graphs covering every op, and the exact code and place of
// every error the parser reports.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  AmpcError, ERROR_CODES, Graph, Module, OP_NAMES, parseModule, printGraph, printModule, verifyModule,
} from '../ir/index.ts';
import type { OpName, TensorType, Value } from '../ir/index.ts';
import { fuseGraph } from '../passes/fusion.ts';
import { DESIGN_EXAMPLE } from './helpers/design-example.ts';

const f32 = (...shape: number[]): TensorType => ({ dtype: 'f32', shape });
const f16 = (...shape: number[]): TensorType => ({ dtype: 'f16', shape });
const i32 = (...shape: number[]): TensorType => ({ dtype: 'i32', shape });

test('parses the example of design.md', (t) => {
  const m = parseModule(DESIGN_EXAMPLE, 'mlp.ir');
  t.is(m.file, 'mlp.ir');
  t.is(m.graphs.length, 1);
  const g = m.main;
  t.is(g.name, 'mlp');
  t.deepEqual(g.loc, { file: 'mlp.ir', line: 2, col: 7 });
  t.deepEqual(g.inputs.map((v) => [v.name, v.isParam, v.type.shape]), [
    ['x', false, [64, 784]],
    ['w1', true, [784, 256]],
    ['b1', true, [256]],
  ]);
  t.deepEqual(g.nodes.map((n) => n.op), ['matmul', 'add', 'relu']);
  t.deepEqual(g.nodes[0]!.attrs, { transpose_a: false, transpose_b: false, acc: 'f32' });
  t.deepEqual(g.nodes[1]!.loc, { file: 'mlp.ir', line: 4, col: 8 });
  t.is(g.nodes[1]!.operands[0], g.nodes[0]!.results[0]);
  t.is(g.nodes[1]!.operands[1], g.inputs[2]);
  t.deepEqual(g.outputs, g.nodes[2]!.results);
  verifyModule(m);
  t.is(printModule(m), DESIGN_EXAMPLE.slice(DESIGN_EXAMPLE.indexOf('graph @')));
});

// ---------------------------------------------------------------- round trips

function roundTrip(t: ExecutionContext, m: Module): string {
  verifyModule(m);
  const once = printModule(m);
  const parsed = parseModule(once, 'rt.ir');
  verifyModule(parsed);
  t.is(printModule(parsed), once);
  return once;
}

function moduleOf(...graphs: Graph[]): Module {
  const m = new Module();
  for (const g of graphs) m.add(g);
  return m;
}

function fusedBlock(): Graph {
  const g = fuseGraph(transformerGraph()).graph;
  g.name = 'fused_block';
  return g;
}

function elementwiseGraph(): Graph {
  const g = new Graph('elementwise');
  const x = g.addInput('x', f32(4, 8));
  const row = g.addInput('row', f32(8));
  const n = g.addInput('n', i32(4, 8));
  let v: Value = x;
  for (const op of ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'tanh', 'sigmoid', 'relu', 'sin', 'cos', 'floor',
    'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'erf', 'round', 'ceil', 'sign'] as const) v = g.add(op, [v]);
  v = g.add('gelu', [v]);
  v = g.add('gelu', [v], { approximate: 'tanh' });
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', 'mod'] as const) v = g.add(op, [v, row]);
  const cmps = (['equal', 'less', 'greater', 'less_equal', 'greater_equal'] as const).map((op) => g.add(op, [v, row]));
  const sel = g.add('select', [cmps[1]!, v, x]);
  const h = g.add('cast', [sel], { to: 'f16' });
  const back = g.add('cast', [h], { to: 'f32' });
  const ni = g.add('add', [g.add('neg', [n]), g.add('abs', [n])]);
  g.setOutputs([back, cmps[4]!, ni, g.add('isinf', [v]), g.add('isnan', [x]), g.add('sign', [n])]);
  return g;
}

function constantsGraph(): Graph {
  const g = new Graph('constants');
  const values = [0.5, Infinity, -Infinity, NaN, -0, 1e-7, 1.5e30, 3, -2.5, 65504, 5e-324, Number.MAX_VALUE, 0.1 + 0.2];
  const outs = values.map((value, i) => g.add('constant', [], { value }, { declared: [i % 2 ? f16(2, 2) : f32()], names: [i % 3 ? undefined : `c${i}`] }));
  outs.push(g.add('constant', [], { value: 7 }, { declared: [i32(3)] }));
  outs.push(g.add('constant', [], { value: 1 }, { declared: [{ dtype: 'bool', shape: [] }] }));
  g.setOutputs(outs);
  return g;
}

function cnnGraph(): Graph {
  const g = new Graph('cnn');
  const x = g.addInput('x', f32(8, 3, 32, 32));
  const w = g.addInput('conv1.weight', f32(16, 3, 3, 3), { param: true });
  const [gamma, beta] = ['bn.gamma', 'bn.beta'].map((nm) => g.addInput(nm, f32(16), { param: true }));
  const [mean, vr] = ['bn.running_mean', 'bn.running_var'].map((nm) => g.addInput(nm, f32(16)));
  const dw = g.addInput('dw', f32(16, 1, 3, 3), { param: true });
  const c = g.add('conv2d', [x, w], { padding: [1, 1, 1, 1] });
  const bn = g.addNode('batch_norm', [c, gamma!, beta!, mean!, vr!], { training: true, momentum: 0.01 }, { names: ['bn.y', 'bn.mean.new', 'bn.var.new'] });
  const r = g.add('relu', [bn.results[0]!]);
  const p = g.add('max_pool2d', [r], { kernel: [2, 2], stride: [2, 2] });
  const d2 = g.add('conv2d', [p, dw], { groups: 16, stride: [2, 2], padding: [1, 1, 1, 1], acc: 'f16' });
  const a = g.add('avg_pool2d', [d2], { kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], count_include_pad: true });
  const e = g.add('batch_norm', [a, gamma!, beta!, mean!, vr!], { epsilon: 1e-3 });
  const flat = g.add('reshape', [e], { shape: [8, 1024] });
  const wh = g.addInput('head', f32(10, 1024), { param: true });
  const logits = g.add('matmul', [flat, wh], { transpose_b: true });
  const lsm = g.add('log_softmax', [logits]);
  const labels = g.addInput('labels', i32(8));
  const ce = g.add('cross_entropy', [logits, labels], { reduction: 'sum' });
  const oh = g.add('one_hot', [labels], { classes: 10 });
  const mse = g.add('mse_loss', [g.add('softmax', [logits], { axis: 1 }), oh], { reduction: 'none' });
  g.setOutputs([lsm, ce, mse, bn.results[1]!, bn.results[2]!]);
  return g;
}

function transformerGraph(): Graph {
  const g = new Graph('block');
  const x = g.addInput('x', f32(2, 16, 64));
  const lg = g.addInput('ln.g', f32(64), { param: true });
  const lb = g.addInput('ln.b', f32(64), { param: true });
  const wq = g.addInput('wq', f32(64, 64), { param: true });
  const h = g.add('layer_norm', [x, lg, lb], { epsilon: 1e-6 });
  const q = g.add('matmul', [g.add('cast', [h], { to: 'f16' }), g.add('cast', [wq], { to: 'f16' })], { acc: 'f32' });
  const s = g.add('matmul', [q, q], { transpose_b: true, acc: 'f16' });
  const sm = g.add('softmax', [g.add('cast', [s], { to: 'f32' })]);
  const heads = g.add('transpose', [g.add('reshape', [h], { shape: [2, 16, 4, 16] })], { perm: [0, 2, 1, 3] });
  const b = g.add('broadcast_to', [lg], { shape: [2, 16, 64] });
  const sl = g.add('slice', [b], { starts: [0, 0, 0], ends: [2, 8, 64] });
  const cat = g.add('concat', [sl, sl], { axis: 1 });
  const red = [
    g.add('reduce_sum', [cat], { axes: [0, 2] }),
    g.add('reduce_mean', [cat], { axes: [-1], keepdims: true }),
    g.add('reduce_max', [cat], { axes: [1] }),
    g.add('reduce_prod', [cat], { axes: [0, -1], keepdims: true }),
    g.add('argmax', [cat], { axis: 1 }),
    g.add('argmin', [cat], { axis: -1, keepdims: true, select_last_index: true }),
    g.add('gather_elements', [cat, g.add('constant', [], { value: 3 }, { declared: [{ dtype: 'i32', shape: [2, 4, 5] }] })], { axis: -1 }),
    g.add('gather', [cat, g.add('constant', [], { value: -1 }, { declared: [{ dtype: 'i32', shape: [3, 2] }] })], { axis: 1 }),
    g.add('scatter_elements', [cat, g.add('constant', [], { value: 2 }, { declared: [{ dtype: 'i32', shape: [2, 4, 5] }] }), g.add('slice', [cat], { starts: [0, 0, 0], ends: [2, 4, 5] })],
      { axis: 1, reduction: 'max' }),
    g.add('cumsum', [cat], { axis: -2, exclusive: true, reverse: true }),
    g.add('resize', [cat], { sizes: [2, 24, 3], scales: [1, 1.5, 0.6], mode: 'cubic', coordinate_transformation_mode: 'tf_crop_and_resize',
      roi: [0, 0.25, 0, 1, 0.75, 1], cubic_coeff_a: -0.5, exclude_outside: true, extrapolation_value: -1 }),
  ];
  g.setOutputs([sm, heads, ...red]);
  return g;
}

/** The gradient ops autodiff emits, each once. */
function gradientOpsGraph(): Graph {
  const g = new Graph('gradients');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 4, 9, 9] });
  const w = g.addInput('w', { dtype: 'f32', shape: [6, 2, 3, 3] });
  const conv = { stride: [2, 2], padding: [1, 0, 1, 1], groups: 2 };
  const y = g.add('conv2d', [x, w], conv);
  const dx = g.add('conv2d_grad_input', [y, w], { input_shape: [2, 4, 9, 9], ...conv });
  const dw = g.add('conv2d_grad_weight', [x, y], { weight_shape: [6, 2, 3, 3], ...conv });
  const pool = { kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] };
  const p = g.add('max_pool2d', [x], pool);
  const dmax = g.add('max_pool2d_grad', [x, p], pool);
  const davg = g.add('avg_pool2d_grad', [p], { input_shape: [2, 4, 9, 9], ...pool, count_include_pad: true });
  const dgelu = g.add('gelu_grad', [x, dx], { approximate: 'tanh' });
  const dres = g.add('resize_grad', [g.add('resize', [x], { sizes: [2, 4, 18, 5], mode: 'linear' })], { input_shape: [2, 4, 9, 9], sizes: [2, 4, 18, 5], mode: 'linear' });
  const grid = g.addInput('grid', { dtype: 'f32', shape: [2, 3, 5, 2] });
  const gsa = { mode: 'bicubic', padding_mode: 'reflection', align_corners: true };
  const gy = g.add('grid_sample', [x, grid], gsa);
  const dgx = g.add('grid_sample_grad_input', [gy, grid], { input_shape: [2, 4, 9, 9], ...gsa });
  const dgg = g.add('grid_sample_grad_grid', [x, grid, gy], { mode: 'nearest', padding_mode: 'border' });
  g.setOutputs([dw, dmax, davg, dgelu, dres, dgx, dgg]);
  return g;
}

/** Generated values: random_uniform from a u32 seed (salt printed when not 0) and iota of each dtype. */
function generatedGraph(): Graph {
  const g = new Graph('generated');
  const seed = g.addInput('seed', { dtype: 'u32', shape: [] });
  const r = g.add('random_uniform', [seed], { shape: [4, 8], salt: 7 });
  const r0 = g.add('random_uniform', [seed], { shape: [] });
  const big = g.add('random_uniform', [seed], { shape: [3], salt: 4294967295 });
  const iotas = (['i32', 'u32', 'f32', 'f16'] as const).map((dtype, k) => g.add('iota', [], { shape: [2, 3, 4], axis: k - 2, dtype }));
  g.setOutputs([r, r0, big, ...iotas]);
  return g;
}

/** The loss-scaling op (ir/ops-amp.ts): several results, the last a bool. */
function lossScaleGraph(): Graph {
  const g = new Graph('unscale');
  const inv = g.addInput('inv', { dtype: 'f32', shape: [] });
  const a = g.addInput('ga', { dtype: 'f32', shape: [3, 4] });
  const b = g.addInput('gb', { dtype: 'f32', shape: [4] });
  const n = g.addNode('unscale_check', [inv, a, b]);
  const check = g.addNode('finite_check', [inv, a, b]);
  g.setOutputs([...n.results, ...check.results]);
  return g;
}

test('round trip: graphs built through addNode cover every op and print back unchanged', (t) => {
  // The fused op comes out of the fusion pass (its body is a graph printed after the node).
  const graphs = [elementwiseGraph(), constantsGraph(), cnnGraph(), transformerGraph(), gradientOpsGraph(), generatedGraph(), lossScaleGraph(), fusedBlock()];
  const used = new Set<OpName>(graphs.flatMap((g) => g.nodes.map((n) => n.op)));
  t.deepEqual(OP_NAMES.filter((op) => !used.has(op)), [], 'ops without a round-trip case');
  for (const g of graphs) roundTrip(t, moduleOf(g));
  const all = roundTrip(t, moduleOf(...graphs));
  t.is(all.match(/^graph @/gm)?.length, graphs.length);
});

test('round trip: batch_norm in training has three named results', (t) => {
  const text = roundTrip(t, moduleOf(cnnGraph()));
  t.regex(text, /^  %bn\.y, %bn\.mean\.new, %bn\.var\.new = batch_norm %0, %bn\.gamma, %bn\.beta, %bn\.running_mean, %bn\.running_var \{momentum = 0\.01, training = true\} : f32\[8,16,32,32\], f32\[16\], f32\[16\]$/m);
  t.regex(text, /= batch_norm %\d+, %bn\.gamma, %bn\.beta, %bn\.running_mean, %bn\.running_var \{epsilon = 0\.001, training = false\} : f32\[8,16,8,8\]$/m);
  const bn = parseModule(text).main.nodes.find((n) => n.op === 'batch_norm')!;
  t.deepEqual(bn.results.map((v) => v.name), ['bn.y', 'bn.mean.new', 'bn.var.new']);
});

test('round trip: constants keep inf, -inf, nan, -0.0, 1e-7 and the extremes', (t) => {
  const text = roundTrip(t, moduleOf(constantsGraph()));
  for (const s of ['inf', '-inf', 'nan', '-0.0', '1e-7', '1.5e+30', '5e-324', '1.7976931348623157e+308', '0.30000000000000004', '65504.0']) {
    t.true(text.includes(`{value = ${s}}`), s);
  }
  const values = parseModule(text).main.nodes.map((n) => n.attrs.value as number);
  t.true(Object.is(values[4], -0));
  t.true(Number.isNaN(values[3]));
  t.is(values[1], Infinity);
  t.is(values[2], -Infinity);
  t.is(values[5], 1e-7);
  t.is(values[12], 0.1 + 0.2);
});

test('round trip: several graphs in one module, names with dots, numeric names renumbered', (t) => {
  const src = `graph @a(%fc1.weight: f32[4,4] {param}, %x_0: f32[4,4]) -> (f32[4,4]) {
  %17 = matmul %x_0, %fc1.weight : f32[4,4]
  %h.1 = relu %17 : f32[4,4]
  %3 = neg %h.1 : f32[4,4]
  return %3
}
graph @b.v2(%5: f32[]) -> (f32[]) {
  %y = exp %5 : f32[]
  return %y
}
`;
  const m = parseModule(src);
  t.deepEqual(m.graphs.map((g) => g.name), ['a', 'b.v2']);
  t.deepEqual(m.graphs[0]!.nodes.map((n) => n.results[0]!.name), ['17', 'h.1', '3']);
  const text = roundTrip(t, m);
  t.is(text, `graph @a(%fc1.weight: f32[4,4] {param}, %x_0: f32[4,4]) -> (f32[4,4]) {
  %0 = matmul %x_0, %fc1.weight {acc = f32} : f32[4,4]
  %h.1 = relu %0 : f32[4,4]
  %1 = neg %h.1 : f32[4,4]
  return %1
}

graph @b.v2(%0: f32[]) -> (f32[]) {
  %y = exp %0 : f32[]
  return %y
}
`);
});

test('notes: a comment ending an instruction is its node\'s note, so a dump with notes parses back unchanged', (t) => {
  const text = [
    'graph @n(%x: f32[2], %s: f32[], %w: f32[2,2]) -> (f32[2,2]) {  // not a note: the header',
    '  // not a note: a line of its own',
    '  %0 = cast %x {to = f16} : f16[2]',
    '  %a, %b, %ok = unscale_check %s, %x, %x : f32[2], f32[2], bool[]  // three results: f32',
    '  %1 = mul %x, %w : f32[2,2]  // f32: promote(mul: f32 input %x); and more',
    '  return %1  // not a note: return',
    '}',
    '',
  ].join('\n');
  const g = parseModule(text, 'n.ir').main;
  t.deepEqual(g.nodes.map((n) => n.note), [undefined, 'three results: f32', 'f32: promote(mul: f32 input %x); and more']);
  const printed = printGraph(g);
  t.regex(printed, /%a, %b, %ok = unscale_check %s, %x, %x : f32\[2\], f32\[2\], bool\[\]  \/\/ three results: f32\n/);
  t.is(printGraph(parseModule(printed, 'again.ir').main), printed);
  t.notRegex(printed, /not a note/);
});

test('accepted syntax: empty module, comments only, no final newline, CRLF, tabs, empty attrs, zero-result graphs', (t) => {
  t.is(parseModule('').graphs.length, 0);
  t.is(parseModule('// nothing here\n   \n// at all').graphs.length, 0);
  const crlf = 'graph @g(%x: f32[2])\r\n  -> (f32[2]) {\r\n\t%0 = relu %x {} : f32[2] // c\r\n  return %0\r\n}';
  const g = parseModule(crlf, 'crlf.ir').main;
  t.deepEqual(g.nodes[0]!.loc, { file: 'crlf.ir', line: 3, col: 7 });
  t.is(printGraph(g), 'graph @g(%x: f32[2]) -> (f32[2]) {\n  %0 = relu %x : f32[2]  // c\n  return %0\n}\n');
  t.is(printGraph(parseModule('graph @e() -> () { return }').main), 'graph @e() -> () {\n  return\n}\n');
  const s = parseModule('graph @s(%x: f32[3]) -> (f32[3]) { %0 = gelu %x {approximate = "\\u0074anh"} : f32[3] return %0 }').main;
  t.is(s.nodes[0]!.attrs.approximate, 'tanh');
});

test('a leading byte-order mark is skipped; one elsewhere is a lexical error', (t) => {
  t.is(parseModule(`\ufeff${DESIGN_EXAMPLE}`).main.nodes.length, 3);
  const e = t.throws(() => parseModule(`graph @g() -> () {\n \ufeff return\n}`), { instanceOf: AmpcError });
  t.is(e?.code, 'E0001');
  t.deepEqual([e?.loc?.line, e?.loc?.col], [2, 2]);
});

test('the parser is reusable after an error', (t) => {
  t.throws(() => parseModule('graph @g(%x: f32[2]) -> (f32[2]) { %0 = relu [[[ '), { instanceOf: AmpcError });
  t.throws(() => parseModule('graph @g('), { instanceOf: AmpcError });
  t.is(parseModule(DESIGN_EXAMPLE).main.nodes.length, 3);
});

// ---------------------------------------------------------------- errors

interface ErrorCase {
  readonly name: string;
  readonly src: string;
  readonly code: keyof typeof ERROR_CODES;
  readonly at: [number, number];
  readonly message?: RegExp;
}

const G = (body: string, sig = '(%x: f32[4], %y: f32[4]) -> (f32[4])') => `graph @g${sig} {\n${body}\n}\n`;

const ERROR_CASES: ErrorCase[] = [
  { name: 'unexpected character', src: G('  %0 = relu %x # : f32[4]\n  return %0'), code: 'E0001', at: [2, 16], message: /unexpected character '#'/ },
  { name: 'control character', src: G('  %0 = relu\u0000 %x : f32[4]\n  return %0'), code: 'E0001', at: [2, 12], message: /U\+0000/ },
  { name: 'non-ASCII character, column in UTF-16 units', src: G('  %0 = relu %x : f32[4] // é\n  %1 = neg %0 é : f32[4]\n  return %1'), code: 'E0001', at: [3, 15], message: /U\+00E9/ },
  { name: 'astral character', src: 'graph @g() -> () {\n  \u{1F600} return\n}', code: 'E0001', at: [2, 3], message: /U\+1F600/ },
  { name: 'unterminated string', src: G('  %0 = gelu %x {approximate = "tanh} : f32[4]\n  return %0'), code: 'E0001', at: [2, 31], message: /unterminated string/ },
  { name: 'bad escape', src: G('  %0 = gelu %x {approximate = "\\x41"} : f32[4]\n  return %0'), code: 'E0001', at: [2, 31] },
  { name: 'missing colon', src: G('  %0 = add %x %y : f32[4]\n  return %0'), code: 'E0002', at: [2, 15], message: /^expected ':' but found '%y'$/ },
  { name: 'missing return', src: G('  %0 = relu %x : f32[4]'), code: 'E0002', at: [3, 1], message: /^expected 'return' but found '\}'$/ },
  { name: 'end of input', src: 'graph @g(%x: f32[4]) -> (f32[4]) {\n  %0 = relu %x', code: 'E0002', at: [2, 15], message: /^expected ':' but found end of input$/ },
  { name: 'trailing garbage', src: `${DESIGN_EXAMPLE}}`, code: 'E0002', at: [8, 1], message: /expected 'graph' or end of input but found '\}'/ },
  { name: 'bad input flag', src: G('  return %x', '(%x: f32[4] {weights}) -> (f32[4])'), code: 'E0002', at: [1, 22], message: /expected 'param' but found 'weights'/ },
  { name: 'keyword as op', src: G('  %0 = return %x : f32[4]\n  return %0'), code: 'E0002', at: [2, 8], message: /expected an identifier but found 'return'/ },
  { name: 'trailing comma', src: G('  %0 = add %x, %y, : f32[4]\n  return %0'), code: 'E0002', at: [2, 20], message: /expected a value name \(%x\) but found ':'/ },
  { name: 'lists nested too deep', src: G(`  %0 = relu %x {a = ${'['.repeat(40)}} : f32[4]\n  return %0`), code: 'E0002', at: [2, 53], message: /nested more than 32 deep/ },
  { name: 'value name with a dash', src: G('  %a-b = relu %x : f32[4]\n  return %a'), code: 'E0001', at: [2, 5] },
  { name: 'unknown op with a suggestion', src: G('  %0 = rleu %x : f32[4]\n  return %0'), code: 'E0003', at: [2, 8], message: /unknown op 'rleu' \(did you mean 'relu'\?\)/ },
  { name: 'unknown op, case', src: G('  %0 = MatMul %x, %y : f32[4]\n  return %0'), code: 'E0003', at: [2, 8], message: /did you mean 'matmul'/ },
  { name: 'unknown op without a suggestion', src: G('  %0 = frobnicate %x : f32[4]\n  return %0'), code: 'E0003', at: [2, 8], message: /^unknown op 'frobnicate'$/ },
  { name: 'undefined operand', src: G('  %0 = add %x, %z : f32[4]\n  return %0'), code: 'E0004', at: [2, 16], message: /use of undefined value %z/ },
  { name: 'undefined return', src: G('  %0 = relu %x : f32[4]\n  return %1'), code: 'E0004', at: [3, 10] },
  { name: 'redefinition', src: G('  %0 = relu %x : f32[4]\n  %0 = relu %x : f32[4]\n  return %0'), code: 'E0005', at: [3, 3], message: /%0 is already defined \(at 2:3\)/ },
  { name: 'input twice', src: G('  return %x', '(%x: f32[4], %x: f32[4]) -> (f32[4])'), code: 'E0005', at: [1, 22] },
  { name: 'result shadows an input', src: G('  %y = relu %x : f32[4]\n  return %y'), code: 'E0005', at: [2, 3] },
  { name: 'unknown dtype', src: G('  %0 = relu %x : float32[4]\n  return %0'), code: 'E0006', at: [2, 18], message: /unknown dtype 'float32'/ },
  { name: 'negative extent', src: G('  return %x', '(%x: f32[4, -1]) -> (f32[4])'), code: 'E0006', at: [1, 21], message: /negative extent -1/ },
  { name: 'huge extent', src: G('  return %x', '(%x: f32[2147483648]) -> (f32[4])'), code: 'E0006', at: [1, 18], message: /too large/ },
  { name: 'float extent', src: G('  return %x', '(%x: f32[1.5]) -> (f32[4])'), code: 'E0006', at: [1, 18], message: /extent 1\.5 is not an integer/ },
  { name: 'duplicate attribute', src: G('  %0 = softmax %x {axis = 0, axis = 0} : f32[4]\n  return %0'), code: 'E0007', at: [2, 30] },
  { name: 'unknown attribute', src: G('  %0 = softmax %x {dim = 0} : f32[4]\n  return %0'), code: 'E0101', at: [2, 20], message: /softmax: unknown attribute 'dim' \(known: axis\)/ },
  { name: 'prototype key', src: G('  %0 = softmax %x {__proto__ = 0} : f32[4]\n  return %0'), code: 'E0101', at: [2, 20] },
  { name: 'attribute kind', src: G('  %0 = softmax %x {axis = 0.0} : f32[4]\n  return %0'), code: 'E0102', at: [2, 27], message: /expects an integer/ },
  { name: 'nested list for ints', src: G('  %0 = reshape %x {shape = [[4]]} : f32[4]\n  return %0'), code: 'E0102', at: [2, 28] },
  { name: 'string for dtype', src: G('  %0 = cast %x {to = "f16"} : f16[4]\n  return %0'), code: 'E0102', at: [2, 22] },
  { name: 'missing attribute', src: G('  %0 = cast %x : f16[4]\n  return %0'), code: 'E0103', at: [2, 8], message: /cast: missing required attribute 'to'/ },
  { name: 'attribute out of range', src: G('  %0 = gelu %x {approximate = "erf"} : f32[4]\n  return %0'), code: 'E0104', at: [2, 8] },
  { name: 'huge integer attribute', src: G('  %0 = softmax %x {axis = -99999999999999999999} : f32[4]\n  return %0'), code: 'E0104', at: [2, 27], message: /out of range/ },
  { name: 'shape mismatch', src: G('  %0 = matmul %a, %b : f32[2,2]\n  return %0', '(%a: f32[2,3], %b: f32[4,2]) -> (f32[2,2])'), code: 'E0201', at: [2, 8], message: /^matmul: inner dimensions differ \(3 vs 4\)$/ },
  { name: 'broadcast', src: G('  %0 = add %a, %b : f32[2,3]\n  return %0', '(%a: f32[2,3], %b: f32[2]) -> (f32[2,3])'), code: 'E0202', at: [2, 8] },
  { name: 'rank', src: G('  %0 = max_pool2d %x {kernel = [1, 1]} : f32[4]\n  return %0'), code: 'E0203', at: [2, 8] },
  { name: 'axis', src: G('  %0 = softmax %x {axis = 1} : f32[4]\n  return %0'), code: 'E0204', at: [2, 8] },
  { name: 'dtype mismatch', src: G('  %0 = add %x, %h : f32[4]\n  return %0', '(%x: f32[4], %h: f16[4]) -> (f32[4])'), code: 'E0205', at: [2, 8] },
  { name: 'dtype not supported', src: G('  %0 = sqrt %i : i32[4]\n  return %x', '(%x: f32[4], %i: i32[4]) -> (f32[4])'), code: 'E0206', at: [2, 8] },
  { name: 'declared type differs', src: G('  %0 = relu %x : f32[2,2]\n  return %x'), code: 'E0301', at: [2, 8], message: /relu: result 0 is f32\[4\], but f32\[2,2\] is declared/ },
  { name: 'return type differs', src: G('  return %x', '(%x: f32[4]) -> (f16[4])'), code: 'E0301', at: [2, 10], message: /returned value %x is f32\[4\], but the signature declares f16\[4\]/ },
  { name: 'results vs types', src: G('  %0, %1 = relu %x : f32[4]\n  return %0'), code: 'E0302', at: [2, 12], message: /2 result name\(s\) on the left but 1 type\(s\) declared/ },
  { name: 'op result count', src: G('  %0, %1 = relu %x : f32[4], f32[4]\n  return %0'), code: 'E0302', at: [2, 12], message: /produces 1 result\(s\), 2 declared/ },
  { name: 'constant without a type is a syntax error', src: G('  %0 = constant {value = 1.0}\n  return %0'), code: 'E0002', at: [3, 3] },
  { name: 'operand count', src: G('  %0 = select %x, %y : f32[4]\n  return %0'), code: 'E0303', at: [2, 8], message: /select: expects 3 operand\(s\), got 2/ },
  { name: 'return count', src: G('  return %x, %y'), code: 'E0401', at: [2, 3], message: /return has 2 value\(s\) but the signature declares 1 result\(s\)/ },
  { name: 'graph defined twice', src: `${G('  return %x')}${G('  return %y')}`, code: 'E0403', at: [4, 7], message: /graph @g is defined twice \(first at 1:7\)/ },
];

for (const c of ERROR_CASES) {
  test(`error ${c.code}: ${c.name}`, (t) => {
    const e = t.throws(() => parseModule(c.src, 'bad.ir'), { instanceOf: AmpcError });
    if (!e) return;
    t.is(e.code, c.code, e.message);
    t.deepEqual([e.loc?.line, e.loc?.col], c.at, e.message);
    t.is(e.loc?.file, 'bad.ir');
    t.true(e.message.startsWith(`bad.ir:${c.at[0]}:${c.at[1]}: error ${c.code}: `), e.message);
    if (c.message) t.regex(e.detail, c.message);
  });
}

test('every error code the parser reports has a case', (t) => {
  const covered = new Set(ERROR_CASES.map((c) => c.code));
  const expected = ['E0001', 'E0002', 'E0003', 'E0004', 'E0005', 'E0006', 'E0007', 'E0101', 'E0102', 'E0103', 'E0104',
    'E0201', 'E0202', 'E0203', 'E0204', 'E0205', 'E0206', 'E0301', 'E0302', 'E0303', 'E0401', 'E0403'] as const;
  t.deepEqual(expected.filter((c) => !covered.has(c)), []);
});

test('the first error in file order is reported, whatever its kind', (t) => {
  const src = G('  %0 = relu %nope : f32[4]\n  %1 = add %0 %0 : f32[4]\n  return %1');
  const e = t.throws(() => parseModule(src), { instanceOf: AmpcError });
  t.is(e?.code, 'E0004');
  t.is(e?.loc?.line, 2);
  const twice = `${G('  return %x')}${G('  return %x $')}`;
  t.is(t.throws(() => parseModule(twice), { instanceOf: AmpcError })?.code, 'E0001');
  const dupFirst = `${G('  return %x')}${G('  %0 = relu %x : f32[4]\n  %0 = add %x : f32[4]')}`;
  t.is(t.throws(() => parseModule(dupFirst), { instanceOf: AmpcError })?.code, 'E0403');
});

test('errors without a file name still have a place', (t) => {
  const e = t.throws(() => parseModule('graph @g( -> () { return }'), { instanceOf: AmpcError });
  t.is(e?.loc?.file, undefined);
  t.deepEqual([e?.loc?.line, e?.loc?.col], [1, 11]);
  t.regex(e?.message ?? '', /^<input>:1:11: error E0002: /);
});
