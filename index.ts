// ampc's public API for Node (package.json's `node` condition): everything
// browser.ts exports, and the parts that use the file system: writing
// artifacts to directories and state dicts to JSON files, reading IDX files
// and Fashion-MNIST.
//
//   import { trace, f32, nn, Trainer, compile, writeArtifact, loadArtifact } from 'ampc';

export * from './browser.ts';
export { writeArtifact } from './compiler/artifact-write.ts';
export { saveState, loadState } from './compiler/train/state-file.ts';
export { writeFileAtomic, readFileBytes } from './runtime/node-files.ts';
export { readIdx, decodeIdx, encodeIdx, IDX_TYPES } from './compiler/train/data/idx.ts';
export type { IdxArray, IdxData, IdxType } from './compiler/train/data/idx.ts';
export {
  loadFashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_MEAN, FASHION_MNIST_STD, FASHION_MNIST_CLASSES, FASHION_MNIST_IMAGE_SIZE, FASHION_MNIST_PIXELS,
} from './compiler/train/data/fashion-mnist.ts';
export type { FashionMnist, FashionMnistSplit, FashionMnistOptions } from './compiler/train/data/fashion-mnist.ts';
