// The one compile path: a graph, a pipeline of passes, the codegen passes
// (fusion, unless turned off), then lowering to a Plan with its memory plan.
// The CLI, runGraphOnGpu, the Trainer (train step and predict) and the
// benchmarks all compile through compileGraph, so a pass added here reaches
// every one of them; pass summaries and IR dumps come out the same way for all.

import type { Graph } from '../ir/graph.ts';
import type { GpuContext } from '../runtime/device.ts';
import type { F16Mode, Plan } from '../runtime/plan.ts';
import type { CastPrologues, Pass, PassOptions } from '../passes/pass.ts';
import { CAST_PROLOGUE_OPS } from '../passes/fusion/groups.ts';
import { CODEGEN_PASSES, pipelineByName } from '../passes/pipeline.ts';
import { checkPrintIrAfter, runPipeline } from '../passes/runner.ts';
import type { AdapterKind } from './kernels/context.ts';
import { adapterKindOf } from './kernels/matmul-config.ts';
import { legalizeForBindings } from './legalize.ts';
import { lowerGraph } from './lower.ts';
import { keepWeightCopies } from './weight-copies.ts';

/** WebGPU's default maxStorageBuffersPerShaderStage: what a target that names no limit gets. */
const WEBGPU_DEFAULT_STORAGE_BUFFERS = 8;

/** What the kernels are generated for: a device, or its facts (for compiling without one). */
export interface CompileTarget {
  readonly f16Mode: F16Mode;
  readonly adapter: AdapterKind;
  readonly maxWorkgroupsPerDim?: number;
  /** Storage buffers one kernel may bind (fusion keeps its kernels within it). */
  readonly maxStorageBuffers?: number;
  /** Which cast operands matmuls convert as they load them instead of reading an f16 copy (default: CAST_PROLOGUES of the adapter kind). */
  readonly castPrologues?: CastPrologues;
}

/**
 * Which cast operands matmuls (and the finite check) convert as they load
 * them instead of reading a stored f16 copy (no copy in memory, one kernel
 * less per cast), per adapter kind (CastPrologues in passes/pass.ts). A tile
 * loads each operand element several times, so the conversion is repeated:
 * GPUs convert for free beside the loads; CPU adapters pay for each.
 */
export const CAST_PROLOGUES: { readonly [K in AdapterKind]: CastPrologues } = {
  // lavapipe, MNIST MLP AMP train step (b64, Adam, Trainer, interleaved
  // rounds): converting every cast operand costs the step 3-4 ms (the batch
  // is converted 16 times per matmul that reads it, the 784x256 weight 4
  // times): 17.2 against 10.3 ms median, 15.3 against 10.9. Converting only
  // the weights, with the batch cast once by a kernel of its own, costs
  // about what the weights' f16 copies did (9.75 against 8.76 ms median,
  // 8.79 against 7.53 min; 11.79 against 11.95, 8.89 against 8.78, in a
  // second run; f32 9.51 and 11.01), and the step needs no copies: 2.65 MiB
  // against 3.04 with the copies (f32: 2.65), since the batch's f32 buffer,
  // read only by its cast, is donated to the intermediates (PlanIO.donated).
  cpu: 'params',
  gpu: true,
};

export interface CompileSpec {
  /** Passes to run before codegen, or a pipeline name (default: none). */
  readonly pipeline?: string | readonly Pass[];
  readonly options?: PassOptions;
  /** Fuse elementwise ops into single kernels (default true; false for debugging and comparisons). */
  readonly fusion?: boolean;
  /** Overrides the target's cast prologues (CAST_PROLOGUES of the adapter kind). */
  readonly castPrologues?: CastPrologues;
  /** Overrides the device's f16 mode (default: native with shader-f16, else packed). */
  readonly f16Mode?: F16Mode;
  /** In-place updates after each run (a train step's `updates`); see LowerOptions.updates. */
  readonly updates?: readonly { readonly output: number; readonly input: string }[];
  /**
   * Keep the f16 copies of updated f32 inputs that no kernel converts as it
   * loads them (convolutions' weights; matmuls' without cast prologues)
   * across runs, written by their updates (compiler/weight-copies.ts; default
   * false). Only for callers that write every input through Session.write,
   * which refreshes a copy when its weight is written (the Trainer).
   */
  readonly weightCopies?: boolean;
  /** Share device buffers between intermediates whose live ranges do not overlap (default true). */
  readonly memoryPlan?: boolean;
  /**
   * Inputs the caller writes before every run (the Trainer's batches), whose
   * buffers may hold intermediates after their last read (PlanIO.donated).
   */
  readonly donate?: readonly string[];
  /** Receives each pass's one-line summary. */
  readonly log?: (line: string) => void;
  /** Pass name, or 'all', after which to print the IR (to `dump`). */
  readonly printIrAfter?: string;
  readonly dump?: (text: string) => void;
}

