// Device memory of plans, with and without the memory plan (compiler/memory-plan.ts),
// fused (the default) and unfused (--no-fusion).
//
//   npx tsx bench/memory.ts [--batch 64] [--json]
//
// No device needed: the figures are planBufferBytes of the compiled plans
// (compileGraph for an adapter with 16 storage buffers per kernel: a CPU one,
// as lavapipe, whose matmuls convert the weights as they load them, and, for
// the fused train steps, a GPU, whose matmuls convert every cast operand:
// CAST_PROLOGUES in compiler/compile.ts; train steps with their batch
// donated, as the Trainer compiles them),
// which is what a Session allocates for its whole life (read-back staging
// buffers, created and freed per read, not included). Cases: examples/mlp.ir
// and examples/cnn.ir (inference graphs) and the MNIST MLP and CNN train
// steps (examples/mnist/models.ts, Adam, the example's default batch 64 and
// dynamic loss scaling under amp), each in f32 and amp, and the CNN step
// with batch_norm allowed in f16. Columns: `fixed` = bytes
// that never share (inputs, params, optimizer state, outputs, update
// snapshots); `interm.` = intermediate bytes (scratch included) without and
// with the plan (beyond `fixed`: a donated batch's bytes hold some);
// `bound` = the most intermediate bytes live at one dispatch (a buffer live
// from its first to its last binding), a lower bound for any sharing of
// whole buffers but in a donated batch's bytes; `total` = everything without and with the plan.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileGraph } from '../compiler/compile.ts';
import { batchSpecs, buildModel, classificationLoss } from '../examples/mnist/models.ts';
import type { ModelName } from '../examples/mnist/models.ts';
import type { Graph } from '../ir/graph.ts';
import { parseModule } from '../ir/text/parser.ts';
import { traceModule } from '../ir/trace/index.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import type { PassOptions } from '../passes/pass.ts';
import type { Plan } from '../runtime/plan.ts';
import { planBufferBytes } from '../runtime/plan.ts';

type Precision = 'f32' | 'amp';

type Adapter = 'cpu' | 'gpu';

