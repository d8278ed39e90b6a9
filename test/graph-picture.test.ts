// Pictures of graphs (`ampc dump --format svg|dot|html`, compiler/picture):
// what the DOT says about examples/mlp.ir under AMP (dtype colours, casts,
// fused kernels as clusters holding their body ops, notes and places in
// tooltips) is checked against the module parsed back from the text dump of
// the same command, so the expected counts do not come from the picture
// code; the SVG has one node group per drawn node; the HTML page embeds it;
// usage and write errors are exit code 1 with no temporary file left; the
// Trainer's compiled train step is the graph its own IR dump prints.

import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../compiler/cli/main.ts';
import { DTYPE_COLOURS, SHAPES } from '../compiler/picture/palette.ts';
import { drawGraphs, pictureFormatOfPath } from '../compiler/picture/render.ts';
import { Trainer } from '../compiler/train/index.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph, Module, Node } from '../ir/graph.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printGraph } from '../ir/text/printer.ts';
import { gpuTest } from './helpers/gpu.ts';

const MLP = new URL('../examples/mlp.ir', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'ampc-picture-'));

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

/** The module `ampc dump FILE ...flags` prints, parsed back. */
async function dumped(file: string, ...flags: string[]): Promise<Module> {
  const r = await cli('dump', file, ...flags);
  if (r.code !== 0) throw new Error(r.stderr);
  return parseModule(r.stdout, 'dump');
}

/** Every op that runs, fused bodies opened (a fused node itself is a cluster, not a node). */
function drawnOps(nodes: readonly Node[]): Node[] {
  return nodes.flatMap((n) => (n.body ? drawnOps(n.body.nodes) : [n]));
}

function fusedNodes(nodes: readonly Node[]): Node[] {
  return nodes.flatMap((n) => (n.body ? [n, ...fusedNodes(n.body.nodes)] : []));
}

/** Nodes the picture draws: inputs, ops (bodies opened) and outputs of every graph. */
function drawnNodeCount(mod: Module): number {
  return mod.graphs.reduce((k, g: Graph) => k + g.inputs.length + drawnOps(g.nodes).length + g.outputs.length, 0);
}

/** DOT's quoted-string escapes undone. */
function unquote(s: string): string {
  return s.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseAttrs(list: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of list.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\]\s]+))/g)) attrs[m[1]!] = m[2] !== undefined ? unquote(m[2]) : m[3]!;
  return attrs;
}

interface DotNode {
  readonly id: string;
  readonly attrs: Record<string, string>;
  /** The clusters the node statement is in, outermost first. */
  readonly clusters: readonly string[];
}

interface DotEdge {
  readonly from: string;
  readonly to: string;
  readonly attrs: Record<string, string>;
}

/** Node statements (with their enclosing clusters), edges and cluster labels of the DOT the picture writes. */
function parseDot(dot: string): { nodes: DotNode[]; edges: DotEdge[]; clusterLabels: Map<string, string> } {
  const nodes: DotNode[] = [], edges: DotEdge[] = [];
  const clusterLabels = new Map<string, string>();
  const open: string[] = [];
  for (const line of dot.split('\n').map((l) => l.trim())) {
    const sub = /^subgraph "(cluster_[^"]+)" \{$/.exec(line);
    const edge = /^"([^"]+)" -> "([^"]+)" \[(.*)\];$/.exec(line);
    const node = /^"([^"]+)" \[(.*)\];$/.exec(line);
    const label = /^label="((?:[^"\\]|\\.)*)";$/.exec(line);
    if (sub) open.push(sub[1]!);
    else if (line === '}' && open.length) open.pop();
    else if (edge) edges.push({ from: edge[1]!, to: edge[2]!, attrs: parseAttrs(edge[3]!) });
    else if (node) nodes.push({ id: node[1]!, attrs: parseAttrs(node[2]!), clusters: [...open] });
    else if (label && open.length) clusterLabels.set(open.at(-1)!, unquote(label[1]!));
  }
  return { nodes, edges, clusterLabels };
}

/** The op a DOT node draws: the first word of its label. */
const opOf = (n: DotNode) => n.attrs.label!.split(/[\s\n]/)[0]!;

