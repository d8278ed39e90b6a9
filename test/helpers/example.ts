// Runs an example (MNIST by default, or charlm) as a real process (as a user
// would) and collects its exit code, stdout and stderr; shared by the
// training tests, with the check that bad flags are refused cleanly.

import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAINS = {
  mnist: fileURLToPath(new URL('../../examples/mnist/main.ts', import.meta.url)),
  charlm: fileURLToPath(new URL('../../examples/charlm/main.ts', import.meta.url)),
};
export type ExampleName = keyof typeof MAINS;

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runExample(...args: string[]): Promise<ProcessResult> {
  return runNamedExample('mnist', args);
}

export async function runNamedExample(name: ExampleName, args: readonly string[]): Promise<ProcessResult> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', MAINS[name], ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 1 << 24 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * Runs the example once per case (in parallel) and asserts each is refused:
 * exit 1, the message on stderr, no stack trace, no training (`trained`, a
 * line only a finished run prints, is absent from stdout).
 */
export async function expectRefusals(
  t: ExecutionContext, cases: readonly (readonly [readonly string[], RegExp])[], name: ExampleName = 'mnist', trained = /test accuracy/,
): Promise<void> {
  const results = await Promise.all(cases.map(([args]) => runNamedExample(name, args)));
  results.forEach((r, i) => {
    const [args, want] = cases[i]!;
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, want, args.join(' '));
    t.notRegex(r.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace`);
    t.notRegex(r.stdout, trained, `${args.join(' ')}: nothing trained`);
  });
}
