// Ahead-of-time compilation into an artifact the runtime alone can run
// (runtime/artifact.ts loads it; runtime/artifact-manifest.ts describes the
// layout). `compile` takes a graph (parsed or traced) through the one compile
// path (compileGraph: pipeline, fusion, lowering, memory plan), or first
// through the train-step passes for a train-step artifact, and returns the
// artifact's files in memory (no file system: this runs in a browser too);
// `writeArtifact` (compiler/artifact-write.ts, Node) writes them to a
// directory atomically. The weights file carries the values the caller has: the
// params given (or, for a traced module, their initial values from the
// seed), buffers, and for a train step the optimizer and loss-scale state
// and the learning rate.
//
//   const art = compile(parseModule(text).main, { precision: 'amp', weights });
//   writeArtifact('mlp.artifact', art);

import type { HostTensor } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { printGraph } from '../ir/text/printer.ts';
import { initialValues } from '../ir/trace/nn/init.ts';
import type { TraceResult } from '../ir/trace/trace.ts';
import { typeToString } from '../ir/types.ts';
import { AMP_PASSES } from '../passes/amp.ts';
import type { LossScaleSpec } from '../passes/loss-scaling.ts';
import type { OptimizerSpec } from '../passes/optimizer.ts';
import { DEFAULT_OPTIMIZER, LR_INPUT } from '../passes/optimizer.ts';
import type { Pass, PassOptions } from '../passes/pass.ts';
import { pipelineByName } from '../passes/pipeline.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import type { ArtifactInput, ArtifactInputRole, Manifest } from '../runtime/artifact-manifest.ts';
import { ARTIFACT_FORMAT, ARTIFACT_VERSION, GRAPH_FILE, MANIFEST_FILE, WEIGHTS_FILE } from '../runtime/artifact-manifest.ts';
import type { GpuContext } from '../runtime/device.ts';
import type { F16Mode, Plan } from '../runtime/plan.ts';
import { deviceBuffers } from '../runtime/plan.ts';
import { writeSafetensors } from '../runtime/safetensors.ts';
import type { CompileTarget } from './compile.ts';
import { compileGraph, targetOf } from './compile.ts';
import { AMPC_VERSION } from './version.ts';

/**
 * Portable kernels: WebGPU's default limits (8 storage buffers per kernel,
 * 65535 workgroups per dimension), tuned for discrete GPUs. An artifact
 * compiled for it runs on any WebGPU device (with shader-f16 under AMP in
 * the native f16 mode).
 */
export const WEBGPU_TARGET: CompileTarget = { f16Mode: 'native', adapter: 'gpu', maxWorkgroupsPerDim: 65535, maxStorageBuffers: 8 };

