// Runs golden files in the MLIR style. A golden file has one `// RUN: ampc
// ARGS %s` line (the CLI command, run in-process through `runCli`), cases
// split by `// -----` lines, `// CHECK...` directives matched against the
// command's stdout (see filecheck.ts), and `// expected-error@+N {{CODE:
// text}}` annotations (`@-N`, `@N` absolute, or no `@` for the same line).
// Each case is written to a temp file padded with blank lines, so places in
// messages are lines of the whole golden file. A case that succeeds must also
// round-trip through the printer: print(parse(print(parse(case)))) ===
// print(parse(case)), and the command's output must print back unchanged.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runCli } from '../../compiler/cli/main.ts';
import { parseModule } from '../../ir/text/parser.ts';
import { printModule } from '../../ir/text/printer.ts';
import type { CheckDirective } from './filecheck.ts';
import { fileCheck, parseChecks } from './filecheck.ts';

export interface ExpectedError {
  /** 1-based line of the whole golden file where the error must be reported. */
  readonly line: number;
  readonly code: string;
  /** Must occur in the error's message. */
  readonly text: string;
  /** Line of the annotation itself. */
  readonly at: number;
}

export interface GoldenCase {
  readonly file: string;
  /** 0-based index of the case in its file. */
  readonly index: number;
  /** 1-based first and last lines of the case in the golden file. */
  readonly firstLine: number;
  readonly lastLine: number;
  /** The case's text, preceded by blank lines up to `firstLine`. */
  readonly text: string;
  /** CLI arguments, `%s` not yet replaced. */
  readonly args: readonly string[];
  readonly checks: readonly CheckDirective[];
  readonly expectedError: ExpectedError | undefined;
}

export type CaseResult = { readonly ok: true; readonly stdout: string } | { readonly ok: false; readonly message: string };

const SPLIT_RE = /^\s*\/\/\s*-----\s*$/;
const RUN_RE = /\/\/\s*RUN:(.*)$/;
const EXPECTED_RE = /\/\/\s*expected-error(?:@([+-]?\d+))?\s*\{\{(E\d{4}):\s*(.*?)\}\}\s*$/;
const ERROR_LINE_RE = /^ampc: (.*):(\d+):(\d+): error (E\d{4}): (.*)$/m;

/** Splits a golden file into cases. Throws on malformed annotations. */
export function loadGolden(file: string, source = readFileSync(file, 'utf8')): GoldenCase[] {
  const lines = source.split(/\r\n|\r|\n/);
  const runs = lines.map((l, i) => ({ m: RUN_RE.exec(l), line: i + 1 })).filter((r) => r.m);
  if (runs.length !== 1) throw new Error(`${file}: needs exactly one '// RUN:' line, found ${runs.length}`);
  const args = parseRun(runs[0]!.m![1]!, `${file}:${runs[0]!.line}`);

  const ranges: [number, number][] = [];
  let start = 0;
  lines.forEach((l, i) => {
    if (SPLIT_RE.test(l)) {
      ranges.push([start, i - 1]);
      start = i + 1;
    }
  });
  ranges.push([start, lines.length - 1]);

  return ranges.map(([a, b], index) => {
    const own = lines.slice(a, b + 1);
    const text = [...new Array<string>(a).fill(''), ...own].join('\n') + '\n';
    const errors: ExpectedError[] = [];
    own.forEach((l, k) => {
      const at = a + k + 1;
      if (!/expected-error/.test(l)) return;
      const m = EXPECTED_RE.exec(l);
      if (!m) throw new Error(`${file}:${at}: malformed expected-error (write // expected-error@+1 {{E0201: text}})`);
      const off = m[1];
      const line = off === undefined ? at : /^[+-]/.test(off) ? at + Number(off) : Number(off);
      errors.push({ line, code: m[2]!, text: m[3]!, at });
    });
    if (errors.length > 1) throw new Error(`${file}:${errors[1]!.at}: ampc stops at the first error; one expected-error per case (split with // -----)`);
    return { file, index, firstLine: a + 1, lastLine: b + 1, text, args, checks: parseChecks(own.join('\n'), a + 1), expectedError: errors[0] };
  });
}

