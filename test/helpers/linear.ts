// A small linear regression loss graph (matmul + bias + mse) the loss-scaling
// and AMP tests train on the reference interpreter.

import type { Graph } from '../../ir/graph.ts';
import { parseModule } from '../../ir/text/parser.ts';

export const LINEAR = `
graph @lin(%x: f32[5,3], %y: f32[5,2], %w: f32[3,2] {param}, %b: f32[2] {param}) -> (f32[]) {
  %0 = matmul %x, %w : f32[5,2]
  %pred = add %0, %b : f32[5,2]
  %loss = mse_loss %pred, %y : f32[]
  return %loss
}
`;

export function linearLoss(): Graph {
  return parseModule(LINEAR, 'lin.ir').main;
}
