// The AMP precision pass and cast cleanup: the policy covers every op, the
// AMP graphs verify and round-trip, their interpreter outputs stay within
// f16's bounds of the f32 graph's, overrides change the result, and the cast
// cleanup rules fire (and never fold f32→f16→f32).
import test from 'ava';
import { readFileSync } from 'node:fs';
import type { Graph } from '../ir/graph.ts';
import { interpret, randomInputs } from '../ir/interp/index.ts';
import { OP_NAMES } from '../ir/ops.ts';
import type { OpName } from '../ir/ops.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { verifyGraph } from '../ir/verify.ts';
import { CAST_RULES, cleanupCasts } from '../passes/cast-cleanup.ts';
import { PIPELINES, runPipeline } from '../passes/pipeline.ts';
import type { PrecisionClass } from '../passes/precision.ts';
import { PRECISION_CLASSES, assignPrecision } from '../passes/precision.ts';

// Type-level: the table has exactly one class per op name.
const _exhaustive: { readonly [P in OpName]: PrecisionClass } = PRECISION_CLASSES;
void _exhaustive;

function graphsOf(file: string): Graph[] {
  const text = readFileSync(new URL(`./golden/amp/${file}`, import.meta.url), 'utf8');
  return text.split(/^\/\/ -----$/m).map((t) => parseModule(t, file).main);
}

function amp(g: Graph, options: Record<string, unknown> = {}, log?: (l: string) => void): Graph {
  return runPipeline(g, PIPELINES.amp!, { options, log });
}

const line = (g: Graph, name: string): string => printGraph(g).split('\n').find((l) => l.trimStart().startsWith(`%${name} =`)) ?? '';

test('every op has a precision class', (t) => {
  for (const op of OP_NAMES) t.true(['allow', 'deny', 'promote', 'follow'].includes(PRECISION_CLASSES[op]), op);
  t.is(Object.keys(PRECISION_CLASSES).length, OP_NAMES.length);
  t.is(PRECISION_CLASSES.matmul, 'allow');
  t.is(PRECISION_CLASSES.softmax, 'deny');
  t.is(PRECISION_CLASSES.add, 'promote');
  t.is(PRECISION_CLASSES.relu, 'follow');
});

for (const file of ['mlp.ir', 'attention.ir', 'cnn.ir']) {
  test(`${file}: AMP graphs verify, round-trip, and match the f32 graph within f16 bounds`, (t) => {
    for (const g of graphsOf(file)) {
      const a = amp(g);
      verifyGraph(a);
      const printed = printGraph(a);
      t.is(printGraph(parseModule(printed).main), printed, 'the dump, notes included, parses back to the same graph');
      t.deepEqual(a.outputs.map((v) => v.type), g.outputs.map((v) => v.type));
      t.deepEqual(a.inputs.map((v) => [v.name, v.type, v.isParam]), g.inputs.map((v) => [v.name, v.type, v.isParam]));
      for (const seed of [1, 2]) {
        const inputs = randomInputs(g, seed);
        const want = interpret(g, inputs);
        const got = interpret(a, inputs);
        want.forEach((w, i) => {
          const gdata = got[i]!.data;
          let scale = 1;
          for (const x of w.data) scale = Math.max(scale, Math.abs(Number(x)));
          for (let j = 0; j < w.data.length; j++) {
            const err = Math.abs(Number(gdata[j]) - Number(w.data[j]));
            // f16 keeps 11 significant bits; a few roundings per chain of ops.
            if (!(err <= 2e-2 * scale)) t.fail(`${g.name} output ${i}[${j}]: ${gdata[j]} vs ${w.data[j]} (scale ${scale})`);
          }
        });
      }
    }
    t.pass();
  });
}

test('every float node gets a note; summaries are logged', (t) => {
  const logs: string[] = [];
  const a = amp(graphsOf('cnn.ir')[0]!, {}, (l) => logs.push(l));
  for (const n of a.nodes) if (n.op !== 'cast') t.truthy(n.note, n.op);
  t.regex(logs[0]!, /^amp-precision: @cnn: 2 ops in f16, 5 in f32, \d+ casts inserted$/);
  t.regex(logs[1]!, /^cast-cleanup: @cnn: \d+ casts removed \(same-dtype \d+, fold-f16-f32-f16 \d+, share \d+, dead \d+\); f16 casts moved above relu 1, max_pool2d 1, reshape 1$/);
});

test('params are cast to f16 once per dtype and shared', (t) => {
  const a = amp(graphsOf('attention.ir')[0]!);
  const casts = a.nodes.filter((n) => n.op === 'cast').map((n) => `${n.operands[0]!.name}->${String(n.attrs.to)}`);
  t.is(new Set(casts).size, casts.length);
});

