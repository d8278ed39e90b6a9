// Where the CLI writes, and how it reads files: injected so tests run commands
// in-process and capture their output.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';
import type { Loc } from '../../ir/errors.ts';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIO: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/**
 * The most bytes `readText` reads (E0608 beyond). Far more than any real .ir
 * file or inputs JSON, but it stops endless or huge files (`/dev/zero`, a disk
 * image given by mistake) before they use up the machine's memory.
 */
export const MAX_TEXT_BYTES = 256 * 2 ** 20;

/** How much of a file is checked for NUL bytes, the sign of a binary file. */
const SNIFF_BYTES = 64 * 1024;
/** Bytes per read of a file whose size is unknown (a device, a pipe). */
const CHUNK_BYTES = 1024 * 1024;

/**
 * A text file (.ir, tensor JSON) as a string, reading no more than
 * `maxBytes + 1` bytes: E0601 when it cannot be read, E0608 when it is larger
 * than `maxBytes` (so an endless file stops there), E0001 at the first NUL
 * byte when its first 64 KiB have one (a binary file), before any decoding or
 * lexing. Invalid UTF-8 becomes U+FFFD, as before.
 */
export function readText(path: string, maxBytes: number = MAX_TEXT_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw cannotRead(path, e);
  }
  let bytes: Buffer;
  try {
    bytes = readCapped(fd, path, maxBytes);
  } finally {
    closeSync(fd);
  }
  const nul = bytes.subarray(0, SNIFF_BYTES).indexOf(0);
  if (nul >= 0) {
    throw new AmpcError('E0001', 'NUL byte (U+0000): this is a binary file, not IR or JSON text', placeOf(bytes, nul, path));
  }
  return bytes.toString('utf8');
}

/** All of `fd`'s bytes, or E0608 as soon as there are more than `maxBytes`. */
function readCapped(fd: number, path: string, maxBytes: number): Buffer {
  const tooLarge = () => new AmpcError('E0608', `cannot read ${path}: it is larger than ${formatCap(maxBytes)}, the most ampc reads as text`);
  let size: number | undefined;
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > 0) size = st.size; // /proc files say 0
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (size !== undefined && size > maxBytes) throw tooLarge();
  // One buffer for a regular file (plus a byte to see it grow); chunks for anything else.
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(size !== undefined && chunks.length === 0 ? size + 1 : CHUNK_BYTES, maxBytes + 1 - total);
    const buf = Buffer.allocUnsafe(want);
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      throw cannotRead(path, e);
    }
    if (n === 0) break;
    chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    if (total > maxBytes) throw tooLarge();
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

function cannotRead(path: string, e: unknown): AmpcError {
  const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
  return new AmpcError('E0601', `cannot read ${path}: ${why}`);
}

/** `256 MiB`, or `1000 bytes` for a cap that is not a whole number of MiB. */
function formatCap(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

/** The line and column of byte `at`, counted as the lexer counts them (UTF-16 units; \n, \r\n and \r end lines). */
function placeOf(bytes: Buffer, at: number, file: string): Loc {
  const before = bytes.subarray(0, at).toString('utf8');
  let line = 1, start = 0;
  for (let i = 0; i < before.length; i++) {
    const c = before.charCodeAt(i);
    if (c === 10 || (c === 13 && before.charCodeAt(i + 1) !== 10)) {
      line++;
      start = i + 1;
    }
  }
  return { file, line, col: before.length - start + 1 };
}
