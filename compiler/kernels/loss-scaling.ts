// unscale_check (ir/ops-amp.ts): every f32 gradient times the inverse loss
// scale, and one bool saying whether all of the products are finite;
// finite_check: the bool alone (nothing else is written, so a kernel takes
// up to CHECKS_PER_KERNEL gradients), over f32 or f16 tensors; fused, it
// converts cast operands as it loads them (compiler/kernels/fused.ts).
//
// Launches: one that sets the flag to true, then one map-like kernel per
// group of up to GRADS_PER_KERNEL gradients (inv_scale + 3 inputs + 3 outputs
// + the flag = 8 storage buffers, WebGPU's default per-stage limit). An
// invocation unscales one element of the group's concatenation and, only when
// the product is not finite, clears the flag with an atomicAnd, so a finite
// step costs one read and one write per element and no atomics. Finiteness is
// tested on the bits (exponent all ones): lavapipe's LLVM folds `x != x`.

import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel } from './context.ts';
import { elementLoop } from './map.ts';
import type { Binding } from '../wgsl/storage.ts';
import { computeType, declareBindings, load, needsF16 } from '../wgsl/storage.ts';

export const GRADS_PER_KERNEL = 3;
/** finite_check: inv_scale + 6 gradients + the flag = 8 storage buffers. */
export const CHECKS_PER_KERNEL = 6;

/** One tensor a check reads: its buffer and dtype, and how an element loaded from it becomes the f32 value checked. */
export interface CheckedSource {
  readonly buffer: number;
  readonly dtype: DType;
  readonly count: number;
  /** The f32 value from the loaded element (of the compute type of `dtype`); default: widened as is. */
  readonly convert?: (loaded: string) => string;
}

export function emitUnscaleCheck(node: Node, ctx: EmitContext): KernelLaunch[] {
  const [inv, ...grads] = node.operands;
  const sources = grads.map((g) => ({ buffer: ctx.buffer(g!), dtype: g!.type.dtype, count: numel(g!.type.shape) }));
  const outs = node.op === 'unscale_check' ? node.results.slice(0, -1).map((u) => ctx.buffer(u)) : undefined;
  return checkLaunches(nodeLabel(node, ctx), ctx, ctx.buffer(inv!), sources, ctx.buffer(node.results.at(-1)!), outs);
}

/**
 * The launches of a check over `sources`: set the flag, then map kernels
 * over the concatenation of the sources (writing `outs[i]`, the unscaled
 * copies, when given: unscale_check; f32 sources only).
 */
export function checkLaunches(
  label: string, ctx: EmitContext, inv: number, sources: readonly CheckedSource[], flag: number, outs?: readonly number[],
): KernelLaunch[] {
  const writes = outs !== undefined;
  const perKernel = writes ? GRADS_PER_KERNEL : CHECKS_PER_KERNEL;
  const launches: KernelLaunch[] = [{
    label: `${label} (set flag)`,
    code: [
      '@group(0) @binding(0) var<storage, read_write> finite: array<u32>;',
      '@compute @workgroup_size(1)',
      'fn main() { finite[0] = 1u; }',
      '',
    ].join('\n'),
    usesF16: false,
    bindings: [flag],
    workgroups: [1, 1, 1],
  }];
  for (let first = 0; first < sources.length; first += perKernel) {
    const group = sources.slice(first, first + perKernel).map((src, k) => ({ src, u: outs?.[first + k], n: src.count }));
    const total = group.reduce((s, e) => s + e.n, 0);
    if (total === 0) continue;
    const bindings: Binding[] = [{ name: 'inv_scale', dtype: 'f32', access: 'read' }];
    const per = writes ? 2 : 1;
    group.forEach((e, k) => {
      bindings.push({ name: `g${k}`, dtype: e.src.dtype, access: 'read' });
      if (writes) bindings.push({ name: `u${k}`, dtype: 'f32', access: 'write' });
    });
    const decls = [declareBindings(bindings, ctx.mode)];
    decls.push(`@group(0) @binding(${1 + per * group.length}) var<storage, read_write> finite: array<atomic<u32>>;`);
    // Element i of the concatenation: the branch of the source it falls in.
    let start = 0;
    const branches = group.map((e, k) => {
      const cond = `i < ${start + e.n}u`;
      const loaded = load(bindings[1 + per * k]!, 'j', ctx.mode);
      const value = e.src.convert ? e.src.convert(loaded) : computeType(e.src.dtype, ctx.mode) === 'f32' ? loaded : `f32(${loaded})`;
      const body = `j = i - ${start}u; u = ${value} * s;${writes ? ` u${k}[j] = u;` : ''}`;
      start += e.n;
      return k === group.length - 1 ? `{ ${body} }` : `if (${cond}) { ${body} }`;
    });
    const loop = elementLoop(ctx, total, [
      'let s = inv_scale[0];',
      'var j = 0u;',
      'var u = 0.0;',
      branches.join(' else '),
      'if ((bitcast<u32>(u) & 0x7f800000u) == 0x7f800000u) { atomicAnd(&finite[0], 0u); }',
    ].join('\n'));
    const usesF16 = needsF16(bindings, ctx.mode);
    const code = [usesF16 ? 'enable f16;' : '', ...decls, loop.main, ''].filter((l, i) => i > 0 || l !== '').join('\n');
    const buffers = [inv, ...group.flatMap((e) => (writes ? [e.src.buffer, e.u!] : [e.src.buffer])), flag];
    launches.push({ label: `${label} (gradients ${first}..${first + group.length - 1})`, code, usesF16, bindings: buffers, workgroups: loop.workgroups });
  }
  return launches;
}
