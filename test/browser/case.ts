// What the browser test runs on both sides, the page (test/browser/page.ts,
// bundled for Chromium) and Node (test/browser.test.ts, on Dawn): a small MLP,
// fixed inputs for its artifacts, fixed training batches and the Trainer
// options (packed f16 under AMP: SwiftShader has no shader-f16), and
// runCase(), which runs the f32 and AMP artifacts and trains a few steps in
// both precisions, and iterates a shuffled DataLoader epoch with prefetch
// (in a browser it queues with setTimeout, in Node with setImmediate).
// Everything is made from formulas, so both sides have the same numbers
// without data files.

import { crossEntropy, DataLoader, f32, i32, loadArtifact, nn, Trainer } from '../../browser.ts';
import type { ArtifactSource, GpuContext, Tensor, TrainerOptions } from '../../browser.ts';

export const FEATURES = 6;
export const HIDDEN = 16;
export const CLASSES = 4;
/** Rows of the artifacts' input. */
export const ROWS = 5;
/** Rows of a training batch. */
export const BATCH = 8;
export const TRAIN_STEPS = 6;

export class CaseMlp extends nn.Module {
  fc1 = this.register('fc1', new nn.Linear(FEATURES, HIDDEN));
  fc2 = this.register('fc2', new nn.Linear(HIDDEN, CLASSES));
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).relu());
  }
}

/** The artifacts' traced input: x of ROWS x FEATURES. */
export const artifactInputSpecs = [f32([ROWS, FEATURES])];

/** The artifacts' input values (row-major). */
export function artifactInput(): Float32Array {
  return Float32Array.from({ length: ROWS * FEATURES }, (_, i) => Math.sin(0.37 * i + 0.2) * 1.5);
}

/** The training batch (every step's): x (BATCH x FEATURES), and as labels the index of the largest of each row's first CLASSES values. */
export function trainingBatch(): [Float32Array, Int32Array] {
  const x = Float32Array.from({ length: BATCH * FEATURES }, (_, i) => Math.cos(0.53 * i + 1.1) + 0.25 * Math.sin(0.11 * i));
  const y = Int32Array.from({ length: BATCH }, (_, r) => {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (x[r * FEATURES + c]! > x[r * FEATURES + best]!) best = c;
    return best;
  });
  return [x, y];
}

/** Trainer options without the device: the same seed, data, optimizer and f16 mode on both sides. */
export function trainerOptions(precision: 'f32' | 'amp'): Omit<TrainerOptions<CaseMlp>, 'device'> {
  return {
    model: new CaseMlp(),
    loss: (m, x, y) => crossEntropy(m.forward(x), y),
    inputs: [f32([BATCH, FEATURES]), i32([BATCH])],
    optimizer: { kind: 'sgd', lr: 0.2, momentum: 0.9 },
    seed: 7,
    precision,
    f16Mode: 'packed',
  };
}

export const PRECISIONS = ['f32', 'amp'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** What runCase computes, by precision: the artifact's output (row-major) and the losses of TRAIN_STEPS steps; and the DataLoader's epoch. */
export interface CaseResult {
  readonly outputs: Record<Precision, number[]>;
  readonly losses: Record<Precision, number[]>;
  readonly loader: LoaderResult;
}

/** One epoch of a shuffled DataLoader, iterated with `for await` waiting after each batch. */
export interface LoaderResult {
  /** Each batch's sample ids (its labels); the features are checked against them. */
  readonly batches: number[][];
  /** Batches that had been assembled (prefetched) while the loop waited. */
  readonly prefetched: number;
  /** Batches whose features were not their samples'. */
  readonly misaligned: number;
}

/** 19 samples of FEATURES features (sample i's are i + j / 10) with ids, in batches of 4 (the last of 3), seed 5, epoch 2. */
export async function loaderCase(): Promise<LoaderResult> {
  const n = 19;
  const x = Float32Array.from({ length: n * FEATURES }, (_, v) => Math.floor(v / FEATURES) + (v % FEATURES) / 10);
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  const loader = new DataLoader([{ data: x, shape: [n, FEATURES] }, ids], { batchSize: 4, shuffle: true, seed: 5, reuseBuffers: true });
  const epoch = loader.epoch(2);
  const batches: number[][] = [];
  let misaligned = 0;
  for await (const [features, labels] of epoch) {
    // The wait stands for a step's wait on the device: the next batch is assembled meanwhile.
    await new Promise((r) => setTimeout(r, 5));
    if (!labels.every((i, k) => features[k * FEATURES] === i && features[k * FEATURES + FEATURES - 1] === Math.fround(i + (FEATURES - 1) / 10))) misaligned++;
    batches.push(Array.from(labels));
  }
  return { batches, prefetched: epoch.prefetched, misaligned };
}

/** The artifact directory of each precision (compiled in Node, served to the page). */
export const artifactDir = (precision: Precision): string => `artifact-${precision}`;

/** Runs the artifacts (found by `artifactAt`) on the fixed input, and trains TRAIN_STEPS steps in each precision, on `device`. */
export async function runCase(device: GpuContext, artifactAt: (dir: string) => ArtifactSource): Promise<CaseResult> {
  const outputs = {} as Record<Precision, number[]>;
  const losses = {} as Record<Precision, number[]>;
  for (const precision of PRECISIONS) {
    const artifact = await loadArtifact(artifactAt(artifactDir(precision)), { device });
    try {
      const [out] = await artifact.run({ x: { dtype: 'f32', shape: [ROWS, FEATURES], data: artifactInput() } });
      outputs[precision] = Array.from(out!.data as ArrayLike<number>);
    } finally {
      artifact.destroy();
    }
    const trainer = await Trainer.create({ ...trainerOptions(precision), device });
    try {
      const batch = trainingBatch();
      const seen: number[] = [];
      for (let step = 0; step < TRAIN_STEPS; step++) seen.push((await trainer.step(batch, { readLoss: true }))!);
      losses[precision] = seen;
    } finally {
      trainer.destroy();
    }
  }
  return { outputs, losses, loader: await loaderCase() };
}
