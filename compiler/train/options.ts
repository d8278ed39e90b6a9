// The Trainer's options and what it reports: option types with their
// documentation, the checks Trainer.create makes (E0609 with what is wrong),
// and the stable JSON of the compile cache keys.

import { AmpcError } from '../../ir/errors.ts';
import type { Module } from '../../ir/trace/nn/module.ts';
import type { CastPrologues, PassOptions } from '../../passes/pass.ts';
import type { InputSpec } from '../../ir/trace/spec.ts';
import type { Tensor } from '../../ir/trace/tensor.ts';
import type { TraceOutput } from '../../ir/trace/trace.ts';
import { resolveLossScale } from '../../passes/loss-scaling.ts';
import type { LossScaleSpec } from '../../passes/loss-scaling.ts';
import { checkReport } from '../../passes/optimizer.ts';
import type { OptimizerSpec, StepReport } from '../../passes/optimizer.ts';
import { resolveMetrics } from './metrics.ts';
import type { MetricsOptions } from './metrics.ts';
import type { GpuContext } from '../../runtime/device.ts';
import type { F16Mode } from '../../runtime/plan.ts';

export interface TrainerOptions<M extends Module> {
  readonly model: M;
  /** The scalar loss of a batch, traced once: `(m, x, y) => crossEntropy(m.forward(x), y)`. Output 0 is the loss. */
  readonly loss: (model: M, ...inputs: Tensor[]) => TraceOutput;
  /** Types of the loss's inputs for one batch, e.g. `[f32([64, 784]), i32([64])]`. */
  readonly inputs: readonly InputSpec[];
  readonly optimizer: OptimizerSpec;
  /** Seed of the parameter initialization (default 0). */
  readonly seed?: number;
  /** The device to run on (default: acquireDevice(), released by destroy()). */
  readonly device?: GpuContext;
  /**
   * 'f32' (default) or 'amp': mixed precision as torch.amp does it. The loss
   * and prediction graphs go through the amp pipeline (f16 matmuls, f32
   * master weights, losses and reductions); gradients and the optimizer are f32.
   */
  readonly precision?: 'f32' | 'amp';
  /**
   * Loss scaling (passes/loss-scaling.ts): 'dynamic' (the default under amp:
   * init 2^16, growth 2, backoff 0.5, interval 2000, min 1, max 2^24),
   * `{ init, growth, backoff, interval, min, max }` (dynamic with options),
   * a static scale N, or 'off' (the default under f32). Non-finite steps are
   * skipped on the device unless it is 'off'.
   */
  readonly lossScale?: LossScaleSpec;
  /** Options of the amp pipeline (precision overrides), when precision is 'amp'. */
  readonly ampOptions?: PassOptions;
  /** How f16 tensors live on the device (default: native when the device has shader-f16). */
  readonly f16Mode?: F16Mode;
  /** Fuse elementwise ops, optimizer updates and matmul epilogues into single kernels (default true). */
  readonly fusion?: boolean;
  /**
   * Which f32 operands matmuls convert to f16 as they load them instead of
   * reading a stored f16 copy: true = all (weights, batches, activations),
   * 'params' = the weights only, false = none (the weights' copies are then
   * kept across steps). Default: the adapter kind's choice
   * (compiler/compile.ts, CAST_PROLOGUES).
   */
  readonly castPrologues?: CastPrologues;
  /** Receives every pass's one-line summary when a graph is compiled, as `ampc dump` prints them. */
  readonly log?: (line: string) => void;
  /** Pass name, or 'all', after which each compiled graph's IR goes to `dump` (`--print-ir-after`). */
  readonly printIrAfter?: string;
  readonly dump?: (text: string) => void;
  /**
   * Extra outputs of the train step, read only when asked: the gradients'
   * global norm (`gradNorm()`, and a column of the metrics log) and the
   * unscaled gradients (`gradients()`). Each costs a stored tensor.
   */
  readonly report?: StepReport;
  /** A per-step metrics log (loss, scale, skipped, lr, grad norm, samples/s) as JSONL or CSV: compiler/train/metrics.ts. */
  readonly metrics?: MetricsOptions;
}

