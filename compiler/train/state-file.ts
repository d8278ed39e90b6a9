// Saving and loading a model's state (parameters and buffers, by their
// state_dict names) as tensor JSON. Writes are atomic: the JSON goes to a
// temporary file beside the target, which is then renamed over it, so a
// crash never leaves a half-written file. Loading is strict, like PyTorch's
// load_state_dict: every name must be there with its dtype and shape, and
// nothing else.

import { readFileSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';
import { parseTensorJson, tensorRecordToJson } from '../../runtime/tensor-json.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import { shapesEqual, shapeToString, typeToString } from '../../ir/types.ts';
import { writeFileAtomic } from '../../runtime/node-files.ts';

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
    const want = expected.get(name)!;
    if (t.dtype !== want.dtype || !shapesEqual(t.shape, want.shape)) {
      throw new AmpcError('E0603', `${path}: '${name}' is ${t.dtype}${shapeToString(t.shape)}; the model's is ${typeToString(want)}`);
    }
  }
  return got;
}
