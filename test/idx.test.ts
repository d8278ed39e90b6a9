// IDX files and Fashion-MNIST (compiler/train/data/idx.ts and
// fashion-mnist.ts): hand-made tiny files, gzipped and plain, read back
// exactly; malformed ones fail with E0602 (unreadable ones with E0601) naming
// the file; the example's committed sample loads. Gzip bombs (issue #12) are
// refused after decompressing about what the header declares, not the whole
// stream. (Batching: data-loader.test.ts.)

import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { AmpcError } from '../ir/errors.ts';
import type { ErrorCode } from '../ir/errors.ts';
import { decodeIdx, encodeIdx, FASHION_MNIST_DIR, FASHION_MNIST_MEAN as MEAN, FASHION_MNIST_STD as STD, loadFashionMnist, readIdx } from '../compiler/train/data/index.ts';
import { SAMPLE_DIR } from '../examples/mnist/data.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ampc-idx-'));

/** IDX bytes written by hand: header fields and big-endian payload. */
function handMade(type: number, dims: number[], payload: number[]): Uint8Array {
  const head = [0, 0, type, dims.length];
  for (const d of dims) head.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return Uint8Array.from([...head, ...payload]);
}

function write(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

function throwsCode(t: import('ava').ExecutionContext, fn: () => unknown, code: ErrorCode, ...fragments: string[]): void {
  const e = t.throws(fn, { instanceOf: AmpcError });
  t.is(e?.code, code, e?.message);
  for (const f of fragments) t.true(e?.message.includes(f), `'${e?.message}' should mention '${f}'`);
}

test('a hand-made u8 file reads back, plain and gzipped', (t) => {
  const bytes = handMade(0x08, [2, 3], [1, 2, 3, 250, 251, 255]);
  for (const p of [write('u8.idx', bytes), write('u8.idx.gz', gzipSync(bytes))]) {
    const a = readIdx(p);
    t.is(a.type, 'u8');
    t.deepEqual(a.dims, [2, 3]);
    t.deepEqual(Array.from(a.data), [1, 2, 3, 250, 251, 255]);
  }
});

test('gzip is detected by its magic bytes, not the file name', (t) => {
  const p = write('labels-no-extension', gzipSync(handMade(0x08, [2], [7, 9])));
  t.deepEqual(Array.from(readIdx(p).data), [7, 9]);
});

test('big-endian i16, i32, f32 and f64 elements decode', (t) => {
  t.deepEqual(Array.from(decodeIdx(handMade(0x0b, [2], [0xff, 0xfe, 0x01, 0x00]), 'x').data), [-2, 256]);
  t.deepEqual(Array.from(decodeIdx(handMade(0x0c, [1], [0x80, 0, 0, 1]), 'x').data), [-2147483647]);
  t.deepEqual(Array.from(decodeIdx(handMade(0x0d, [1], [0x3f, 0xc0, 0, 0]), 'x').data), [1.5]);
  t.deepEqual(Array.from(decodeIdx(handMade(0x0e, [1], [0xc0, 0, 0, 0, 0, 0, 0, 0]), 'x').data), [-2]);
  t.deepEqual(Array.from(decodeIdx(handMade(0x09, [2], [0xff, 0x7f]), 'x').data), [-1, 127]);
});

test('encodeIdx and readIdx round-trip every type', (t) => {
  const cases = [
    { type: 'u8', dims: [2, 2], data: Uint8Array.from([0, 1, 128, 255]) },
    { type: 'i32', dims: [3], data: Int32Array.from([-5, 0, 2 ** 30]) },
    { type: 'f32', dims: [1, 2], data: Float32Array.from([0.25, -3]) },
  ] as const;
  for (const c of cases) {
    for (const gzip of [false, true]) {
      const a = readIdx(write(`rt-${c.type}-${gzip}`, encodeIdx(c, { gzip })));
      t.is(a.type, c.type);
      t.deepEqual(a.dims, [...c.dims]);
      t.deepEqual(Array.from(a.data), Array.from(c.data));
    }
  }
});

test('malformed files are E0602 errors that name the file and say what is wrong', (t) => {
  const cases: [string, Uint8Array, string][] = [
    ['short', Uint8Array.from([0, 0, 8]), 'too short'],
    ['magic', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]), 'magic number'],
    ['type', handMade(0x07, [1], [0]), 'unknown IDX element type 0x07'],
    ['rank0', Uint8Array.from([0, 0, 8, 0]), '0 dimensions'],
    ['header', Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), 'truncated header'],
    ['data', handMade(0x08, [2, 2], [1, 2, 3]), 'truncated data'],
    ['trailing', handMade(0x08, [2], [1, 2, 3]), 'unexpected byte'],
    ['i32-data', handMade(0x0c, [2], [0, 0, 0, 1, 0, 0]), 'truncated data'],
    ['huge', handMade(0x08, [65536, 65536, 65536], []), 'more than this reader accepts'],
  ];
  for (const [name, bytes, what] of cases) {
    const p = write(`bad-${name}`, bytes);
    throwsCode(t, () => readIdx(p), 'E0602', p, what);
    throwsCode(t, () => readIdx(write(`bad-${name}.gz`, gzipSync(bytes))), 'E0602', `bad-${name}.gz`, what);
  }
});

