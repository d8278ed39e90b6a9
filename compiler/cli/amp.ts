// Options `run`, `grad`, `dump` and `check` share for automatic mixed
// precision: `--precision f32|amp`, `--amp-allow op,...`, `--amp-deny op,...`.
// The op lists become the pass context's `ampAllow` / `ampDeny` (validated by
// the precision policy, so an unknown op name is a user error).

import type { Command } from 'commander';
import { Option } from 'commander';
import type { Graph } from '../../ir/graph.ts';
import type { PassOptions } from '../../passes/pass.ts';
import { pipelineByName, runPipeline } from '../../passes/pipeline.ts';
import { readOverrides } from '../../passes/precision.ts';

export type PrecisionMode = 'f32' | 'amp';

/** The raw CLI flags (commander's camel-cased names). */
export interface AmpFlags {
  ampAllow?: string;
  ampDeny?: string;
}

function opList(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
}

/** Pass-context options for the flags (checked: unknown op names are E0609). */
export function ampOptions(flags: AmpFlags): PassOptions {
  const allow = opList(flags.ampAllow), deny = opList(flags.ampDeny);
  const options: PassOptions = { ...(allow ? { ampAllow: allow } : {}), ...(deny ? { ampDeny: deny } : {}) };
  readOverrides(options);
  return options;
}

/** Adds `--amp-allow` and `--amp-deny` to a command. */
export function ampOverrideFlags(cmd: Command): Command {
  return cmd
    .option('--amp-allow <ops>', 'comma-separated op names to run in f16 (the allow class), e.g. exp,softmax')
    .option('--amp-deny <ops>', 'comma-separated op names to keep in f32 (the deny class; wins over --amp-allow), e.g. matmul');
}

/** The `--precision` option of run and grad. */
export function precisionOption(): Option {
  return new Option('--precision <p>', 'f32: as written; amp: run the amp pipeline (f16 where the policy allows, outputs keep their declared dtypes)')
    .choices(['f32', 'amp'])
    .default('f32');
}

/** The graph under AMP: the `amp` pipeline (precision + cast cleanup) with the overrides. */
export function ampGraph(g: Graph, flags: AmpFlags, log?: (line: string) => void): Graph {
  return runPipeline(g, pipelineByName('amp'), { options: ampOptions(flags), ...(log ? { log } : {}) });
}

/** The graph to execute for `--precision`. */
export function withPrecision(g: Graph, precision: PrecisionMode, flags: AmpFlags): Graph {
  return precision === 'amp' ? ampGraph(g, flags) : g;
}
