// Atomic writes (runtime/node-files.ts), which every --out, Trainer.save,
// --plot, picture and artifact goes through: nothing half-written, no
// temporary file left on failure, links kept as links, and devices and FIFOs
// written in place instead of being replaced by regular files (issue #12).

import test from 'ava';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../runtime/node-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'ampc-files-'));

test('a new file, then a replacement; no temporary file stays', (t) => {
  const d = join(dir, 'plain');
  mkdirSync(d);
  writeFileAtomic(join(d, 'out.json'), 'one');
  writeFileAtomic(join(d, 'out.json'), new TextEncoder().encode('two'));
  t.is(readFileSync(join(d, 'out.json'), 'utf8'), 'two');
  t.deepEqual(readdirSync(d), ['out.json']);
});

test('failures are E0601 and leave no temporary file: a directory, a missing folder, a dangling link', (t) => {
  const d = join(dir, 'fail');
  mkdirSync(join(d, 'sub'), { recursive: true });
  t.regex(t.throws(() => writeFileAtomic(join(d, 'sub'), 'x'))!.message, /E0601: cannot write .*sub: it is a directory/);
  t.regex(t.throws(() => writeFileAtomic(join(d, 'sub') + '/', 'x'))!.message, /E0601: cannot write/);
  t.regex(t.throws(() => writeFileAtomic(join(d, 'no', 'such', 'f.json'), 'x'))!.message, /E0601: cannot write .*f\.json: ENOENT/);
  symlinkSync(join(d, 'nowhere', 'x'), join(d, 'dangling'));
  t.regex(t.throws(() => writeFileAtomic(join(d, 'dangling'), 'x'))!.message, /E0601: cannot write .*dangling: it is a symbolic link that leads nowhere/);
  t.deepEqual(readdirSync(d).sort(), ['dangling', 'sub']);
  t.deepEqual(readdirSync(join(d, 'sub')), []);
});

test('a symbolic link stays a link; its target gets the content', (t) => {
  const d = join(dir, 'link');
  mkdirSync(d);
  writeFileSync(join(d, 'real.json'), 'old');
  symlinkSync('real.json', join(d, 'link.json'));
  writeFileAtomic(join(d, 'link.json'), 'new');
  t.true(lstatSync(join(d, 'link.json')).isSymbolicLink());
  t.is(readFileSync(join(d, 'real.json'), 'utf8'), 'new');
  t.deepEqual(readdirSync(d).sort(), ['link.json', 'real.json']);
});

test('a device is written in place, not replaced: /dev/null stays a character device', (t) => {
  writeFileAtomic('/dev/null', 'discarded');
  t.true(lstatSync('/dev/null').isCharacterDevice());
});

test('a FIFO is written in place: the reader gets the bytes, the FIFO stays', async (t) => {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const reader = spawn('cat', [fifo]);
  let got = '';
  reader.stdout.on('data', (b: Buffer) => (got += b.toString()));
  const done = new Promise((resolve) => reader.on('close', resolve));
  writeFileAtomic(fifo, 'through the pipe');
  await done;
  t.is(got, 'through the pipe');
  t.true(lstatSync(fifo).isFIFO());
});
