// Mini-batches of in-memory data for the Trainer, as PyTorch's DataLoader
// gives them: a dataset is one or more columns with a leading sample
// dimension (images f32 [N, 784] and labels i32 [N], say), and each batch
// holds the same samples of every column, in the arrays Trainer.step() takes
// (compiler/train/inputs.ts): a Float32Array / Int32Array / Uint32Array
// column gives a typed array of the same kind (its batch dimension read off
// its length, as step() does), a HostTensor column a HostTensor.
//
//   const loader = new DataLoader([{ data: images, shape: [n, 784] }, labels], { batchSize: 64, shuffle: true, seed: 0 });
//   for (let epoch = 1; epoch <= 2; epoch++) {
//     for await (const batch of loader.epoch(epoch)) await trainer.step(batch);
//   }
//
// A plain typed array is a column of one value per sample ([N]); a column of
// several values per sample says its shape: `{ data, shape: [N, ...] }` (or
// is a HostTensor). Options: `batchSize`; `shuffle` (default false) with
// `seed` (default 0): the order of epoch e is a Fisher–Yates permutation
// drawn from the project's seeded PRNG (ir/trace/nn/init.ts's Rng, stream
// `shuffle.epoch<e>`), the same for the same (seed, e) on every machine and
// different from epoch to epoch; `dropLast` (default false, as PyTorch): drop
// the last batch when it is smaller than batchSize, else hand it out short;
// `prefetch` (default true, async iteration only, see below); `reuseBuffers`
// (default false): gather into two sets of arrays that take turns instead of
// new arrays per batch, so a batch is overwritten once the batch after it
// has been handed out (await each step before asking for the next batch).
//
// Prefetch, concretely: JavaScript runs on one thread, so assembling a batch
// cannot overlap the caller's own code; it can overlap the time the caller
// spends waiting on the device. Async iteration (`for await`) hands out batch
// k and at once queues the assembly of batch k+1 as a task (setImmediate, or
// setTimeout(0) in a browser). The task runs as soon as the caller's code
// gives the event loop a turn: while its `await trainer.step(...)` waits for
// the device (a read-back, a mapAsync). When batch k+1 is asked for before
// that happened (the step never waited), it is assembled then, on demand:
// the batches and their order are the same either way. `DataEpoch.prefetched`
// counts the batches that were ready when asked for. Sync iteration
// (`for (const b of loader.epoch(e))`) assembles each batch when asked.
//
// Bad arguments are AmpcError E0609 saying what is wrong. Browser-safe: no
// Node module is imported here or below (test/data-loader.test.ts walks the
// imports and bundles it for a browser).

import type { DType, HostTensor, TensorData } from '../../../ir/dtype.ts';
import { AmpcError } from '../../../ir/errors.ts';
import { Rng } from '../../../ir/trace/nn/init.ts';

/** The typed arrays a column may be made of (those Trainer.step() takes). */
export type ColumnArray = Float32Array | Int32Array | Uint32Array;

/** A column of several values per sample: `data` row-major, `shape[0]` samples. */
export interface ShapedArray<A extends ColumnArray = ColumnArray> {
  readonly data: A;
  readonly shape: readonly number[];
}

/** One column of a dataset: its first dimension counts the samples. */
export type DataColumn = ColumnArray | ShapedArray | HostTensor;

/** What a batch holds for a column: a typed array of the column's kind, or a HostTensor. */
export type BatchColumn<C> = C extends HostTensor ? HostTensor
  : C extends ShapedArray<infer A> ? BatchArray<A>
  : BatchArray<C>;
type BatchArray<A> = A extends Float32Array ? Float32Array : A extends Int32Array ? Int32Array : A extends Uint32Array ? Uint32Array : never;

/** A batch: one entry per column, in the columns' order (Trainer.step() takes it as it is). */
export type DataBatch<C extends readonly DataColumn[]> = { readonly [K in keyof C]: BatchColumn<C[K]> };

export interface DataLoaderOptions {
  /** Samples per batch (a positive integer). */
  readonly batchSize: number;
  /** Visit the samples in a seeded random order, new each epoch (default false: in order). */
  readonly shuffle?: boolean;
  /** Seed of the shuffling (a non-negative integer, default 0). */
  readonly seed?: number;
  /** Drop the last batch of an epoch when it is smaller than batchSize (default false). */
  readonly dropLast?: boolean;
  /** Async iteration assembles the next batch while the caller awaits (default true); see the header. */
  readonly prefetch?: boolean;
  /** Gather into two sets of arrays that take turns (default false: new arrays per batch); see the header. */
  readonly reuseBuffers?: boolean;
}

