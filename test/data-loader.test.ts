// The DataLoader (compiler/train/data/loader.ts): every sample once per
// epoch, in the same order for the same seed and epoch and another order
// otherwise (the example's shuffle: shuffledOrder); drop-last on and off
// (batch counts, the short last batch); columns stay aligned (typed arrays,
// { data, shape } and HostTensors); async iteration with prefetch gives the
// batches sync iteration gives, prefetching while the caller waits; reused
// buffers are not overwritten while a batch is held; bad options are E0609;
// and the loader is browser-safe (no Node module reached from it, and it
// bundles for a browser).

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { DataLoader, shuffledOrder } from '../compiler/train/data/loader.ts';
import type { DataBatch, DataColumn, DataLoaderOptions } from '../compiler/train/data/loader.ts';
import type { Trainer } from '../compiler/train/trainer.ts';
import { AmpcError } from '../ir/errors.ts';
import type { HostTensor } from '../ir/dtype.ts';
import type { nn } from '../ir/trace/index.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** N samples: images [N, 3] whose values are 1000·i + j, labels [N] = i. */
function dataset(n: number): { images: Float32Array; labels: Int32Array } {
  const images = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) images[i * 3 + j] = 1000 * i + j;
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i) };
}

function loaderOf(n: number, options: DataLoaderOptions): DataLoader<readonly [{ data: Float32Array; shape: [number, number] }, Int32Array]> {
  const { images, labels } = dataset(n);
  return new DataLoader([{ data: images, shape: [n, 3] }, labels], options);
}

/** The labels (sample indices) of each batch, checking that the images row of each is its sample's. */
function indices(t: ExecutionContext, batches: Iterable<readonly [Float32Array, Int32Array]>): number[][] {
  const out: number[][] = [];
  for (const [images, labels] of batches) {
    t.is(images.length, labels.length * 3);
    labels.forEach((i, k) => t.deepEqual(Array.from(images.subarray(3 * k, 3 * k + 3)), [1000 * i, 1000 * i + 1, 1000 * i + 2]));
    out.push(Array.from(labels));
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>, between?: () => Promise<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (between) await between();
  }
  return out;
}

/**
 * Waits as a caller awaiting the device does: a timer, then an immediate, so
 * that a prefetch queued before (an immediate too, run first in order) has
 * run, however late the timer's loop turn is.
 */
const tick = () => new Promise((r) => setTimeout(() => setImmediate(r), 1));

function throwsE0609(t: ExecutionContext, fn: () => unknown, ...fragments: string[]): void {
  const e = t.throws(fn, { instanceOf: AmpcError });
  t.is(e?.code, 'E0609', e?.message);
  for (const f of fragments) t.true(e?.message.includes(f), `'${e?.message}' should mention '${f}'`);
}

test('every sample exactly once per epoch, shuffled or not; in order without shuffle', (t) => {
  for (const shuffle of [false, true]) {
    const loader = loaderOf(10, { batchSize: 4, shuffle, seed: 3 });
    for (const epoch of [0, 1, 2]) {
      const seen = indices(t, loader.epoch(epoch)).flat();
      t.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], `shuffle ${shuffle}, epoch ${epoch}`);
      t.deepEqual(seen, Array.from(loader.order(epoch)));
      if (!shuffle) t.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  }
  // Under dropLast, the dropped samples are the last of the order: each sample at most once.
  const drop = loaderOf(10, { batchSize: 4, shuffle: true, dropLast: true });
  const seen = indices(t, drop.epoch(1)).flat();
  t.is(seen.length, 8);
  t.is(new Set(seen).size, 8);
  t.deepEqual(seen, Array.from(drop.order(1).subarray(0, 8)));
});

