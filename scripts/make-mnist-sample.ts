// Makes the committed Fashion-MNIST sample of the training example
// (examples/mnist/sample/): the first TRAIN training images and the first
// TEST test images of Debian's dataset-fashion-mnist, with their labels, as
// gzipped IDX files under the data set's own names. Under 2 MB in all.
//
//   npx tsx scripts/make-mnist-sample.ts [SOURCE_DIR]   (default /usr/share/datasets/fashion-mnist)

import { mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx, FASHION_MNIST_DIR, readIdx } from '../compiler/train/data/index.ts';
import type { IdxArray } from '../compiler/train/data/index.ts';
import { SAMPLE_DIR } from '../examples/mnist/data.ts';

const TRAIN = 3000;
const TEST = 1000;

function head(arr: IdxArray, n: number): IdxArray {
  if (arr.dims[0]! < n) throw new Error(`the source has only ${arr.dims[0]} items, the sample needs ${n}`);
  const per = arr.dims.slice(1).reduce((a, b) => a * b, 1);
  return { type: arr.type, dims: [n, ...arr.dims.slice(1)], data: arr.data.slice(0, n * per) };
}

const source = process.argv[2] ?? FASHION_MNIST_DIR;
mkdirSync(SAMPLE_DIR, { recursive: true });
let total = 0;
for (const [name, n] of [
  ['train-images-idx3-ubyte', TRAIN],
  ['train-labels-idx1-ubyte', TRAIN],
  ['t10k-images-idx3-ubyte', TEST],
  ['t10k-labels-idx1-ubyte', TEST],
] as const) {
  const out = join(SAMPLE_DIR, `${name}.gz`);
  writeFileSync(out, encodeIdx(head(readIdx(join(source, `${name}.gz`)), n), { gzip: true }));
  const size = statSync(out).size;
  total += size;
  console.log(`${out}: ${n} items, ${size} bytes`);
}
console.log(`total ${total} bytes`);
