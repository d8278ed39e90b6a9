// The map kernel: one invocation per output element computes its value from
// the flat index `i`. Elementwise, cast, constant, one_hot and the copying
// shape ops are map kernels; fusion later composes their bodies.

import { ENTRY_PARAMS, gridFor } from '../wgsl/grid.ts';
import { declareBindings, needsF16, store } from '../wgsl/storage.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';

export const MAP_WORKGROUP = 64;

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
  const grid = gridFor(Math.ceil(spec.count / MAP_WORKGROUP), ctx.maxWorkgroupsPerDim);
  const { stmts, value } = spec.body('i');
  const code = [
    usesF16 ? 'enable f16;' : '',
    declareBindings(bindings, ctx.mode),
    spec.helpers ?? '',
    `@compute @workgroup_size(${MAP_WORKGROUP})`,
    `fn main(${ENTRY_PARAMS}) {`,
    `  let i = ${grid.groupIndex} * ${MAP_WORKGROUP}u + lid;`,
    `  if (i >= ${spec.count}u) { return; }`,
    stmts ? `  ${stmts}` : '',
    `  ${store(spec.output.binding, 'i', value, ctx.mode)}`,
    '}',
    '',
  ].filter((l) => l !== '').join('\n');
  return { label: spec.label, code, usesF16, bindings: all.map((b) => b.buffer), workgroups: grid.workgroups };
}