test('dot of mlp.ir under amp: f16 matmuls, f32 softmax, casts marked, params and outputs drawn apart', async (t) => {
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'dot');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^digraph "[^"]*mlp\.ir" \{\n/);
  const mod = await dumped(MLP, '--pipeline', 'amp');
  const ops = drawnOps(mod.main.nodes);
  const { nodes, edges } = parseDot(r.stdout);
  t.not(DTYPE_COLOURS.f16.fill, DTYPE_COLOURS.f32.fill);

  const matmuls = nodes.filter((n) => opOf(n) === 'matmul');
  t.is(matmuls.length, ops.filter((n) => n.op === 'matmul').length);
  t.is(matmuls.length, 2);
  for (const m of matmuls) t.is(m.attrs.fillcolor, DTYPE_COLOURS.f16.fill, m.attrs.label);
  const softmax = nodes.filter((n) => opOf(n) === 'softmax');
  t.is(softmax.length, 1);
  t.is(softmax[0]!.attrs.fillcolor, DTYPE_COLOURS.f32.fill);

  const casts = nodes.filter((n) => opOf(n) === 'cast');
  t.is(casts.length, ops.filter((n) => n.op === 'cast').length);
  for (const c of casts) t.is(c.attrs.shape, SHAPES.cast.shape);
  t.deepEqual(casts.map((c) => c.attrs.label!.split('\n')[0]).sort(), ops.filter((n) => n.op === 'cast').map((n) => `cast ${n.operands[0]!.type.dtype} → ${n.results[0]!.type.dtype}`).sort());
  const castIds = new Set(casts.map((c) => c.id));
  for (const e of edges) t.is(e.attrs.label !== undefined, castIds.has(e.from), `${e.from} -> ${e.to}`);
  // The f16 -> f32 change right before the softmax is labelled on its edge and drawn in the f32 colour.
  const intoSoftmax = edges.filter((e) => e.to === softmax[0]!.id);
  t.deepEqual(intoSoftmax.map((e) => [e.attrs.label, e.attrs.color]), [['f16→f32', DTYPE_COLOURS.f32.line]]);

  const byLabel = (first: string) => nodes.find((n) => n.attrs.label!.split('\n')[0] === first)!;
  t.is(byLabel('%x').attrs.shape, SHAPES.input.shape);
  for (const p of ['%w1', '%b1', '%w2', '%b2']) t.is(byLabel(p).attrs.shape, SHAPES.param.shape, p);
  const outputs = nodes.filter((n) => n.attrs.shape === SHAPES.output.shape);
  t.deepEqual(outputs.map((n) => n.attrs.label), ['output 0\n%probs: f32[8,10]']);
  t.is(nodes.length, drawnNodeCount(mod));
});

test('dot of mlp.ir under amp: one cluster per fused op, holding its body ops in order', async (t) => {
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'dot');
  t.is(r.code, 0, r.stderr);
  const mod = await dumped(MLP, '--pipeline', 'amp');
  const fused = fusedNodes(mod.main.nodes);
  t.is(fused.length, 2);
  const { nodes, clusterLabels } = parseDot(r.stdout);
  t.is(clusterLabels.size, fused.length);
  const clusters = [...clusterLabels.keys()];
  fused.forEach((f, i) => {
    const inside = nodes.filter((n) => n.clusters.at(-1) === clusters[i]);
    t.deepEqual(inside.map(opOf), f.body!.nodes.map((n) => n.op), clusters[i]);
    t.true(clusterLabels.get(clusters[i]!)!.includes(`@${f.body!.name}`));
  });
  // Nothing else is inside a cluster.
  t.is(nodes.filter((n) => n.clusters.length > 0).length, fused.reduce((k, f) => k + f.body!.nodes.length, 0));
});

