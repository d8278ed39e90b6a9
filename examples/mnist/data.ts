// Where the example's data comes from: `--data DIR` when given; else Debian's
// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) when installed;
// else the small committed sample beside this file (the first 3000 training
// and 1000 test images, made by scripts/make-mnist-sample.ts), which is what
// SAMPLE_DIR names. Loading, normalization and batching are the library's
// (compiler/train/data/): `loadFashionMnist(dir, { sampleDir: SAMPLE_DIR })`
// in main.ts, a DataLoader in train.ts.

import { fileURLToPath } from 'node:url';

export const SAMPLE_DIR = fileURLToPath(new URL('./sample/', import.meta.url));
