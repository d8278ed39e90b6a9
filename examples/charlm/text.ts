// The example's text: read from a file (by default Debian's copy of the GPL
// version 3, /usr/share/common-licenses/GPL-3, which base-files installs on
// every Debian machine: 35 KB of English), checked, and turned into
// character ids. The vocabulary is the text's distinct characters (Unicode
// code points), sorted. The last 10% is held out for validation.
//
// Windows of context + 1 characters become a model input (the first
// `context`) and its targets (the last `context`: each position's next
// character), as i32 [N, context] columns for the library's DataLoader.
//
// A file that cannot be read is E0601; an empty one, one that is not UTF-8
// text (a NUL byte or an invalid sequence), or one too short for a training
// and a validation window is E0602.

import { readFileSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';

export const DEFAULT_TEXT = '/usr/share/common-licenses/GPL-3';

/** The share of the text held out (its end). */
export const VALIDATION_SHARE = 0.1;

export interface Corpus {
  readonly path: string;
  /** The text as code points. */
  readonly chars: readonly string[];
  /** The sorted distinct characters; a character's id is its index. */
  readonly vocab: readonly string[];
  /** Ids of every character of the text. */
  readonly ids: Int32Array;
  /** Ids of the training part (the first 90%) and the held-out part (the rest). */
  readonly train: Int32Array;
  readonly validation: Int32Array;
}

/** Reads and checks the text at `path` (E0601 / E0602); `context` is the window length it must hold. */
export function loadCorpus(path: string, context: number): Corpus {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    const hint = path === DEFAULT_TEXT ? "; Debian's base-files installs it, elsewhere give --text FILE" : '';
    throw new AmpcError('E0601', `--text ${path}: cannot read the text (${why}${hint})`);
  }
  if (bytes.length === 0) throw new AmpcError('E0602', `--text ${path}: the file is empty`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new AmpcError('E0602', `--text ${path}: not a text file (a NUL byte at offset ${nul})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AmpcError('E0602', `--text ${path}: not UTF-8 text`);
  }
  const chars = Array.from(text);
  const vocab = [...new Set(chars)].sort();
  const index = new Map(vocab.map((c, i) => [c, i] as const));
  const ids = Int32Array.from(chars, (c) => index.get(c)!);
  const split = Math.floor(chars.length * (1 - VALIDATION_SHARE));
  const need = context + 1;
  if (chars.length - split < need || split < need) {
    throw new AmpcError('E0602', `--text ${path}: ${chars.length} characters are too few for a training and a validation window of ${need} (the last ${VALIDATION_SHARE * 100}% is held out); give a longer text or a smaller --context`);
  }
  return { path, chars, vocab, ids, train: ids.subarray(0, split), validation: ids.subarray(split) };
}

/** Windows of `ids` starting every `stride` characters: inputs [N, context] and targets [N, context] (shifted by one). */
export function windows(ids: Int32Array, context: number, stride: number): { inputs: Int32Array; targets: Int32Array; count: number } {
  const count = ids.length > context ? Math.floor((ids.length - context - 1) / stride) + 1 : 0;
  const inputs = new Int32Array(count * context);
  const targets = new Int32Array(count * context);
  for (let n = 0; n < count; n++) {
    const s = n * stride;
    inputs.set(ids.subarray(s, s + context), n * context);
    targets.set(ids.subarray(s + 1, s + context + 1), n * context);
  }
  return { inputs, targets, count };
}

/** The ids of `text` in `vocab` (E0604 naming a character the vocabulary lacks). */
export function encode(text: string, vocab: readonly string[], what: string): number[] {
  const index = new Map(vocab.map((c, i) => [c, i] as const));
  return Array.from(text, (c) => {
    const id = index.get(c);
    if (id === undefined) throw new AmpcError('E0604', `${what}: the character ${JSON.stringify(c)} does not occur in the text, so the model has no id for it`);
    return id;
  });
}

/** A short printable form of a text (newlines shown as ⏎) for one-line messages. */
export function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '⏎');
}