test('the same seed and epoch give the same order; another seed or epoch another one (the example\'s shuffle)', (t) => {
  const a = loaderOf(100, { batchSize: 10, shuffle: true, seed: 7 });
  const b = loaderOf(100, { batchSize: 10, shuffle: true, seed: 7 });
  t.deepEqual(indices(t, a.epoch(1)), indices(t, b.epoch(1)));
  t.deepEqual(a.order(1), shuffledOrder(100, 7, 1));
  t.notDeepEqual(a.order(1), a.order(2));
  t.notDeepEqual(a.order(1), loaderOf(100, { batchSize: 10, shuffle: true, seed: 8 }).order(1));
  t.notDeepEqual(a.order(0), a.order(1));
  // The default seed is 0; an epoch iterated twice gives the same batches.
  t.deepEqual(loaderOf(100, { batchSize: 10, shuffle: true }).order(3), shuffledOrder(100, 0, 3));
  const ep = a.epoch(5);
  t.deepEqual(indices(t, ep), indices(t, ep));
  // shuffledOrder is a permutation, deterministic in (seed, epoch).
  const p = shuffledOrder(1000, 2 ** 40 + 3, 9);
  t.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  t.deepEqual(p, shuffledOrder(1000, 2 ** 40 + 3, 9));
});

test('dropLast: batch counts and the size of the last batch', async (t) => {
  const cases: [number, number, boolean, number[]][] = [
    [10, 4, false, [4, 4, 2]],
    [10, 4, true, [4, 4]],
    [8, 4, false, [4, 4]],
    [8, 4, true, [4, 4]],
    [3, 5, false, [3]],
    [7, 1, true, [1, 1, 1, 1, 1, 1, 1]],
  ];
  for (const [n, batchSize, dropLast, sizes] of cases) {
    const loader = loaderOf(n, { batchSize, dropLast, shuffle: true });
    const what = `${n} samples, batch ${batchSize}, dropLast ${dropLast}`;
    t.is(loader.batchesPerEpoch, sizes.length, what);
    t.is(loader.epoch(0).batches, sizes.length, what);
    t.deepEqual(indices(t, loader.epoch(0)).map((b) => b.length), sizes, what);
    t.deepEqual((await collect(loader.epoch(0))).map(([, labels]) => labels.length), sizes, what);
    t.is(loader.batch(0, sizes.length - 1)[1].length, sizes[sizes.length - 1], what);
  }
  // The default is PyTorch's: keep the last short batch.
  t.false(loaderOf(10, { batchSize: 4 }).dropLast);
  t.is(loaderOf(10, { batchSize: 4 }).batchesPerEpoch, 3);
});

test('columns stay aligned: typed arrays, { data, shape } and HostTensors; batches are new arrays of the column\'s kind', (t) => {
  const n = 9;
  const ids = Uint32Array.from({ length: n }, (_, i) => 7 * i);
  const feats = new Float32Array(n * 2 * 2).map((_, v) => Math.floor(v / 4) + (v % 4) / 10);
  const host: HostTensor = { dtype: 'f32', shape: [n, 3], data: Float64Array.from({ length: n * 3 }, (_, v) => -Math.floor(v / 3)) };
  const mask: HostTensor = { dtype: 'bool', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 2) };
  const loader = new DataLoader([ids, { data: feats, shape: [n, 2, 2] }, host, mask], { batchSize: 4, shuffle: true, seed: 1 });
  let total = 0;
  for (const [a, b, c, d] of loader.epoch(2)) {
    t.true(a instanceof Uint32Array);
    t.true(b instanceof Float32Array);
    t.is(c.dtype, 'f32');
    t.true(c.data instanceof Float64Array);
    t.is(d.dtype, 'bool');
    const size = a.length;
    t.deepEqual(c.shape, [size, 3]);
    t.deepEqual(d.shape, [size]);
    t.is(b.length, size * 4);
    for (let k = 0; k < size; k++) {
      const i = a[k]! / 7;
      t.deepEqual(Array.from(b.subarray(4 * k, 4 * k + 4)), Array.from(feats.subarray(4 * i, 4 * i + 4)));
      t.deepEqual(Array.from(c.data.subarray(3 * k, 3 * k + 3)), [-i, -i, -i]);
      t.is(d.data[k], i % 2);
    }
    t.not(b.buffer, feats.buffer);
    total += size;
  }
  t.is(total, n);
});

