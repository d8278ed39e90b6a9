// Where the CLI writes, and how it reads files: injected so tests run commands
// in-process and capture their output.

import { readFileSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIO: CliIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new AmpcError('E0601', `cannot read ${path}: ${why}`);
  }
}
