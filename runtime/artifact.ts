// Loading and running an ahead-of-time artifact with the runtime alone (no
// compiler, no passes: this file reaches only runtime/, ir/dtype.ts and
// ir/errors.ts, which test/artifact-imports.test.ts checks).
//
//   const model = await loadArtifact('mlp.artifact');         // Node: a directory
//   const model = await loadArtifact(new URL('./mlp/', location.href)); // a page
//   const [logits] = await model.run({ x: { dtype: 'f32', shape: [64, 784], data } });
//   await model.step({ x, y }, { readLoss: true });           // a train-step artifact
//
// Everything is read and checked before any GPU work: the manifest (format,
// version, every field: runtime/artifact-manifest.ts), every kernel file, and
// the weights (safetensors, against the manifest's inputs). Then the device
// (given, or acquired) must have the features and limits the manifest
// requires; a Session runs the plan, the weights are uploaded once, and each
// run uploads only the inputs it is given. Inputs carried by the weights may
// be given too (they replace the carried values from then on).

import type { DType, HostTensor } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import type { ArtifactInput, ArtifactTensor, Manifest } from './artifact-manifest.ts';
import { checkManifest, MANIFEST_FILE, planOf } from './artifact-manifest.ts';
import type { ArtifactSource } from './artifact-source.ts';
import { artifactReader } from './artifact-source.ts';
import type { AcquireOptions, GpuContext } from './device.ts';
import { acquireDevice } from './device.ts';
import { decodeTensor, encodeTensor } from './host-data.ts';
import { checkPlanFits, Session } from './session.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { SerialQueue } from './serial.ts';

export type { ArtifactFiles, ArtifactSource } from './artifact-source.ts';
export type { Manifest } from './artifact-manifest.ts';

/** A tensor given to an artifact: a dtype, a shape and row-major values. */
export interface TensorValue {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export interface LoadOptions {
  /** Run on this device (default: acquire one, and destroy it with the artifact). */
  readonly device?: GpuContext;
  /** How to acquire a device when none is given. */
  readonly acquire?: AcquireOptions;
}

const numel = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const typeText = (t: { dtype: DType; shape: readonly number[] }) => `${t.dtype}[${t.shape.join(',')}]`;

/** Reads, checks and opens an artifact on a device (see the file header). */
export async function loadArtifact(source: ArtifactSource, opts: LoadOptions = {}): Promise<Artifact> {
  const reader = artifactReader(source);
  const text = await reader.text(MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AmpcError('E0606', `${reader.describe(MANIFEST_FILE)}: not JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(json, reader.describe(MANIFEST_FILE));
  const code = await Promise.all(manifest.kernels.map((k) => reader.text(k.file)));
  const weights = readSafetensors(await reader.bytes(manifest.weights.file), reader.describe(manifest.weights.file));
  const carried = checkWeights(manifest, weights.tensors, reader.describe(manifest.weights.file));

  const ctx = opts.device ?? (await acquireDevice(opts.acquire));
  try {
    checkRequirements(manifest, ctx);
    const plan = planOf(manifest, code);
    checkPlanFits(ctx, plan);
    const session = await Session.create(ctx, plan);
    const artifact = new Artifact(manifest, session, opts.device === undefined);
    for (const [name, t] of carried) artifact.set({ [name]: t });
    return artifact;
  } catch (e) {
    if (opts.device === undefined) ctx.destroy();
    throw e;
  }
}

/** The weights file must hold exactly the tensors the manifest lists, each with its input's dtype and shape. */
function checkWeights(m: Manifest, tensors: ReadonlyMap<string, HostTensor>, where: string): Map<string, HostTensor> {
  const listed = new Set(m.weights.tensors);
  for (const name of tensors.keys()) {
    if (!listed.has(name)) throw new AmpcError('E0606', `${where}: holds '${name}', which the manifest does not list`);
  }
  const out = new Map<string, HostTensor>();
  for (const name of m.weights.tensors) {
    const t = tensors.get(name);
    if (!t) throw new AmpcError('E0606', `${where}: has no tensor '${name}', which the manifest lists`);
    const input = m.inputs.find((x) => x.name === name)!;
    if (t.dtype !== input.dtype || numel(t.shape) !== numel(input.shape) || t.shape.length !== input.shape.length || t.shape.some((d, i) => d !== input.shape[i])) {
      throw new AmpcError('E0606', `${where}: '${name}' is ${typeText(t)}; the artifact's input is ${typeText(input)}`);
    }
    out.set(name, t);
  }
  return out;
}

/** E0702 naming the feature or limit a device lacks. */
function checkRequirements(m: Manifest, ctx: GpuContext): void {
  for (const f of m.requires.features) {
    if (!ctx.features.includes(f)) {
      const hint = f === 'shader-f16' ? ` (compile it with --f16-mode packed for devices without it)` : '';
      throw new AmpcError('E0702', `the artifact needs the device feature '${f}', which this device (${ctx.adapterInfo.name}) lacks${hint}`);
    }
  }
  for (const [name, need] of Object.entries(m.requires.limits)) {
    const has = (ctx.limits as Readonly<Record<string, number>>)[name];
    if (has !== undefined && need > has) throw new AmpcError('E0702', `the artifact needs ${name} ≥ ${need}; this device (${ctx.adapterInfo.name}) allows ${has}`);
  }
}

/** A loaded artifact: run it (or step it, for a train step), read its state, save its weights. */
export class Artifact {
  readonly #session: Session;
  readonly #ownsDevice: boolean;
  /** Inputs that have a value on the device. */
  readonly #valued = new Set<string>();
  readonly #queue = new SerialQueue();
  #destroyed = false;