const OPTION_NAMES = ['batchSize', 'shuffle', 'seed', 'dropLast', 'prefetch', 'reuseBuffers'] as const;

function fail(detail: string): never {
  throw new AmpcError('E0609', detail);
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name} of ${(x as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'object') return `a ${(x as object).constructor?.name ?? 'object'}`;
  return `${typeof x} ${JSON.stringify(x)}`;
}

function isColumnArray(x: unknown): x is ColumnArray {
  return x instanceof Float32Array || x instanceof Int32Array || x instanceof Uint32Array;
}

/** The typed arrays of HostTensor data, by dtype. */
const HOST_DATA: Readonly<Record<DType, (x: unknown) => boolean>> = {
  f32: (x) => x instanceof Float64Array,
  f16: (x) => x instanceof Float64Array,
  i32: (x) => x instanceof Int32Array,
  u32: (x) => x instanceof Uint32Array,
  bool: (x) => x instanceof Uint8Array,
};

type AnyArray = ColumnArray | TensorData;
type ArrayMaker = new (length: number) => AnyArray;

/** A column as the loader reads it. */
interface Column {
  readonly data: AnyArray;
  /** Samples (the first dimension). */
  readonly samples: number;
  /** Values per sample. */
  readonly per: number;
  /** The dimensions after the first (for HostTensor batches). */
  readonly rest: readonly number[];
  /** Set for a HostTensor column. */
  readonly dtype?: DType;
  /** A plain typed array (one value per sample): named in the error about sample counts. */
  readonly plain: boolean;
}

function shapeOk(shape: unknown): shape is readonly number[] {
  return Array.isArray(shape) && shape.length >= 1 && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function columnOf(x: unknown, i: number): Column {
  const what = `DataLoader: column ${i}`;
  if (isColumnArray(x)) return { data: x, samples: x.length, per: 1, rest: [], plain: true };
  const kinds = 'a Float32Array, Int32Array or Uint32Array (one value per sample), { data, shape: [n, ...] } or a HostTensor';
  if (x === null || typeof x !== 'object' || ArrayBuffer.isView(x) || Array.isArray(x) || !('data' in x) || !('shape' in x)) fail(`${what}: expected ${kinds}, got ${describe(x)}`);
  const { data, shape } = x as { data: unknown; shape: unknown };
  const dtype = (x as { dtype?: unknown }).dtype;
  if (dtype !== undefined) {
    if (typeof dtype !== 'string' || !(dtype in HOST_DATA)) fail(`${what}: a HostTensor of unknown dtype ${JSON.stringify(dtype)}`);
    if (!HOST_DATA[dtype as DType](data)) fail(`${what}: a ${dtype} HostTensor holds ${describe(data)}, not its dtype's array`);
  } else if (!isColumnArray(data)) {
    fail(`${what}: { data, shape } needs data as a Float32Array, Int32Array or Uint32Array, got ${describe(data)}`);
  }
  if (!shapeOk(shape)) fail(`${what}: shape must be a list of non-negative integers with the sample count first, got ${JSON.stringify(shape)}`);
  const arr = data as AnyArray;
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  if (shape[0]! * per !== arr.length) fail(`${what}: shape [${shape.join(', ')}] needs ${shape[0]! * per} values, the data has ${arr.length}`);
  return { data: arr, samples: shape[0]!, per, rest: shape.slice(1), ...(dtype !== undefined ? { dtype: dtype as DType } : {}), plain: false };
}

/** A permutation of 0..n-1, deterministic in (seed, epoch): Fisher–Yates with Rng(seed, `shuffle.epoch${epoch}`). */
export function shuffledOrder(n: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(seed, `shuffle.epoch${epoch}`);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Runs `fn` as a task of its own (after the current one and its microtasks); returns a cancel function. */
function later(fn: () => void): () => void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; clearImmediate?: (h: unknown) => void };
  if (typeof g.setImmediate === 'function' && typeof g.clearImmediate === 'function') {
    const h = g.setImmediate(fn);
    return () => g.clearImmediate!(h);
  }
  const h = setTimeout(fn, 0);
  return () => clearTimeout(h);
}