function parseRun(cmd: string, where: string): string[] {
  let words = cmd.trim().split(/\s+/);
  const pipe = words.indexOf('|');
  if (pipe >= 0) {
    if (words.slice(pipe + 1).join(' ') !== 'FileCheck %s') throw new Error(`${where}: only '| FileCheck %s' may follow the command`);
    words = words.slice(0, pipe);
  }
  if (words[0] !== 'ampc' || !words.includes('%s')) throw new Error(`${where}: RUN line must be 'ampc SUBCOMMAND ... %s'`);
  return words.slice(1);
}

let scratch: string | undefined;

/** Writes the case to a temp file and returns its path. */
function writeCase(c: GoldenCase): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'ampc-golden-'));
  const dir = join(scratch, String(c.index));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, basename(c.file));
  writeFileSync(path, c.text);
  return path;
}

/** Removes the temp files of this process's cases. */
export function cleanupCases(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** Runs one case; says what went wrong, with the golden file's place, if it did. */
export async function runCase(c: GoldenCase): Promise<CaseResult> {
  const where = `${c.file}:${c.firstLine}`;
  const path = writeCase(c);
  let stdout = '';
  let stderr = '';
  let code: number;
  try {
    code = await runCli(c.args.map((a) => (a === '%s' ? path : a)), { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  } catch (e) {
    return { ok: false, message: `${where}: ampc crashed instead of reporting an error:\n${(e as Error).stack ?? String(e)}` };
  }

  const exp = c.expectedError;
  if (exp) {
    if (code === 0) return { ok: false, message: `${c.file}:${exp.at}: expected error ${exp.code} at line ${exp.line}, but ampc succeeded` };
    const m = ERROR_LINE_RE.exec(stderr);
    if (!m) return { ok: false, message: `${c.file}:${exp.at}: expected error ${exp.code}, but stderr has no placed error:\n${stderr}` };
    const [, , line, col, gotCode, detail] = m;
    const got = `line ${line}:${col}: ${gotCode}: ${detail}`;
    if (gotCode !== exp.code || Number(line) !== exp.line || !detail!.includes(exp.text) || Number(col) < 1) {
      return { ok: false, message: `${c.file}:${exp.at}: expected line ${exp.line}: ${exp.code}: ...${exp.text}...\n  but got ${got}` };
    }
    return { ok: true, stdout };
  }

  if (code !== 0) return { ok: false, message: `${where}: ampc failed (exit ${code}):\n${stderr}` };
  const checked = fileCheck(c.checks, stdout, c.file);
  if (!checked.ok) return { ok: false, message: `${checked.message}\n--- output ---\n${stdout}` };

  const rt = roundTrip(c.text, c.file);
  if (rt) return { ok: false, message: `${where}: ${rt}` };
  if (!c.args.some((a) => a.startsWith('--print-ir-after'))) {
    const again = printModule(parseModule(stdout, '<stdout>'));
    if (again !== stdout) return { ok: false, message: `${where}: the command's output does not print back unchanged:\n${diff(stdout, again)}` };
  }
  return { ok: true, stdout };
}

/** print(parse(print(parse(text)))) === print(parse(text)); returns a message when not. */
export function roundTrip(text: string, file: string): string | undefined {
  const once = printModule(parseModule(text, file));
  const twice = printModule(parseModule(once, `${file} (printed)`));
  return once === twice ? undefined : `round trip changed the printed IR:\n${diff(once, twice)}`;
}

function diff(a: string, b: string): string {
  const x = a.split('\n'), y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `  first difference at line ${i + 1}:\n  - ${x[i] ?? '<none>'}\n  + ${y[i] ?? '<none>'}`;
  }
  return '  (no line differs)';
}
