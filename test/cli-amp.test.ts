// The AMP side of the CLI: `run`/`grad --precision amp` stay within f16's
// bounds of the f32 results, `--amp-allow/--amp-deny` change what `dump`
// prints, and `check` reports one row per op and finds where f16 overflows.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../compiler/cli/main.ts';
import { parseTensorJson, parseTensorListJson } from '../runtime/tensor-json.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { gpuTest } from './helpers/gpu.ts';

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'ampc-cli-amp-'));

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

/** max |a - e| over max |e|: the error relative to the tensor's magnitude. */
function relError(a: HostTensor, e: HostTensor): number {
  let d = 0, m = 0;
  for (let i = 0; i < e.data.length; i++) {
    d = Math.max(d, Math.abs(Number(a.data[i]) - Number(e.data[i])));
    m = Math.max(m, Math.abs(Number(e.data[i])));
  }
  return m === 0 ? d : d / m;
}

const F16_BOUND = 2e-2;

/** A GPU test (skipped or failing per the harness when there is none) or a plain one for the reference. */
function testOn(backend: 'gpu' | 'reference', title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (backend === 'gpu') gpuTest(title, (t) => fn(t));
  else test(title, fn);
}

for (const name of ['mlp', 'attention']) {
  for (const backend of ['gpu', 'reference'] as const) {
    testOn(backend, `run --precision amp ${name}.ir on ${backend} matches the f32 reference within f16 bounds`, async (t) => {
      const ir = join(EXAMPLES, `${name}.ir`), inputs = join(EXAMPLES, `${name}.inputs.json`);
      const ampOut = join(tmp, `${name}.${backend}.amp.json`), refOut = join(tmp, `${name}.${backend}.ref.json`);
      const amp = await cli('run', ir, '--inputs', inputs, '--precision', 'amp', '--backend', backend, '--out', ampOut);
      t.is(amp.code, 0, amp.stderr);
      const ref = await cli('run', ir, '--inputs', inputs, '--backend', 'reference', '--out', refOut);
      t.is(ref.code, 0, ref.stderr);
      const a = parseTensorListJson(readFileSync(ampOut, 'utf8'), ampOut), e = parseTensorListJson(readFileSync(refOut, 'utf8'), refOut);
      t.is(a.length, e.length);
      e.forEach((x, k) => {
        t.is(a[k]!.dtype, x.dtype, 'outputs keep their declared dtypes');
        t.deepEqual(a[k]!.shape, x.shape);
        const r = relError(a[k]!, x);
        t.true(r < F16_BOUND, `output ${k}: relative error ${r}`);
        t.true(r > 0, `output ${k}: AMP changed nothing, so it did not run in f16`);
      });
    });
  }
}

for (const backend of ['gpu', 'reference'] as const) {
  testOn(backend, `grad --precision amp mlp-loss.ir on ${backend} is close to the f32 gradients`, async (t) => {
    const ir = join(EXAMPLES, 'mlp-loss.ir'), inputs = join(EXAMPLES, 'mlp-loss.inputs.json');
    const amp = await cli('grad', ir, '--inputs', inputs, '--precision', 'amp', '--backend', backend);
    t.is(amp.code, 0, amp.stderr);
    const ref = await cli('grad', ir, '--inputs', inputs, '--backend', 'reference');
    t.is(ref.code, 0, ref.stderr);
    const a = parseTensorJson(amp.stdout, 'amp'), e = parseTensorJson(ref.stdout, 'ref');
    t.deepEqual(Object.keys(a).sort(), ['b1', 'b2', 'w1', 'w2']);
    for (const [k, x] of Object.entries(e)) {
      t.is(a[k]!.dtype, 'f32', `grad of the f32 param ${k} is f32`);
      t.deepEqual(a[k]!.shape, x.shape);
      const r = relError(a[k]!, x);
      t.true(r < F16_BOUND, `${k}: relative error ${r}`);
    }
  });
}

test('--amp-allow/--amp-deny change the dump', async (t) => {
  const ir = join(EXAMPLES, 'mlp.ir');
  const plain = await cli('dump', ir, '--pipeline', 'amp');
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stdout, /f16/);
  t.regex(plain.stdout, /softmax [^\n]*: f32\[8,10\]/);
  const denied = await cli('dump', ir, '--pipeline', 'amp', '--amp-deny', 'matmul');
  t.is(denied.code, 0, denied.stderr);
  t.notRegex(denied.stdout, /f16/);
  const allowed = await cli('dump', ir, '--pipeline', 'amp', '--amp-allow', 'softmax');
  t.is(allowed.code, 0, allowed.stderr);
  t.regex(allowed.stdout, /softmax [^\n]*: f16\[8,10\]/);
  t.not(allowed.stdout, plain.stdout);
});

test('bad AMP flags are user errors', async (t) => {
  const ir = join(EXAMPLES, 'mlp.ir'), inputs = join(EXAMPLES, 'mlp.inputs.json');
  const unknown = await cli('dump', ir, '--pipeline', 'amp', '--amp-allow', 'matmull');
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /'matmull' is not an op name/);
  const noAmp = await cli('run', ir, '--inputs', inputs, '--amp-deny', 'matmul', '--backend', 'reference');
  t.is(noAmp.code, 1);
  t.regex(noAmp.stderr, /need --precision amp/);
  const badPrecision = await cli('run', ir, '--inputs', inputs, '--precision', 'bf16');
  t.is(badPrecision.code, 1);
  const noInputs = await cli('check', ir);
  t.is(noInputs.code, 1);
  t.regex(noInputs.stderr, /--inputs IN\.json or --random-inputs/);
  const both = await cli('check', ir, '--inputs', inputs, '--random-inputs');
  t.is(both.code, 1);
  const badSeed = await cli('check', ir, '--random-inputs', '--seed', 'x');
  t.is(badSeed.code, 1);
});

