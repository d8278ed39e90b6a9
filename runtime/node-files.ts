// Node-only file access of the runtime and the CLIs. Reads name the file
// and the reason in an E0601. Writes are atomic (a temporary file
// beside the target, then a rename), so a crash or an error never leaves a
// half-written file, and the temporary file is removed on every failure.
// Browser code never imports this file.

import { closeSync, lstatSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { Buffer } from 'node:buffer';
import { basename, dirname, join } from 'node:path';
import { AmpcError } from '../ir/errors.ts';

/** A temporary path beside `path`, unique to this process and call. */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

/**
 * Where a write of `path` goes: the file a symbolic link leads to (a link
 * stays a link), and whether it is written in place: a target that exists
 * and is not a regular file (a device such as /dev/null or /dev/stdout, a
 * FIFO) is never replaced by a file. E0601 for a directory or a link that
 * leads nowhere.
 */
function writeTarget(path: string): { path: string; inPlace: boolean } {
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch {
    st = undefined; // absent: a new file
  }
  if (st?.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(path);
    } catch (e) {
      throw new AmpcError('E0601', `cannot write ${path}: it is a symbolic link that leads nowhere (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return writeTarget(target);
  }
  if (st?.isDirectory()) throw new AmpcError('E0601', `cannot write ${path}: it is a directory`);
  return { path, inPlace: st !== undefined && !st.isFile() };
}

/**
 * Writes `data` to `path` atomically; E0601 (with nothing left behind) when
 * it cannot. Links and devices as writeTarget says.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const t = writeTarget(path);
  if (t.inPlace) {
    try {
      writeFileSync(t.path, data);
      return;
    } catch (e) {
      throw new AmpcError('E0601', `cannot write ${t.path}: ${(e as Error).message}`);
    }
  }
  const tmp = tempPathBeside(t.path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, t.path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new AmpcError('E0601', `cannot write ${t.path}: ${(e as Error).message}`);
  }
}

/** Writes all of `text` (UTF-8) to the open file `fd`, looping over partial writes. */
function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Like writeFileAtomic, for text too long to be one string: `produce` calls
 * `write` with the text piece by piece, and the pieces go straight to the
 * temporary file beside `path`, which is renamed over `path` at the end. The
 * same guarantees: a symbolic link stays a link (its target is written), a
 * target that is not a regular file (a device, a FIFO) is written in place, a
 * directory is E0601, and on any failure — of the file system (E0601) or an
 * error `produce` throws (passed on as it is) — nothing is left behind and
 * `path` is untouched.
 */
export function writeFileAtomicChunks(path: string, produce: (write: (chunk: string) => void) => void): void {
  const { path: target, inPlace } = writeTarget(path);
  const dest = inPlace ? target : tempPathBeside(target);
  // Errors of the file system become E0601; errors of `produce` pass through as they are.
  const fsError = (e: unknown) => new AmpcError('E0601', `cannot write ${target}: ${(e as Error).message}`);
  let fd: number | undefined;
  try {
    try {
      fd = openSync(dest, 'w');
    } catch (e) {
      throw fsError(e);
    }
    const out = fd;
    produce((chunk) => {
      try {
        writeAllSync(out, chunk);
      } catch (e) {
        throw fsError(e);
      }
    });
    fd = undefined;
    try {
      closeSync(out);
      if (!inPlace) renameSync(dest, target);
    } catch (e) {
      throw fsError(e);
    }
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the first error is the one to report
      }
    }
    if (!inPlace) rmSync(dest, { force: true });
    throw e;
  }
}

/** The bytes of a file; E0601 naming it when it cannot be read. */
export function readFileBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AmpcError('E0601', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
}
