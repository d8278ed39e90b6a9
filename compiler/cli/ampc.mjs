#!/usr/bin/env node
// Launcher of the `ampc` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
const { processIO } = await import('./io.ts');
try {
  process.exitCode = await runCli(process.argv.slice(2), processIO);
} catch (e) {
  // An internal error (a bug, not bad input): keep the stack for the report.
  process.stderr.write(`ampc: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 2;
}
