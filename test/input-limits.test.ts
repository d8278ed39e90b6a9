// Hardening against inputs that are too large or not text (issue #12): a graph
// with 50k inputs parses in linear time; `readText`, which every CLI command
// uses for .ir files and inputs JSON, stops at a size cap (E0608, also for
// endless files such as /dev/zero) and refuses binary files (E0001 at the
// first NUL byte); the CLI prints these as placed errors and exits 1.

import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../compiler/cli/main.ts';
import { MAX_TEXT_BYTES, readText } from '../compiler/cli/io.ts';
import { Graph } from '../ir/graph.ts';
import { parseModule } from '../ir/text/parser.ts';
import { errorOf } from './helpers/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ampc-limits-'));
const EXAMPLES = new URL('../examples/', import.meta.url).pathname;

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

function write(name: string, data: string | Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
}

/** A graph with `n` inputs `%x0 ... %x{n-1}` that returns `%x0`. */
function wideGraph(n: number, extra = ''): string {
  const ins = Array.from({ length: n }, (_, i) => `%x${i}: f32[1]`);
  return `graph @g(${ins.join(', ')}${extra}) -> (f32[1]) {\n  return %x0\n}\n`;
}

// ---------------------------------------------------------------- many inputs

test('a graph with 50,000 inputs parses (in linear time)', (t) => {
  const text = wideGraph(50_000);
  const t0 = performance.now();
  const g = parseModule(text, 'wide.ir').main;
  const ms = performance.now() - t0;
  t.log(`50,000 inputs parsed in ${ms.toFixed(0)} ms`);
  t.is(g.inputs.length, 50_000);
  t.is(g.inputs[49_999]!.name, 'x49999');
  // Only a guard against a hang: the quadratic check took minutes, the linear one well under a second.
  t.true(ms < 20_000, `${ms} ms`);
});

test('a duplicate input among many is still E0005 at its place', (t) => {
  const e = errorOf(() => parseModule(wideGraph(5_000, ', %x17: f32[1]'), 'dup.ir'));
  t.is(e.code, 'E0005');
  t.regex(e.message, /^dup\.ir:1:\d+: error E0005: input %x17 is already defined \(at 1:\d+\)$/);
});

test('Graph.addInput still refuses a duplicate name (E0005), also after inputs were changed directly', (t) => {
  const g = new Graph('g');
  for (let i = 0; i < 1000; i++) g.addInput(`x${i}`, { dtype: 'f32', shape: [1] });
  const e = errorOf(() => g.addInput('x500', { dtype: 'f32', shape: [1] }, { loc: { line: 3, col: 4 } }));
  t.is(e.message, '<input>:3:4: error E0005: graph @g: input %x500 is defined twice');
  // An input pushed behind addInput's back is seen too.
  const h = new Graph('h');
  h.addInput('a', { dtype: 'f32', shape: [1] });
  h.inputs.push(g.inputs[7]!); // %x7
  t.is(errorOf(() => h.addInput('x7', { dtype: 'f32', shape: [1] })).code, 'E0005');
  t.is(h.addInput('b', { dtype: 'f32', shape: [1] }).name, 'b');
  t.deepEqual(h.inputs.map((v) => v.name), ['a', 'x7', 'b']);
});

// ---------------------------------------------------------------- size cap

test('MAX_TEXT_BYTES is 256 MiB', (t) => {
  t.is(MAX_TEXT_BYTES, 256 * 2 ** 20);
});

test('readText: a file up to the cap is read; one byte more is E0608 naming the file and the cap', (t) => {
  const at = write('at-cap.ir', 'x'.repeat(100));
  t.is(readText(at, 100), 'x'.repeat(100));
  const over = write('over-cap.ir', 'x'.repeat(101));
  const e = errorOf(() => readText(over, 100));
  t.is(e.code, 'E0608');
  t.is(e.loc, undefined);
  t.is(e.message, `error E0608: cannot read ${over}: it is larger than 100 bytes, the most ampc reads as text`);
});

test('readText reads a text file exactly as before (UTF-8, BOM and invalid bytes kept as they were)', (t) => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('graph é😀\r\n'.repeat(300_000)), Buffer.from([0xff, 0xc3, 0x41])]);
  const p = write('big.txt', bytes); // ~4 MiB: several chunks' worth
  t.is(readText(p), readFileSync(p, 'utf8'));
  t.is(readText(write('empty.ir', '')), '');
});

const linux = process.platform === 'linux' && existsSync('/dev/zero');

(linux ? test : test.skip)('readText stops an endless file (/dev/zero) at the cap', (t) => {
  const t0 = performance.now();
  const e = errorOf(() => readText('/dev/zero', 2 ** 20));
  t.is(e.message, 'error E0608: cannot read /dev/zero: it is larger than 1 MiB, the most ampc reads as text');
  t.log(`/dev/zero refused after 1 MiB in ${(performance.now() - t0).toFixed(0)} ms`);
});

