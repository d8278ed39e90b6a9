// Batching many small GPU checks into few graphs: each session costs a
// pipeline build and a read-back (slow on lavapipe), so the cases of a test
// are pieces of one graph, grouped by the magnitude of their accumulated
// terms.

import type { ExecutionContext } from 'ava';
import type { DType } from '../../ir/dtype.ts';
import { Graph } from '../../ir/graph.ts';
import type { Value } from '../../ir/graph.ts';
import { hostTensor } from '../../ir/interp/tensor.ts';
import type { HostTensor } from '../../ir/interp/tensor.ts';
import type { GpuContext } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { checkAgainstReference } from './compare.ts';

/** One checked piece of a batched graph: adds its inputs (names prefixed) and returns its outputs. */
export interface Piece {
  readonly what: string;
  /** Magnitude of accumulated terms (CheckOptions.scale); 1 when absent. */
  readonly scale?: number;
  readonly build: (g: Graph, prefix: string, inputs: Record<string, HostTensor>) => Value[];
}

/**
 * Checks many cases with few sessions: pieces whose scales are within a
 * factor of 10 share one graph, checked against the reference with the
 * largest of their scales. On a failure, logs which piece each output is.
 */
export async function checkPieces(t: ExecutionContext, ctx: GpuContext, f16Mode: F16Mode, pieces: readonly Piece[]): Promise<void> {
  const buckets = new Map<number, Piece[]>();
  for (const p of pieces) {
    const k = Math.ceil(Math.log10(Math.max(1, p.scale ?? 1)));
    buckets.set(k, [...(buckets.get(k) ?? []), p]);
  }
  for (const group of buckets.values()) {
    const g = new Graph('t');
    const inputs: Record<string, HostTensor> = {};
    const outs: string[] = [];
    g.setOutputs(group.flatMap((p, i) => {
      const vs = p.build(g, `p${i}_`, inputs);
      vs.forEach((_, k) => outs.push(`${p.what}${vs.length > 1 ? ` result ${k}` : ''}`));
      return vs;
    }));
    await checkAgainstReference(t, ctx, g, inputs, f16Mode, { scale: Math.max(...group.map((p) => p.scale ?? 1)) });
    if (!t.passed) t.log(outs.map((w, k) => `output ${k}: ${w}`).join('\n'));
  }
}

/** Adds graph input `name` and its value. */
export function input(g: Graph, inputs: Record<string, HostTensor>, name: string, dtype: DType, shape: number[], values: number[]): Value {
  inputs[name] = hostTensor(dtype, shape, values);
  return g.addInput(name, { dtype, shape });
}