export interface CompileOptions {
  /** 'amp' runs the amp passes first (default 'f32', or 'amp' for the amp and train-amp pipelines). */
  readonly precision?: 'f32' | 'amp';
  /** A named pipeline (`none`, `grad`, `amp`, `train`, `train-amp`); `train*` make a train-step artifact. */
  readonly pipeline?: string;
  /** Make a train-step artifact (as pipeline `train`/`train-amp`), with this optimizer and loss scaling. */
  readonly train?: boolean | { readonly optimizer?: OptimizerSpec; readonly lossScale?: LossScaleSpec };
  readonly fusion?: boolean;
  readonly f16Mode?: F16Mode;
  /** The device, its facts, or 'webgpu' (portable; the default). */
  readonly target?: GpuContext | CompileTarget | 'webgpu';
  /** AMP policy overrides (ampAllow, ampDeny, …). */
  readonly ampOptions?: PassOptions;
  /** Values of inputs to carry in the weights file (params, buffers), by input name. */
  readonly weights?: Readonly<Record<string, HostTensor>>;
  /** Seed of a traced module's initial parameter values (default 0). */
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface CompiledArtifact {
  readonly manifest: Manifest;
  /** Every file of the artifact by relative name: what writeArtifact writes and loadArtifact reads. */
  readonly files: ReadonlyMap<string, string | Uint8Array>;
  /** The graph after every pass (graph.ir) and the plan it lowered to. */
  readonly graph: Graph;
  readonly plan: Plan;
}

function isTrace(s: Graph | TraceResult): s is TraceResult {
  return 'graph' in s && 'params' in s;
}

const slug = (label: string) => label.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'kernel';

interface Resolved {
  readonly precision: 'f32' | 'amp';
  readonly pipelineName: string;
  readonly passes: readonly Pass[];
  readonly train: false | { readonly optimizer: OptimizerSpec; readonly lossScale?: LossScaleSpec };
}

/** Precision, pipeline and train step from the options (E0609 when they disagree). */
function resolveOptions(opts: CompileOptions): Resolved {
  const named = opts.pipeline ?? 'none';
  const pipelineAmp = named === 'amp' || named === 'train-amp';
  if (opts.precision === 'f32' && pipelineAmp) throw new AmpcError('E0609', `pipeline '${named}' runs under amp; it cannot be compiled with precision f32`);
  const precision = opts.precision ?? (pipelineAmp ? 'amp' : 'f32');
  const trainPipeline = named === 'train' || named === 'train-amp';
  if (opts.train !== undefined && opts.train !== false || trainPipeline) {
    const t = typeof opts.train === 'object' ? opts.train : {};
    return {
      precision, pipelineName: precision === 'amp' ? 'train-amp' : 'train', passes: [],
      train: { optimizer: t.optimizer ?? DEFAULT_OPTIMIZER, ...(t.lossScale !== undefined ? { lossScale: t.lossScale } : {}) },
    };
  }
  const base = pipelineByName(named);
  if (precision === 'f32' || named === 'amp') return { precision, pipelineName: named, passes: base, train: false };
  return { precision, pipelineName: named === 'none' || named === 'f32' ? 'amp' : `amp+${named}`, passes: [...AMP_PASSES, ...base], train: false };
}

/** The manifest as JSON, indented, with lists of numbers and strings kept on one line. */
function manifestText(m: Manifest): string {
  return JSON.stringify(m, null, 1).replace(/\[[^\[\]{}]*\]/g, (list) => list.replace(/\s+/g, '')) + '\n';
}

/** Compiles `source` (a graph, or a traced module with its initial values) into an artifact, in memory. */
export function compile(source: Graph | TraceResult, opts: CompileOptions = {}): CompiledArtifact {
  const traced = isTrace(source) ? source : undefined;
  const lossGraph = traced ? traced.graph : (source as Graph);
  const r = resolveOptions(opts);
  const target = opts.target === undefined || opts.target === 'webgpu' ? WEBGPU_TARGET : 'device' in opts.target ? targetOf(opts.target, opts.f16Mode) : opts.target;
  const spec = { fusion: opts.fusion !== false, options: opts.ampOptions ?? {}, ...(opts.f16Mode ? { f16Mode: opts.f16Mode } : {}), ...(opts.log ? { log: opts.log } : {}) };

  // Values the artifact carries: the caller's, a traced module's initial ones, the train step's state.
  const carried = new Map<string, HostTensor>();
  if (traced) {
    for (const s of [...traced.params, ...traced.buffers]) carried.set(s.name, hostTensor(s.type.dtype, s.type.shape, initialValues(s, opts.seed ?? 0)));
  }
  for (const [name, t] of Object.entries(opts.weights ?? {})) carried.set(name, t);
  const stateNames = new Set<string>(traced ? traced.buffers.map((b) => b.name) : []);

  let graph: Graph, plan: Plan, loss: number | undefined;
  let extra: Pick<Manifest['compiledWith'], 'optimizer' | 'lossScaling'> = {};
  if (r.train) {
    const extraUpdates = traced ? traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name })) : [];
    const step = trainStepGraph(lossGraph, r.train.optimizer, {
      precision: r.precision, extraUpdates, ...(r.train.lossScale !== undefined ? { lossScale: r.train.lossScale } : {}), ...(opts.ampOptions ? { ampOptions: opts.ampOptions } : {}),
    }, opts.log ? { log: opts.log } : {});
    const compiled = compileGraph(step.graph, target, { ...spec, updates: step.updates });
    ({ graph, plan } = compiled);
    loss = step.loss;
    for (const s of step.state) {
      carried.set(s.name, hostTensor(s.type.dtype, s.type.shape, new Float64Array(s.type.shape.reduce((n, d) => n * d, 1)).fill(s.init)));
      stateNames.add(s.name);
    }
    carried.set(LR_INPUT, hostTensor('f32', [], [r.train.optimizer.lr]));
    stateNames.add(LR_INPUT);
    extra = { optimizer: r.train.optimizer, lossScaling: step.lossScaling };
  } else {
    ({ graph, plan } = compileGraph(lossGraph, target, { ...spec, pipeline: r.passes }));
  }

  const inputs: ArtifactInput[] = plan.inputs.map((io, i) => {
    // Weight copies need a runtime that refreshes them on every weight write; artifacts do not carry them.
    if (io.derivedFrom !== undefined) throw new Error(`compileArtifact: input '${io.name}' is a weight copy (CompileSpec.weightCopies), which artifacts do not carry`);
    const v = graph.inputs[i]!;
    const b = plan.buffers[io.buffer]!;
    const role: ArtifactInputRole = v.isParam ? 'param' : stateNames.has(io.name) ? 'state' : 'input';
    return { name: io.name, dtype: b.dtype, shape: [...b.shape], buffer: io.buffer, role };
  });
  for (const [name, t] of carried) {
    const x = inputs.find((i) => i.name === name);
    if (!x) throw new AmpcError('E0603', `weights: the graph has no input '${name}' (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    if (t.dtype !== x.dtype || t.shape.length !== x.shape.length || t.shape.some((d, k) => d !== x.shape[k])) {
      throw new AmpcError('E0603', `weights: '${name}' is ${t.dtype}[${t.shape.join(',')}]; the input is ${typeToString(x)}`);
    }
  }
  const data = inputs.filter((x) => x.role === 'input');
  const lead = data[0]?.shape[0];
  const batch = lead !== undefined && data.every((x) => x.shape.length > 0 && x.shape[0] === lead) ? { size: lead, inputs: data.map((x) => x.name) } : undefined;

  const files = new Map<string, string | Uint8Array>();
  const kernels = plan.kernels.map((k, i) => {
    const file = `kernels/${String(i).padStart(3, '0')}-${slug(k.label)}.wgsl`;
    files.set(file, k.code);
    return { label: k.label, file, entryPoint: k.entryPoint, usesF16: k.usesF16 };
  });
  const usesF16 = plan.f16Mode !== 'packed' && plan.kernels.some((k) => k.usesF16);
  const maxOf = (xs: readonly number[]) => xs.reduce((a, b) => Math.max(a, b), 0);
  const manifest: Manifest = {
    format: ARTIFACT_FORMAT,
    version: ARTIFACT_VERSION,
    graph: graph.name,
    kind: r.train ? 'train-step' : 'forward',
    compiledWith: {
      ampc: AMPC_VERSION, precision: r.precision, pipeline: r.pipelineName, fusion: opts.fusion !== false,
      target: opts.target === undefined || opts.target === 'webgpu' ? 'webgpu' : 'device' in opts.target ? opts.target.adapterInfo.name : `${opts.target.adapter} (given limits)`,
      adapterKind: target.adapter,
      ...extra,
    },
    requires: {
      features: usesF16 ? ['shader-f16'] : [],
      limits: {
        maxStorageBuffersPerShaderStage: maxOf(plan.dispatches.map((d) => d.bindings.length)),
        maxComputeWorkgroupsPerDimension: maxOf(plan.dispatches.flatMap((d) => d.workgroups)),
        maxStorageBufferBindingSize: maxOf(plan.buffers.map((b) => b.byteSize)),
        maxBufferSize: maxOf(deviceBuffers(plan).sizes),
      },
    },
    f16Mode: plan.f16Mode,
    ...(batch ? { batch } : {}),
    inputs,
    outputs: plan.outputs.map((io) => {
      const b = plan.buffers[io.buffer]!;
      return { name: io.name, dtype: b.dtype, shape: [...b.shape], buffer: io.buffer };
    }),
    weights: { file: WEIGHTS_FILE, tensors: inputs.filter((x) => carried.has(x.name)).map((x) => x.name) },
    kernels,
    buffers: plan.buffers,
    ...(plan.storage ? { storage: plan.storage } : {}),
    dispatches: plan.dispatches,
    ...(plan.updates ? { updates: plan.updates } : {}),
    ...(loss !== undefined ? { train: { loss, learningRate: LR_INPUT } } : {}),
  };
  files.set(MANIFEST_FILE, manifestText(manifest));
  files.set(WEIGHTS_FILE, writeSafetensors(carried, { format: 'ampc', graph: graph.name }));
  files.set(GRAPH_FILE, `// @${graph.name} after every pass (${r.pipelineName}${opts.fusion === false ? '' : ', fusion'}): what the kernels compute\n` + printGraph(graph));
  return { manifest, files, graph, plan };
}
