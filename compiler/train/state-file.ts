// The Trainer's files (Node only: the Trainer imports this module when
// save/load are called, and browser builds map it away): checkpoints
// (safetensors bytes from compiler/train/checkpoint.ts) and, for small
// examples, a model's state (parameters and buffers, by their state_dict
// names) as tensor JSON. Writes are atomic: a temporary file beside the
// target, renamed over it, so a crash never leaves a half-written file.
// Loading JSON is strict, like PyTorch's load_state_dict: every name must be
// there with its dtype and shape, and nothing else.

import { readFileSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';
import { parseTensorJson, tensorRecordToJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import { checkStateType } from './checkpoint.ts';
import { readFileBytes, writeFileAtomic } from '../../runtime/node-files.ts';

export { writeFileAtomic } from '../../runtime/node-files.ts';

export function saveState(path: string, state: Readonly<Record<string, HostTensor>>): void {
  writeFileAtomic(path, tensorRecordToJson(state));
}

/** Reads a state file and checks it against the expected names and types. */
export function loadState(path: string, expected: ReadonlyMap<string, TensorType>): Map<string, HostTensor> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new AmpcError('E0601', `cannot read ${path}: ${why}`);
  }
  const record = parseTensorJson(text, path);
  const got = new Map(Object.entries(record));
  const unknown = [...got.keys()].filter((k) => !expected.has(k));
  if (unknown.length) {
    throw new AmpcError('E0603', `${path}: the model has no state named ${unknown.map((k) => `'${k}'`).join(', ')} (it has: ${[...expected.keys()].join(', ')})`);
  }
  const missing = [...expected.keys()].filter((k) => !got.has(k));
  if (missing.length) throw new AmpcError('E0603', `${path}: missing state ${missing.map((k) => `'${k}'`).join(', ')}`);
  for (const [name, t] of got) {
    checkStateType(path, name, t, expected.get(name)!);
  }
  return got;
}

/** Writes checkpoint bytes to `path` atomically. */
export function writeCheckpointFile(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes);
}

/** The bytes of a checkpoint file (E0601 naming it when it cannot be read). */
export function readCheckpointFile(path: string): Uint8Array {
  return readFileBytes(path);
}