test('dot tooltips carry the instruction, the precision note and the source place', async (t) => {
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'dot');
  const { nodes } = parseDot(r.stdout);
  const softmax = nodes.find((n) => opOf(n) === 'softmax')!;
  t.is(softmax.attrs.tooltip, `%probs = softmax %1 : f32[8,10]\nnote: f32: deny(softmax)\nat ${MLP}:9:12`);
  for (const m of nodes.filter((n) => opOf(n) === 'matmul')) {
    t.regex(m.attrs.tooltip!, /^%\d+ = matmul %\d+, %\d+ \{acc = f32\} : f16\[8,\d+\]\nnote: f16: allow\(matmul\)\nat .*mlp\.ir:\d+:\d+$/);
  }
  const mod = await dumped(MLP, '--pipeline', 'amp');
  const fusedNote = fusedNodes(mod.main.nodes)[0]!.note!;
  t.true(r.stdout.includes(`note: ${fusedNote}`), 'the fused op\'s note is its cluster\'s tooltip');
});

test('svg: Graphviz output with one node group per drawn node and the notes as titles', async (t) => {
  const out = join(tmp, 'mlp.svg');
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'svg', '-o', out);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  const svg = readFileSync(out, 'utf8');
  t.regex(svg, /^(<\?xml|<svg)/);
  t.regex(svg, /<\/svg>\s*$/);
  const mod = await dumped(MLP, '--pipeline', 'amp');
  t.is(svg.match(/<g id="node\d+" class="node">/g)?.length, drawnNodeCount(mod));
  t.is(svg.match(/<g id="clust\d+" class="cluster">/g)?.length, fusedNodes(mod.main.nodes).length);
  t.true(svg.includes('xlink:title="%probs = softmax %1 : f32[8,10]&#10;note: f32: deny(softmax)'));
  t.true(svg.toLowerCase().includes(`fill="${DTYPE_COLOURS.f16.fill.toLowerCase()}"`));
  // The same picture on stdout without -o.
  const s = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'svg');
  t.is(s.code, 0, s.stderr);
  t.is(s.stdout.match(/<g id="node\d+" class="node">/g)?.length, drawnNodeCount(mod));
});

