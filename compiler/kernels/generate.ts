// Generated values as map kernels, and the WGSL expressions fused bodies use
// for them: random_uniform (the counter-based hash of ir/random.ts, whose
// formula the WGSL below spells out again) and iota (an index along an
// axis). Both are computed from the element's flat index, so a fused kernel
// gives the same bits as its own kernel and as the reference interpreter.

import type { Node } from '../../ir/graph.ts';
import { pcgHash } from '../../ir/random.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import type { Shape } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import { broadcastFlat, coordOf } from '../wgsl/indexing.ts';
import { computeType, load } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { convert } from './elementwise.ts';
import { mapKernel } from './map.ts';

/** Name of the WGSL helper random_uniform calls; RANDOM_WGSL defines it. */
export const RANDOM_FN = 'ampc_random_uniform';

/**
 * pcg as in ir/random.ts (u32 arithmetic wraps in WGSL), and the value of
 * element `i` of the stream of (seed, salt); `salt_hash` is pcg(salt),
 * computed on the host.
 */
export const RANDOM_WGSL = [
  'fn ampc_pcg(v: u32) -> u32 {',
  '  let s = v * 747796405u + 2891336453u;',
  '  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;',
  '  return (w >> 22u) ^ w;',
  '}',
  `fn ${RANDOM_FN}(seed: u32, salt: u32, salt_hash: u32, i: u32) -> f32 {`,
  '  let k1 = ampc_pcg(seed ^ salt_hash);',
  '  let k2 = ampc_pcg(salt ^ ampc_pcg(seed));',
  '  let h = ampc_pcg(ampc_pcg(i + k1) ^ k2);',
  // 2^-24: exact, as is f32 of a 24-bit integer.
  '  return f32(h >> 8u) * 5.9604644775390625e-8;',
  '}',
].join('\n');

/** random_uniform's value at flat index `index` (u32) of its own shape, given the seed's expression. */
export function randomUniformExpr(node: Node, seed: string, index: string): string {
  const salt = node.attrs.salt as number;
  return `${RANDOM_FN}(${seed}, ${salt}u, ${pcgHash(salt)}u, ${index})`;
}

/**
 * random_uniform evaluated at flat index `flat` of a kernel over `outShape`
 * (a fused body's shape, to which the node's result broadcasts).
 */
export function randomUniformAt(node: Node, seed: string, flat: string, outShape: Shape): string {
  return randomUniformExpr(node, seed, broadcastFlat(node.results[0]!.type.shape, outShape, flat));
}

/**
 * iota's value at flat index `flat` of a kernel over `outShape` (its own
 * shape, or a fused shape it broadcasts to), converted from the u32 index
 * as a cast converts.
 */
export function iotaAt(node: Node, ctx: EmitContext, flat: string, outShape: Shape): string {
  const r = node.results[0]!;
  const shape = r.type.shape;
  const axis = normalizeAxis('iota', node.attrs.axis as number, shape.length);
  const index = shape[axis] === 1 ? '0u' : coordOf(outShape, axis + outShape.length - shape.length, flat);
  return convert(index, 'u32', r.type.dtype, ctx);
}

export function emitRandomUniform(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const seed = readOf(ctx, node.operands[0]!, 'seed');
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [seed],
      output: writeOf(ctx, res, 'y'),
      count: numel(res.type.shape),
      helpers: RANDOM_WGSL,
      body: (i) => ({ stmts: '', value: randomUniformExpr(node, load(seed.binding, '0u', ctx.mode), i) }),
    }),
  ];
}

export function emitIota(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [],
      output: writeOf(ctx, res, 'y'),
      count: numel(res.type.shape),
      bodyUsesF16: computeType(res.type.dtype, ctx.mode) === 'f16',
      body: (i) => ({ stmts: '', value: iotaAt(node, ctx, i, res.type.shape) }),
    }),
  ];
}