export interface Compiled {
  /** The graph after every pass: what the plan runs. */
  readonly graph: Graph;
  readonly plan: Plan;
  /** Kernel launches of one run. */
  readonly dispatches: number;
  /** Milliseconds spent in passes and codegen. */
  readonly compileMs: number;
}

/**
 * The arithmetic of f16 values on devices with shader-f16, per adapter kind:
 * f16 (the native mode) where f16 math is fast, f32 registers over f16
 * storage (the storage mode, excess precision inside fused kernels) where it
 * is slower than f32.
 */
export const F16_ARITHMETIC: { readonly [K in AdapterKind]: 'f16' | 'f32' } = {
  // lavapipe (x86 without native f16 math: LLVM converts around every op):
  // an f16 FMA loop runs 13 GFLOP/s against 61 in f32 (design.md); a fused
  // chain of 7 f16 elementwise ops over 2^20 elements took 10.7 ms in the
  // storage mode against 26.9 ms in native f16 (median of 8; 16.7 against
  // 40.9 on a loaded machine): `npx tsx bench/f16-modes.ts`. The MNIST MLP
  // AMP step, whose f16 work is in matmuls (f32 math either way), is
  // unchanged: 16.2 against 16.5 ms.
  cpu: 'f32',
  gpu: 'f16',
};

/** The device's f16 mode: packed without shader-f16, else native or storage by F16_ARITHMETIC of its adapter kind. */
export function defaultF16Mode(ctx: GpuContext): F16Mode {
  if (!ctx.hasF16) return 'packed';
  return F16_ARITHMETIC[adapterKindOf(ctx.adapterInfo)] === 'f16' ? 'native' : 'storage';
}

export function targetOf(ctx: GpuContext, f16Mode?: F16Mode): CompileTarget {
  return {
    f16Mode: f16Mode ?? defaultF16Mode(ctx),
    adapter: adapterKindOf(ctx.adapterInfo),
    maxWorkgroupsPerDim: ctx.limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffers: ctx.limits.maxStorageBuffersPerShaderStage,
  };
}

/** The passes compileGraph runs for `spec`, in order. */
export function compilePasses(spec: Pick<CompileSpec, 'pipeline' | 'fusion'>): readonly Pass[] {
  const pipeline = typeof spec.pipeline === 'string' ? pipelineByName(spec.pipeline) : (spec.pipeline ?? []);
  return [...pipeline, ...(spec.fusion === false ? [] : CODEGEN_PASSES)];
}

export function compileGraph(g: Graph, device: GpuContext | CompileTarget, spec: CompileSpec = {}): Compiled {
  const start = performance.now();
  const target = 'adapter' in device ? { ...device, ...(spec.f16Mode ? { f16Mode: spec.f16Mode } : {}) } : targetOf(device, spec.f16Mode);
  const passes = compilePasses(spec);
  checkPrintIrAfter(spec.printIrAfter, passes);
  const options = {
    ...spec.options,
    ...(target.maxStorageBuffers ? { maxKernelBindings: target.maxStorageBuffers } : {}),
    castPrologues: spec.castPrologues ?? target.castPrologues ?? CAST_PROLOGUES[target.adapter],
  };
  // Weights no kernel converts as it loads them keep f16 copies across steps (with prologues for every cast, none).
  const copies = spec.weightCopies && spec.updates && options.castPrologues !== true
    ? keepWeightCopies(g, spec.updates, options.castPrologues === 'params' ? CAST_PROLOGUE_OPS : new Set()) : undefined;
  if (copies) {
    g = copies.graph;
    spec.log?.(`weight-copies: @${g.name}: ${copies.derived.length} f16 weight copies kept across steps, written by their updates (${copies.derived.map((d) => `%${d.input}`).join(', ')})`);
  }
  const updates = copies?.updates ?? spec.updates;
  const graph = runPipeline(g, passes, { options, ...(spec.log ? { log: spec.log } : {}) }, {
    ...(spec.printIrAfter ? { printIrAfter: spec.printIrAfter } : {}),
    ...(spec.dump ? { dump: spec.dump } : {}),
  });
  const legal = legalizeForBindings(graph, target.maxStorageBuffers ?? WEBGPU_DEFAULT_STORAGE_BUFFERS);
  const plan = lowerGraph(legal, {
    f16Mode: target.f16Mode,
    target: target.adapter,
    ...(target.maxWorkgroupsPerDim ? { maxWorkgroupsPerDim: target.maxWorkgroupsPerDim } : {}),
    ...(updates ? { updates } : {}),
    ...(copies ? { derived: copies.derived } : {}),
    ...(spec.memoryPlan !== undefined ? { memoryPlan: spec.memoryPlan } : {}),
    ...(spec.donate ? { donate: spec.donate } : {}),
  });
  return { graph: legal, plan, dispatches: plan.dispatches.length, compileMs: performance.now() - start };
}
