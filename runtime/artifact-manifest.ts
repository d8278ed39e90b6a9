// The manifest of an ahead-of-time artifact (`manifest.json`), and its
// checks. An artifact directory holds
//   manifest.json        this file: what the artifact computes and how
//   kernels/*.wgsl       one WGSL module per kernel, readable
//   weights.safetensors  values of the inputs it carries (params, optimizer
//                        and loss-scale state, the learning rate)
//   graph.ir             the final IR after every pass (for people; the
//                        runtime does not read it)
// The manifest is the Plan (runtime/plan.ts) with the kernels' code moved to
// files, plus the graph's interface: inputs and outputs with names, dtypes,
// shapes and roles, the device features and limits the plan needs, and how
// it was compiled. `checkManifest` rejects anything malformed or
// inconsistent (E0606) before any file is read further or any GPU work:
// a tampered manifest must not turn into out-of-range bindings or garbage.

import type { DType } from '../ir/dtype.ts';
import { isDType } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import type { F16Mode, Plan, PlanBuffer, PlanCopy, PlanDispatch, PlanStorage } from './plan.ts';
import { storageBytes } from './plan.ts';

export const ARTIFACT_FORMAT = 'ampc-artifact';
/** The format version this runtime writes and reads. Older and newer versions are refused by name. */
export const ARTIFACT_VERSION = 2; // 2: intermediates may sit at an offset into a shared device buffer
export const MANIFEST_FILE = 'manifest.json';
export const WEIGHTS_FILE = 'weights.safetensors';
export const GRAPH_FILE = 'graph.ir';
/** Kernel files: `kernels/NAME.wgsl`, nothing that could leave the directory. */
const KERNEL_FILE = /^kernels\/[A-Za-z0-9_.-]+\.wgsl$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What an input is: data given at each run (`input`), a model parameter
 * (`param`), or state a train step updates in place (optimizer moments, the
 * loss scale, the step counter, the learning rate: `state`).
 */
export type ArtifactInputRole = 'input' | 'param' | 'state';

export interface ArtifactTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Index into `buffers`. */
  readonly buffer: number;
}

export interface ArtifactInput extends ArtifactTensor {
  readonly role: ArtifactInputRole;
}

export interface ArtifactKernel {
  readonly label: string;
  /** `kernels/NNN-name.wgsl`, relative to the artifact. */
  readonly file: string;
  readonly entryPoint: string;
  readonly usesF16: boolean;
}

/** How the artifact was compiled (for people, and for `ampc-run` to report). */
export interface CompiledWith {
  readonly ampc: string;
  readonly precision: 'f32' | 'amp';
  readonly pipeline: string;
  readonly fusion: boolean;
  /** The device the kernels were generated for: `webgpu` (portable limits), or a description of the adapter. */
  readonly target: string;
  readonly adapterKind: 'cpu' | 'gpu';
  /** Train steps only: the optimizer and the loss scaling, as resolved. */
  readonly optimizer?: unknown;
  readonly lossScaling?: unknown;
}

/** A train step: which output is the loss and which input the learning rate. */
export interface ArtifactTrainStep {
  /** Output index of the loss (an f32 scalar). */
  readonly loss: number;
  /** Name of the learning-rate input (f32[]). */
  readonly learningRate: string;
}

export interface Manifest {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly version: number;
  /** The graph's name (`@name` in the IR). */
  readonly graph: string;
  readonly kind: 'forward' | 'train-step';
  readonly compiledWith: CompiledWith;
  /** Device features and limits the plan needs; checked against the device at load. */
  readonly requires: { readonly features: readonly string[]; readonly limits: Readonly<Record<string, number>> };
  readonly f16Mode: F16Mode;
  /**
   * The batch size the plan was compiled for, where the graph has one: the
   * leading dimension every data input shares. Shapes are static, so runs
   * must use it (a clear error otherwise: compile again for another size).
   */
  readonly batch?: { readonly size: number; readonly inputs: readonly string[] };
  readonly inputs: readonly ArtifactInput[];
  readonly outputs: readonly ArtifactTensor[];
  /** The safetensors file and the inputs it has values for. */
  readonly weights: { readonly file: string; readonly tensors: readonly string[] };
  readonly kernels: readonly ArtifactKernel[];
  readonly buffers: readonly PlanBuffer[];
  readonly storage?: readonly PlanStorage[];
  readonly dispatches: readonly PlanDispatch[];
  readonly updates?: readonly PlanCopy[];
  readonly train?: ArtifactTrainStep;
}

