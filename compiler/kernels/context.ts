// What an emitter sees while lowering one node (buffers of values, scratch
// space, the f16 mode) and what it returns: one or more kernel launches.

import type { DType } from '../../ir/dtype.ts';
import type { Node, Value } from '../../ir/graph.ts';
import type { OpName } from '../../ir/ops.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import type { Binding } from '../wgsl/storage.ts';

export interface KernelLaunch {
  readonly label: string;
  readonly code: string;
  readonly usesF16: boolean;
  /** Buffer ids, bound at @binding(0..n-1) in this order. */
  readonly bindings: readonly number[];
  readonly workgroups: readonly [number, number, number];
}

/** What runs the shaders: a GPU, or a CPU adapter (lavapipe, SwiftShader) — kernels are tuned per kind. */
export type AdapterKind = 'cpu' | 'gpu';

export interface EmitContext {
  readonly mode: F16Mode;
  readonly target: AdapterKind;
  readonly maxWorkgroupsPerDim: number;
  /** Buffer id holding a value. */
  buffer(v: Value): number;
  /** A temporary buffer of `count` elements, live for this node's launches. */
  scratch(dtype: DType, count: number): number;
  /** Printed name of a value (for labels). */
  nameOf(v: Value): string;
}

/** A buffer as one kernel binds it: its WGSL declaration data and its id. */
export interface BoundBuffer {
  readonly binding: Binding;
  readonly buffer: number;
}

export type Emitter = (node: Node, ctx: EmitContext) => KernelLaunch[];

export type EmitterTable = { readonly [P in OpName]: Emitter };

export function nodeLabel(node: Node, ctx: EmitContext): string {
  return `${node.op} ${node.results.map((r) => '%' + ctx.nameOf(r)).join(', ')}`;
}

export function readOf(ctx: EmitContext, v: Value, name: string): BoundBuffer {
  return { binding: { name, dtype: v.type.dtype, access: 'read' }, buffer: ctx.buffer(v) };
}

export function writeOf(ctx: EmitContext, v: Value, name: string): BoundBuffer {
  return { binding: { name, dtype: v.type.dtype, access: 'write' }, buffer: ctx.buffer(v) };
}