test('async iteration (prefetch) gives the batches sync iteration gives, and prefetches while the caller waits', async (t) => {
  for (const reuseBuffers of [false, true]) {
    for (const dropLast of [false, true]) {
      const loader = loaderOf(50, { batchSize: 8, shuffle: true, seed: 4, dropLast, reuseBuffers });
      const sync = indices(t, loader.epoch(3));
      // The caller waits (a timer) after each batch: the next one is assembled meanwhile.
      const ep = loader.epoch(3);
      const waited: number[][] = [];
      for await (const [images, labels] of ep) {
        const snapshot = indices(t, [[images, labels]])[0]!;
        await tick();
        // The batch held is intact after the wait (with reused buffers the prefetch wrote the other set).
        t.deepEqual(indices(t, [[images, labels]])[0], snapshot);
        waited.push(snapshot);
      }
      t.deepEqual(waited, sync, `reuseBuffers ${reuseBuffers}, dropLast ${dropLast}`);
      t.is(ep.prefetched, ep.batches - 1, 'every batch after the first was ready when asked for');
      // A caller that never yields to the event loop gets each batch assembled when asked: same batches.
      const eager = loader.epoch(3);
      const got: number[][] = [];
      for await (const b of eager) got.push(indices(t, [b])[0]!);
      t.deepEqual(got, sync);
      t.is(eager.prefetched, 0);
    }
  }
  // prefetch: false assembles on demand only.
  const off = loaderOf(20, { batchSize: 4, prefetch: false }).epoch(0);
  t.deepEqual((await collect(off, tick)).map(([, l]) => Array.from(l)), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]);
  t.is(off.prefetched, 0);
});

test('leaving an epoch early stops it; a new iteration starts the epoch again', async (t) => {
  const loader = loaderOf(40, { batchSize: 4, shuffle: true });
  const ep = loader.epoch(1);
  const first: number[][] = [];
  for await (const b of ep) {
    first.push(indices(t, [b])[0]!);
    await tick();
    if (first.length === 3) break;
  }
  await tick();
  const all = indices(t, ep);
  t.deepEqual(first, all.slice(0, 3));
  const it = ep[Symbol.asyncIterator]();
  await it.next();
  t.deepEqual(await it.return!(), { done: true, value: undefined });
  t.deepEqual(await it.next(), { done: true, value: undefined });
});

test('reuseBuffers: two sets of arrays take turns; without it every batch has its own', (t) => {
  const reuse = [...loaderOf(20, { batchSize: 4, reuseBuffers: true }).epoch(0)];
  t.is(reuse[0]![0], reuse[2]![0]);
  t.is(reuse[1]![1], reuse[3]![1]);
  t.not(reuse[0]![0], reuse[1]![0]);
  const fresh = [...loaderOf(20, { batchSize: 4 }).epoch(0)];
  t.is(new Set(fresh.map((b) => b[0])).size, 5);
  // A short last batch in reused buffers is a view of its first samples.
  const short = [...loaderOf(10, { batchSize: 4, reuseBuffers: true }).epoch(0)];
  t.deepEqual(Array.from(short[2]![1]), [8, 9]);
  t.is(short[2]![0].length, 6);
  // batch() always gives new arrays.
  const loader = loaderOf(20, { batchSize: 4, reuseBuffers: true, shuffle: true });
  t.not(loader.batch(0, 0)[0], loader.batch(0, 2)[0]);
  t.deepEqual(indices(t, [loader.batch(1, 3)]), [indices(t, loader.epoch(1))[3]!]);
});