test('html: a page with a header and legend embedding the svg', async (t) => {
  const out = join(tmp, 'mlp.html');
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--format', 'html', '-o', out);
  t.is(r.code, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  t.regex(html, /^<!DOCTYPE html>/);
  t.true(html.includes(`<h1>${MLP}</h1>`));
  t.regex(html, /graph @mlp · pipeline amp · fused/);
  t.true(html.includes(`background:${DTYPE_COLOURS.f16.fill}`) && html.includes(`background:${DTYPE_COLOURS.f32.fill}`));
  const svgStart = html.indexOf('<svg');
  t.true(svgStart > 0 && html.indexOf('</svg>') > svgStart);
  t.false(html.includes('<?xml'), 'the svg is inlined without its XML declaration');
  const mod = await dumped(MLP, '--pipeline', 'amp');
  t.is(html.match(/<g id="node\d+" class="node">/g)?.length, drawnNodeCount(mod));
});

test('without --format dump prints the text IR as before; --no-fusion draws no clusters', async (t) => {
  const text = await cli('dump', MLP, '--pipeline', 'amp');
  t.is(text.code, 0);
  t.regex(text.stdout, /^graph @mlp\(/);
  const r = await cli('dump', MLP, '--pipeline', 'amp', '--no-fusion', '--format', 'dot');
  t.is(r.code, 0, r.stderr);
  const mod = await dumped(MLP, '--pipeline', 'amp', '--no-fusion');
  const { nodes, clusterLabels } = parseDot(r.stdout);
  t.is(clusterLabels.size, 0);
  t.is(nodes.length, drawnNodeCount(mod));
  t.is(nodes.filter((n) => opOf(n) === 'cast').length, mod.main.nodes.filter((n) => n.op === 'cast').length);
});

test('a module of several graphs: each graph is a cluster of its own; non-float values in the third colour', async (t) => {
  const file = join(tmp, 'two.ir');
  writeFileSync(file, `graph @a(%x: f32[4,4], %w: f32[4,4] {param}) -> (f32[4,4]) {
  %0 = matmul %x, %w {acc = f32} : f32[4,4]
  return %0
}
graph @b(%k: i32[4], %j: i32[4]) -> (bool[4]) {
  %0 = greater %k, %j : bool[4]
  return %0
}
`);
  const r = await cli('dump', file, '--format', 'dot');
  t.is(r.code, 0, r.stderr);
  const { nodes, clusterLabels } = parseDot(r.stdout);
  t.deepEqual([...clusterLabels.values()], ['@a', '@b']);
  const [a, b] = [...clusterLabels.keys()];
  t.deepEqual(nodes.filter((n) => n.clusters[0] === a).map((n) => n.attrs.label!.split('\n')[0]), ['%x', '%w', 'matmul', 'output 0']);
  t.deepEqual(nodes.filter((n) => n.clusters[0] === b).map((n) => n.attrs.label!.split('\n')[0]), ['%k', '%j', 'greater', 'output 0']);
  t.is(nodes.find((n) => opOf(n) === 'greater')!.attrs.fillcolor, DTYPE_COLOURS.bool.fill);
  t.not(DTYPE_COLOURS.bool.fill, DTYPE_COLOURS.f32.fill);
});

test('a bad --format is exit 1 with the allowed choices; -o without --format is E0604', async (t) => {
  const r = await cli('dump', MLP, '--format', 'png', '-o', join(tmp, 'x.png'));
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /'png' is invalid/);
  t.regex(r.stderr, /svg, dot, html/);
  const o = await cli('dump', MLP, '-o', join(tmp, 'x.svg'));
  t.is(o.code, 1);
  t.regex(o.stderr, /E0604.*needs --format svg\|dot\|html/);
  const both = await cli('dump', MLP, '--format', 'svg', '--print-ir-after', 'all');
  t.is(both.code, 1);
  t.regex(both.stderr, /E0604/);
});

test('-o into a missing directory, or onto a directory, is E0601 and leaves no temporary file', async (t) => {
  const dir = mkdtempSync(join(tmp, 'out-'));
  const missing = await cli('dump', MLP, '--format', 'svg', '-o', join(dir, 'no-such-dir', 'g.svg'));
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^ampc: error E0601: cannot write .*no-such-dir\/g\.svg/m);
  t.deepEqual(readdirSync(dir), []);
  // Here the temporary file is written and the rename fails: it must be removed.
  mkdirSync(join(dir, 'taken'));
  const onDir = await cli('dump', MLP, '--format', 'dot', '-o', join(dir, 'taken'));
  t.is(onDir.code, 1);
  t.regex(onDir.stderr, /E0601: cannot write .*taken/);
  t.deepEqual(readdirSync(dir), ['taken']);
  t.deepEqual(readdirSync(join(dir, 'taken')), []);
});

test('the picture format of a file name is its extension', (t) => {
  t.is(pictureFormatOfPath('a/b.svg'), 'svg');
  t.is(pictureFormatOfPath('step.DOT'), 'dot');
  t.is(pictureFormatOfPath('x.html'), 'html');
  const e = t.throws(() => pictureFormatOfPath('x.png'), { instanceOf: AmpcError });
  t.is(e!.code, 'E0609');
});

gpuTest("Trainer.compiledGraph is the train step its IR dump after fusion prints, and draws with its fused kernels", async (t, ctx) => {
  const dumps: string[] = [];
  const trainer = await Trainer.create({
    model: new nn.Sequential(new nn.Linear(12, 8), new nn.ReLU(), new nn.Linear(8, 3)),
    loss: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y),
    inputs: [f32([4, 12]), i32([4])], optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0, device: ctx, precision: 'amp',
    printIrAfter: 'fusion', dump: (d: string) => dumps.push(d),
  });
  try {
    const g = trainer.compiledGraph!;
    t.truthy(g);
    t.is(dumps.length, 1);
    t.is(dumps[0]!.replace(/^\/\/ -----\/\/ IR Dump After fusion \/\/----- \/\/\n/, ''), printGraph(g));
    const dot = await drawGraphs([g], 'dot', { title: 'step', details: [] });
    t.is(parseDot(dot).clusterLabels.size, fusedNodes(g.nodes).length);
    t.true(fusedNodes(g.nodes).length > 0);
    // Traced ops carry the TypeScript line that made them.
    t.regex(dot, /\\nat .*graph-picture\.test\.ts:\d+:\d+/);
  } finally {
    trainer.destroy();
  }
});
