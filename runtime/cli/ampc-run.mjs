#!/usr/bin/env node
// Launcher of the `ampc-run` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { runAmpcRun } = await import('./ampc-run.ts');
try {
  process.exitCode = await runAmpcRun(process.argv.slice(2), {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  });
} catch (e) {
  // An internal error (a bug, not bad input): keep the stack for the report.
  process.stderr.write(`ampc-run: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 2;
}
