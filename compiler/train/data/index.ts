// Data for training: the DataLoader over in-memory columns (./loader.ts,
// browser-safe: browser.ts exports it), and the Node file readers: IDX files
// (./idx.ts) and Fashion-MNIST (./fashion-mnist.ts), which index.ts exports
// and package.json's `browser` field maps away.
//
//   import { DataLoader, loadFashionMnist } from './compiler/train/data/index.ts';
export { DataLoader, DataEpoch, shuffledOrder } from './loader.ts';
export type { DataLoaderOptions, DataColumn, DataBatch, BatchColumn, ColumnArray, ShapedArray } from './loader.ts';
export { readIdx, decodeIdx, encodeIdx, IDX_TYPES } from './idx.ts';
export type { IdxArray, IdxData, IdxType } from './idx.ts';
export {
  loadFashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_MEAN, FASHION_MNIST_STD, FASHION_MNIST_CLASSES, FASHION_MNIST_IMAGE_SIZE, FASHION_MNIST_PIXELS,
} from './fashion-mnist.ts';
export type { FashionMnist, FashionMnistSplit, FashionMnistOptions } from './fashion-mnist.ts';
