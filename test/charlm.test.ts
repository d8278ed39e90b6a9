// The transformer example (examples/charlm) run as a user runs it, as a child
// process: a tiny model trains a few steps on the default text under AMP,
// prints its summary lines and a sample, writes a CSV metrics log that
// parseMetricsLog reads back with the expected columns and rows (the loss
// falling) and an SVG loss curve; bad texts and flags are refused with exit
// code 1, an error code and no stack trace, before any training.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetricsLog } from '../compiler/train/metrics.ts';
import { gpuTest } from './helpers/gpu.ts';
import { expectRefusals, runNamedExample } from './helpers/example.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ampc-charlm-'));

const runCharlm = (...args: string[]) => runNamedExample('charlm', args);

/** A model small enough to compile and train in seconds on lavapipe. */
const TINY = ['--context', '8', '--embed', '16', '--heads', '2', '--layers', '1', '--batch-size', '8', '--lr', '1e-2', '--seed', '1'];

gpuTest('the example trains a tiny transformer under AMP: summary, sample, metrics log and loss curve', async (t) => {
  const log = join(tmp, 'metrics.csv'), plot = join(tmp, 'loss.svg');
  const r = await runCharlm(...TINY, '--steps', '30', '--log-every', '5', '--eval-every', '10', '--sample-length', '20', '--log', log, '--plot', plot);
  t.is(r.code, 0, r.stderr);
  const out = r.stdout;
  t.regex(out, /^text: \/usr\/share\/common-licenses\/GPL-3 \(\d+ characters, vocabulary of \d+;/m);
  t.regex(out, /^model: 1 block\(s\), embed 16, 2 heads, context 8, dropout 0\.1, vocabulary \d+ \(\d+ parameters\)$/m);
  t.regex(out, /cosine schedule over 30 steps \(warmup 3\), precision amp/);
  t.is([...out.matchAll(/^step (10|20|30): train loss \d+\.\d{4} \(mean of 2 logged\), validation loss \d+\.\d{4}$/gm)].length, 3, out);
  const num = (re: RegExp) => {
    const m = re.exec(out);
    t.truthy(m, `${re}: ${out}`);
    return Number(m?.[1]);
  };
  const val = num(/^validation loss: (\d+\.\d{4})$/m);
  t.true(val > 0 && val < Math.log(100), `validation loss ${val}`);
  t.true(num(/^train loss: (\d+\.\d{4}) \(mean of the \d+ logged losses/m) > 0);
  t.is(num(/^skipped steps: (\d+)$/m), 0);
  t.true(num(/^final loss scale: (\d+)$/m) >= 1);
  t.true(num(/^dispatches per step: (\d+)$/m) > 50);
  t.true(num(/^ms per step: (\d+\.\d)$/m) > 0);
  t.regex(out, /^GPU buffers: \d+\.\d\d MiB \(train step \d+\.\d\d MiB, predictions \d+\.\d\d MiB\)$/m);
  t.regex(out, /^prompt: " {8}"$/m, 'the default prompt: the text\'s first 8 characters');
  const sample = /^sample \(20 characters, temperature 0\.8, [\d.]+ s\):\n([^]*)\nmetrics log: /m.exec(out);
  t.truthy(sample, out);
  t.is(Array.from(sample![1]!).length, 8 + 20, 'the prompt and 20 generated characters');
  t.true(sample![1]!.startsWith(' '.repeat(8)));
  t.regex(out, /^metrics log: .*metrics\.csv$/m);
  t.regex(out, /^loss curve: .*loss\.svg$/m);

  const rows = parseMetricsLog(readFileSync(log, 'utf8'), log);
  t.deepEqual(rows.map((x) => x.step), [5, 10, 15, 20, 25, 30]);
  t.deepEqual(Object.keys(rows[0]!), ['step', 'loss', 'scale', 'skipped', 'updates', 'lr', 'grad_norm', 'samples_per_s', 'elapsed_s']);
  t.true(rows.every((x) => Number.isFinite(x.loss) && Number.isFinite(x.grad_norm) && x.grad_norm! > 0 && x.lr! >= 0), JSON.stringify(rows));
  const first = rows[0]!.loss!, last = (rows[4]!.loss! + rows[5]!.loss!) / 2;
  t.true(last < first - 0.1, `the training loss fell: ${first} -> ${last}`);
  t.true(rows[5]!.lr! < rows[1]!.lr!, 'the cosine schedule decays the rate');

  t.true(existsSync(plot));
  const svg = readFileSync(plot, 'utf8');
  t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.regex(svg, /validation loss/);
  t.regex(svg, /gradient norm/);
  t.regex(svg, /learning rate/);
});

test('the example refuses a missing, empty or binary text and bad flags with exit code 1 and no stack trace', async (t) => {
  const empty = join(tmp, 'empty.txt'), binary = join(tmp, 'binary.bin');
  writeFileSync(empty, '');
  writeFileSync(binary, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  const cases: [string[], RegExp][] = [
    [['--text', join(tmp, 'no-such-file.txt')], /^charlm: error E0601: --text .*no-such-file\.txt: cannot read the text \(no such file\)$/m],
    [['--text', empty], /E0602: --text .*empty\.txt: the file is empty/],
    [['--text', binary], /E0602: --text .*binary\.bin: not a text file/],
    [['--heads', '3'], /E0604: --heads 3 does not divide --embed 64/],
    [['--prompt', 'ж'], /E0604: --prompt: the character "ж" does not occur in the text/],
    [['--steps', '0'], /--steps.*positive integer/],
    [['--plot', join(tmp, 'loss.png')], /E0604: --plot .*loss\.png: the picture is an SVG/],
  ];
  await expectRefusals(t, cases, 'charlm', /validation loss/);
});