/** Where the loss scale stands (read from the device by lossScaleStatus()). */
export interface LossScaleStatus {
  readonly mode: 'off' | 'static' | 'dynamic';
  /** The scale the next step uses (1 when off). */
  readonly scale: number;
  /** Steps skipped so far because a gradient was not finite. */
  readonly skippedSteps: number;
  /** Finite steps in a row since the scale last changed (dynamic only, else 0). */
  readonly goodSteps: number;
}

export interface StepOptions {
  /** Read the loss back (syncs with the device); otherwise step() returns undefined. */
  readonly readLoss?: boolean;
}

/** One compiled graph and its session. */

export function fail(detail: string): never {
  throw new AmpcError('E0609', detail);
}

export function checkOptions<M extends Module>(o: TrainerOptions<M>): void {
  if (!o || typeof o !== 'object') fail('Trainer.create: expects an options object { model, loss, inputs, optimizer }');
  if (!o.model || typeof (o.model as { forward?: unknown }).forward !== 'function') fail('Trainer.create: `model` must be an nn.Module');
  if (typeof o.loss !== 'function') fail('Trainer.create: `loss` must be a function (model, ...inputs) => loss');
  if (!Array.isArray(o.inputs) || o.inputs.length === 0) fail('Trainer.create: `inputs` must be a non-empty list of input specs, e.g. [f32([64, 784]), i32([64])]');
  if (!o.optimizer || typeof o.optimizer !== 'object') fail("Trainer.create: `optimizer` must be an optimizer spec, e.g. { kind: 'adam', lr: 1e-3 }");
  checkLr(o.optimizer.lr, 'Trainer.create: optimizer.lr');
  if (o.seed !== undefined && !(Number.isSafeInteger(o.seed) && o.seed >= 0)) fail(`Trainer.create: seed must be a non-negative integer, got ${JSON.stringify(o.seed)}`);
  if (o.fusion !== undefined && typeof o.fusion !== 'boolean') fail(`Trainer.create: fusion must be true or false, got ${JSON.stringify(o.fusion)}`);
  if (o.precision !== undefined && o.precision !== 'f32' && o.precision !== 'amp') fail(`Trainer.create: precision must be 'f32' or 'amp', got ${JSON.stringify(o.precision)}`);
  try {
    resolveLossScale(o.lossScale, o.precision ?? 'f32');
  } catch (e) {
    if (e instanceof AmpcError) fail(`Trainer.create: ${e.detail}`);
    throw e;
  }
  if (o.ampOptions !== undefined && (typeof o.ampOptions !== 'object' || o.ampOptions === null)) fail('Trainer.create: ampOptions must be an object of precision options');
  try {
    checkReport(o.report);
  } catch (e) {
    if (e instanceof AmpcError) fail(`Trainer.create: ${e.detail}`);
    throw e;
  }
  if (o.metrics !== undefined) resolveMetrics(o.metrics);
  if (o.castPrologues !== undefined && typeof o.castPrologues !== 'boolean' && o.castPrologues !== 'params') fail(`Trainer.create: castPrologues must be true, false or 'params', got ${JSON.stringify(o.castPrologues)}`);
  if (o.f16Mode !== undefined && o.f16Mode !== 'native' && o.f16Mode !== 'storage' && o.f16Mode !== 'packed') fail(`Trainer.create: f16Mode must be 'native', 'storage' or 'packed', got ${JSON.stringify(o.f16Mode)}`);
}

export function checkLr(lr: unknown, what: string): asserts lr is number {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) fail(`${what} must be a finite non-negative number, got ${JSON.stringify(lr)}`);
}

/** JSON with sorted keys, for cache keys. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
