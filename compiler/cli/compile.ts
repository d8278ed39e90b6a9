// `ampc compile FILE.ir -o DIR [--precision f32|amp] [--pipeline NAME]
// [--f16-mode native|packed] [--target device|webgpu] [--weights FILE]
// [--optimizer adam|adamw|sgd] [--lr X] [--loss-scale dynamic|off|N]
// [--graph NAME] [--no-fusion] [--amp-allow …] [--amp-deny …]`:
// compiles a graph ahead of time into an artifact directory that `ampc-run`
// and loadArtifact run with the runtime alone (compiler/artifact.ts).
// `--target device` (the default) tunes the kernels for the adapter here;
// `webgpu` makes portable kernels without touching a GPU. `--weights` takes
// the {param} entries of a tensor JSON or safetensors file into the
// artifact; params without values are given at run time. `--pipeline train`
// or `train-amp` makes a train-step artifact (optimizer and loss scaling
// from the flags).

import { AmpcError } from '../../ir/errors.ts';
import type { HostTensor } from '../../ir/dtype.ts';
import { parseModule } from '../../ir/text/parser.ts';
import type { LossScaleSpec } from '../../passes/loss-scaling.ts';
import type { OptimizerSpec } from '../../passes/optimizer.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { readFileBytes } from '../../runtime/node-files.ts';
import { readSafetensors } from '../../runtime/safetensors.ts';
import { parseTensorJson } from '../../runtime/tensor-json.ts';
import { compile } from '../artifact.ts';
import { writeArtifact } from '../artifact-write.ts';
import type { AmpFlags } from './amp.ts';
import { ampOptions } from './amp.ts';
import type { CliIO } from './io.ts';
import { readText } from './io.ts';

export interface CompileCliOptions extends AmpFlags {
  out: string;
  precision?: 'f32' | 'amp';
  pipeline?: string;
  f16Mode?: F16Mode;
  target: 'device' | 'webgpu';
  weights?: string;
  graph?: string;
  fusion: boolean;
  optimizer?: 'adam' | 'adamw' | 'sgd';
  lr?: string;
  lossScale?: string;
}

function readWeights(path: string): Record<string, HostTensor> {
  if (path.endsWith('.safetensors')) {
    return Object.fromEntries(readSafetensors(readFileBytes(path), path).tensors);
  }
  return parseTensorJson(readText(path), path);
}

function number(flag: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new AmpcError('E0604', `${flag}: expected a number, got '${v}'`);
  return x;
}

function trainFlags(o: CompileCliOptions): { optimizer: OptimizerSpec; lossScale?: LossScaleSpec } | undefined {
  const isTrain = o.pipeline === 'train' || o.pipeline === 'train-amp';
  if (!isTrain) {
    const stray = [o.optimizer && '--optimizer', o.lr && '--lr', o.lossScale && '--loss-scale'].filter(Boolean);
    if (stray.length) throw new AmpcError('E0604', `${stray.join(', ')} go with --pipeline train or train-amp`);
    return undefined;
  }
  const lr = o.lr === undefined ? 1e-3 : number('--lr', o.lr);
  const kind = o.optimizer ?? 'adam';
  const optimizer: OptimizerSpec = kind === 'sgd' ? { kind, lr } : { kind, lr };
  if (o.lossScale === undefined) return { optimizer };
  const lossScale: LossScaleSpec = o.lossScale === 'dynamic' || o.lossScale === 'off' ? o.lossScale : number('--loss-scale', o.lossScale);
  return { optimizer, lossScale };
}

export async function compileCommand(file: string, o: CompileCliOptions, io: CliIO): Promise<void> {
  const mod = parseModule(readText(file), file);
  const g = o.graph ? mod.get(o.graph) : mod.main;
  const train = trainFlags(o);
  const given = o.weights ? readWeights(o.weights) : {};
  const params = new Set(g.params.map((p) => p.name));
  const weights = Object.fromEntries(Object.entries(given).filter(([name]) => params.has(name)));
  const skipped = Object.keys(given).filter((name) => !params.has(name));
  if (o.weights && skipped.length) io.stderr(`ampc compile: ${o.weights}: took the {param} entries; left out ${skipped.map((n) => `'${n}'`).join(', ')} (not params of @${g.name}: give them at run time)\n`);
  const ctx = o.target === 'device' ? await acquireDevice() : undefined;
  try {
    const art = compile(g, {
      ...(o.precision ? { precision: o.precision } : {}),
      ...(o.pipeline ? { pipeline: o.pipeline } : {}),
      ...(train ? { train } : {}),
      fusion: o.fusion,
      ...(o.f16Mode ? { f16Mode: o.f16Mode } : {}),
      target: ctx ?? 'webgpu',
      ampOptions: ampOptions(o),
      weights,
    });
    writeArtifact(o.out, art);
    const m = art.manifest;
    const missing = m.inputs.filter((x) => x.role === 'param' && !m.weights.tensors.includes(x.name)).map((x) => x.name);
    io.stdout(
      `wrote ${o.out}: @${m.graph} (${m.kind}, ${m.compiledWith.pipeline}, f16 mode ${m.f16Mode}, for ${m.compiledWith.target}): ` +
        `${m.kernels.length} kernels, ${m.dispatches.length} dispatches per run, ${m.weights.tensors.length} tensors in ${m.weights.file}` +
        (m.requires.features.length ? `; needs ${m.requires.features.join(', ')}` : '') +
        (missing.length ? `; params to give at run time: ${missing.join(', ')}` : '') + '\n',
    );
  } finally {
    ctx?.destroy();
  }
}
