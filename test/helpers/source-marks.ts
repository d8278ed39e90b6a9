// Places in a test's own source, for checking the locations tracing reports:
// a line is found by a trailing `// @ID` mark, a column by a token on it.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface SourceMarks {
  /** 1-based line of the line marked `// @ID`. */
  lineOf(id: string): number;
  /** 1-based column of `token` on line `line`. */
  colOf(line: number, token: string): number;
}

/** The marks of the file at `url` (pass `import.meta.url`). */
export function sourceMarks(url: string): SourceMarks {
  const source = readFileSync(fileURLToPath(url), 'utf8').split('\n');
  return {
    lineOf(id) {
      const mark = '// @' + id;
      const i = source.findIndex((l) => l.trimEnd().endsWith(mark));
      if (i < 0) throw new Error(`no line marked ${mark}`);
      return i + 1;
    },
    colOf(line, token) {
      const c = source[line - 1]!.indexOf(token);
      if (c < 0) throw new Error(`no '${token}' on line ${line}`);
      return c + 1;
    },
  };
}
