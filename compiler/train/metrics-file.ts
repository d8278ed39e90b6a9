// The metrics log as a file (Node only: the Trainer imports this module when
// `metrics.to` is a path, and browser builds map it away). The file is
// created anew (truncated) when the Trainer is created; every line is one
// write of the line and its newline, so the file always ends with a whole
// line and can be read while training runs. E0601 names the file when it
// cannot be opened or written.

import { closeSync, openSync, writeSync } from 'node:fs';
import { AmpcError } from '../../ir/errors.ts';

export interface LineSink {
  readonly write: (line: string) => void;
  readonly close: () => void;
}

export function openMetricsFile(path: string): LineSink {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'its directory does not exist' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new AmpcError('E0601', `cannot write the metrics log ${path}: ${why}`);
  }
  return {
    write(line: string): void {
      if (fd === undefined) throw new AmpcError('E0702', `the metrics log ${path} is closed (the Trainer was destroyed)`);
      try {
        writeSync(fd, `${line}\n`);
      } catch (e) {
        throw new AmpcError('E0601', `cannot write the metrics log ${path}: ${(e as Error).message}`);
      }
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
