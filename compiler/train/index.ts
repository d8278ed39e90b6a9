// Public surface of the training API: Trainer (trace, compile and run train
// steps and predictions on a WebGPU device), batched evaluation, state files,
// data (the DataLoader, IDX files, Fashion-MNIST: ./data/).
//
//   import { Trainer, accuracy } from './compiler/train/index.ts';
export { Trainer } from './trainer.ts';
export { GraphModule } from './graph-module.ts';
export type { TrainerOptions, StepOptions, TensorInput, OptimizerSpec, LossScaleSpec, LossScaleStatus, DynamicLossScaleOptions } from './trainer.ts';
export { predictInBatches, accuracy, argmax } from './evaluate.ts';
export { saveState, loadState, writeFileAtomic } from './state-file.ts';
export * from './data/index.ts';
