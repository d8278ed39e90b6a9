// The `ampc` command line: subcommands, their flags and help (commander), and
// the one place that turns an AmpcError into `message` + exit code 1.

import { Command, CommanderError, Option } from 'commander';
import { AmpcError } from '../../ir/errors.ts';
import { ampOverrideFlags, precisionOption } from './amp.ts';
import { checkCommand } from './check.ts';
import { compileCommand } from './compile.ts';
import type { CompileCliOptions } from './compile.ts';
import type { CheckOptions } from './check.ts';
import { devicesCommand } from './devices.ts';
import { dumpCommand } from './dump.ts';
import { PICTURE_FORMATS } from '../picture/render.ts';
import { gradCommand } from './grad.ts';
import { importCommand } from './import.ts';
import type { ImportCliOptions } from './import.ts';
import type { GradOptions } from './grad.ts';
import type { CliIO } from './io.ts';
import { MAX_ELEMENTS_HELP, runCommand } from './run.ts';
import type { RunOptions } from './run.ts';

const F16_MODE_HELP =
  'f16 tensors as array<f16> computed in f16 (native) or in f32 (storage), both needing shader-f16, or packed two per u32 ' +
  '(default: the adapter\'s, see `ampc devices`)';

function buildProgram(io: CliIO): Command {
  const program = new Command('ampc')
    .description('Automatic-mixed-precision compiler for WebGPU')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  ampOverrideFlags(
    program
      .command('dump')
      .description('parse and verify an .ir file, run a pass pipeline, and print the IR (or draw it: --format)')
      .argument('<file>', 'the .ir file')
      .addOption(new Option('--pipeline <name>', 'pass pipeline to run').default('none'))
      .option('--print-ir-after <pass>', "print the IR after the named pass, or after every pass with 'all'")
      .option('--no-fusion', 'stop after the pipeline: do not run the fusion pass compiles run after it')
      .addOption(new Option('--format <format>', 'draw the graphs instead of printing them: ops coloured by dtype, casts marked, fused kernels as clusters, notes in tooltips (Graphviz)').choices([...PICTURE_FORMATS]))
      .option('-o, --out <file>', 'write the picture here (atomically) instead of stdout; needs --format'),
  ).action(async (file: string, o: { pipeline: string; printIrAfter?: string; ampAllow?: string; ampDeny?: string; fusion: boolean; format?: string; out?: string }) => {
    await dumpCommand(file, { pipeline: o.pipeline, printIrAfter: o.printIrAfter, ampAllow: o.ampAllow, ampDeny: o.ampDeny, fusion: o.fusion, format: o.format, out: o.out }, io);
  });

  /** The options `run` and `grad` share: inputs, backend, precision, graph, f16 mode, output file. */
  const executing = (cmd: Command, what: string): Command =>
    ampOverrideFlags(cmd)
      .argument('<file>', 'the .ir file')
      .requiredOption('--inputs <json>', 'tensor JSON with one entry per graph input: {"x": {"dtype": "f32", "shape": [2,3], "data": [...]}}')
      .addOption(new Option('--backend <name>', 'where to run: the WebGPU device, or the f64 reference interpreter').choices(['gpu', 'reference']).default('gpu'))
      .addOption(precisionOption())
      .option('--graph <name>', 'which graph of the module (default: the first)')
      .addOption(new Option('--f16-mode <mode>', F16_MODE_HELP).choices(['native', 'storage', 'packed']))
      .option('--no-fusion', 'one kernel per op: do not fuse elementwise ops and matmul epilogues (for debugging and comparisons)')
      .option('--max-elements <n>', `with --backend reference: ${MAX_ELEMENTS_HELP}`)
      .option('-o, --out <file>', `write the ${what} here instead of stdout`);

  executing(program.command('run').description('run a graph on its inputs and print (or save) its outputs as tensor JSON, a list in return order'), 'outputs')
    .action(async (file: string, o: RunOptions) => {
      await runCommand(file, o, io);
    });

  executing(program.command('grad').description("gradients of the graph's first output (a scalar) with respect to every {param} input, as tensor JSON keyed by parameter name"), 'gradients')
    .action(async (file: string, o: GradOptions) => {
      await gradCommand(file, o, io);
    });

  ampOverrideFlags(
    program
      .command('check')
      .description('run the graph under AMP and the original in f64 on the reference; print per-op max abs/rel error and the first op whose output turns non-finite')
      .argument('<file>', 'the .ir file')
      .option('--inputs <json>', 'tensor JSON with one entry per graph input')
      .option('--random-inputs', 'use seeded random inputs instead of --inputs')
      .option('--seed <n>', 'seed for --random-inputs (default 0)')
      .addOption(new Option('--backend <name>', 'where to run the AMP graph').choices(['gpu', 'reference']).default('gpu'))
      .option('--graph <name>', 'which graph of the module (default: the first)')
      .addOption(new Option('--f16-mode <mode>', F16_MODE_HELP).choices(['native', 'storage', 'packed']))
      .option('--no-fusion', 'one kernel per op: do not fuse elementwise ops and matmul epilogues')
      .option('--max-elements <n>', MAX_ELEMENTS_HELP),
  ).action(async (file: string, o: CheckOptions) => {
    await checkCommand(file, o, io);
  });

  ampOverrideFlags(
    program
      .command('compile')
      .description('compile a graph ahead of time into an artifact directory (manifest.json, kernels/*.wgsl, weights.safetensors, graph.ir) that ampc-run runs with the runtime alone')
      .argument('<file>', 'the .ir file')
      .requiredOption('-o, --out <dir>', 'the artifact directory to write (replaced if it is an artifact)')
      .addOption(new Option('--precision <p>', 'f32, or amp: run the amp pipeline first').choices(['f32', 'amp']))
      .option('--pipeline <name>', 'pipeline to compile: none, grad, amp, or train / train-amp for a train-step artifact')
      .addOption(new Option('--f16-mode <mode>', F16_MODE_HELP).choices(['native', 'storage', 'packed']))
      .addOption(new Option('--target <t>', 'device: tune for the adapter here; webgpu: portable kernels within WebGPU\'s default limits, no GPU needed').choices(['device', 'webgpu']).default('device'))
      .option('--weights <file>', 'values of the {param} inputs to carry (tensor JSON or .safetensors)')
      .option('--graph <name>', 'which graph of the module (default: the first)')
      .option('--no-fusion', 'one kernel per op')
      .addOption(new Option('--optimizer <kind>', 'train step: the optimizer (default adam)').choices(['adam', 'adamw', 'sgd']))
      .option('--lr <x>', 'train step: the initial learning rate (default 1e-3)')
      .option('--loss-scale <s>', 'train step: dynamic (default under amp), off, or a fixed scale'),
  ).action(async (file: string, o: CompileCliOptions) => {
    await compileCommand(file, o, io);
  });

  program
    .command('import')
    .description('import an ONNX model as IR: initializers become {param} inputs whose values go to --inputs-out')
    .argument('<model>', 'the .onnx file')
    .option('-o, --out <file>', 'write the IR here (atomically) instead of stdout')
    .option('--inputs-out <json>', 'write the values of the inputs initializers and constants became (tensor JSON keyed by input name)')
    .option('--dim <name=n...>', 'extent of a symbolic dimension (dim_param), repeatable')
    .action(async (model: string, o: ImportCliOptions) => {
      await importCommand(model, o, io);
    });

  program
    .command('devices')
    .description('show the WebGPU adapter ampc gets: name, features (shader-f16) and limits')
    .option('--json', 'print the report as JSON')
    .option('--no-f16', 'do not request shader-f16')
    .action(async (o: { json?: boolean; f16: boolean }) => {
      await devicesCommand(io, { json: o.json, disableF16: !o.f16 });
    });

  return program;
}

/** Runs the CLI in-process; returns the exit code (0 ok, 1 user error). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const program = buildProgram(io);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are successful exits; commander already printed the message.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 1;
    }
    if (e instanceof AmpcError) {
      io.stderr(`ampc: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
