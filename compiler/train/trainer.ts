// The training API: a Trainer traces a model's loss, builds the train step
// (loss, gradients and optimizer update in one graph, passes/optimizer.ts),
// compiles it for the device once, and then runs one step per call: one
// upload per batch input, one command buffer for the whole step, in-place
// updates of parameters, optimizer state and BatchNorm running statistics on
// the device. The loss is read back only when asked. Under AMP the loss scale
// is dynamic by default and lives on the device too (passes/loss-scaling.ts):
// lossScaleStatus() reads the scale and the skipped-step count only when
// called.
//
//   const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
//   const trainer = await Trainer.create({
//     model, loss: (m, x, y) => crossEntropy(m.forward(x), y),
//     inputs: [f32([64, 784]), i32([64])], optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0,
//   });
//   const loss = await trainer.step([images, labels], { readLoss: true });
//   const logits = await trainer.predict(testImages);
//
// Compiled graphs are cached in the Trainer by kind (train step or
// prediction), input types, optimizer and options. Each compiled graph has
// its own Session, hence its own copy of the state; the newest copy is the
// one the last train step (or load) wrote, and a session is brought up to
// date from it (read back and written, only when stale) before it runs.
// Prediction traces the model in eval mode (BatchNorm uses its running
// statistics), the train step in training mode; the model's own modes are
// restored after tracing.

