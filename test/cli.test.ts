// The ampc command line: every example dumps and runs (GPU matching the
// reference), help works for every command, and bad input ends in a placed
// error, exit code 1 and no stack trace — in-process and as a real process.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../compiler/cli/main.ts';
import { parseTensorJson, parseTensorListJson } from '../runtime/tensor-json.ts';
import { mismatches, TOLERANCES } from './helpers/compare.ts';
import { gpuTest } from './helpers/gpu.ts';

const exec = promisify(execFile);
const AMPC = new URL('../compiler/cli/ampc.mjs', import.meta.url).pathname;
const EXAMPLES = new URL('../examples/', import.meta.url).pathname;
const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ir')).sort();

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'ampc-cli-'));

test('there are examples, each with inputs', (t) => {
  t.true(examples.length >= 4);
  for (const f of examples) t.true(existsSync(join(EXAMPLES, f.replace(/\.ir$/, '.inputs.json'))), f);
});

for (const f of examples) {
  test(`dump ${f} prints IR that dumps to itself`, async (t) => {
    const first = await cli('dump', join(EXAMPLES, f));
    t.is(first.code, 0, first.stderr);
    const again = join(tmp, f);
    writeFileSync(again, first.stdout);
    const second = await cli('dump', again);
    t.is(second.stdout, first.stdout);
  });

  gpuTest(`run ${f} on the GPU matches the reference backend`, async (t) => {
    const inputs = join(EXAMPLES, f.replace(/\.ir$/, '.inputs.json'));
    const gpuOut = join(tmp, f + '.gpu.json'), refOut = join(tmp, f + '.ref.json');
    const gpu = await cli('run', join(EXAMPLES, f), '--inputs', inputs, '--out', gpuOut);
    t.is(gpu.code, 0, gpu.stderr);
    const ref = await cli('run', join(EXAMPLES, f), '--inputs', inputs, '--backend', 'reference', '--out', refOut);
    t.is(ref.code, 0, ref.stderr);
    const a = parseTensorListJson(readFileSync(gpuOut, 'utf8'), gpuOut);
    const e = parseTensorListJson(readFileSync(refOut, 'utf8'), refOut);
    t.is(a.length, e.length);
    e.forEach((x, k) => {
      t.deepEqual(a[k]!.shape, x.shape);
      // Sums over up to 100 terms of magnitude ~1.
      t.deepEqual(mismatches(a[k]!, x, TOLERANCES[x.dtype], 100), [], `output ${k}`);
    });
  });
}

test('--help works for the program and every command', async (t) => {
  for (const args of [['--help'], ['dump', '--help'], ['run', '--help'], ['grad', '--help'], ['check', '--help'], ['devices', '--help']]) {
    const r = await cli(...args);
    t.is(r.code, 0, args.join(' '));
    t.regex(r.stdout, /Usage: ampc/);
  }
});

const BAD_CASES: [string, string, RegExp][] = [
  ['shape error', 'graph @g(%a: f32[4,3], %b: f32[5,2]) -> (f32[4,2]) {\n  %0 = matmul %a, %b : f32[4,2]\n  return %0\n}\n', /bad\.ir:2:8: error E0201: matmul: inner dimensions differ \(3 vs 5\)/],
  ['syntax error', 'graph @g(%a: f32[2]) -> (f32[2]) {\n  %0 = relu %a f32[2]\n  return %0\n}\n', /bad\.ir:2:16: error E0002: /],
  ['unknown op', 'graph @g(%a: f32[2]) -> (f32[2]) {\n  %0 = rleu %a : f32[2]\n  return %0\n}\n', /bad\.ir:2:8: error E0003: .*relu/],
];

for (const [what, text, re] of BAD_CASES) {
  test(`dump: ${what} gives a placed error and exit code 1`, async (t) => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    const file = join(dir, 'bad.ir');
    writeFileSync(file, text);
    const r = await cli('dump', file);
    t.is(r.code, 1);
    t.regex(r.stderr, re);
    t.is(r.stdout, '');
  });
}

test('run: inputs that do not match the graph are an E0603 error', async (t) => {
  const ins = join(tmp, 'wrong.json');
  writeFileSync(ins, JSON.stringify({ x: { dtype: 'f32', shape: [2], data: [1, 2] } }));
  const r = await cli('run', join(EXAMPLES, 'mlp.ir'), '--inputs', ins, '--backend', 'reference');
  t.is(r.code, 1);
  t.regex(r.stderr, /error E0603: /);
});

test('run: a failed run leaves no output file behind', async (t) => {
  const out = join(tmp, 'never.json');
  const r = await cli('run', join(EXAMPLES, 'mlp.ir'), '--inputs', join(tmp, 'missing.json'), '--out', out);
  t.is(r.code, 1);
  t.regex(r.stderr, /error E0601: cannot read .*missing\.json: no such file/);
  t.false(existsSync(out));
});

test('the ampc process: exit code 1 and one line on stderr, no stack trace', async (t) => {
  const err = await exec(process.execPath, [AMPC, 'dump', join(tmp, 'nothing-here.ir')]).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  t.truthy(err);
  t.is(err!.code, 1);
  t.regex(err!.stderr, /^ampc: error E0601: cannot read .*nothing-here\.ir: no such file\n$/);
  t.notRegex(err!.stderr, /\bat .*\.ts:\d+/);
});

test('the ampc process: unknown options and commands exit 1', async (t) => {
  for (const args of [['dump'], ['frobnicate'], ['dump', 'x.ir', '--pipeline']]) {
    const err = await exec(process.execPath, [AMPC, ...args]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.is(err?.code, 1, args.join(' '));
    t.regex(err?.stderr ?? '', /error/);
  }
});

gpuTest('grad: the GPU gradients of mlp-loss.ir match the reference, keyed by parameter name', async (t) => {
  const file = join(EXAMPLES, 'mlp-loss.ir'), inputs = join(EXAMPLES, 'mlp-loss.inputs.json');
  const gpuOut = join(tmp, 'grad.gpu.json'), refOut = join(tmp, 'grad.ref.json');
  const gpu = await cli('grad', file, '--inputs', inputs, '--out', gpuOut);
  t.is(gpu.code, 0, gpu.stderr);
  const ref = await cli('grad', file, '--inputs', inputs, '--backend', 'reference', '--out', refOut);
  t.is(ref.code, 0, ref.stderr);
  const a = parseTensorJson(readFileSync(gpuOut, 'utf8'), gpuOut);
  const e = parseTensorJson(readFileSync(refOut, 'utf8'), refOut);
  t.deepEqual(Object.keys(a), ['w1', 'b1', 'w2', 'b2']);
  for (const k of Object.keys(e)) {
    t.deepEqual(a[k]!.shape, e[k]!.shape, k);
    t.deepEqual(mismatches(a[k]!, e[k]!, TOLERANCES.f32, 10), [], k);
  }
});

test('grad: a graph whose first output is not a scalar is an error', async (t) => {
  const r = await cli('grad', join(EXAMPLES, 'mlp.ir'), '--inputs', join(EXAMPLES, 'mlp.inputs.json'), '--backend', 'reference');
  t.is(r.code, 1);
  t.regex(r.stderr, /error E0405: .*scalar/);
});
