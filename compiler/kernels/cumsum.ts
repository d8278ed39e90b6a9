// cumsum as a map kernel over its output: element (o, j, i) of x seen as
// [outer, n, inner] walks the elements before it along the axis (k <= j, or
// k < j when exclusive; k >= j / k > j with reverse), in order, and stores the
// sum once. No atomics and a fixed order, so results are deterministic in every
// f16 mode. Floats accumulate in f32 (f16 inputs are widened on load, the sum
// is converted to the result's compute type once); integers add and wrap in
// their own type. Work per output element: up to n loads (n² / 2 per row in
// all), which suits the short axes models use cumsum on (positions, masks).

import type { Node } from '../../ir/graph.ts';
import { computeType, load } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function emitCumsum(node: Node, ctx: EmitContext): KernelLaunch[] {
  const res = node.results[0]!;
  const xs = res.type.shape;
  const axis = ((node.attrs.axis as number) + xs.length) % xs.length;
  // (An empty tensor launches nothing; the extents are kept >= 1 so the shader has no `% 0u`.)
  const n = Math.max(xs[axis]!, 1);
  const inner = Math.max(count(xs.slice(axis + 1)), 1);
  const exclusive = node.attrs.exclusive === true, reverse = node.attrs.reverse === true;
  const x = readOf(ctx, node.operands[0]!, 'x');
  const t = computeType(res.type.dtype, ctx.mode);
  const isInt = t === 'i32' || t === 'u32';
  const acc = isInt ? t : 'f32';
  const widen = (e: string) => (isInt || t === 'f32' ? e : `f32(${e})`);
  // The range of k along the axis that element j sums.
  const [from, to] = reverse ? [exclusive ? 'j + 1u' : 'j', `${n}u`] : ['0u', exclusive ? 'j' : 'j + 1u'];
  const value = acc === t ? 's' : `${t}(s)`;
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x],
      output: writeOf(ctx, res, 'y'),
      count: count(xs),
      bodyUsesF16: t === 'f16',
      body: (i) => ({
        stmts: `let j = (${i} / ${inner}u) % ${n}u; let base = ${i} - j * ${inner}u; var s: ${acc} = ${acc}(0); ` +
          `for (var k = ${from}; k < ${to}; k++) { s = s + ${widen(load(x.binding, `base + k * ${inner}u`, ctx.mode))}; }`,
        value,
      }),
    }),
  ];
}
