// The map kernel: invocations compute output elements from their flat index
// `i`. Elementwise, cast, constant, one_hot, random_uniform, iota and the copying shape ops are map
// kernels; fused elementwise groups (compiler/kernels/fused.ts) and the
// finite check use the same element loop.
//
// Each invocation handles elementsPerInvocation(target, count) elements,
// strided by the number of invocations, so that neighbouring invocations
// touch neighbouring elements (coalesced on GPUs, SIMD-friendly on lavapipe).
// On lavapipe an invocation, and a workgroup even more, costs far more than
// an element: the MNIST MLP's AMP train step (bench/step.ts, b64, fused; min
// ms/step over 5 rounds) took 24.9 ms at 1 element per invocation, 15.5 at
// 4 (f32: 14.5, 12.0; unfused f32 went from 59 to 26 ms). A CPU adapter
// therefore gets as many elements per invocation as leave MIN_CPU_WORKGROUPS
// workgroups (work for every core), from 4 up to 64: an add over 200,704
// f32 took 0.79 ms at 4 per invocation (784 workgroups), 0.54 at 16, 0.47 at
// 64 (49 workgroups); over 2^20, 3.21, 2.68 and 2.54 ms (bench/elements.ts,
// bench/README.md).

import { ENTRY_PARAMS, gridFor } from '../wgsl/grid.ts';
import { declareBindings, needsF16, store } from '../wgsl/storage.ts';
import type { AdapterKind, BoundBuffer, EmitContext, KernelLaunch } from './context.ts';

export const MAP_WORKGROUP = 64;

/** Workgroups a CPU adapter's map kernel keeps at least (when the elements allow 4 per invocation): one per core on machines of up to 64 cores. */
export const MIN_CPU_WORKGROUPS = 64;

/** Elements each invocation of a map kernel over `count` elements computes, per adapter kind (small outputs: one). */
export function elementsPerInvocation(target: AdapterKind, count: number): number {
  // GPUs: enough invocations to fill the machine matter more.
  if (target === 'gpu') return 1;
  // lavapipe: fewer, longer invocations amortize its per-invocation and per-workgroup cost.
  if (count <= MAP_WORKGROUP * 4) return 1;
  return Math.min(64, Math.max(4, Math.floor(count / (MIN_CPU_WORKGROUPS * MAP_WORKGROUP))));
}

/**
 * The entry point of a kernel over `count` elements: statements `body` run
 * for each flat index `i` this invocation owns (`return` must not appear in
 * them; `continue` skips an element). Returns the WGSL lines of `main` and
 * the workgroup grid.
 */
export function elementLoop(ctx: EmitContext, count: number, body: string): { main: string; workgroups: [number, number, number] } {
  const per = elementsPerInvocation(ctx.target, count);
  const threads = Math.ceil(count / per);
  const grid = gridFor(Math.ceil(threads / MAP_WORKGROUP), ctx.maxWorkgroupsPerDim);
  const indent = (s: string, by: string) => s.split('\n').map((l) => by + l).join('\n');
  const lines = per === 1
    ? [`  let i = ${grid.groupIndex} * ${MAP_WORKGROUP}u + lid;`, `  if (i >= ${count}u) { return; }`, indent(body, '  ')]
    : [
      `  let ampc_g = ${grid.groupIndex} * ${MAP_WORKGROUP}u + lid;`,
      `  if (ampc_g >= ${threads}u) { return; }`,
      `  for (var ampc_k = 0u; ampc_k < ${per}u; ampc_k++) {`,
      `    let i = ampc_g + ampc_k * ${threads}u;`,
      `    if (i >= ${count}u) { break; }`,
      indent(body, '    '),
      '  }',
    ];
  return { main: [`@compute @workgroup_size(${MAP_WORKGROUP})`, `fn main(${ENTRY_PARAMS}) {`, ...lines, '}'].join('\n'), workgroups: grid.workgroups };
}

export interface MapKernelSpec {
  readonly label: string;
  readonly inputs: readonly BoundBuffer[];
  readonly output: BoundBuffer;
  /** Number of output elements. */
  readonly count: number;
  /** Statements (may be empty) and the value expression for flat output index `i` (u32). */
  readonly body: (i: string) => { stmts: string; value: string };
  /** Module-scope WGSL the body calls. */
  readonly helpers?: string;
  /** The body itself uses f16 (e.g. a cast to f16 from f32 inputs). */
  readonly bodyUsesF16?: boolean;
}

export function mapKernel(ctx: EmitContext, spec: MapKernelSpec): KernelLaunch {
  const all = [...spec.inputs, spec.output];
  const bindings = all.map((b) => b.binding);
  const usesF16 = needsF16(bindings, ctx.mode, spec.bodyUsesF16);
  const { stmts, value } = spec.body('i');
  const loop = elementLoop(ctx, spec.count, [stmts, store(spec.output.binding, 'i', value, ctx.mode)].filter((l) => l !== '').join('\n'));
  const code = [
    usesF16 ? 'enable f16;' : '',
    declareBindings(bindings, ctx.mode),
    spec.helpers ?? '',
    loop.main,
    '',
  ].filter((l) => l !== '').join('\n');
  return { label: spec.label, code, usesF16, bindings: all.map((b) => b.buffer), workgroups: loop.workgroups };
}