const MLP_OPS = ['matmul', 'add', 'relu', 'matmul', 'add', 'softmax'];

for (const backend of ['gpu', 'reference'] as const) {
  testOn(backend, `check mlp.ir on ${backend} prints one row per op`, async (t) => {
    const r = await cli('check', join(EXAMPLES, 'mlp.ir'), '--random-inputs', '--seed', '7', '--backend', backend);
    t.is(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('%'));
    t.deepEqual(rows.map((l) => l.split(/\s+/)[1]), MLP_OPS, r.stdout);
    t.deepEqual(rows.map((l) => l.split(/\s+/)[0]), ['%0', '%1', '%2', '%3', '%4', '%probs']);
    for (const l of rows) {
      const [, , , abs, rel] = l.split(/\s+/);
      t.true(Number(abs) < 0.1 && Number(rel) < F16_BOUND, l);
    }
    t.regex(r.stdout, /first non-finite: none/);
    // Given inputs work too.
    const withInputs = await cli('check', join(EXAMPLES, 'mlp.ir'), '--inputs', join(EXAMPLES, 'mlp.inputs.json'), '--backend', backend);
    t.is(withInputs.code, 0, withInputs.stderr);
    t.is(withInputs.stdout.split('\n').filter((l) => l.startsWith('%')).length, MLP_OPS.length);
  });
}

const OVERFLOW = `graph @overflow(%x: f32[4]) -> (f32[4]) {
  %h = mul %x, %x : f32[4]
  %e = exp %x : f32[4]
  %d = sub %e, %e : f32[4]
  %y = add %d, %h : f32[4]
  return %y
}
`;

for (const backend of ['gpu', 'reference'] as const) {
  testOn(backend, `check on ${backend} names the op that overflows in f16 as the first non-finite`, async (t) => {
    const dir = mkdtempSync(join(tmp, 'overflow-'));
    const ir = join(dir, 'overflow.ir'), inputs = join(dir, 'overflow.inputs.json');
    writeFileSync(ir, OVERFLOW);
    writeFileSync(inputs, JSON.stringify({
      x: { dtype: 'f32', shape: [4], data: [12, 1, 0.5, 12] },
    }));
    // In f32 (exp denied, the default) exp(12) ~ 1.6e5 is finite.
    const f32 = await cli('check', ir, '--inputs', inputs, '--backend', backend);
    t.is(f32.code, 0, f32.stderr);
    t.regex(f32.stdout, /first non-finite: none/);
    // Forced into f16 it overflows to inf (and inf - inf is NaN downstream), and exp is named first.
    const f16 = await cli('check', ir, '--inputs', inputs, '--backend', backend, '--amp-allow', 'exp');
    t.is(f16.code, 1, 'non-finite values under AMP fail the check (a CI gate), after the table');
    t.regex(f16.stderr, /^ampc: .*overflow\.ir:3:8: error E0607: %e = exp \(f16\[4\]\) turns non-finite under AMP where the f64 reference is finite \(\d+ value\(s\) in all\); see the table above\n$/);
    t.regex(f16.stdout, /^%e\s+exp\s+f16\[4\]\s+inf/m, f16.stdout);
    t.regex(f16.stdout, /first non-finite: %e = exp \(f16\[4\]\) at .*overflow\.ir:3:8$/m, f16.stdout);
  });
}

test('dump --pipeline train-amp: the whole AMP train step of a loss graph; a non-scalar first output is refused with its place', async (t) => {
  const ok = await cli('dump', `${EXAMPLES}mlp-loss.ir`, '--pipeline', 'train-amp');
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^graph @mlp_loss_step\(.*%amp\.scale: f32\[\], %amp\.good_steps: i32\[\], %amp\.skipped: i32\[\]/m);
  // Fused (the default): the check stores no unscaled copies; each parameter's update is one kernel.
  t.regex(ok.stdout, /%grads\.finite = finite_check /);
  t.regex(ok.stdout, /^  %new\.w1, %new\.adam\.m\.w1, %new\.adam\.v\.w1 = fused /m);
  // The train step is three named passes, each with its summary line.
  t.regex(ok.stderr, /^\/\/ loss-scaling: @mlp_loss: dynamic \(init 65536, interval 2000\)$/m);
  t.regex(ok.stderr, /^\/\/ autodiff: @mlp_loss_step: 4 gradients$/m);
  t.regex(ok.stderr, /^\/\/ optimizer: @mlp_loss_step: adam, loss scaling dynamic \(init 65536, interval 2000\), 10 state inputs added, 16 inputs updated in place/m);
  const afterAutodiff = await cli('dump', `${EXAMPLES}mlp-loss.ir`, '--pipeline', 'train-amp', '--print-ir-after', 'autodiff');
  t.regex(afterAutodiff.stdout, /IR Dump After autodiff[\s\S]*return %loss, %\d+, %grad\.w1, %grad\.b1, %grad\.w2, %grad\.b2\n/);
  t.regex(ok.stderr, /^\/\/ fusion: @mlp_loss_step: .*kernels \d+ -> \d+$/m);
  const unfused = await cli('dump', `${EXAMPLES}mlp-loss.ir`, '--pipeline', 'train-amp', '--no-fusion');
  t.regex(unfused.stdout, /%grads\.finite = unscale_check /);
  t.notRegex(unfused.stdout, / = fused /);
  const bad = await cli('dump', `${EXAMPLES}mlp.ir`, '--pipeline', 'train-amp');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /mlp\.ir:9:12: error E0405: train step: the first output of @mlp \(%probs: f32\[8,10\]\) is not a scalar float loss/);
  t.notRegex(bad.stderr, /\n\s+at /);
});
