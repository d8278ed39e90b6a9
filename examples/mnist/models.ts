// The example's models, written as PyTorch users write them.
//   mlp: 784-256-10 with a ReLU (input [batch, 784])
//   cnn: two conv-BN-ReLU-pool stages and a linear classifier (input [batch, 1, 28, 28])

import { crossEntropy, f32, i32, nn } from '../../ir/trace/index.ts';
import type { InputSpec, Tensor } from '../../ir/trace/index.ts';

export type ModelName = 'mlp' | 'cnn';

export function mlp(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
}

export function cnn(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }),
    new nn.BatchNorm2d(16),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }),
    new nn.BatchNorm2d(32),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(32 * 7 * 7, 10),
  );
}

export function buildModel(name: ModelName): nn.Sequential {
  return name === 'cnn' ? cnn() : mlp();
}

/** The image input of a batch: flat pixels for the MLP, NCHW for the CNN. */
export function imageSpec(name: ModelName, batch: number): InputSpec {
  return name === 'cnn' ? f32([batch, 1, 28, 28]) : f32([batch, 784]);
}

/** The loss inputs of a batch: images and i32 labels. */
export function batchSpecs(name: ModelName, batch: number): InputSpec[] {
  return [imageSpec(name, batch), i32([batch])];
}

/** Mean cross-entropy of the model's logits against the labels. */
export const classificationLoss = (m: nn.Sequential, x: Tensor, y: Tensor): Tensor => crossEntropy(m.forward(x), y);

/** Number of trainable parameters. */
export function parameterCount(model: nn.Module): number {
  return model.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