test('bad options and columns are E0609 saying what is wrong', (t) => {
  const { images, labels } = dataset(10);
  const cols = [{ data: images, shape: [10, 3] }, labels] as const;
  const make = (options: unknown, columns: unknown = cols) => () => new DataLoader(columns as DataColumn[], options as DataLoaderOptions);
  for (const batchSize of [0, -1, 1.5, Number.NaN, '4', undefined]) throwsE0609(t, make({ batchSize }), 'batchSize must be a positive integer');
  throwsE0609(t, make({ batchSize: 2, shuffle: 'yes' }), 'shuffle must be true or false');
  throwsE0609(t, make({ batchSize: 2, dropLast: 1 }), 'dropLast must be true or false');
  throwsE0609(t, make({ batchSize: 2, prefetch: null }), 'prefetch must be true or false');
  throwsE0609(t, make({ batchSize: 2, seed: -1 }), 'seed must be a non-negative integer, got -1');
  throwsE0609(t, make({ batchSize: 2, seed: 0.5 }), 'seed must be a non-negative integer');
  throwsE0609(t, make({ batchSize: 2, droplast: true }), 'unknown option droplast', 'known: batchSize, shuffle, seed, dropLast');
  throwsE0609(t, make(undefined), 'expects an options object');
  throwsE0609(t, make({ batchSize: 2 }, []), 'non-empty list of columns');
  throwsE0609(t, make({ batchSize: 2 }, labels), 'non-empty list of columns');
  throwsE0609(t, make({ batchSize: 2 }, [new Uint8Array(10)]), 'column 0', 'got a Uint8Array of 10');
  throwsE0609(t, make({ batchSize: 2 }, [labels, [1, 2, 3]]), 'column 1', 'got an array of 3');
  throwsE0609(t, make({ batchSize: 2 }, [{ data: images, shape: [10, 4] }]), 'column 0: shape [10, 4] needs 40 values, the data has 30');
  throwsE0609(t, make({ batchSize: 2 }, [{ data: images, shape: [] }]), 'column 0: shape must be a list of non-negative integers');
  throwsE0609(t, make({ batchSize: 2 }, [{ data: [1, 2], shape: [2] }]), 'column 0: { data, shape } needs data as a Float32Array');
  throwsE0609(t, make({ batchSize: 2 }, [{ dtype: 'f32', shape: [2], data: new Float32Array(2) }]), 'column 0: a f32 HostTensor holds a Float32Array of 2');
  // Different sample counts, with the hint about plain typed arrays.
  throwsE0609(t, make({ batchSize: 2 }, [images, labels]), 'different sample counts: column 0 has 30, column 1 has 10', '{ data, shape: [n, ...] }');
  throwsE0609(t, make({ batchSize: 2 }, [{ data: images, shape: [10, 3] }, labels.subarray(0, 9)]), 'column 0 has 10, column 1 has 9');
  throwsE0609(t, make({ batchSize: 2 }, [new Float32Array(0), new Int32Array(0)]), 'the dataset is empty');
  throwsE0609(t, make({ batchSize: 11, dropLast: true }), 'batchSize 11 is larger than the dataset (10 samples)');
  t.notThrows(make({ batchSize: 11 }));
  const loader = new DataLoader(cols, { batchSize: 4, shuffle: true });
  throwsE0609(t, () => loader.epoch(-1), 'DataLoader.epoch: epoch must be a non-negative integer, got -1');
  throwsE0609(t, () => loader.epoch(1.5), 'epoch must be a non-negative integer');
  throwsE0609(t, () => loader.order(Number.NaN), 'DataLoader.order');
  throwsE0609(t, () => loader.batch(0, 3), 'DataLoader.batch: batch 3 is out of range (3 batches per epoch)');
  throwsE0609(t, () => loader.batch(0, -1), 'out of range');
});

test('batches have the types Trainer.step() takes', (t) => {
  const { images, labels } = dataset(4);
  const loader = new DataLoader([{ data: images, shape: [4, 3] }, labels], { batchSize: 2 });
  const batch: DataBatch<readonly [{ data: Float32Array; shape: number[] }, Int32Array]> = loader.batch(0, 0);
  const [x, y]: readonly [Float32Array, Int32Array] = batch;
  // Type-checked only: a batch goes to step() as it is.
  const step = (trainer: Trainer<nn.Sequential>) => trainer.step(loader.batch(0, 1), { readLoss: true });
  void step;
  t.deepEqual([x.length, y.length], [6, 2]);
});

// ---------------------------------------------------------------- browser-safe

/** Value imports and re-exports (not `import type` / `export type`, which leave nothing behind) and dynamic import()s. */
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

test('loader.ts reaches no Node module (its imports, transitively) and bundles for a browser', async (t) => {
  const entry = 'compiler/train/data/loader.ts';
  const seen = new Set([entry]);
  const todo = [entry];
  const external: string[] = [];
  while (todo.length) {
    const file = todo.pop()!;
    for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) {
        external.push(`${spec} (imported by ${file})`);
        continue;
      }
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      if (!seen.has(target)) {
        seen.add(target);
        todo.push(target);
      }
    }
  }
  t.true(seen.has('ir/trace/nn/init.ts'), 'the walk follows the imports');
  t.deepEqual(external.filter((e) => e.startsWith('node:') || builtinModules.includes(e.split(' ')[0]!)), []);
  const result = await build({ absWorkingDir: ROOT, entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  t.deepEqual(result.errors, []);
  const code = result.outputFiles.map((f) => f.text).join('\n');
  t.notRegex(code, /from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
  t.true(code.includes('DataLoader'));
});
