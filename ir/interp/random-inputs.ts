// Seeded random inputs for `ampc check --random-inputs --seed N`: floats
// uniform in [-1, 1) (rounded to f16 for f16 inputs), i32 class labels in
// 0..classes-1 where the input feeds a cross_entropy or one_hot as labels,
// variances of batch_norm in [0.5, 1.5),
// otherwise small integers; bools fair coin flips. Same graph and seed, same
// tensors.

import { AmpcError } from '../errors.ts';
import type { Graph, Value } from '../graph.ts';
import { numel } from '../types.ts';
import { DEFAULT_MAX_ELEMENTS, describeValue, LIFT_ELEMENT_LIMIT } from './interpret.ts';
import type { HostTensor } from './tensor.ts';
import { allocData, storeAs } from './tensor.ts';

/** mulberry32: a small, fast 32-bit generator; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The number of classes if `v` is used as labels by cross_entropy or one_hot (the smallest if several). */
export function labelClasses(graph: Graph, v: Value): number | undefined {
  let classes: number | undefined;
  for (const node of graph.nodes) {
    let c: number | undefined;
    if (node.op === 'cross_entropy' && node.operands[1] === v) c = node.operands[0]!.type.shape[1];
    if (node.op === 'one_hot' && node.operands[0] === v) c = node.attrs.classes as number;
    if (c !== undefined && c > 0) classes = classes === undefined ? c : Math.min(classes, c);
  }
  return classes;
}

/** True if `v` is a variance operand of a batch_norm (it must be positive: drawn from [0.5, 1.5)). */
export function isVarianceInput(graph: Graph, v: Value): boolean {
  return graph.nodes.some((node) => node.op === 'batch_norm' && node.operands[4] === v);
}

/** Small integers for integer inputs that are not labels: i32 in -4..4, u32 in 0..8. */
const SMALL_INT = 4;

export interface RandomInputsOptions {
  /**
   * The most elements the inputs may hold in all (default
   * DEFAULT_MAX_ELEMENTS, the reference interpreter's limit; `Infinity` lifts
   * it). Checked before anything is allocated: E0802 above it.
   */
  readonly maxElements?: number;
}

/** E0802 unless the graph's inputs fit in `maxElements` elements in all; names the largest input. */
function checkInputSize(graph: Graph, maxElements: number | undefined): void {
  const limit = maxElements ?? DEFAULT_MAX_ELEMENTS;
  if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0) {
    throw new AmpcError('E0609', `maxElements: expected a number of elements ≥ 0 (or Infinity), got ${String(limit)}`);
  }
  let total = 0;
  let largest: { v: Value; n: number } | undefined;
  for (const v of graph.inputs) {
    const n = numel(v.type.shape);
    total += n;
    if (!largest || n > largest.n) largest = { v, n };
  }
  if (total <= limit) return;
  throw new AmpcError(
    'E0802',
    `random inputs for graph @${graph.name} are too large for the reference interpreter: its inputs hold ${total} elements in all, ` +
      `over the limit of ${limit}; the largest is ${describeValue(largest!.v)} with ${largest!.n} elements; ${LIFT_ELEMENT_LIMIT}`,
    graph.loc,
  );
}

/** One random tensor per graph input, keyed by input name. Inputs over `opts.maxElements` in all are E0802 (nothing allocated). */
export function randomInputs(graph: Graph, seed: number, opts: RandomInputsOptions = {}): Record<string, HostTensor> {
  checkInputSize(graph, opts.maxElements);
  const rand = seededRandom(seed);
  const out: Record<string, HostTensor> = {};
  for (const v of graph.inputs) {
    const { dtype, shape } = v.type;
    const n = numel(shape);
    let data: ReturnType<typeof allocData>;
    try {
      data = allocData(dtype, n);
    } catch (e) {
      // Over a lifted limit, the memory itself can run out: still an E0802, not a RangeError.
      throw new AmpcError('E0802', `cannot allocate random input %${v.name ?? '?'}: ${dtype}[${shape.join(',')}] (${n} elements): ${(e as Error).message}`, graph.loc);
    }
    const classes = dtype === 'i32' ? labelClasses(graph, v) : undefined;
    const positive = isVarianceInput(graph, v);
    for (let i = 0; i < n; i++) {
      const r = rand();
      switch (dtype) {
        case 'f32':
        case 'f16':
          data[i] = storeAs(dtype, positive ? 0.5 + r : 2 * r - 1);
          break;
        case 'i32':
          data[i] = classes !== undefined ? Math.floor(r * classes) : Math.floor(r * (2 * SMALL_INT + 1)) - SMALL_INT;
          break;
        case 'u32':
          data[i] = Math.floor(r * (2 * SMALL_INT + 1));
          break;
        case 'bool':
          data[i] = r < 0.5 ? 1 : 0;
          break;
      }
    }
    Object.defineProperty(out, v.name ?? `input${graph.inputs.indexOf(v)}`, {
      value: { dtype, shape: [...shape], data }, enumerable: true, writable: true, configurable: true,
    });
  }
  return out;
}