test('overrides: ampDeny, ampAllow and ampNodes change the result', (t) => {
  const mlp = graphsOf('mlp.ir')[0]!;
  const denied = amp(mlp, { ampDeny: ['matmul'] });
  t.regex(line(denied, 'h'), /: f32\[8,32\] {2}\/\/ f32: deny\(matmul\)$/);
  t.false(denied.nodes.some((n) => n.results.some((r) => r.type.dtype === 'f16')));

  const cnn = graphsOf('cnn.ir')[0]!;
  const allowed = amp(cnn, { ampAllow: ['relu'] });
  t.regex(line(allowed, 'r'), /: f16\[2,4,6,6\] {2}\/\/ f16: allow\(relu\)$/);
  t.regex(line(allowed, 'p'), /: f16\[2,4,3,3\] {2}\/\/ f16: follow\(max_pool2d\)$/);

  const node = amp(mlp, { ampNodes: { hb: 'f32' } });
  t.regex(line(node, 'hb'), /: f32\[8,32\] {2}\/\/ f32: override\(node %hb\)$/);
  // relu followed hb's f32, and the f16 cast for the next matmul moves above it (exact).
  t.regex(line(node, 'r'), /: f16\[8,32\] {2}\/\/ f16: follow\(relu\), the f16 cast after it moved above it \(exact: rounding commutes with relu\)$/);
  // A relu the user denies stays f32.
  const deniedRelu = amp(mlp, { ampNodes: { hb: 'f32' }, ampDeny: ['relu'] });
  t.regex(line(deniedRelu, 'r'), /: f32\[8,32\] {2}\/\/ f32: deny\(relu\)$/);
  t.throws(() => amp(mlp, { ampAllow: ['nope'] }), { message: /ampAllow: 'nope' is not an op name/ });
});

test('a bias param between f16 matmuls is cast down, not the activation up', (t) => {
  const { graph, stats } = assignPrecision(graphsOf('mlp.ir')[0]!, {});
  t.regex(line(graph, 'hb'), /: f16\[8,32\] {2}\/\/ f16: promote\(add: f16 activation %h, param %b1 cast\)$/);
  t.is(stats.f16, 4);
  t.is(stats.f32, 0);
});

const CLEANUP_SRC = `
graph @c(%a: f16[4], %b: f32[4]) -> (f16[4], f32[4], f32[4], f32[4]) {
  %same = cast %b {to = f32} : f32[4]
  %up = cast %a {to = f32} : f32[4]
  %down = cast %up {to = f16} : f16[4]
  %d1 = cast %b {to = f16} : f16[4]
  %d2 = cast %b {to = f16} : f16[4]
  %s = add %d1, %d2 : f16[4]
  %back = cast %s {to = f32} : f32[4]
  %lossy = cast %d1 {to = f32} : f32[4]
  %unused = cast %a {to = f32} : f32[4]
  %dead2 = cast %b {to = f16} : f16[4]
  %r = add %same, %lossy : f32[4]
  return %down, %back, %lossy, %r
}`;

test('cast-cleanup: each rule fires and is counted; f32→f16→f32 is never folded', (t) => {
  const g = parseModule(CLEANUP_SRC).main;
  const { graph, counts } = cleanupCasts(g);
  verifyGraph(graph);
  t.deepEqual(Object.keys(counts), [...CAST_RULES.map((r) => r.name), 'dead']);
  t.is(counts['same-dtype'], 1);
  t.is(counts['fold-f16-f32-f16'], 1);
  t.is(counts.share, 3); // %d2, %unused (shares %up), %dead2
  t.is(counts.dead, 1); // %up, once %down folded
  const text = printGraph(graph);
  t.regex(text, /return %a, %back, %lossy, %r/);
  t.regex(text, /%d1 = cast %b \{to = f16\}/);
  t.regex(text, /%lossy = cast %d1 \{to = f32\}/); // f32→f16→f32 stays
  t.regex(text, /%s = add %d1, %d1/);
  t.regex(text, /%r = add %b, %lossy/);
  t.notRegex(text, /%up =|%unused =|%dead2 =|%same =|%d2 =/);
  // The interpreter agrees on values before and after cleanup.
  const inputs = randomInputs(g, 3);
  t.deepEqual(interpret(graph, inputs), interpret(g, inputs));
});

test('cast-cleanup does not fold an explicit f32→f16→f32 round trip the user wrote', (t) => {
  const g = parseModule(`graph @r(%x: f32[3]) -> (f32[3]) {
  %h = cast %x {to = f16} : f16[3]
  %y = cast %h {to = f32} : f32[3]
  return %y
}`).main;
  const a = amp(g);
  t.is(a.nodes.filter((n) => n.op === 'cast').length, 2);
  const x = { x: { dtype: 'f32' as const, shape: [3], data: new Float64Array([0.1, 1 / 3, 70000]) } };
  const [y] = interpret(a, x);
  t.not(y!.data[0], 0.1);
  t.is(y!.data[2], Infinity);
});
