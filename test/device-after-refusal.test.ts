// A refused plan leaves the process able to run more (issue #12): a plan the
// device cannot run (native f16 on a device acquired without shader-f16) is
// refused with E0702 before any GPU work, and the same process then runs many
// commands, each acquiring and releasing its own device, as library and JIT
// users do. Before Dawn instances were shared per flag set
// (runtime/gpu-node.ts), rounds of compile, run and ampc-run like these
// crashed (SIGSEGV, SIGABRT) or hung in about half of the processes.

import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../compiler/cli/main.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { parseModule } from '../ir/text/parser.ts';
import { acquireDevice } from '../runtime/device.ts';
import { runAmpcRun } from '../runtime/cli/ampc-run.ts';
import { parseTensorJson } from '../runtime/tensor-json.ts';
import { requireGpu, gpuContext } from './helpers/gpu.ts';

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

const title = 'after a refused plan, 30 rounds of in-process compile, run and ampc-run (each with its own device) all succeed';
if (!gpuContext && !requireGpu) test.skip(`${title} [skipped: no WebGPU adapter]`, () => undefined);
else {
  test(title, async (t) => {
    const ctx = await acquireDevice({ disableF16: true });
    try {
      const g = parseModule(readFileSync(join(EXAMPLES, 'mlp-f16.ir'), 'utf8'), 'mlp-f16.ir').main;
      const inputs = parseTensorJson(readFileSync(join(EXAMPLES, 'mlp-f16.inputs.json'), 'utf8'), 'in.json');
      const e = await t.throwsAsync(runGraphOnGpu(g, inputs, ctx, { f16Mode: 'native' }));
      t.regex(e!.message, /E0702: this plan uses f16 storage \(f16 mode 'native'\), but the device has no shader-f16/);
    } finally {
      ctx.destroy();
    }
    const mlp = join(EXAMPLES, 'mlp.ir'), inputs = join(EXAMPLES, 'mlp.inputs.json');
    const expected = (await cli('run', mlp, '--inputs', inputs, '--precision', 'amp')).stdout;
    const art = join(mkdtempSync(join(tmpdir(), 'ampc-refusal-')), 'mlp.artifact');
    for (let i = 0; i < 30; i++) {
      const c = await cli('compile', mlp, '-o', art, '--precision', 'amp');
      t.is(c.code, 0, `compile ${i}: ${c.stderr}`);
      const r = await cli('run', mlp, '--inputs', inputs, '--precision', 'amp');
      t.is(r.code, 0, `run ${i}: ${r.stderr}`);
      t.is(r.stdout, expected, `run ${i}`);
      let out = '';
      const a = await runAmpcRun([art, '--inputs', inputs], { stdout: (x) => void (out += x), stderr: () => undefined });
      t.is(a, 0, `ampc-run ${i}`);
      t.is(out, expected, `ampc-run ${i}`);
    }
  });
}