(linux ? test : test.skip)('readText reads a pipe (no size known) in chunks', async (t) => {
  const text = 'abc\u00e9\n'.repeat(1_000_000); // 6 MB
  const src = write('pipe-src.txt', text);
  const fifo = join(tmp, 'fifo');
  await new Promise<void>((resolve, reject) => spawn('mkfifo', [fifo]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo: ${c}`)))));
  const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', src, fifo]);
  const done = new Promise((resolve) => writer.on('exit', resolve));
  t.is(readText(fifo), text);
  t.is(await done, 0);
});

(linux ? test : test.skip)('ampc dump /dev/zero: E0608 quickly, exit code 1, no stack', async (t) => {
  const t0 = performance.now();
  const r = await cli('dump', '/dev/zero');
  const ms = performance.now() - t0;
  t.log(`ampc dump /dev/zero refused in ${ms.toFixed(0)} ms`);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.is(r.stderr, 'ampc: error E0608: cannot read /dev/zero: it is larger than 256 MiB, the most ampc reads as text\n');
  t.true(ms < 20_000, `${ms} ms`);
});

test('a missing file is still E0601', async (t) => {
  const missing = join(tmp, 'no-such.ir');
  t.is(errorOf(() => readText(missing)).message, `error E0601: cannot read ${missing}: no such file`);
  const r = await cli('dump', missing);
  t.is(r.code, 1);
  t.is(r.stderr, `ampc: error E0601: cannot read ${missing}: no such file\n`);
});

// ---------------------------------------------------------------- binary files

/** `prefix` (UTF-8), a NUL byte, then binary junk. */
function withNul(prefix: string | Uint8Array): Buffer {
  const head = typeof prefix === 'string' ? Buffer.from(prefix) : Buffer.from(prefix);
  return Buffer.concat([head, Buffer.from([0, 0xff, 0xfe, 1, 2, 0, 3]), Buffer.alloc(100_000, 7)]);
}

test('ampc dump of a binary file: E0001 at the first NUL byte, exit code 1, no stack', async (t) => {
  const p = write('bin.ir', withNul('graph @g(%a: f32[2]) -> (f32[2]) {\n  // caf\u00e9 \u{1F600}\n  %0 = relu'));
  const r = await cli('dump', p);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.is(r.stderr, `ampc: ${p}:3:12: error E0001: NUL byte (U+0000): this is a binary file, not IR or JSON text\n`);
});

test('a binary inputs file is E0001 at its NUL byte too', async (t) => {
  const ins = write('bin.json', withNul('{\n\n   "x"'));
  const r = await cli('run', join(EXAMPLES, 'mlp.ir'), '--inputs', ins, '--backend', 'reference');
  t.is(r.code, 1);
  t.is(r.stderr, `ampc: ${ins}:3:7: error E0001: NUL byte (U+0000): this is a binary file, not IR or JSON text\n`);
});

test('a 10 MB binary file is refused at once', (t) => {
  const bytes = Buffer.alloc(10_000_000, 0x41);
  bytes[70_000] = 0; // past the first 64 KiB: still text to readText ...
  bytes[65_535] = 0; // ... but this one is inside them
  const p = write('big.bin', bytes);
  const t0 = performance.now();
  const e = errorOf(() => readText(p));
  t.log(`10 MB binary refused in ${(performance.now() - t0).toFixed(0)} ms`);
  t.is(e.code, 'E0001');
  t.deepEqual(e.loc, { file: p, line: 1, col: 65_536 });
});

test('the NUL byte is placed where the lexer would place it (\\n, \\r\\n, \\r, BOM, non-ASCII)', (t) => {
  const prefixes = [
    '',
    'graph',
    'graph @g(%a: f32[2]) -> (f32[2]) {\r\n  %0 = relu %a : f32[2]\r\n  ',
    'graph @g(%a: f32[2]) -> (f32[2]) {\r  // \u00e9\u00e9 \u{1F600} \u4e2d\r  %0 = relu %a ',
    '\ufeffgraph @g(%a: f32[2]) -> (f32[2]) {\n\n\n// x\r\n\r\n   ',
    '\ufeff  ',
    '// \u00e9\n\r\n\n\r  ',
  ];
  for (const [i, prefix] of prefixes.entries()) {
    const p = write(`nul-${i}.ir`, withNul(prefix));
    const ours = errorOf(() => readText(p));
    const lexer = errorOf(() => parseModule(readFileSync(p, 'utf8'), p));
    t.is(lexer.code, 'E0001', JSON.stringify(prefix));
    t.regex(lexer.detail, /U\+0000/);
    t.deepEqual(ours.loc, lexer.loc, JSON.stringify(prefix));
  }
});

test('a NUL byte past the first 64 KiB is left to the lexer, as before', (t) => {
  const p = write('late-nul.ir', withNul(`${' '.repeat(70_000)}\n  `));
  const text = readText(p);
  const e = errorOf(() => parseModule(text, p));
  t.is(e.message, `${p}:2:3: error E0001: unexpected character U+0000`);
});

test('invalid UTF-8 without NUL bytes is read as before (U+FFFD), then refused by the lexer', (t) => {
  const p = write('latin1.ir', Buffer.from([0x67, 0x72, 0xe9, 0x0a]));
  const text = readText(p);
  t.is(text, 'gr\ufffd\n');
  t.is(errorOf(() => parseModule(text, p)).code, 'E0001');
});
