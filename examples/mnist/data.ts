// The example's data: Fashion-MNIST from IDX files, as float images and i32
// labels, and seeded shuffled mini-batches.
//
// Where the files come from: `--data DIR` when given; else Debian's
// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) when installed;
// else the small committed sample beside this file (the first 3000 training
// and 1000 test images, made by scripts/make-mnist-sample.ts). A directory
// holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzipped (.gz) or
// not.
//
// Pixels are scaled to [0, 1] and then normalized with Fashion-MNIST's
// training-set mean and standard deviation, (x - 0.2860) / 0.3530, as PyTorch
// examples do with transforms.Normalize.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AmpcError } from '../../ir/errors.ts';
import { Rng } from '../../ir/trace/nn/init.ts';
import { readIdx } from './idx.ts';

export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
export const SAMPLE_DIR = fileURLToPath(new URL('./sample/', import.meta.url));
export const MEAN = 0.286;
export const STD = 0.353;
export const CLASSES = 10;
export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

export interface Split {
  /** n × 784 normalized pixels, row-major. */
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

export interface Dataset {
  readonly train: Split;
  readonly test: Split;
  readonly dir: string;
  /** 'full' for Debian's data set, 'sample' for the committed sample, 'custom' for --data. */
  readonly source: 'full' | 'sample' | 'custom';
}

/** The file of a data set member in `dir`: `name.gz` if present, else `name` (named in errors if neither exists). */
function member(dir: string, name: string): string {
  const gz = join(dir, `${name}.gz`);
  if (existsSync(gz)) return gz;
  const plain = join(dir, name);
  if (existsSync(plain)) return plain;
  throw new AmpcError('E0601', `cannot read ${gz}: no such file (nor ${plain})`);
}

function loadSplit(dir: string, prefix: 'train' | 't10k'): Split {
  const imagesFile = member(dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = member(dir, `${prefix}-labels-idx1-ubyte`);
  const im = readIdx(imagesFile);
  const lb = readIdx(labelsFile);
  if (im.type !== 'u8' || im.dims.length !== 3 || im.dims[1] !== IMAGE_SIZE || im.dims[2] !== IMAGE_SIZE) {
    throw new AmpcError('E0602', `${imagesFile}: expected u8 images of [n, 28, 28], got ${im.type} [${im.dims.join(', ')}]`);
  }
  if (lb.type !== 'u8' || lb.dims.length !== 1) {
    throw new AmpcError('E0602', `${labelsFile}: expected u8 labels of [n], got ${lb.type} [${lb.dims.join(', ')}]`);
  }
  const count = im.dims[0]!;
  if (lb.dims[0] !== count) throw new AmpcError('E0602', `${labelsFile}: ${lb.dims[0]} labels for the ${count} images of ${imagesFile}`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = lb.data[i]!;
    if (l >= CLASSES) throw new AmpcError('E0602', `${labelsFile}: label ${i} is ${l}; classes are 0..${CLASSES - 1}`);
    labels[i] = l;
  }
  const images = new Float32Array(count * PIXELS);
  const px = im.data;
  for (let i = 0; i < images.length; i++) images[i] = (px[i]! / 255 - MEAN) / STD;
  return { images, labels, count };
}

/** Picks the directory (see the header) and loads both splits. */
export function loadFashionMnist(dataDir?: string): Dataset {
  let dir: string;
  let source: Dataset['source'];
  if (dataDir !== undefined) {
    if (!existsSync(dataDir)) throw new AmpcError('E0601', `cannot read ${dataDir}: no such directory`);
    dir = dataDir;
    source = 'custom';
  } else if (existsSync(DEBIAN_DIR)) {
    dir = DEBIAN_DIR;
    source = 'full';
  } else {
    dir = SAMPLE_DIR;
    source = 'sample';
  }
  const train = loadSplit(dir, 'train'), test = loadSplit(dir, 't10k');
  // An empty split would train nothing or print an accuracy of 0 of 0.
  for (const [name, split] of [['train', train], ['t10k', test]] as const) {
    if (split.count === 0) throw new AmpcError('E0603', `${dir}: the ${name} split has no images`);
  }
  return { train, test, dir, source };
}

/** A permutation of 0..n-1, deterministic in (seed, epoch) (Fisher–Yates). */
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

/**
 * Mini-batches of one epoch in a seeded shuffled order, gathered into two
 * reused arrays (so each step uploads one images array and one labels array).
 * The last incomplete batch is dropped (drop_last).
 */
export class Batches {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly steps: number;
  readonly #order: Uint32Array;

  constructor(
    readonly split: Split,
    readonly batchSize: number,
    seed: number,
    epoch: number,
  ) {
    this.images = new Float32Array(batchSize * PIXELS);
    this.labels = new Int32Array(batchSize);
    this.steps = Math.floor(split.count / batchSize);
    this.#order = shuffledOrder(split.count, seed, epoch);
  }

  /** Fills `images` and `labels` with batch `step` (0-based) and returns them. */
  gather(step: number): { images: Float32Array; labels: Int32Array } {
    const { images: src, labels: lab } = this.split;
    for (let k = 0; k < this.batchSize; k++) {
      const i = this.#order[step * this.batchSize + k]!;
      this.images.set(src.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS);
      this.labels[k] = lab[i]!;
    }
    return { images: this.images, labels: this.labels };
  }
}
