// How the examples end on an error: commander's own exits (help, a bad flag:
// it already printed the message) keep their code, an AmpcError prints its
// message (code and place) on stderr with exit code 1 and no stack trace, and
// anything else is an internal error, printed with its stack, exit code 2.

import { CommanderError } from 'commander';
import { AmpcError } from '../../ir/errors.ts';

export function exitCodeOf(program: string, e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 1;
  if (e instanceof AmpcError) {
    process.stderr.write(`${program}: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`${program}: internal error: ${e instanceof Error && e.stack ? e.stack : String(e)}\n`);
  return 2;
}
