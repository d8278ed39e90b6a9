// Training checkpoints: everything a Trainer needs to resume exactly where it
// stopped, as one safetensors file (runtime/safetensors.ts):
//   tensors   the parameters and buffers (state_dict names), the optimizer
//             state (`adam.m.<p>`, `adam.v.<p>`, `sgd.momentum.<p>`,
//             `opt.step`), the loss-scale state (`amp.scale`,
//             `amp.good_steps`, `amp.skipped`) and the learning rate (`opt.lr`)
//   metadata  format `ampc-checkpoint`, version, the step count, and the
//             optimizer, precision and loss scaling it was trained with
// Loading is strict, like PyTorch's load_state_dict: every parameter and
// buffer must be there with its dtype and shape, and nothing unknown. The
// train-step state is all or nothing: a checkpoint has all of it (it must
// match this trainer's optimizer and loss scaling, name for name) or none
// (a weights-only file, e.g. written by another tool: the trainer's own
// optimizer and loss-scale state are kept).

import type { HostTensor } from '../../ir/dtype.ts';
import { AmpcError } from '../../ir/errors.ts';
import type { TensorType } from '../../ir/types.ts';
import { shapesEqual, shapeToString, typeToString } from '../../ir/types.ts';
import { readSafetensors, writeSafetensors } from '../../runtime/safetensors.ts';

export const CHECKPOINT_FORMAT = 'ampc-checkpoint';
export const CHECKPOINT_VERSION = '1';

export interface CheckpointContents {
  /** Parameters and buffers. */
  readonly model: Readonly<Record<string, HostTensor>>;
  /** Optimizer and loss-scale state and the learning rate (absent in weights-only files). */
  readonly step?: Readonly<Record<string, HostTensor>>;
  /** Train steps taken (absent in weights-only files). */
  readonly steps?: number;
  /** How the state was trained: optimizer, precision, loss scaling (informational). */
  readonly trainedWith?: Readonly<Record<string, string>>;
}

export function encodeCheckpoint(c: CheckpointContents): Uint8Array {
  const tensors = new Map<string, HostTensor>([...Object.entries(c.model), ...Object.entries(c.step ?? {})]);
  return writeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...(c.steps !== undefined ? { steps: String(c.steps) } : {}),
    ...c.trainedWith,
  });
}

function checkType(where: string, name: string, t: HostTensor, want: TensorType): void {
  checkStateType(where, name, t, want);
}

/**
 * Refuses a saved tensor whose dtype or shape is not the model's (E0603,
 * naming it). A 2-D weight saved as the transpose gets a hint: ampc's
 * nn.Linear weight is [in, out] (x · W), PyTorch's is [out, in].
 */
export function checkStateType(where: string, name: string, t: { dtype: string; shape: readonly number[] }, want: TensorType): void {
  if (t.dtype === want.dtype && shapesEqual(t.shape, want.shape)) return;
  const transposed = t.shape.length === 2 && want.shape.length === 2 && t.shape[0] === want.shape[1] && t.shape[1] === want.shape[0];
  const hint = transposed ? ` (its transpose: ampc's nn.Linear weight is [in, out], PyTorch's is [out, in]; transpose a PyTorch state dict's Linear weights when you import them)` : '';
  throw new AmpcError('E0603', `${where}: '${name}' is ${t.dtype}${shapeToString(t.shape)}; the model's is ${typeToString(want)}${hint}`);
}

/**
 * Reads a checkpoint (or a weights-only safetensors file) and checks it
 * against the model's state (`model`) and the train step's (`step`).
 */
export function decodeCheckpoint(bytes: Uint8Array, where: string, model: ReadonlyMap<string, TensorType>, step: ReadonlyMap<string, TensorType>): CheckpointContents {
  const file = readSafetensors(bytes, where);
  const meta = file.metadata;
  if (meta.format === CHECKPOINT_FORMAT && meta.version !== CHECKPOINT_VERSION) {
    throw new AmpcError('E0605', `${where}: checkpoint version ${meta.version}; this ampc reads version ${CHECKPOINT_VERSION}`);
  }
  const got = file.tensors;
  const unknown = [...got.keys()].filter((k) => !model.has(k) && !step.has(k));
  if (unknown.length) {
    const trained = meta.optimizer ? `; the checkpoint was trained with ${meta.optimizer}${meta.precision ? ` under ${meta.precision}` : ''}` : '';
    throw new AmpcError('E0603', `${where}: the model has no state named ${unknown.map((k) => `'${k}'`).join(', ')} (it has: ${[...model.keys(), ...step.keys()].join(', ')})${trained}`);
  }
  const missing = [...model.keys()].filter((k) => !got.has(k));
  if (missing.length) throw new AmpcError('E0603', `${where}: missing ${missing.map((k) => `'${k}'`).join(', ')}`);
  const modelState: Record<string, HostTensor> = {};
  for (const [name, want] of model) {
    checkType(where, name, got.get(name)!, want);
    Object.defineProperty(modelState, name, { value: got.get(name)!, enumerable: true });
  }
  const stepNames = [...step.keys()];
  const present = stepNames.filter((k) => got.has(k));
  if (present.length === 0) return { model: modelState };
  if (present.length < stepNames.length) {
    const lacking = stepNames.filter((k) => !got.has(k));
    const trained = meta.optimizer ? ` (it was trained with ${meta.optimizer}${meta.precision ? `, ${meta.precision}` : ''})` : '';
    throw new AmpcError('E0603', `${where}: has train-step state, but not this trainer's ${lacking.map((k) => `'${k}'`).join(', ')}${trained}: resume with the same optimizer and precision`);
  }
  const stepState: Record<string, HostTensor> = {};
  for (const [name, want] of step) {
    checkType(where, name, got.get(name)!, want);
    Object.defineProperty(stepState, name, { value: got.get(name)!, enumerable: true });
  }
  const steps = meta.steps !== undefined && /^\d+$/.test(meta.steps) ? Number(meta.steps) : undefined;
  const trainedWith: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (k !== 'format' && k !== 'version' && k !== 'steps') trainedWith[k] = v;
  return { model: modelState, step: stepState, ...(steps !== undefined ? { steps } : {}), trainedWith };
}