/** The Plan a manifest describes, with its kernels' code (in manifest order). */
export function planOf(m: Manifest, code: readonly string[]): Plan {
  return {
    version: 1,
    f16Mode: m.f16Mode,
    kernels: m.kernels.map((k, i) => ({ label: k.label, code: code[i]!, entryPoint: k.entryPoint, usesF16: k.usesF16 })),
    buffers: m.buffers,
    dispatches: m.dispatches,
    inputs: m.inputs.map((x) => ({ name: x.name, buffer: x.buffer })),
    outputs: m.outputs.map((x) => ({ name: x.name, buffer: x.buffer })),
    ...(m.updates ? { updates: m.updates } : {}),
    ...(m.storage ? { storage: m.storage } : {}),
  };
}

// ------------------------------------------------------------------ checks

type Json = unknown;

class Checker {
  constructor(private readonly where: string) {}

  fail(path: string, why: string): never {
    throw new AmpcError('E0606', `${this.where}: ${path}: ${why}`);
  }

  object(v: Json, path: string): Record<string, Json> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'expected an object');
    return v as Record<string, Json>;
  }

  array(v: Json, path: string): Json[] {
    if (!Array.isArray(v)) this.fail(path, 'expected a list');
    return v;
  }

  string(v: Json, path: string, pattern?: RegExp): string {
    if (typeof v !== 'string') this.fail(path, 'expected a string');
    if (pattern && !pattern.test(v)) this.fail(path, `${JSON.stringify(v)} does not match ${pattern}`);
    return v;
  }

  bool(v: Json, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'expected true or false');
    return v;
  }

  int(v: Json, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(v: Json, path: string, choices: readonly T[]): T {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) this.fail(path, `expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  dtype(v: Json, path: string): DType {
    if (typeof v !== 'string' || !isDType(v)) this.fail(path, `unknown dtype ${JSON.stringify(v)}`);
    return v;
  }

  shape(v: Json, path: string): number[] {
    return this.array(v, path).map((d, i) => this.int(d, `${path}[${i}]`));
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Checks a parsed manifest.json and returns it typed. Refuses other formats
 * and versions by name, then every field: kinds, ranges, cross references
 * (buffer, kernel and input indices), buffer sizes against their dtypes and
 * shapes, kernel file names confined to `kernels/`.
 */
export function checkManifest(json: Json, where: string): Manifest {
  const c = new Checker(where);
  const m = c.object(json, 'manifest');
  if (m.format !== ARTIFACT_FORMAT) c.fail('format', `not an ampc artifact (format ${JSON.stringify(m.format)}, expected "${ARTIFACT_FORMAT}")`);
  const version = c.int(m.version, 'version', 0);
  if (version > ARTIFACT_VERSION) c.fail('version', `the artifact has format version ${version}, made by a newer ampc; this runtime reads version ${ARTIFACT_VERSION}: upgrade ampc, or compile the model again with this one`);
  if (version < ARTIFACT_VERSION) c.fail('version', `the artifact has format version ${version}, which this runtime no longer reads (it reads version ${ARTIFACT_VERSION}): compile the model again`);

  const kind = c.oneOf(m.kind, 'kind', ['forward', 'train-step'] as const);
  const f16Mode = c.oneOf(m.f16Mode, 'f16Mode', ['native', 'storage', 'packed'] as const);
  const graph = c.string(m.graph, 'graph');

  const cw = c.object(m.compiledWith, 'compiledWith');
  const compiledWith: CompiledWith = {
    ampc: c.string(cw.ampc, 'compiledWith.ampc'),
    precision: c.oneOf(cw.precision, 'compiledWith.precision', ['f32', 'amp'] as const),
    pipeline: c.string(cw.pipeline, 'compiledWith.pipeline'),
    fusion: c.bool(cw.fusion, 'compiledWith.fusion'),
    target: c.string(cw.target, 'compiledWith.target'),
    adapterKind: c.oneOf(cw.adapterKind, 'compiledWith.adapterKind', ['cpu', 'gpu'] as const),
    ...(cw.optimizer !== undefined ? { optimizer: cw.optimizer } : {}),
    ...(cw.lossScaling !== undefined ? { lossScaling: cw.lossScaling } : {}),
  };

  const req = c.object(m.requires, 'requires');
  const features = c.array(req.features, 'requires.features').map((f, i) => c.string(f, `requires.features[${i}]`));
  const limitsJson = c.object(req.limits, 'requires.limits');
  const limits: Record<string, number> = {};
  for (const [k, v] of Object.entries(limitsJson)) Object.defineProperty(limits, k, { value: c.int(v, `requires.limits.${k}`), enumerable: true });

  const buffers: PlanBuffer[] = c.array(m.buffers, 'buffers').map((bj, i) => {
    const p = `buffers[${i}]`;
    const b = c.object(bj, p);
    const id = c.int(b.id, `${p}.id`);
    if (id !== i) c.fail(`${p}.id`, `expected ${i} (buffers are listed by id)`);
    const dtype = c.dtype(b.dtype, `${p}.dtype`);
    const shape = c.shape(b.shape, `${p}.shape`);
    const byteSize = c.int(b.byteSize, `${p}.byteSize`, 4);
    const want = storageBytes(dtype, shape.reduce((n, d) => n * d, 1));
    if (byteSize !== want) c.fail(`${p}.byteSize`, `${byteSize} bytes, but ${dtype}[${shape.join(',')}] takes ${want}`);
    const role = c.oneOf(b.role, `${p}.role`, ['input', 'param', 'output', 'intermediate', 'constant'] as const);
    return {
      id, dtype, shape, byteSize, role,
      ...(b.name !== undefined ? { name: c.string(b.name, `${p}.name`) } : {}),
      ...(b.storage !== undefined ? { storage: c.int(b.storage, `${p}.storage`) } : {}),
      ...(b.offset !== undefined ? { offset: c.int(b.offset, `${p}.offset`) } : {}),
    };
  });
  const bufferIndex = (v: Json, p: string) => c.int(v, p, 0, buffers.length - 1);

  let storage: PlanStorage[] | undefined;
  if (m.storage !== undefined) {
    storage = c.array(m.storage, 'storage').map((sj, i) => ({ byteSize: c.int(c.object(sj, `storage[${i}]`).byteSize, `storage[${i}].byteSize`, 4) }));
  }
  buffers.forEach((b, i) => {
    if (b.storage !== undefined && (storage === undefined || b.storage >= storage.length)) c.fail(`buffers[${i}].storage`, `names device buffer ${b.storage}; the manifest has ${storage?.length ?? 0}`);
  });

  const kernels: ArtifactKernel[] = c.array(m.kernels, 'kernels').map((kj, i) => {
    const k = c.object(kj, `kernels[${i}]`);
    return {
      label: c.string(k.label, `kernels[${i}].label`),
      file: c.string(k.file, `kernels[${i}].file`, KERNEL_FILE),
      entryPoint: c.string(k.entryPoint, `kernels[${i}].entryPoint`, IDENT),
      usesF16: c.bool(k.usesF16, `kernels[${i}].usesF16`),
    };
  });

  const dispatches: PlanDispatch[] = c.array(m.dispatches, 'dispatches').map((dj, i) => {
    const p = `dispatches[${i}]`;
    const d = c.object(dj, p);
    const wg = c.array(d.workgroups, `${p}.workgroups`);
    if (wg.length !== 3) c.fail(`${p}.workgroups`, 'expected [x, y, z]');
    return {
      kernel: c.int(d.kernel, `${p}.kernel`, 0, kernels.length - 1),
      bindings: c.array(d.bindings, `${p}.bindings`).map((b, j) => bufferIndex(b, `${p}.bindings[${j}]`)),
      workgroups: [c.int(wg[0], `${p}.workgroups[0]`), c.int(wg[1], `${p}.workgroups[1]`), c.int(wg[2], `${p}.workgroups[2]`)] as const,
    };
  });

  const tensor = (tj: Json, p: string): ArtifactTensor => {
    const t = c.object(tj, p);
    const name = c.string(t.name, `${p}.name`);
    const dtype = c.dtype(t.dtype, `${p}.dtype`);
    const shape = c.shape(t.shape, `${p}.shape`);
    const buffer = bufferIndex(t.buffer, `${p}.buffer`);
    const b = buffers[buffer]!;
    if (b.dtype !== dtype || !same(b.shape, shape)) c.fail(p, `${name} is ${dtype}[${shape.join(',')}], but its buffer #${buffer} is ${b.dtype}[${b.shape.join(',')}]`);
    return { name, dtype, shape, buffer };
  };
  const unique = (list: readonly { name: string }[], what: string) => {
    const seen = new Set<string>();
    for (const x of list) {
      if (seen.has(x.name)) c.fail(what, `'${x.name}' appears twice`);
      seen.add(x.name);
    }
  };
  const inputs: ArtifactInput[] = c.array(m.inputs, 'inputs').map((ij, i) => ({
    ...tensor(ij, `inputs[${i}]`),
    role: c.oneOf(c.object(ij, `inputs[${i}]`).role, `inputs[${i}].role`, ['input', 'param', 'state'] as const),
  }));
  const outputs = c.array(m.outputs, 'outputs').map((oj, i) => tensor(oj, `outputs[${i}]`));
  unique(inputs, 'inputs');
  const inputNames = new Set(inputs.map((x) => x.name));

  const updates = m.updates === undefined ? undefined : c.array(m.updates, 'updates').map((uj, i) => {
    const u = c.object(uj, `updates[${i}]`);
    return { from: bufferIndex(u.from, `updates[${i}].from`), to: bufferIndex(u.to, `updates[${i}].to`) };
  });

  const w = c.object(m.weights, 'weights');
  const weights = {
    file: c.string(w.file, 'weights.file', /^[A-Za-z0-9_.-]+\.safetensors$/),
    tensors: c.array(w.tensors, 'weights.tensors').map((n, i) => {
      const name = c.string(n, `weights.tensors[${i}]`);
      if (!inputNames.has(name)) c.fail(`weights.tensors[${i}]`, `'${name}' is not an input`);
      return name;
    }),
  };

  let batch: Manifest['batch'];
  if (m.batch !== undefined) {
    const b = c.object(m.batch, 'batch');
    batch = { size: c.int(b.size, 'batch.size'), inputs: c.array(b.inputs, 'batch.inputs').map((n, i) => c.string(n, `batch.inputs[${i}]`)) };
  }

  let train: ArtifactTrainStep | undefined;
  if (kind === 'train-step') {
    const t = c.object(m.train, 'train');
    train = { loss: c.int(t.loss, 'train.loss', 0, outputs.length - 1), learningRate: c.string(t.learningRate, 'train.learningRate') };
    if (!inputNames.has(train.learningRate)) c.fail('train.learningRate', `'${train.learningRate}' is not an input`);
  }

  return {
    format: ARTIFACT_FORMAT, version, graph, kind, compiledWith, requires: { features, limits }, f16Mode,
    ...(batch ? { batch } : {}),
    inputs, outputs, weights, kernels, buffers,
    ...(storage ? { storage } : {}),
    dispatches,
    ...(updates ? { updates } : {}),
    ...(train ? { train } : {}),
  };
}