import { AmpcError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import { hostTensor } from '../../ir/interp/tensor.ts';
import type { Loc } from '../../ir/errors.ts';
import { callerLoc } from '../../ir/trace/loc.ts';
import type { Module } from '../../ir/trace/nn/module.ts';
import { initialValues } from '../../ir/trace/nn/init.ts';
import type { InputSpec } from '../../ir/trace/spec.ts';
import { traceModule } from '../../ir/trace/trace.ts';
import type { ParamSpec, TraceResult } from '../../ir/trace/trace.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel, tensorType, typeToString } from '../../ir/types.ts';
import { GOOD_STEPS_INPUT, resolveLossScale, SCALE_INPUT, SKIPPED_INPUT } from '../../passes/loss-scaling.ts';
import type { LossScaling } from '../../passes/loss-scaling.ts';
import { LR_INPUT, STEP_INPUT } from '../../passes/optimizer.ts';
import type { TrainStepGraph } from '../../passes/optimizer.ts';
import { resolveSchedule, scheduleFactor } from '../../passes/schedule.ts';
import { trainStepGraph, trainStepPasses } from '../../passes/train-step.ts';
import { AMP_PASSES } from '../../passes/amp.ts';
import type { Pass } from '../../passes/pass.ts';
import { checkPrintIrAfter } from '../../passes/runner.ts';
import type { StateInput } from '../../passes/optimizer.ts';
import { acquireDevice } from '../../runtime/device.ts';
import type { GpuContext } from '../../runtime/device.ts';
import { decodeTensor, encodeTensor } from '../../runtime/host-data.ts';
import { SerialQueue } from '../../runtime/serial.ts';
import { Session } from '../../runtime/session.ts';
import type { CompileSpec } from '../compile.ts';
import { compileGraph, compilePasses } from '../compile.ts';
import { defaultF16Mode } from '../execute.ts';
import { inputBytes, inputType } from './inputs.ts';
import type { TensorInput } from './inputs.ts';
import { checkLr, checkOptions, fail, stableJson } from './options.ts';
import type { LossScaleStatus, StepOptions, TrainerOptions } from './options.ts';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import { MetricsFormatter, resolveMetrics } from './metrics.ts';
import type { MetricsOptions, StepMetrics } from './metrics.ts';

export type { TensorInput } from './inputs.ts';
export type { LossScaleStatus, StepOptions, TrainerOptions } from './options.ts';
export type { MetricsOptions, StepMetrics } from './metrics.ts';
export type { StepReport } from '../../passes/optimizer.ts';
export type { OptimizerSpec } from '../../passes/optimizer.ts';
export type { DynamicLossScaleOptions, LossScaleSpec } from '../../passes/loss-scaling.ts';

const F32_SCALAR = tensorType('f32', []);

interface Entry {
  readonly kind: 'train' | 'predict';
  readonly session: Session;
  /** Kernel launches of one run, and the milliseconds trace + passes + codegen took. */
  readonly dispatches: number;
  readonly compileMs: number;
  /** Types and plan names of the user inputs (the first graph inputs). */
  readonly inputTypes: readonly TensorType[];
  readonly inputNames: readonly string[];
  /** State inputs (params, buffers, optimizer state) by name, with their byte sizes. */
  readonly state: ReadonlyMap<string, number>;
  /** Index of the loss output (train) or the prediction (predict). */
  readonly output: number;
  /** The learning-rate input (train only). */
  readonly lrName: string | undefined;
  /** Optimizer and loss-scale state inputs (train only). */
  readonly stepState: readonly StateInput[];
  /** Output indices of the reported values (train only; report option). */
  readonly reported: TrainStepGraph['reported'];
  /** Version of the state this session holds (-1: none yet). */
  syncedAt: number;
}

/** The metrics log of a Trainer (option `metrics`) and where it stands. */
interface MetricsLog {
  readonly formatter: MetricsFormatter;
  readonly every: number;
  readonly write: (line: string) => void;
  readonly close: () => void;
  readonly onMetrics: ((m: StepMetrics) => void) | undefined;
  /** performance.now() when the first step began and at the last line; samples so far and at the last line. */
  start: number | undefined;
  lastTime: number;
  samples: number;
  lastSamples: number;
}

/** The metrics log of the options: its line formatter and where lines go (a file in Node, or the caller's function). */
async function openMetrics(o: MetricsOptions, withGradNorm: boolean): Promise<MetricsLog> {
  const r = resolveMetrics(o);
  let sink: { write: (line: string) => void; close: () => void };
  if (r.to === undefined) {
    sink = { write: () => undefined, close: () => undefined };
  } else if (typeof r.to === 'function') {
    sink = { write: r.to, close: () => undefined };
  } else {
    const files = await import('./metrics-file.ts');
    if (typeof files.openMetricsFile !== 'function') throw new AmpcError('E0609', 'Trainer.create: metrics.to as a path needs Node; in a browser pass a function (line) => void');
    sink = files.openMetricsFile(r.to);
  }
  return { formatter: new MetricsFormatter(r.format, withGradNorm), every: r.every, ...sink, onMetrics: r.onMetrics, start: undefined, lastTime: 0, samples: 0, lastSamples: 0 };
}

/** Runs `body` with every module of `model` in the given mode, then restores the modes. */
function inMode<T>(model: Module, training: boolean, body: () => T): T {
  const saved = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.train(training);
  try {
    return body();
  } finally {
    for (const [m, mode] of saved) m.training = mode;
  }
}

/** The batch inputs of a traced graph (its first inputs, one per input type), which every run writes: donated. */
function batchInputs(g: Graph, types: readonly TensorType[]): string[] {
  return g.inputs.slice(0, types.length).map((v) => v.name!);
}

export class Trainer<M extends Module = Module> {
  readonly ctx: GpuContext;
  readonly #opts: TrainerOptions<M>;
  readonly #ownsDevice: boolean;
  readonly #entries = new Map<string, Promise<Entry>>();
  readonly #trainEntries: Entry[] = [];
  /** Every session created, in order, and what it runs. */
  readonly #sessions: Session[] = [];
  readonly #kinds = new Map<Session, 'train' | 'predict'>();
  readonly #lastEntry = new Map<'train' | 'predict', Entry>();
  /** Parameters and buffers of the model (from the first trace), in state_dict order of first use. */
  #params: readonly ParamSpec[] = [];
  #buffers: readonly ParamSpec[] = [];
  #lr: number;
  #version = 0;
  #owner: Entry | undefined;
  readonly #queue = new SerialQueue();
  #destroyed = false;
  #steps = 0;
  #compiledGraph: Graph | undefined;
  #metrics: MetricsLog | undefined;

  private constructor(opts: TrainerOptions<M>, ctx: GpuContext, ownsDevice: boolean) {
    this.#opts = opts;
    this.ctx = ctx;
    this.#ownsDevice = ownsDevice;
    this.#lr = opts.optimizer.lr;
  }

  /** Traces and compiles the train step, creates its session and initializes the state. */
  static async create<M extends Module>(opts: TrainerOptions<M>): Promise<Trainer<M>> {
    checkOptions(opts);
    const ctx = opts.device ?? (await acquireDevice());
    const t = new Trainer(opts, ctx, opts.device === undefined);
    try {
      const entry = await t.#trainEntry(opts.inputs.map((s) => ({ dtype: s.dtype, shape: [...s.shape] })));
      t.#initialize(entry);
      if (opts.metrics !== undefined) t.#metrics = await openMetrics(opts.metrics, opts.report?.gradNorm === true);
    } catch (e) {
      t.destroy();
      throw e;
    }
    return t;
  }

  /** The model's parameter names, in graph input order. */
  get parameterNames(): string[] {
    return this.#params.map((p) => p.name);
  }

  /** The model's buffer names (e.g. BatchNorm running statistics). */
  get bufferNames(): string[] {
    return this.#buffers.map((p) => p.name);
  }

  get learningRate(): number {
    return this.#lr;
  }

  /** Train steps run so far (skipped ones included). */
  get steps(): number {
    return this.#steps;
  }

  /**
   * Bytes of the GPU buffers held by the sessions compiled so far (train
   * steps and predictions; every buffer lives as long as its session, so this
   * is also their peak). Read-back staging buffers are not counted.
   */
  get gpuBufferBytes(): number {
    return this.#sessions.reduce((n, s) => n + s.bufferBytes, 0);
  }

  /**
   * Kernel launches of one train step and of one prediction (from the
   * compiled plans of the most recent shapes; 0 until one was compiled), and
   * how long compiling them took (trace, passes, WGSL and plan; not the
   * driver's shader compilation when the session is created), in ms.
   */
  get compileStats(): { trainDispatches: number; predictDispatches: number; trainCompileMs: number; predictCompileMs: number } {
    const last = (kind: 'train' | 'predict') => this.#lastEntry.get(kind);
    return {
      trainDispatches: last('train')?.dispatches ?? 0,
      predictDispatches: last('predict')?.dispatches ?? 0,
      trainCompileMs: last('train')?.compileMs ?? 0,
      predictCompileMs: last('predict')?.compileMs ?? 0,
    };
  }

  /** gpuBufferBytes split by kind: the train steps' sessions and the predictions' (eval batches). */
  get gpuBufferBytesByKind(): { train: number; predict: number } {
    const of = (kind: 'train' | 'predict') => this.#sessions.filter((s) => this.#kinds.get(s) === kind).reduce((n, s) => n + s.bufferBytes, 0);
    return { train: of('train'), predict: of('predict') };
  }

  /**
   * The train step as it runs: the graph after every pass of the most recent
   * train-step compile (its pipeline, the train-step passes and fusion), for
   * dumps and pictures. Read-only; undefined before the first compile.
   */
  get compiledGraph(): Graph | undefined {
    return this.#compiledGraph;
  }

  /** The loss scaling of the train step, resolved (defaults filled in). */
  get lossScaling(): LossScaling {
    return resolveLossScale(this.#opts.lossScale, this.#opts.precision ?? 'f32');
  }

  /**
   * The loss scale and the skipped-step count, read back from the device
   * (one read, which waits for the queued steps): the only time they leave
   * the device. Nothing is read when loss scaling is off.
   */
  lossScaleStatus(): Promise<LossScaleStatus> {
    return this.#serial(async () => {
      const ls = this.lossScaling;
      if (ls.mode === 'off') return { mode: 'off', scale: 1, skippedSteps: 0, goodSteps: 0 };
      const names = ls.mode === 'dynamic' ? [SCALE_INPUT, GOOD_STEPS_INPUT, SKIPPED_INPUT] : [SKIPPED_INPUT];
      const bytes = await this.#owner!.session.readInputs(names);
      const skippedSteps = new Int32Array(bytes[names.length - 1]!, 0, 1)[0]!;
      if (ls.mode === 'static') return { mode: 'static', scale: ls.scale, skippedSteps, goodSteps: 0 };
      return { mode: 'dynamic', scale: new Float32Array(bytes[0]!, 0, 1)[0]!, skippedSteps, goodSteps: new Int32Array(bytes[1]!, 0, 1)[0]! };
    });
  }

  /**
   * One train step on a batch (one value per loss input). Uploads each input
   * once and runs the whole step in one command buffer; parameters, optimizer
   * state and buffers are updated in place on the device. Returns the loss
   * when `readLoss` is set (a sync with the device), else undefined.
   */
  step(batch: readonly TensorInput[], opts: StepOptions = {}): Promise<number | undefined> {
    const at = callerLoc();
    return this.#serial(async () => {
      const types = placed(at, () => this.#batchTypes('step', batch, this.#opts.inputs));
      const entry = await this.#trainEntry(types);
      await this.#sync(entry);
      const m = this.#metrics;
      if (m && m.start === undefined) m.start = m.lastTime = performance.now();
      batch.forEach((x, i) => entry.session.write(entry.inputNames[i]!, inputBytes(x)));
      entry.session.run();
      this.ctx.check();
      this.#version++;
      this.#steps++;
      this.#owner = entry;
      entry.syncedAt = this.#version;
      let loss: number | undefined;
      if (m) {
        m.samples += types[0]!.shape[0] ?? 1;
        if (this.#steps % m.every === 0) loss = await this.#logMetrics(entry, m);
      }
      if (!opts.readLoss) return undefined;
      if (loss !== undefined) return loss;
      const [bytes] = await entry.session.readOutputs([entry.output]);
      return new Float32Array(bytes!, 0, 1)[0]!;
    });
  }

  /**
   * The model's output (of its forward) for the inputs, traced in eval mode
   * and compiled once per input shape. Inputs are the first loss inputs with
   * any batch size.
   */
  predict(...inputs: TensorInput[]): Promise<HostTensor> {
    const at = callerLoc();
    return this.#serial(async () => {
      const types = placed(at, () => this.#batchTypes('predict', inputs, this.#opts.inputs.slice(0, inputs.length)));
      const entry = await this.#predictEntry(types);
      await this.#sync(entry);
      inputs.forEach((x, i) => entry.session.write(entry.inputNames[i]!, inputBytes(x)));
      entry.session.run();
      this.ctx.check();
      const out = entry.session.plan.outputs[entry.output]!;
      const buf = entry.session.plan.buffers[out.buffer]!;
      const [bytes] = await entry.session.readOutputs([entry.output]);
      return { dtype: buf.dtype, shape: [...buf.shape], data: decodeTensor(buf.dtype, bytes!, numel(buf.shape)) };
    });
  }

  /**
   * The global L2 norm of the unscaled gradients of the last train step
   * (before norm clipping; see StepReport in passes/optimizer.ts), read back
   * from the device. Needs `report: { gradNorm: true }` (E0609 otherwise).
   */
  gradNorm(): Promise<number> {
    return this.#serial(async () => {
      const entry = this.#reportingEntry('gradNorm');
      const [bytes] = await entry.session.readOutputs([entry.reported.gradNorm!]);
      return new Float32Array(bytes!, 0, 1)[0]!;
    });
  }

  /**
   * The unscaled gradients of the last train step by parameter name (f32,
   * before clipping; see StepReport), read back from the device. Needs
   * `report: { gradients: true }` (E0609 otherwise).
   */
  gradients(): Promise<Record<string, HostTensor>> {
    return this.#serial(async () => {
      const entry = this.#reportingEntry('gradients');
      const list = entry.reported.gradients!;
      const bytes = await entry.session.readOutputs(list.map((g) => g.output));
      const out: Record<string, HostTensor> = {};
      list.forEach((g, i) => {
        const shape = [...entry.session.plan.buffers[entry.session.plan.outputs[g.output]!.buffer]!.shape];
        Object.defineProperty(out, g.param, { value: { dtype: 'f32', shape, data: decodeTensor('f32', bytes[i]!, numel(shape)) }, enumerable: true });
      });
      return out;
    });
  }

  /** Sets the learning rate of the following steps (no recompilation: it is a graph input). */
  setLearningRate(lr: number): void {
    this.#alive();
    checkLr(lr, 'setLearningRate: lr');
    this.#lr = lr;
    for (const e of this.#trainEntries) e.session.write(e.lrName!, encodeTensor('f32', [lr]));
  }

  /** Current parameter values, read back from the device. */
  parameters(): Promise<Record<string, HostTensor>> {
    return this.#serial(() => this.#read(this.#params));
  }

  /**
   * The train step's own state, read back from the device: the optimizer's
   * (`adam.m.<p>`, `adam.v.<p>`, `sgd.momentum.<p>`, `opt.step`) and the loss
   * scaling's (`amp.scale`, `amp.good_steps`, `amp.skipped`).
   */
  optimizerState(): Promise<Record<string, HostTensor>> {
    return this.#serial(() => this.#read(this.#owner!.stepState.map((s) => ({ name: s.name, type: s.type }))));
  }

  /** Parameters and buffers (a state_dict), read back from the device. */
  stateDict(): Promise<Record<string, HostTensor>> {
    return this.#serial(() => this.#read([...this.#params, ...this.#buffers]));
  }

  /**
   * Everything needed to resume training exactly, as safetensors bytes
   * (compiler/train/checkpoint.ts): parameters, buffers, optimizer and
   * loss-scale state, the learning rate and the step count. Works in a
   * browser too; `save` writes it to a file in Node.
   */
  checkpoint(): Promise<Uint8Array> {
    return this.#serial(async () => {
      const owner = this.#owner!;
      const modelSpecs = [...this.#params, ...this.#buffers];
      const all = await this.#read([...modelSpecs, ...owner.stepState.map((s) => ({ name: s.name, type: s.type }))]);
      const model: Record<string, HostTensor> = {}, step: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(all)) Object.defineProperty(modelSpecs.some((s) => s.name === name) ? model : step, name, { value: t, enumerable: true });
      Object.defineProperty(step, LR_INPUT, { value: hostTensor('f32', [], [this.#lr]), enumerable: true });
      return encodeCheckpoint({
        model, step, steps: this.#steps,
        trainedWith: { optimizer: stableJson(this.#opts.optimizer), precision: this.#opts.precision ?? 'f32', lossScaling: stableJson(this.lossScaling) },
      });
    });
  }

  /**
   * Loads a checkpoint (from `checkpoint()` or `save`), or a weights-only
   * safetensors file (parameters and buffers; the optimizer and loss-scale
   * state are kept). Strict: the same names, dtypes and shapes (E0603).
   */
  restore(bytes: Uint8Array, where = 'checkpoint'): Promise<void> {
    return this.#serial(async () => {
      const owner = this.#owner!;
      const model = new Map([...this.#params, ...this.#buffers].map((s) => [s.name, s.type] as const));
      const step = new Map([...owner.stepState.map((s) => [s.name, s.type] as const), [LR_INPUT, F32_SCALAR] as const]);
      const c = decodeCheckpoint(bytes, where, model, step);
      for (const [name, t] of [...Object.entries(c.model), ...Object.entries(c.step ?? {})]) {
        if (name !== LR_INPUT) owner.session.write(name, encodeTensor(t.dtype, t.data));
      }
      if (c.step) {
        this.#lr = c.step[LR_INPUT]!.data[0]!;
        for (const e of this.#trainEntries) e.session.write(e.lrName!, encodeTensor('f32', [this.#lr]));
        if (c.steps !== undefined) this.#steps = c.steps;
      }
      this.#version++;
      owner.syncedAt = this.#version;
    });
  }

  /**
   * Saves a checkpoint to `path` atomically (Node): safetensors with the
   * whole training state (see checkpoint()); a `.json` path writes only the
   * parameters and buffers as tensor JSON, for small examples.
   */
  async save(path: string): Promise<void> {
    const files = await import('./state-file.ts');
    if (path.endsWith('.json')) files.saveState(path, await this.stateDict());
    else files.writeCheckpointFile(path, await this.checkpoint());
  }

  /** Loads what `save` wrote (Node): a checkpoint (see restore()), or a `.json` state dict of parameters and buffers. */
  async load(path: string): Promise<void> {
    const files = await import('./state-file.ts');
    if (!path.endsWith('.json')) return this.restore(files.readCheckpointFile(path), path);
    return this.#serial(async () => {
      const specs = [...this.#params, ...this.#buffers];
      const values = files.loadState(path, new Map(specs.map((s) => [s.name, s.type])));
      const owner = this.#owner!;
      for (const s of specs) {
        const t = values.get(s.name)!;
        owner.session.write(s.name, encodeTensor(t.dtype, t.data));
      }
      this.#version++;
      owner.syncedAt = this.#version;
    });
  }

  /** Releases the sessions (and the device, when the Trainer acquired it). */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#entries.values()) p.then((e) => e.session.destroy(), () => undefined);
    this.#entries.clear();
    this.#metrics?.close();
    if (this.#ownsDevice) this.ctx.destroy();
  }

  // ---------------------------------------------------------------- internals

  #alive(): void {
    if (this.#destroyed) throw new AmpcError('E0702', 'this Trainer has been destroyed (destroy() was called)');
  }

  /** Runs calls one after another, so a step never interleaves with another call. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#queue.run(work, () => this.#alive());
  }

  /** The entry of the last train step, which must report `what` (E0609 otherwise). */
  #reportingEntry(what: 'gradNorm' | 'gradients'): Entry {
    if (this.#opts.report?.[what] !== true) {
      throw new AmpcError('E0609', `${what}(): the train step does not report it; create the Trainer with report: { ${what}: true } (it costs one stored ${what === 'gradNorm' ? 'scalar' : 'gradient per parameter'})`);
    }
    // The owner of the state is the train step that ran last (with several batch shapes, not the last compiled).
    const entry = this.#owner;
    if (this.#steps === 0 || !entry || entry.kind !== 'train') throw new AmpcError('E0609', `${what}(): no train step has run yet`);
    return entry;
  }

  /** Reads the metrics of the step that just ran (one sync) and writes its line; returns the loss. */
  async #logMetrics(entry: Entry, m: MetricsLog): Promise<number> {
    const outs = [entry.output, ...(entry.reported.gradNorm !== undefined ? [entry.reported.gradNorm] : [])];
    const ls = this.lossScaling;
    const names = [STEP_INPUT, ...(ls.mode === 'dynamic' ? [SCALE_INPUT] : []), ...(ls.mode !== 'off' ? [SKIPPED_INPUT] : [])];
    const [outBytes, inBytes] = await Promise.all([entry.session.readOutputs(outs), entry.session.readInputs(names)]);
    const f32 = (b: ArrayBuffer) => new Float32Array(b, 0, 1)[0]!;
    const now = performance.now();
    const updates = f32(inBytes[0]!);
    const schedule = this.#opts.optimizer.schedule;
    const seconds = (now - m.lastTime) / 1000;
    const metrics: StepMetrics = {
      step: this.#steps,
      loss: f32(outBytes[0]!),
      scale: ls.mode === 'dynamic' ? f32(inBytes[1]!) : ls.mode === 'static' ? ls.scale : 1,
      skipped: ls.mode !== 'off' ? new Int32Array(inBytes[names.length - 1]!, 0, 1)[0]! : 0,
      updates,
      lr: this.#lr * (schedule ? scheduleFactor(resolveSchedule(schedule), updates) : 1),
      ...(outs.length > 1 ? { gradNorm: f32(outBytes[1]!) } : {}),
      samplesPerSecond: seconds > 0 ? (m.samples - m.lastSamples) / seconds : 0,
      elapsedSeconds: (now - m.start!) / 1000,
    };
    m.lastTime = now;
    m.lastSamples = m.samples;
    for (const line of m.formatter.lines(metrics)) m.write(line);
    m.onMetrics?.(metrics);
    return metrics.loss;
  }

  #batchTypes(what: string, xs: readonly TensorInput[], specs: readonly InputSpec[]): TensorType[] {
    if (!Array.isArray(xs) || xs.length !== specs.length || xs.length === 0) {
      const n = this.#opts.inputs.length;
      throw new AmpcError('E0603', `${what}: expects ${what === 'step' ? n : `1..${n}`} input(s) (${this.#opts.inputs.map((s) => typeToString(s)).join(', ')}), got ${Array.isArray(xs) ? xs.length : typeof xs}`);
    }
    return xs.map((x, i) => inputType(`${what}: input ${i}${specs[i]!.name ? ` (${specs[i]!.name})` : ''}`, specs[i]!, x, true));
  }

  /**
   * What every compile of this trainer shares: f16 mode, fusion, amp options,
   * logging, and the IR dump after `printIrAfter` when it names a pass of
   * this compile (`pipeline` and the codegen passes; the train step's passes
   * dump from trainStepGraph). A name no pass of the trainer has is E0609.
   */
  #compileSpec(pipeline: readonly Pass[] = []): CompileSpec {
    const o = this.#opts;
    const fusion = o.fusion !== false;
    const own = [...pipeline, ...compilePasses({ fusion })];
    const amp = o.precision === 'amp' ? AMP_PASSES : [];
    checkPrintIrAfter(o.printIrAfter, [...amp, ...trainStepPasses(o.precision ?? 'f32'), ...own]);
    const mine = o.printIrAfter === 'all' || own.some((p) => p.name === o.printIrAfter);
    return {
      ...(o.f16Mode ? { f16Mode: o.f16Mode } : {}),
      ...(o.castPrologues !== undefined ? { castPrologues: o.castPrologues } : {}),
      fusion,
      options: o.ampOptions ?? {},
      ...(o.log ? { log: o.log } : {}),
      ...(o.printIrAfter && mine ? { printIrAfter: o.printIrAfter } : {}),
      ...(o.dump ? { dump: o.dump } : {}),
    };
  }

  #key(kind: 'train' | 'predict', types: readonly TensorType[]): string {
    const o = this.#opts;
    return stableJson({
      kind,
      inputs: types.map(typeToString),
      optimizer: kind === 'train' ? o.optimizer : undefined,
      precision: o.precision ?? 'f32',
      lossScale: kind === 'train' ? this.lossScaling : undefined,
      ampOptions: o.precision === 'amp' ? o.ampOptions : undefined,
      f16Mode: o.f16Mode ?? defaultF16Mode(this.ctx),
      castPrologues: o.castPrologues,
      fusion: o.fusion !== false,
      report: kind === 'train' ? o.report : undefined,
    });
  }

  #specs(types: readonly TensorType[]): InputSpec[] {
    return types.map((t, i) => {
      const name = this.#opts.inputs[i]!.name;
      return name === undefined ? { dtype: t.dtype, shape: t.shape } : { dtype: t.dtype, shape: t.shape, name };
    });
  }

  #cached(key: string, build: () => Promise<Entry>): Promise<Entry> {
    let p = this.#entries.get(key);
    if (!p) {
      p = build();
      this.#entries.set(key, p);
      p.catch(() => this.#entries.delete(key));
    }
    return p;
  }

  #trainEntry(types: readonly TensorType[]): Promise<Entry> {
    return this.#cached(this.#key('train', types), async () => {
      const { model, loss, optimizer, precision, lossScale, ampOptions } = this.#opts;
      const start = performance.now();
      const traced: TraceResult = inMode(model, true, () => traceModule(model, this.#specs(types), { call: loss }));
      if (this.#owner === undefined) {
        this.#params = traced.params;
        this.#buffers = traced.buffers;
      }
      const extraUpdates = traced.stateUpdates.map((u) => ({ output: u.outputIndex, input: u.name }));
      const stepPasses = [...(precision === 'amp' ? AMP_PASSES : []), ...trainStepPasses(precision ?? 'f32')];
      const spec = this.#compileSpec();
      const { log, dump, printIrAfter } = this.#opts;
      const inStep = printIrAfter === 'all' || stepPasses.some((p) => p.name === printIrAfter);
      const step = trainStepGraph(traced.graph, optimizer, { extraUpdates, precision, lossScale, ampOptions, ...(this.#opts.report ? { report: this.#opts.report } : {}) }, {
        ...(log ? { log } : {}), ...(dump ? { dump } : {}), ...(inStep && printIrAfter ? { printIrAfter } : {}),
      });
      // Every write of a weight goes through Session.write, which refreshes its f16 copy (compiler/weight-copies.ts);
      // every step writes its batch, so the batch's buffers are donated (PlanIO.donated).
      const compiled = compileGraph(step.graph, this.ctx, { ...spec, updates: step.updates, weightCopies: true, donate: batchInputs(step.graph, types) });
      this.#compiledGraph = compiled.graph;
      const plan = compiled.plan;
      const compileMs = performance.now() - start;
      const session = await Session.create(this.ctx, plan);
      this.#sessions.push(session);
      this.#kinds.set(session, 'train');
      const state = new Map<string, number>();
      for (const s of [...traced.params, ...traced.buffers, ...step.state]) {
        const io = plan.inputs.find((x) => x.name === s.name);
        if (!io) throw new Error(`Trainer: state '${s.name}' is not an input of the compiled train step`);
        state.set(s.name, plan.buffers[io.buffer]!.byteSize);
      }
      const lrName = LR_INPUT;
      // Fresh optimizer and loss-scale state and the current learning rate; params and buffers come from the owner.
      for (const s of step.state) session.write(s.name, encodeTensor(s.type.dtype, new Float64Array(numel(s.type.shape)).fill(s.init)));
      session.write(lrName, encodeTensor('f32', [this.#lr]));
      const entry: Entry = {
        kind: 'train', session, dispatches: compiled.dispatches, compileMs, inputTypes: types, inputNames: plan.inputs.slice(0, types.length).map((x) => x.name),
        state, output: step.loss, lrName, stepState: step.state, reported: step.reported, syncedAt: -1,
      };
      this.#trainEntries.push(entry);
      this.#lastEntry.set('train', entry);
      return entry;
    });
  }

  #predictEntry(types: readonly TensorType[]): Promise<Entry> {
    return this.#cached(this.#key('predict', types), async () => {
      const { model } = this.#opts;
      const start = performance.now();
      const traced = inMode(model, false, () => traceModule(model, this.#specs(types)));
      const pipeline = this.#opts.precision === 'amp' ? AMP_PASSES : [];
      const compiled = compileGraph(traced.graph, this.ctx, { ...this.#compileSpec(pipeline), pipeline, donate: batchInputs(traced.graph, types) });
      const plan = compiled.plan;
      const compileMs = performance.now() - start;
      const session = await Session.create(this.ctx, plan);
      this.#sessions.push(session);
      this.#kinds.set(session, 'predict');
      const state = new Map<string, number>();
      for (const s of [...traced.params, ...traced.buffers]) {
        const io = plan.inputs.find((x) => x.name === s.name)!;
        state.set(s.name, plan.buffers[io.buffer]!.byteSize);
      }
      const entry: Entry = {
        kind: 'predict', session, dispatches: compiled.dispatches, compileMs, inputTypes: types, inputNames: plan.inputs.slice(0, types.length).map((x) => x.name),
        state, output: 0, lrName: undefined, stepState: [], reported: {}, syncedAt: -1,
      };
      this.#lastEntry.set('predict', entry);
      return entry;
    });
  }

  /** Initial parameters and buffers from their init specs and the seed. */
  #initialize(entry: Entry): void {
    const seed = this.#opts.seed ?? 0;
    for (const s of [...this.#params, ...this.#buffers]) entry.session.write(s.name, encodeTensor(s.type.dtype, initialValues(s, seed)));
    this.#owner = entry;
    entry.syncedAt = this.#version;
  }

  /** Brings a session's state up to date from the owner's (a read-back and writes), when stale. */
  async #sync(entry: Entry): Promise<void> {
    const owner = this.#owner!;
    if (entry === owner || entry.syncedAt === this.#version) return;
    const names = [...entry.state.keys()].filter((n) => owner.state.get(n) === entry.state.get(n));
    const bytes = await owner.session.readInputs(names);
    names.forEach((n, i) => entry.session.write(n, new Uint8Array(bytes[i]!)));
    entry.syncedAt = this.#version;
  }

  async #read(specs: readonly { readonly name: string; readonly type: TensorType }[]): Promise<Record<string, HostTensor>> {
    const bytes = await this.#owner!.session.readInputs(specs.map((s) => s.name));
    const out: Record<string, HostTensor> = {};
    specs.forEach((s, i) => {
      const t: HostTensor = { dtype: s.type.dtype, shape: [...s.type.shape], data: decodeTensor(s.type.dtype, bytes[i]!, numel(s.type.shape)) };
      Object.defineProperty(out, s.name, { value: t, enumerable: true, writable: true, configurable: true });
    });
    return out;
  }
}

/** Runs `check`, placing an AmpcError it throws at `at` (the user's call) unless it has a place. */
function placed<T>(at: Loc, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof AmpcError ? e.at(at) : e;
  }
}
