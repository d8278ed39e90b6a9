// unscale_check (ir/ops-amp.ts): every f32 gradient times the inverse loss
// scale, and one bool saying whether all of the products are finite;
// finite_check: the bool alone (nothing else is written, so a kernel takes
// up to CHECKS_PER_KERNEL gradients).
//
// Launches: one that sets the flag to true, then one map-like kernel per
// group of up to GRADS_PER_KERNEL gradients (inv_scale + 3 inputs + 3 outputs
// + the flag = 8 storage buffers, WebGPU's default per-stage limit). An
// invocation unscales one element of the group's concatenation and, only when
// the product is not finite, clears the flag with an atomicAnd, so a finite
// step costs one read and one write per element and no atomics. Finiteness is
// tested on the bits (exponent all ones): lavapipe's LLVM folds `x != x`.

import type { Node } from '../../ir/graph.ts';
import { numel } from '../../ir/types.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel } from './context.ts';
import { elementLoop } from './map.ts';

export const GRADS_PER_KERNEL = 3;
/** finite_check: inv_scale + 6 gradients + the flag = 8 storage buffers. */
export const CHECKS_PER_KERNEL = 6;

export function emitUnscaleCheck(node: Node, ctx: EmitContext): KernelLaunch[] {
  const label = nodeLabel(node, ctx);
  const [inv, ...grads] = node.operands;
  const writes = node.op === 'unscale_check';
  const outs = node.results.slice(0, -1);
  const perKernel = writes ? GRADS_PER_KERNEL : CHECKS_PER_KERNEL;
  const flag = ctx.buffer(node.results[node.results.length - 1]!);
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
  for (let first = 0; first < grads.length; first += perKernel) {
    const group = grads.slice(first, first + perKernel).map((g, k) => ({ g, u: outs[first + k], n: numel(g!.type.shape) }));
    const total = group.reduce((s, e) => s + e.n, 0);
    if (total === 0) continue;
    const decls = ['@group(0) @binding(0) var<storage, read> inv_scale: array<f32>;'];
    const per = writes ? 2 : 1;
    group.forEach((_, k) => {
      decls.push(`@group(0) @binding(${1 + per * k}) var<storage, read> g${k}: array<f32>;`);
      if (writes) decls.push(`@group(0) @binding(${2 + 2 * k}) var<storage, read_write> u${k}: array<f32>;`);
    });
    decls.push(`@group(0) @binding(${1 + per * group.length}) var<storage, read_write> finite: array<atomic<u32>>;`);
    // Element i of the concatenation: the branch of the gradient it falls in.
    let start = 0;
    const branches = group.map((e, k) => {
      const cond = `i < ${start + e.n}u`;
      const body = `j = i - ${start}u; u = g${k}[j] * s;${writes ? ` u${k}[j] = u;` : ''}`;
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
    const code = [...decls, loop.main, ''].join('\n');
    const bindings = [ctx.buffer(inv!), ...group.flatMap((e) => (writes ? [ctx.buffer(e.g!), ctx.buffer(e.u!)] : [ctx.buffer(e.g!)])), flag];
    launches.push({ label: `${label} (gradients ${first}..${first + group.length - 1})`, code, usesF16: false, bindings, workgroups: loop.workgroups });
  }
  return launches;
}
