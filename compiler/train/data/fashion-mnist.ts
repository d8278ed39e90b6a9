// Fashion-MNIST from IDX files (./idx.ts): float images and i32 labels of
// the train and test splits.
//
// Which directory: the one given; else Debian's dataset-fashion-mnist
// (/usr/share/datasets/fashion-mnist/, FASHION_MNIST_DIR) when installed;
// else `sampleDir` when the caller has one (the training example passes its
// committed sample, examples/mnist/sample/); else E0601. A directory holds
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each gzipped (.gz) or not.
//
// Pixels are scaled to [0, 1] and then normalized with Fashion-MNIST's
// training-set mean and standard deviation, (x - 0.2860) / 0.3530, as PyTorch
// examples do with transforms.Normalize. Errors: E0601 for a missing
// directory or file, E0602 for malformed files (images not u8 [n, 28, 28],
// labels not u8 [n], counts that differ, a label outside 0..9), E0603 for an
// empty split. Node only (it reads files): package.json's `browser` field maps
// it away; a split's arrays go to a DataLoader (./loader.ts) as
// `[{ data: split.images, shape: [split.count, FASHION_MNIST_PIXELS] }, split.labels]`.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AmpcError } from '../../../ir/errors.ts';
import { readIdx } from './idx.ts';

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** The training set's mean pixel, after scaling to [0, 1]. */
export const FASHION_MNIST_MEAN = 0.286;
/** The training set's pixel standard deviation, after scaling to [0, 1]. */
export const FASHION_MNIST_STD = 0.353;
export const FASHION_MNIST_CLASSES = 10;
/** Images are FASHION_MNIST_IMAGE_SIZE × FASHION_MNIST_IMAGE_SIZE pixels. */
export const FASHION_MNIST_IMAGE_SIZE = 28;
export const FASHION_MNIST_PIXELS = FASHION_MNIST_IMAGE_SIZE * FASHION_MNIST_IMAGE_SIZE;

export interface FashionMnistSplit {
  /** count × 784 normalized pixels, row-major. */
  readonly images: Float32Array;
  /** count labels in 0..9. */
  readonly labels: Int32Array;
  readonly count: number;
}

export interface FashionMnist {
  readonly train: FashionMnistSplit;
  /** The t10k files. */
  readonly test: FashionMnistSplit;
  /** The directory the files came from. */
  readonly dir: string;
  /** 'custom' for a directory given, 'full' for Debian's data set, 'sample' for `sampleDir`. */
  readonly source: 'full' | 'sample' | 'custom';
}

export interface FashionMnistOptions {
  /** The directory to load when none is given and Debian's package is not installed (e.g. a small committed sample). */
  readonly sampleDir?: string;
}

/** The file of a data set member in `dir`: `name.gz` if present, else `name` (named in errors if neither exists). */
function member(dir: string, name: string): string {
  const gz = join(dir, `${name}.gz`);
  if (existsSync(gz)) return gz;
  const plain = join(dir, name);
  if (existsSync(plain)) return plain;
  throw new AmpcError('E0601', `cannot read ${gz}: no such file (nor ${plain})`);
}

function loadSplit(dir: string, prefix: 'train' | 't10k'): FashionMnistSplit {
  const imagesFile = member(dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = member(dir, `${prefix}-labels-idx1-ubyte`);
  const im = readIdx(imagesFile);
  const lb = readIdx(labelsFile);
  const size = FASHION_MNIST_IMAGE_SIZE;
  if (im.type !== 'u8' || im.dims.length !== 3 || im.dims[1] !== size || im.dims[2] !== size) {
    throw new AmpcError('E0602', `${imagesFile}: expected u8 images of [n, ${size}, ${size}], got ${im.type} [${im.dims.join(', ')}]`);
  }
  if (lb.type !== 'u8' || lb.dims.length !== 1) {
    throw new AmpcError('E0602', `${labelsFile}: expected u8 labels of [n], got ${lb.type} [${lb.dims.join(', ')}]`);
  }
  const count = im.dims[0]!;
  if (lb.dims[0] !== count) throw new AmpcError('E0602', `${labelsFile}: ${lb.dims[0]} labels for the ${count} images of ${imagesFile}`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = lb.data[i]!;
    if (l >= FASHION_MNIST_CLASSES) throw new AmpcError('E0602', `${labelsFile}: label ${i} is ${l}; classes are 0..${FASHION_MNIST_CLASSES - 1}`);
    labels[i] = l;
  }
  const images = new Float32Array(count * FASHION_MNIST_PIXELS);
  const px = im.data;
  for (let i = 0; i < images.length; i++) images[i] = (px[i]! / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
  return { images, labels, count };
}

/**
 * Loads both splits from `dir`, or from the directory the header describes
 * when `dir` is undefined (Debian's, else `options.sampleDir`).
 */
export function loadFashionMnist(dir?: string, options: FashionMnistOptions = {}): FashionMnist {
  let from: string;
  let source: FashionMnist['source'];
  if (dir !== undefined) {
    if (!existsSync(dir)) throw new AmpcError('E0601', `cannot read ${dir}: no such directory`);
    from = dir;
    source = 'custom';
  } else if (existsSync(FASHION_MNIST_DIR)) {
    from = FASHION_MNIST_DIR;
    source = 'full';
  } else if (options.sampleDir !== undefined) {
    from = options.sampleDir;
    source = 'sample';
  } else {
    throw new AmpcError('E0601', `cannot read ${FASHION_MNIST_DIR}: no such directory (install Debian's dataset-fashion-mnist, or pass the directory of the IDX files)`);
  }
  const train = loadSplit(from, 'train'), test = loadSplit(from, 't10k');
  // An empty split would train nothing or print an accuracy of 0 of 0.
  for (const [name, split] of [['train', train], ['t10k', test]] as const) {
    if (split.count === 0) throw new AmpcError('E0603', `${from}: the ${name} split has no images`);
  }
  return { train, test, dir: from, source };
}