test('a corrupt gzip stream is E0602', (t) => {
  const gz = gzipSync(handMade(0x08, [4], [1, 2, 3, 4]));
  const p = write('corrupt.gz', gz.subarray(0, gz.length - 6));
  throwsCode(t, () => readIdx(p), 'E0602', p, 'gzip');
});

/** Gzip of `head` followed by `zeros` zero bytes, compressed as one stream without holding the zeros (1 MiB at a time). */
async function gzipWithZeros(head: Uint8Array, zeros: number): Promise<Uint8Array> {
  const gz = createGzip();
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  const block = Buffer.alloc(1 << 20);
  gz.write(head);
  for (let left = zeros; left > 0; left -= block.length) {
    if (!gz.write(left >= block.length ? block : block.subarray(0, left))) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(chunks);
}

/** Decodes `bytes` expecting an E0602 error; returns it with the time taken and how much the peak RSS grew (MiB). */
function decodeRefused(t: import('ava').ExecutionContext, bytes: Uint8Array, name: string, ...fragments: string[]): { ms: number; peakGrowthMiB: number } {
  const peakBefore = process.resourceUsage().maxRSS;
  const started = performance.now();
  throwsCode(t, () => decodeIdx(bytes, name), 'E0602', name, ...fragments);
  const ms = performance.now() - started;
  return { ms, peakGrowthMiB: (process.resourceUsage().maxRSS - peakBefore) / 1024 };
}

const BOMB_ZEROS = 200 * 1024 * 1024;

// Serial, so that no other test of this file raises the peak RSS meanwhile.
test.serial('a gzip bomb (10 declared u8 elements, then 200 MiB of zeros) is refused quickly without decompressing it', async (t) => {
  const bomb = await gzipWithZeros(handMade(0x08, [10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), BOMB_ZEROS);
  t.true(bomb.length < 1024 * 1024, `the bomb is ${bomb.length} bytes`);
  const { ms, peakGrowthMiB } = decodeRefused(t, bomb, 'bomb.gz', 'more data than the header declares', 'dimensions [10] (u8)');
  t.log(`${bomb.length} gzip bytes (${BOMB_ZEROS} zeros after the data) refused in ${ms.toFixed(1)} ms, peak RSS grew ${peakGrowthMiB.toFixed(1)} MiB`);
  t.true(peakGrowthMiB < 64, `peak RSS grew ${peakGrowthMiB} MiB`);
  // Through readIdx too (the path of --data).
  throwsCode(t, () => readIdx(write('bomb.gz', bomb)), 'E0602', 'bomb.gz', 'more data than the header declares');
});

test.serial('a gzip bomb behind a bad or oversized header is refused with the header error, quickly', async (t) => {
  const cases: [string, Uint8Array, string][] = [
    ['magic', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 10]), 'magic number'],
    ['type', handMade(0x07, [10], []), 'unknown IDX element type 0x07'],
    ['huge', handMade(0x08, [65536, 65536, 65536], []), 'more than this reader accepts'],
  ];
  for (const [name, head, what] of cases) {
    const bomb = await gzipWithZeros(head, 64 * 1024 * 1024);
    const { ms, peakGrowthMiB } = decodeRefused(t, bomb, `bomb-${name}.gz`, what);
    t.log(`bomb behind a bad header (${name}): refused in ${ms.toFixed(1)} ms, peak RSS grew ${peakGrowthMiB.toFixed(1)} MiB`);
    t.true(peakGrowthMiB < 64, `peak RSS grew ${peakGrowthMiB} MiB`);
  }
});

test('a bomb of concatenated gzip members is refused too', (t) => {
  const member = gzipSync(new Uint8Array(1 << 20), { level: 9 });
  const bomb = Buffer.concat([gzipSync(handMade(0x08, [2], [7, 9])), ...Array<Uint8Array>(200).fill(member)]);
  const { ms } = decodeRefused(t, bomb, 'members.gz', 'more data than the header declares');
  t.log(`${bomb.length} bytes of 201 members refused in ${ms.toFixed(1)} ms`);
});

test('a header far into the compressed stream is still found, with or without a bomb behind it', async (t) => {
  // 20000 empty gzip members (no output) before the one with the header.
  const empties = Buffer.concat(Array<Uint8Array>(20000).fill(gzipSync(new Uint8Array(0))));
  const good = Buffer.concat([empties, gzipSync(handMade(0x08, [3], [4, 5, 6]))]);
  t.deepEqual(Array.from(decodeIdx(good, 'late.gz').data), [4, 5, 6]);
  const bomb = Buffer.concat([empties, await gzipWithZeros(handMade(0x08, [3], [4, 5, 6]), 64 * 1024 * 1024)]);
  const { ms, peakGrowthMiB } = decodeRefused(t, bomb, 'late-bomb.gz', 'more data than the header declares');
  t.log(`header after ${empties.length} bytes of empty members, bomb behind it: refused in ${ms.toFixed(1)} ms, peak RSS grew ${peakGrowthMiB.toFixed(1)} MiB`);
});