  constructor(readonly manifest: Manifest, session: Session, ownsDevice: boolean) {
    this.#session = session;
    this.#ownsDevice = ownsDevice;
  }

  get inputs(): readonly ArtifactInput[] {
    return this.manifest.inputs;
  }

  get outputs(): readonly ArtifactTensor[] {
    return this.manifest.outputs;
  }

  /** Bytes of the GPU buffers this artifact holds. */
  get gpuBufferBytes(): number {
    return this.#session.bufferBytes;
  }

  get device(): GpuContext {
    return this.#session.ctx;
  }

  /** Uploads values of inputs (any of them, params and state too); checked against the manifest (E0603). */
  set(values: Readonly<Record<string, TensorValue>>): void {
    this.#alive();
    for (const [name, t] of Object.entries(values)) {
      const input = this.manifest.inputs.find((x) => x.name === name);
      if (!input) throw new AmpcError('E0603', `the artifact has no input '${name}' (it has: ${this.manifest.inputs.map((x) => x.name).join(', ')})`);
      this.#check(input, t);
      this.#session.write(name, encodeTensor(input.dtype, t.data));
      this.#valued.add(name);
    }
  }

  /**
   * Uploads `inputs`, runs the plan once (a train step's updates included)
   * and reads back every output, in return order.
   */
  run(inputs: Readonly<Record<string, TensorValue>> = {}): Promise<HostTensor[]> {
    return this.#serial(async () => {
      this.#runOnce(inputs);
      const bytes = await this.#session.readOutputs();
      return this.manifest.outputs.map((o, i) => ({ dtype: o.dtype, shape: [...o.shape], data: decodeTensor(o.dtype, bytes[i]!, numel(o.shape)) }));
    });
  }

  /** One train step on a batch (a train-step artifact): returns the loss when `readLoss` is set (a sync), else undefined. */
  step(batch: Readonly<Record<string, TensorValue>>, opts: { readonly readLoss?: boolean } = {}): Promise<number | undefined> {
    return this.#serial(async () => {
      const train = this.#train();
      this.#runOnce(batch);
      if (!opts.readLoss) return undefined;
      const [bytes] = await this.#session.readOutputs([train.loss]);
      return new Float32Array(bytes!, 0, 1)[0]!;
    });
  }

  /** Sets the learning rate of the following steps (a train-step artifact). */
  setLearningRate(lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new AmpcError('E0603', `learning rate must be a finite number ≥ 0, got ${lr}`);
    this.set({ [this.#train().learningRate]: { dtype: 'f32', shape: [], data: [lr] } });
  }

  /** Current values of the params and state inputs (after steps: the trained ones), read back from the device. */
  state(): Promise<Record<string, HostTensor>> {
    return this.#serial(async () => {
      const names = this.manifest.inputs.filter((x) => x.role !== 'input' && this.#valued.has(x.name)).map((x) => x.name);
      const bytes = await this.#session.readInputs(names);
      const out: Record<string, HostTensor> = {};
      names.forEach((name, i) => {
        const x = this.manifest.inputs.find((y) => y.name === name)!;
        Object.defineProperty(out, name, { value: { dtype: x.dtype, shape: [...x.shape], data: decodeTensor(x.dtype, bytes[i]!, numel(x.shape)) }, enumerable: true });
      });
      return out;
    });
  }

  /** The current params and state as a safetensors file (the artifact's weights after training, e.g. to save and load again). */
  async saveWeights(): Promise<Uint8Array> {
    return writeSafetensors(await this.state(), { format: 'ampc', graph: this.manifest.graph });
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#session.destroy();
    if (this.#ownsDevice) this.#session.ctx.destroy();
  }

  #runOnce(inputs: Readonly<Record<string, TensorValue>>): void {
    this.set(inputs);
    const missing = this.manifest.inputs.filter((x) => !this.#valued.has(x.name));
    if (missing.length > 0) {
      throw new AmpcError('E0603', `missing input${missing.length > 1 ? 's' : ''} ${missing.map((x) => `'${x.name}' (${typeText(x)})`).join(', ')}: the artifact carries no value for ${missing.length > 1 ? 'them' : 'it'}`);
    }
    this.#session.run();
    this.#session.ctx.check();
  }

  #check(input: ArtifactInput, t: TensorValue): void {
    if (typeof t !== 'object' || t === null || !Array.isArray(t.shape) || t.data === undefined) {
      throw new AmpcError('E0603', `input '${input.name}': expected a tensor {dtype, shape, data}`);
    }
    const same = t.dtype === input.dtype && t.shape.length === input.shape.length && t.shape.every((d, i) => d === input.shape[i]);
    if (!same) {
      const b = this.manifest.batch;
      const hint = b && b.inputs.includes(input.name) && t.shape[0] !== b.size ? `; the artifact was compiled for batch size ${b.size}: compile it again for another` : '';
      throw new AmpcError('E0603', `input '${input.name}': expected ${typeText(input)}, got ${typeText(t)}${hint}`);
    }
    if (t.data.length !== numel(input.shape)) throw new AmpcError('E0603', `input '${input.name}': ${typeText(input)} needs ${numel(input.shape)} values, got ${t.data.length}`);
  }

  #train() {
    if (!this.manifest.train) throw new AmpcError('E0603', `@${this.manifest.graph} is a forward artifact, not a train step: use run()`);
    return this.manifest.train;
  }

  #alive(): void {
    if (this.#destroyed) throw new AmpcError('E0702', 'this artifact has been destroyed (destroy() was called)');
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#queue.run(work, () => this.#alive());
  }
}
