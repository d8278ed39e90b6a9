// Graphs the fusion tests run fused and unfused: every golden and example
// graph under the f32 and amp pipelines, and whole train steps (f32 and AMP,
// Adam) of the MNIST MLP and CNN and of an attention block, traced from nn
// modules. Each case is the unfused graph; the tests fuse it themselves.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Graph } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/trace/index.ts';
import { f32, mseLoss, nn, traceModule } from '../../ir/trace/index.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { batchSpecs, classificationLoss, mlp, cnn } from '../../examples/mnist/models.ts';
import { trainStepGraph } from '../../passes/train-step.ts';
import { pipelineByName, runPipeline } from '../../passes/pipeline.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface FusionCase {
  readonly name: string;
  readonly graph: Graph;
}

/** The graphs of the golden files that parse and verify (error cases excluded), and of examples/*.ir. */
function sourceGraphs(): FusionCase[] {
  const files = [
    ...(readdirSync(join(repo, 'test/golden'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ir')).map((f) => join('test/golden', f)),
    ...readdirSync(join(repo, 'examples')).filter((f) => f.endsWith('.ir')).map((f) => join('examples', f)),
  ].sort();
  const out: FusionCase[] = [];
  for (const file of files) {
    const text = readFileSync(join(repo, file), 'utf8');
    if (/expected-error/.test(text)) continue;
    text.split(/^\s*\/\/\s*-----\s*$/m).forEach((part, i) => {
      let mod;
      try {
        mod = parseModule(part, file);
      } catch {
        return;
      }
      for (const g of mod.graphs) out.push({ name: `${relative(repo, join(repo, file))}#${i} @${g.name}`, graph: g });
    });
  }
  return out;
}

/** Every source graph as written and after the amp pipeline (where it applies). */
export function pipelineCases(): FusionCase[] {
  const out: FusionCase[] = [];
  for (const c of sourceGraphs()) {
    out.push(c);
    if (!c.graph.nodes.some((n) => n.op === 'fused') && c.graph.inputs.every((v) => v.type.dtype !== 'f16')) {
      try {
        out.push({ name: `${c.name} (amp)`, graph: runPipeline(c.graph, pipelineByName('amp'), { options: {} }) });
      } catch {
        // graphs the amp pipeline refuses (e.g. already-AMP train steps) are covered as written
      }
    }
  }
  return out;
}

class Attention extends nn.Module {
  q = this.register('q', new nn.Linear(8, 8));
  k = this.register('k', new nn.Linear(8, 8));
  v = this.register('v', new nn.Linear(8, 8));
  norm = this.register('norm', new nn.LayerNorm(8));
  forward(x: Tensor): Tensor {
    const att = this.q.forward(x).matmul(this.k.forward(x), { transposeB: true }).mul(1 / Math.sqrt(8)).softmax(-1);
    return this.norm.forward(att.matmul(this.v.forward(x)).add(x)).gelu();
  }
}

/** Train steps (Adam) of the MNIST MLP and CNN (batch 8) and of an attention block, in f32 and under AMP. */
export function trainStepCases(): FusionCase[] {
  const losses: [string, Graph, { output: number; input: string }[]][] = [];
  for (const name of ['mlp', 'cnn'] as const) {
    const r = traceModule(name === 'mlp' ? mlp() : cnn(), batchSpecs(name, 8), { call: classificationLoss });
    losses.push([name, r.graph, r.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }))]);
  }
  const att = traceModule(new Attention(), [f32([6, 8]), f32([6, 8])], { call: (m, x, y) => mseLoss(m.forward(x), y) });
  losses.push(['attention', att.graph, []]);
  const out: FusionCase[] = [];
  for (const [name, g, extraUpdates] of losses) {
    for (const precision of ['f32', 'amp'] as const) {
      const step = trainStepGraph(g, { kind: 'adam', lr: 1e-3 }, { precision, extraUpdates });
      out.push({ name: `${name} train step (${precision})`, graph: step.graph });
    }
  }
  return out;
}