test('a few trailing bytes in a gzipped file are still counted exactly; every truncation of one is a gzip error', (t) => {
  throwsCode(t, () => decodeIdx(gzipSync(handMade(0x08, [2], [1, 2, ...new Array(1000).fill(0)])), 'few.gz'), 'E0602', '1000 unexpected byte(s)');
  const gz = gzipSync(handMade(0x0d, [2, 3], new Array(24).fill(0).map((_, i) => i)));
  for (let n = 2; n < gz.length; n++) throwsCode(t, () => decodeIdx(gz.subarray(0, n), `cut-${n}.gz`), 'E0602', `cut-${n}.gz`, 'not a valid gzip file');
});

test('a missing file or a directory is E0601 naming it', (t) => {
  const missing = join(tmp, 'nope.idx');
  throwsCode(t, () => readIdx(missing), 'E0601', missing, 'no such file');
  throwsCode(t, () => readIdx(tmp), 'E0601', tmp);
});

test('the committed sample loads: 3000 train and 1000 test images, normalized, labels 0..9', (t) => {
  const d = loadFashionMnist(SAMPLE_DIR);
  t.is(d.source, 'custom');
  t.is(d.dir, SAMPLE_DIR);
  t.is(d.train.count, 3000);
  t.is(d.test.count, 1000);
  t.is(d.train.images.length, 3000 * 784);
  t.is(d.test.labels.length, 1000);
  let lo = Infinity, hi = -Infinity;
  for (const v of d.train.images) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  t.true(Math.abs(lo - (0 - MEAN) / STD) < 1e-6);
  t.true(Math.abs(hi - (1 - MEAN) / STD) < 1e-6);
  const seen = new Set(d.train.labels);
  t.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

/** A data directory of tiny plain (not gzipped) IDX files. */
function tinyDir(name: string, train: number, trainLabels: number[], test: number): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const images = (n: number) => encodeIdx({ type: 'u8', dims: [n, 28, 28], data: new Uint8Array(n * 784).fill(255) });
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(train));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ type: 'u8', dims: [trainLabels.length], data: Uint8Array.from(trainLabels) }));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(test));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx({ type: 'u8', dims: [test], data: new Uint8Array(test) }));
  return dir;
}

test('a data directory of plain IDX files loads; mismatches and bad labels are E0602', (t) => {
  const ok = loadFashionMnist(tinyDir('ok', 3, [0, 9, 4], 2));
  t.is(ok.source, 'custom');
  t.deepEqual(Array.from(ok.train.labels), [0, 9, 4]);
  t.true(Math.abs(ok.test.images[0]! - (1 - MEAN) / STD) < 1e-6);
  throwsCode(t, () => loadFashionMnist(tinyDir('count', 3, [0, 1], 2)), 'E0602', 'train-labels-idx1-ubyte', '2 labels for the 3 images');
  throwsCode(t, () => loadFashionMnist(tinyDir('label', 2, [0, 10], 2)), 'E0602', 'label 1 is 10');
  // An empty split (issue #12: it printed "test accuracy: 0.0000").
  throwsCode(t, () => loadFashionMnist(tinyDir('empty-test', 2, [0, 1], 0)), 'E0603', 'the t10k split has no images');
  throwsCode(t, () => loadFashionMnist(tinyDir('empty-train', 0, [], 2)), 'E0603', 'the train split has no images');
});

test('a data directory without the files is E0601 naming the missing file', (t) => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  throwsCode(t, () => loadFashionMnist(empty), 'E0601', join(empty, 'train-images-idx3-ubyte.gz'));
  throwsCode(t, () => loadFashionMnist(join(tmp, 'no-such-dir')), 'E0601', 'no-such-dir');
});

test('images that are not u8 [n, 28, 28] are E0602 naming the file', (t) => {
  const dir = tinyDir('shape', 2, [0, 1], 2);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx({ type: 'u8', dims: [2, 28, 27], data: new Uint8Array(2 * 28 * 27) }));
  throwsCode(t, () => loadFashionMnist(dir), 'E0602', join(dir, 'train-images-idx3-ubyte'), 'expected u8 images of [n, 28, 28], got u8 [2, 28, 27]');
});

test('without a directory: Debian\'s data set when installed, else the sample directory, else E0601', (t) => {
  if (existsSync(FASHION_MNIST_DIR)) {
    const d = loadFashionMnist(undefined, { sampleDir: SAMPLE_DIR });
    t.is(d.source, 'full');
    t.is(d.dir, FASHION_MNIST_DIR);
    t.is(d.train.count, 60000);
    t.is(d.test.count, 10000);
  } else {
    const d = loadFashionMnist(undefined, { sampleDir: SAMPLE_DIR });
    t.is(d.source, 'sample');
    t.is(d.dir, SAMPLE_DIR);
    throwsCode(t, () => loadFashionMnist(), 'E0601', FASHION_MNIST_DIR, 'dataset-fashion-mnist');
  }
});
