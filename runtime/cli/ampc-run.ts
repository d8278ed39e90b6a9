// `ampc-run DIR --inputs IN.json [--out OUT.json] [--steps N]`: runs an
// ahead-of-time artifact with the runtime alone (runtime/artifact.ts; no
// compiler, no passes) and prints its outputs as tensor JSON, a list in
// return order, exactly as `ampc run` prints them. The inputs may include
// params (they replace the artifact's values); inputs the artifact carries
// no value for must be there. A train-step artifact runs `--steps` steps on
// the same batch (default 1; the inputs are uploaded once, so each step
// continues from the last) and prints the outputs of the last.

import { Command, CommanderError } from 'commander';
import { AmpcError } from '../../ir/errors.ts';
import { loadArtifact } from '../artifact.ts';
import { readFileBytes, writeFileAtomicChunks } from '../node-files.ts';
import { parseTensorJson, writeTensorsJson } from '../tensor-json.ts';

export interface RunIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

interface Flags {
  inputs: string;
  out?: string;
  steps?: string;
}

async function runArtifact(dir: string, f: Flags, io: RunIO): Promise<void> {
  const steps = f.steps === undefined ? 1 : Number(f.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new AmpcError('E0604', `--steps: expected a whole number ≥ 1, got '${f.steps}'`);
  const inputs = parseTensorJson(new TextDecoder().decode(readFileBytes(f.inputs)), f.inputs);
  const artifact = await loadArtifact(dir);
  try {
    if (steps > 1 && artifact.manifest.kind !== 'train-step') throw new AmpcError('E0604', '--steps goes with a train-step artifact');
    // Uploaded once: later steps continue from the state the earlier ones left on the device.
    artifact.set(inputs);
    for (let i = 1; i < steps; i++) await artifact.step({});
    const outputs = await artifact.run();
    // Streamed in chunks: outputs too long for one string are written too.
    if (f.out) writeFileAtomicChunks(f.out, (sink) => writeTensorsJson(outputs, sink));
    else writeTensorsJson(outputs, (chunk) => io.stdout(chunk));
  } finally {
    artifact.destroy();
  }
}

/** Runs the command in-process; returns the exit code (0 ok, 1 user error). */
export async function runAmpcRun(argv: readonly string[], io: RunIO): Promise<number> {
  const program = new Command('ampc-run')
    .description('run an ampc artifact (from `ampc compile`) with the runtime alone and print its outputs as tensor JSON, in return order')
    .argument('<dir>', 'the artifact directory')
    .requiredOption('--inputs <json>', 'tensor JSON with the inputs the artifact carries no value for (params in it replace the carried ones)')
    .option('-o, --out <file>', 'write the outputs here instead of stdout')
    .option('--steps <n>', 'train-step artifacts: steps to run on the batch (default 1)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .action(async (dir: string, f: Flags) => {
      await runArtifact(dir, f, io);
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 || e.code === 'commander.helpDisplayed' ? 0 : 1;
    if (e instanceof AmpcError) {
      io.stderr(`ampc-run: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
