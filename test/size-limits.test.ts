// Size limits (hardening issue #12): a graph too large for the f64 reference
// interpreter is E0802 before anything is allocated — in interpret(), in
// randomInputs(), and in `ampc check` / `ampc run --backend reference`, which
// lift the limit with `--max-elements N` — and outputs of any size are
// written as tensor JSON without one string holding them whole (the string
// form refuses with E0608 instead of a RangeError). Every refusal is an
// AmpcError: in the CLI, `error CODE: ...`, exit code 1, no stack.

import test from 'ava';
import { errorOf } from './helpers/errors.ts';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../compiler/cli/main.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { DEFAULT_MAX_ELEMENTS, interpret, interpreterFootprint } from '../ir/interp/interpret.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { allocData, hostTensor, toArray } from '../ir/interp/tensor.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { parseModule } from '../ir/text/parser.ts';
import { fuseGraph } from '../passes/fusion.ts';
import { writeFileAtomicChunks } from '../runtime/node-files.ts';
import { parseTensorListJson, tensorRecordToJson, tensorsToJson, writeTensorsJson } from '../runtime/tensor-json.ts';

const exec = promisify(execFile);
const AMPC = new URL('../compiler/cli/ampc.mjs', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'ampc-size-'));

async function cli(...argv: string[]) {
  let stdout = '', stderr = '';
  const code = await runCli(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

function irFile(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

const parse = (text: string): Graph => parseModule(text, 'g.ir').main;


const HUGE = 'graph @big(%x: f32[65536,65536]) -> (f32[65536,65536]) {\n  %0 = relu %x : f32[65536,65536]\n  return %0\n}\n';

// A medium graph: 3 values of 256 x 256 = 196608 elements in all.
const MEDIUM = 'graph @medium(%x: f32[256,256]) -> (f32[256,256]) {\n  %0 = relu %x : f32[256,256]\n  %1 = exp %0 : f32[256,256]\n  return %1\n}\n';
const MEDIUM_ELEMENTS = 3 * 256 * 256;

const mediumInput = (): HostTensor => {
  const data = allocData('f32', 256 * 256);
  for (let i = 0; i < data.length; i++) data[i] = ((i % 17) - 8) / 8;
  return { dtype: 'f32', shape: [256, 256], data };
};

/** How many elements differ (ava's deepEqual is slow to diff arrays this long). */
function differing(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

// ---------------------------------------------------------------- ampc check

// Serial: timed alone, not beside the other tests of the file.
test.serial('check --random-inputs on f32[65536,65536]: E0802 naming the input, exit 1, fast, no RangeError', async (t) => {
  const file = irFile('big.ir', HUGE);
  const start = performance.now();
  const r = await cli('check', file, '--random-inputs');
  const ms = performance.now() - start;
  t.is(r.code, 1);
  t.regex(r.stderr, /^ampc: .*big\.ir:1:\d+: error E0802: graph @big is too large for the reference interpreter: its values hold 8589934592 elements in all, over the limit of 67108864/);
  t.regex(r.stderr, /the largest is input %x: f32\[65536,65536\] with 4294967296 elements/);
  t.regex(r.stderr, /--max-elements N/);
  t.notRegex(r.stderr, /RangeError|\bat .*\.ts:\d+/);
  t.is(r.stdout, '');
  t.true(ms < 5000, `took ${ms} ms`);
});

test('check on a 65536-wide matmul (also with --backend reference and --inputs): E0802 before reading or making inputs', async (t) => {
  const file = irFile('wide.ir', 'graph @wide(%x: f32[8,65536], %w: f32[65536,65536] {param}) -> (f32[8,65536]) {\n  %0 = matmul %x, %w : f32[8,65536]\n  return %0\n}\n');
  for (const extra of [['--random-inputs'], ['--random-inputs', '--backend', 'reference'], ['--inputs', join(tmp, 'not-there.json')]]) {
    const r = await cli('check', file, ...extra);
    t.is(r.code, 1, extra.join(' '));
    t.regex(r.stderr, /error E0802: graph @wide .* the largest is input %w: f32\[65536,65536\]/, extra.join(' '));
  }
});

test('the ampc process: check --random-inputs on f32[65536,65536] exits 1 with one error line, no internal error', async (t) => {
  const file = irFile('big-process.ir', HUGE);
  const err = await exec(process.execPath, [AMPC, 'check', file, '--random-inputs']).then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.truthy(err);
  t.is(err!.code, 1);
  t.regex(err!.stderr, /^ampc: .*error E0802: graph @big is too large for the reference interpreter: .*\n$/);
  t.notRegex(err!.stderr, /internal error|RangeError/);
});

test('check --max-elements: refuses a small graph under a small limit, runs it under the default and a lifted one; bad values are E0604', async (t) => {
  const file = irFile('medium.ir', MEDIUM);
  const low = await cli('check', file, '--random-inputs', '--backend', 'reference', '--max-elements', '1000');
  t.is(low.code, 1);
  t.regex(low.stderr, /error E0802: graph @medium .*holds? 196608 elements in all, over the limit of 1000/);
  for (const extra of [[], ['--max-elements', String(MEDIUM_ELEMENTS)], ['--max-elements', 'inf']]) {
    const ok = await cli('check', file, '--random-inputs', '--backend', 'reference', ...extra);
    t.is(ok.code, 0, ok.stderr);
    t.regex(ok.stdout, /first non-finite: none/);
  }
  for (const bad of ['-1', '1e9', 'lots', '']) {
    const r = await cli('check', file, '--random-inputs', '--max-elements', bad);
    t.is(r.code, 1, bad);
    t.regex(r.stderr, /error E0604: --max-elements: expects a whole number of elements/, bad);
  }
});

// ---------------------------------------------------------------- interpret()

test('interpret: maxElements refuses below the graph\'s size and runs at or above it; the default runs a medium graph', (t) => {
  const g = parse(MEDIUM);
  t.is(interpreterFootprint(g).elements, MEDIUM_ELEMENTS);
  const x = mediumInput();
  const e = errorOf(() => interpret(g, { x }, { maxElements: MEDIUM_ELEMENTS - 1 }));
  t.is(e.code, 'E0802');
  t.regex(e.detail, new RegExp(`graph @medium is too large for the reference interpreter: its values hold ${MEDIUM_ELEMENTS} elements in all, over the limit of ${MEDIUM_ELEMENTS - 1}`));
  t.regex(e.detail, /the largest is input %x: f32\[256,256\] with 65536 elements/);
  t.regex(e.detail, /InterpretOptions\.maxElements/);
  const want = toArray(x).map((v) => Math.exp(Math.max(v, 0)));
  for (const opts of [{}, { maxElements: MEDIUM_ELEMENTS }, { maxElements: Infinity }]) {
    const [out] = interpret(g, { x }, opts);
    t.is(differing(toArray(out!), want), 0, JSON.stringify(opts));
  }
});

test('interpret: the default limit refuses a graph over 2^26 elements before checking or allocating anything', (t) => {
  t.is(DEFAULT_MAX_ELEMENTS, 2 ** 26);
  const g = parse('graph @g(%x: f32[8192,8192]) -> (f32[8192,8192]) {\n  %0 = neg %x : f32[8192,8192]\n  return %0\n}\n');
  // No inputs given: the size is checked first (E0802, not E0603).
  const e = errorOf(() => interpret(g, {}));
  t.is(e.code, 'E0802');
  t.regex(e.detail, /its values hold 134217728 elements in all, over the limit of 67108864/);
  // The error is placed (at the graph for an input, at the node for a result).
  t.truthy(e.loc);
  const c = errorOf(() => interpret(parse('graph @c() -> (f32[16384,16384]) {\n  %0 = constant {value = 1.5} : f32[16384,16384]\n  return %0\n}\n'), {}));
  t.is(c.code, 'E0802');
  t.regex(c.detail, /the largest is %0 = constant: f32\[16384,16384\] with 268435456 elements/);
  t.is(c.loc?.line, 2);
});

test('interpret: a fused node\'s body counts toward the limit, and a fused graph runs within it', (t) => {
  const g = parse(MEDIUM);
  const { graph: fused } = fuseGraph(g);
  t.true(fused.nodes.some((n) => n.body !== undefined), 'relu -> exp fuses');
  const outer = fused.inputs.length + fused.nodes.reduce((k, n) => k + n.results.length, 0);
  const total = interpreterFootprint(fused).elements;
  t.true(total > outer * 65536, `${total} counts the body's values too`);
  const x = mediumInput();
  const e = errorOf(() => interpret(fused, { x }, { maxElements: outer * 65536 }));
  t.is(e.code, 'E0802');
  t.is(differing(toArray(interpret(fused, { x }, { maxElements: total })[0]!), toArray(interpret(g, { x })[0]!)), 0);
});

test('interpret: a maxElements that is not a number >= 0 is E0609', (t) => {
  const g = parse(MEDIUM);
  for (const bad of [-1, NaN, '10' as unknown as number]) {
    t.is(errorOf(() => interpret(g, { x: mediumInput() }, { maxElements: bad })).code, 'E0609', String(bad));
  }
});

// ---------------------------------------------------------------- randomInputs()

test('randomInputs: E0802 before allocating inputs over the limit; lifted, it makes them', (t) => {
  const e = errorOf(() => randomInputs(parse(HUGE), 0));
  t.is(e.code, 'E0802');
  t.regex(e.detail, /random inputs for graph @big are too large for the reference interpreter: its inputs hold 4294967296 elements in all, over the limit of 67108864; the largest is input %x: f32\[65536,65536\]/);
  const g = parse(MEDIUM);
  t.is(errorOf(() => randomInputs(g, 0, { maxElements: 1000 })).code, 'E0802');
  const a = randomInputs(g, 3, { maxElements: 65536 });
  t.deepEqual(a.x!.shape, [256, 256]);
  t.is(differing(toArray(a.x!), toArray(randomInputs(g, 3).x!)), 0, 'same seed, same tensors');
});

// ---------------------------------------------------------------- ampc run

test('run --backend reference --max-elements: refuses under the limit, runs when lifted; with the GPU backend it is E0604', async (t) => {
  const file = irFile('run-medium.ir', MEDIUM);
  const inputs = join(tmp, 'medium.inputs.json');
  writeFileSync(inputs, tensorRecordToJson({ x: mediumInput() }));
  const low = await cli('run', file, '--inputs', inputs, '--backend', 'reference', '--max-elements', '100');
  t.is(low.code, 1);
  t.regex(low.stderr, /error E0802: graph @medium is too large for the reference interpreter/);
  const ok = await cli('run', file, '--inputs', inputs, '--backend', 'reference', '--max-elements', String(MEDIUM_ELEMENTS));
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(parseTensorListJson(ok.stdout, 'stdout')[0]!.shape, [256, 256]);
  const gpu = await cli('run', file, '--inputs', inputs, '--max-elements', '100');
  t.is(gpu.code, 1);
  t.regex(gpu.stderr, /error E0604: --max-elements goes with --backend reference/);
});

test('run --out of a large constant is streamed to the file: the same JSON, no temporary file left, no RangeError', async (t) => {
  const dir = mkdtempSync(join(tmp, 'run-out-'));
  const file = join(dir, 'const.ir');
  writeFileSync(file, 'graph @c(%x: f32[]) -> (f32[1024,1024], f32[]) {\n  %0 = constant {value = 1.5} : f32[1024,1024]\n  %1 = neg %x : f32[]\n  return %0, %1\n}\n');
  const inputs = join(dir, 'x.json');
  writeFileSync(inputs, '{"x": {"dtype": "f32", "shape": [], "data": 2}}');
  const out = join(dir, 'out.json');
  writeFileSync(out, 'old contents');
  const r = await cli('run', file, '--inputs', inputs, '--backend', 'reference', '--out', out);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  const text = readFileSync(out, 'utf8');
  const back = parseTensorListJson(text, out);
  t.deepEqual(back.map((b) => b.shape), [[1024, 1024], []]);
  t.true(toArray(back[0]!).every((v) => v === 1.5));
  t.deepEqual(toArray(back[1]!), [-2]);
  // Streamed text is exactly the string form.
  t.is(text, tensorsToJson(back));
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  // To stdout, streamed in chunks too.
  let chunks = 0, stdout = '';
  const code = await runCli(['run', file, '--inputs', inputs, '--backend', 'reference'], { stdout: (s) => { chunks++; stdout += s; }, stderr: () => {} });
  t.is(code, 0);
  t.is(stdout, text);
  t.true(chunks > 10, `${chunks} chunks`);
});

// ---------------------------------------------------------------- tensor JSON

test('writeTensorsJson streams in bounded chunks, whatever the tensor size (a long 1-D tensor too)', (t) => {
  for (const shape of [[1 << 20], [512, 2048]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocData('f32', n);
    for (let i = 0; i < n; i++) data[i] = i / 3;
    const tensor: HostTensor = { dtype: 'f32', shape, data };
    let total = 0, largest = 0, chunks = 0;
    writeTensorsJson([tensor], (c) => {
      total += c.length;
      largest = Math.max(largest, c.length);
      chunks++;
    });
    t.true(total > 10_000_000, `${total} characters`);
    t.true(largest < 70_000, `chunks of at most ${largest} characters`);
    t.true(chunks > 100);
  }
});

test('tensorsToJson / tensorRecordToJson: E0608 naming the output and its element count instead of a RangeError past the string limit', (t) => {
  const big = hostTensor('f32', [100, 100], new Array(10000).fill(0.123456789));
  const small = hostTensor('f32', [2], [1, 2]);
  // Up front: 10000 elements cannot fit in 20000 characters.
  const e = errorOf(() => tensorsToJson([small, big], { maxLength: 20000 }));
  t.is(e.code, 'E0608');
  t.regex(e.detail, /^output \[1\] \(f32\[100,100\], 10000 elements\) is too large for one JSON string of at most 20000 characters; write it to a file instead/);
  // While writing: the elements could fit in 50000 characters, their text cannot.
  const w = errorOf(() => tensorsToJson([small, big], { maxLength: 50000 }));
  t.is(w.code, 'E0608');
  t.regex(w.detail, /^output \[1\] \(f32\[100,100\], 10000 elements\)/);
  const r = errorOf(() => tensorRecordToJson({ 'the weights': big }, { maxLength: 20000 }));
  t.regex(r.detail, /^output \["the weights"\] \(f32\[100,100\], 10000 elements\)/);
  // Under the limit, the usual text.
  t.is(tensorsToJson([small], { maxLength: 1000 }), '[\n  {\n    "dtype": "f32",\n    "shape": [2],\n    "data": [1, 2]\n  }\n]\n');
});

test('writeFileAtomicChunks: writes the pieces; an error while producing leaves the target untouched and no temporary file', (t) => {
  const dir = mkdtempSync(join(tmp, 'chunks-'));
  const file = join(dir, 'f.json');
  writeFileAtomicChunks(file, (w) => {
    for (let i = 0; i < 1000; i++) w(`${i},`);
  });
  t.is(readFileSync(file, 'utf8'), Array.from({ length: 1000 }, (_, i) => `${i},`).join(''));
  const e = errorOf(() =>
    writeFileAtomicChunks(file, (w) => {
      w('partial');
      throw new AmpcError('E0608', 'stop');
    }),
  );
  t.is(e.code, 'E0608');
  t.is(readFileSync(file, 'utf8').slice(0, 4), '0,1,');
  t.deepEqual(readdirSync(dir), ['f.json']);
  const d = errorOf(() => writeFileAtomicChunks(dir, (w) => w('x')));
  t.is(d.code, 'E0601');
  t.false(existsSync(join(dir, 'missing', 'f.json')));
  t.is(errorOf(() => writeFileAtomicChunks(join(dir, 'missing', 'f.json'), (w) => w('x'))).code, 'E0601');
});