interface Row {
  case: string;
  target: Adapter;
  precision: Precision;
  fusion: boolean;
  dispatches: number;
  fixed: number;
  intermediateUnplanned: number;
  intermediatePlanned: number;
  peakLiveIntermediate: number;
  unplanned: number;
  planned: number;
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const batchAt = args.indexOf('--batch');
const batch = batchAt >= 0 ? Number(args[batchAt + 1]) : 64;
if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch: expected a positive integer, got ${args[batchAt + 1]}`);

function example(file: string, precision: Precision): { graph: Graph; updates?: undefined } {
  const path = fileURLToPath(new URL(`../examples/${file}`, import.meta.url));
  const g = parseModule(readFileSync(path, 'utf8'), file).main;
  return { graph: precision === 'amp' ? runPipeline(g, pipelineByName('amp'), { options: {} }) : g };
}

function trainStep(model: ModelName, precision: Precision, ampOptions: PassOptions = {}): { graph: Graph; updates: { output: number; input: string }[]; donate: string[] } {
  const specs = batchSpecs(model, batch);
  const traced = traceModule(buildModel(model), specs, { call: classificationLoss });
  const extraUpdates = traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
  const step = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 }, { extraUpdates, precision, ampOptions });
  // The batch is written before every step: its buffers are donated, as the Trainer's.
  return { graph: step.graph, updates: step.updates, donate: step.graph.inputs.slice(0, specs.length).map((v) => v.name!) };
}

/** The most intermediate bytes bound-live at one dispatch (first to last binding). */
function peakLive(plan: Plan): number {
  const delta = new Array<number>(plan.dispatches.length + 2).fill(0);
  const first = new Map<number, number>(), last = new Map<number, number>();
  plan.dispatches.forEach((d, at) => d.bindings.forEach((id) => {
    if (!first.has(id)) first.set(id, at);
    last.set(id, at);
  }));
  for (const [id, from] of first) {
    if (plan.buffers[id]!.role !== 'intermediate') continue;
    delta[from]! += plan.buffers[id]!.byteSize;
    delta[last.get(id)! + 1]! -= plan.buffers[id]!.byteSize;
  }
  let live = 0, peak = 0;
  for (const d of delta) peak = Math.max(peak, (live += d));
  return peak;
}

function measure(name: string, precision: Precision, fusion: boolean, build: () => { graph: Graph; updates?: { output: number; input: string }[]; donate?: string[] }, adapter: Adapter = 'cpu'): Row {
  const { graph, updates, donate } = build();
  const target = { f16Mode: 'native' as const, adapter, maxStorageBuffers: 16 };
  // Train steps as the Trainer compiles them (weight copies where there are no cast prologues, the batch donated).
  const spec = { fusion, ...(updates ? { updates, weightCopies: true } : {}), ...(donate ? { donate } : {}) };
  const planned = compileGraph(graph, target, spec).plan;
  const unplanned = compileGraph(graph, target, { ...spec, memoryPlan: false }).plan;
  const sum = (p: Plan, pick: (role: string) => boolean) => p.buffers.filter((b) => pick(b.role)).reduce((n, b) => n + b.byteSize, 0);
  const fixed = sum(unplanned, (r) => r !== 'intermediate');
  return {
    case: name,
    target: adapter,
    precision,
    fusion,
    dispatches: planned.dispatches.length,
    fixed,
    intermediateUnplanned: sum(unplanned, (r) => r === 'intermediate'),
    intermediatePlanned: planBufferBytes(planned) - fixed,
    peakLiveIntermediate: peakLive(planned),
    unplanned: planBufferBytes(unplanned),
    planned: planBufferBytes(planned),
  };
}

const rows: Row[] = [];
for (const fusion of [false, true]) {
  for (const precision of ['f32', 'amp'] as const) {
    rows.push(measure('examples/mlp.ir', precision, fusion, () => example('mlp.ir', precision)));
    rows.push(measure('examples/cnn.ir', precision, fusion, () => example('cnn.ir', precision)));
    rows.push(measure(`MNIST mlp train step, batch ${batch}`, precision, fusion, () => trainStep('mlp', precision)));
    rows.push(measure(`MNIST cnn train step, batch ${batch}`, precision, fusion, () => trainStep('cnn', precision)));
  }
  // batch_norm in f16 with f32 statistics (what torch.autocast does; the design's default list denies it).
  rows.push(measure(`MNIST cnn train step, batch ${batch}, --amp-allow batch_norm`, 'amp', fusion, () => trainStep('cnn', 'amp', { ampAllow: ['batch_norm'] })));
}
// The fused train steps as compiled for a GPU (cast prologues: no f16 copies of weights or batches).
for (const model of ['mlp', 'cnn'] as const) {
  for (const precision of ['f32', 'amp'] as const) rows.push(measure(`MNIST ${model} train step, batch ${batch}`, precision, true, () => trainStep(model, precision), 'gpu'));
}

const fmt = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
if (json) {
  for (const r of rows) console.log(JSON.stringify(r));
} else {
  console.log('| case | target | precision | fusion | dispatches | fixed | interm. unplanned | interm. planned | bound | total unplanned | total planned | saved |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const saved = `${(100 * (1 - r.planned / r.unplanned)).toFixed(0)}%`;
    console.log(`| ${r.case} | ${r.target} | ${r.precision} | ${r.fusion ? 'on' : 'off'} | ${r.dispatches} | ${fmt(r.fixed)} | ${fmt(r.intermediateUnplanned)} | ${fmt(r.intermediatePlanned)} | ${fmt(r.peakLiveIntermediate)} | ${fmt(r.unplanned)} | ${fmt(r.planned)} | ${saved} |`);
  }
}