/**
 * Batches of in-memory columns, shuffled with a seed or in order, with or
 * without the last short batch, iterated per epoch (sync, or async with
 * prefetch). See the header of this file.
 */
export class DataLoader<const C extends readonly DataColumn[] = readonly DataColumn[]> {
  /** Samples in the dataset. */
  readonly samples: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: boolean;
  readonly reuseBuffers: boolean;
  /** Batches in each epoch: samples / batchSize, rounded down under dropLast, else up. */
  readonly batchesPerEpoch: number;
  readonly #columns: readonly Column[];
  #cached: { epoch: number; order: Uint32Array } | undefined;

  constructor(columns: C, options: DataLoaderOptions) {
    if (!Array.isArray(columns) || columns.length === 0) {
      fail(`DataLoader: expects a non-empty list of columns (typed arrays, { data, shape } or HostTensors), got ${describe(columns)}`);
    }
    if (options === null || typeof options !== 'object') fail(`DataLoader: expects an options object { batchSize, shuffle?, seed?, dropLast?, prefetch?, reuseBuffers? }, got ${describe(options)}`);
    const unknown = Object.keys(options).filter((k) => !(OPTION_NAMES as readonly string[]).includes(k));
    if (unknown.length > 0) fail(`DataLoader: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${OPTION_NAMES.join(', ')})`);
    const { batchSize, shuffle = false, seed = 0, dropLast = false, prefetch = true, reuseBuffers = false } = options;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) fail(`DataLoader: batchSize must be a positive integer, got ${JSON.stringify(batchSize)}`);
    for (const [name, v] of [['shuffle', shuffle], ['dropLast', dropLast], ['prefetch', prefetch], ['reuseBuffers', reuseBuffers]] as const) {
      if (typeof v !== 'boolean') fail(`DataLoader: ${name} must be true or false, got ${JSON.stringify(v)}`);
    }
    if (!Number.isSafeInteger(seed) || seed < 0) fail(`DataLoader: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    const cols = columns.map(columnOf);
    const samples = cols[0]!.samples;
    const other = cols.findIndex((c) => c.samples !== samples);
    if (other >= 0) {
      const hint = cols.some((c) => c.plain) ? ' (a plain typed array is one value per sample; give a column of several as { data, shape: [n, ...] })' : '';
      fail(`DataLoader: the columns have different sample counts: column 0 has ${samples}, column ${other} has ${cols[other]!.samples}${hint}`);
    }
    if (samples === 0) fail('DataLoader: the dataset is empty (0 samples)');
    if (dropLast && batchSize > samples) fail(`DataLoader: batchSize ${batchSize} is larger than the dataset (${samples} samples): with dropLast no batch is left`);
    this.samples = samples;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.dropLast = dropLast;
    this.prefetch = prefetch;
    this.reuseBuffers = reuseBuffers;
    this.batchesPerEpoch = dropLast ? Math.floor(samples / batchSize) : Math.ceil(samples / batchSize);
    this.#columns = cols;
  }

  /** The sample indices of `epoch` in the order its batches take them (a new array). */
  order(epoch: number): Uint32Array {
    return this.#order(epoch, 'DataLoader.order').slice();
  }

  /** Batch `index` (from 0) of `epoch`, in new arrays (random access; iterate with epoch()). */
  batch(epoch: number, index: number): DataBatch<C> {
    const order = this.#order(epoch, 'DataLoader.batch');
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      fail(`DataLoader.batch: batch ${JSON.stringify(index)} is out of range (${this.batchesPerEpoch} batches per epoch)`);
    }
    return this.#gather(order, index, undefined);
  }

  /**
   * The batches of `epoch` (a non-negative integer: it chooses the shuffle;
   * the same epoch gives the same batches), to iterate with `for` or `for
   * await` (with prefetch). Each iteration is one pass over the epoch.
   */
  epoch(epoch: number): DataEpoch<C> {
    const order = this.#order(epoch, 'DataLoader.epoch');
    return new DataEpoch<C>(epoch, this.batchesPerEpoch, this.prefetch, () => this.#assembler(order));
  }

  #order(epoch: number, what: string): Uint32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) fail(`${what}: epoch must be a non-negative integer, got ${JSON.stringify(epoch)}`);
    if (this.#cached?.epoch !== epoch) {
      let order: Uint32Array;
      if (this.shuffle) order = shuffledOrder(this.samples, this.seed, epoch);
      else {
        order = new Uint32Array(this.samples);
        for (let i = 0; i < order.length; i++) order[i] = i;
      }
      this.#cached = { epoch, order };
    }
    return this.#cached.order;
  }

  /** Assembles batch k of one pass over `order`: into new arrays, or into two sets that take turns (reuseBuffers). */
  #assembler(order: Uint32Array): (k: number) => DataBatch<C> {
    if (!this.reuseBuffers) return (k) => this.#gather(order, k, undefined);
    const sets: (AnyArray[] | undefined)[] = [undefined, undefined];
    return (k) => {
      const set = (sets[k % 2] ??= this.#columns.map((c) => new (c.data.constructor as ArrayMaker)(this.batchSize * c.per)));
      return this.#gather(order, k, set);
    };
  }

  /** Batch k of `order`, gathered into `into` (one array per column, batchSize samples long) or new arrays. */
  #gather(order: Uint32Array, k: number, into: readonly AnyArray[] | undefined): DataBatch<C> {
    const start = k * this.batchSize;
    const n = Math.min(this.batchSize, this.samples - start);
    return this.#columns.map((c, ci) => {
      const { data: src, per } = c;
      const full = into?.[ci];
      const out = full ? (n === this.batchSize ? full : full.subarray(0, n * per)) : new (src.constructor as ArrayMaker)(n * per);
      if (per === 1) {
        for (let j = 0; j < n; j++) out[j] = src[order[start + j]!]!;
      } else {
        for (let j = 0; j < n; j++) {
          const i = order[start + j]!;
          out.set(src.subarray(i * per, (i + 1) * per) as ArrayLike<number>, j * per);
        }
      }
      if (c.dtype !== undefined) return { dtype: c.dtype, shape: [n, ...c.rest], data: out as TensorData } satisfies HostTensor;
      return out;
    }) as unknown as DataBatch<C>;
  }
}

/**
 * The batches of one epoch: iterable (batches assembled when asked for) and
 * async iterable (with prefetch, unless the loader's `prefetch` is false).
 * Each iteration is a pass of its own; leaving one early (break) cancels its
 * pending prefetch.
 */
export class DataEpoch<C extends readonly DataColumn[] = readonly DataColumn[]> implements Iterable<DataBatch<C>>, AsyncIterable<DataBatch<C>> {
  #prefetched = 0;
  readonly #assembler: () => (k: number) => DataBatch<C>;

  /** Made by DataLoader.epoch(); `assembler` starts a pass and returns its batch maker. */
  constructor(
    /** The epoch number (it chose the shuffle). */
    readonly epoch: number,
    /** Batches in the epoch. */
    readonly batches: number,
    /** Whether async iteration prefetches. */
    readonly prefetch: boolean,
    assembler: () => (k: number) => DataBatch<C>,
  ) {
    this.#assembler = assembler;
  }

  /** Batches handed out by async iteration that had been assembled ahead (prefetched) rather than when asked for. */
  get prefetched(): number {
    return this.#prefetched;
  }

  *[Symbol.iterator](): Iterator<DataBatch<C>> {
    const assemble = this.#assembler();
    for (let k = 0; k < this.batches; k++) yield assemble(k);
  }

  [Symbol.asyncIterator](): AsyncIterator<DataBatch<C>> {
    const assemble = this.#assembler();
    const count = this.batches;
    let k = 0; // the next batch to hand out
    let ready: DataBatch<C> | undefined; // batch k, when prefetched
    let cancel: (() => void) | undefined;
    let finished = false;
    const stop = (): void => {
      cancel?.();
      cancel = undefined;
    };
    const done = (): Promise<IteratorResult<DataBatch<C>>> => {
      finished = true;
      stop();
      ready = undefined;
      return Promise.resolve({ done: true, value: undefined });
    };
    return {
      next: () => {
        stop();
        if (finished || k >= count) return done();
        let batch: DataBatch<C>;
        if (ready !== undefined) {
          batch = ready;
          ready = undefined;
          this.#prefetched++;
        } else {
          try {
            batch = assemble(k);
          } catch (e) {
            return Promise.reject(e);
          }
        }
        k++;
        if (this.prefetch && k < count) {
          cancel = later(() => {
            cancel = undefined;
            if (finished || ready !== undefined || k >= count) return;
            try {
              ready = assemble(k);
            } catch {
              // next() assembles it again and reports the error there.
            }
          });
        }
        return Promise.resolve({ done: false, value: batch });
      },
      return: () => done(),
    };
  }
}
