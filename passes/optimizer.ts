// Optimizers in the IR, and the stages of the train step the train-step
// passes run (passes/train-step.ts: loss-scaling, autodiff, optimizer):
// `trainStepGraph(loss, opt)` turns a loss graph into
// ONE graph that computes the loss, its gradients (passes/autodiff.ts) and the
// optimizer's update of every float `{param}`, with the optimizer state as
// graph inputs and the updated params and state as graph outputs. The
// returned `updates` list tells the runtime which output to copy into which
// input after each step (compiler/lower.ts turns it into buffer copies that
// run in the same command buffer as the step), so nothing but the batch goes
// through the host between steps.
//
// Numerics follow PyTorch (torch.optim, foreach=False, dampening 0), in f32:
//   SGD:   g += wd·p; buf = momentum·buf + g (buf = g on the first step);
//          g = nesterov ? g + momentum·buf : buf; p -= lr·g
//   Adam:  g += wd·p; m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; t = step+1;
//          p -= lr·(m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
//   AdamW: p -= lr·wd·p (decoupled), then Adam without wd in g.
// Clipping (`clipGradValue`, `clipGradNorm` in the spec, passes/clip.ts)
// acts on the unscaled gradients before the update, as torch's
// clip_grad_value_ / clip_grad_norm_ after scaler.unscale_.
// A `schedule` in the spec (passes/schedule.ts) multiplies the rate by a
// factor computed in the graph from the step counter.
// The learning rate is the input `opt.lr` (f32[]) so a schedule needs no
// recompilation; `opt.step` (f32[], exact up to 2^24 steps) counts steps.
//
// Inputs of the train step: the loss graph's inputs (same names, order and
// {param} marks), then the loss-scale state, then the optimizer state (per
// param: `sgd.momentum.<p>`, or `adam.m.<p>` and `adam.v.<p>`; then
// `opt.step`), then `opt.lr`. Outputs: the loss graph's outputs at unchanged
// indices (the loss first, named `loss` if it had no name), then `new.<p>`
// per param, then `new.<state>` per optimizer state input (`new.opt.step`
// last), then the new loss-scale state, then (when loss scaling guards them)
// the guarded extra updates `new.<input>`.
//
// Mixed precision (`opts.precision: 'amp'`, as torch.amp): the loss graph
// first goes through the `amp` pipeline (precision + cast-cleanup), so params
// stay f32 master weights, cast to f16 once per step where allow ops use
// them; differentiating that graph gives f16 backward matmuls (accumulating
// in f32, the forward's `acc`) and, through the casts' vjps, f32 gradients of
// the f32 params, which are asserted before the optimizer (all f32) runs.
// Loss scaling (`opts.lossScale`, passes/loss-scaling.ts; dynamic by default
// under amp, off under f32) differentiates `loss * scale` instead of the
// loss, unscales and checks the gradients in one `unscale_check`
// (`%unscaled.grad.<p>`, `%grads.finite`), and keeps every updated input
// unchanged on a non-finite step; the loss output stays unscaled. Its state
// inputs (`amp.scale`, `amp.good_steps`, `amp.skipped`) come right after the
// loss graph's inputs, and their `new.*` outputs after the optimizer state's.

import { isFloat } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import { cloneGraph } from '../ir/graph.ts';
import { nameValues } from '../ir/text/printer.ts';
import type { Graph, Value } from '../ir/graph.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { full, scalar } from '../ir/interp/tensor.ts';
import type { TensorType } from '../ir/types.ts';
import { tensorType, typesEqual, typeToString } from '../ir/types.ts';
import { gradientGraph } from './autodiff.ts';
import { guardUpdate, lossScaleState, resolveLossScale, scaleLoss, unscaleAndCheck, updateLossScale } from './loss-scaling.ts';
import type { LossScaleSpec, LossScaling } from './loss-scaling.ts';
import type { PassOptions } from './pass.ts';
import type { StateInput } from './update-builder.ts';
import { UpdateBuilder } from './update-builder.ts';
import { clipGradients, globalNorm } from './clip.ts';
import type { Clipped } from './clip.ts';
import { ACCUM_COUNT_INPUT, ACCUM_SKIP_INPUT, accumulateGradients } from './accumulate.ts';
import { resolveSchedule, scheduleFactorOps } from './schedule.ts';
import type { LrSchedule } from './schedule.ts';
import type { ClipSpec } from './clip.ts';

export type { StateInput } from './update-builder.ts';

/** Gradient clipping (passes/clip.ts), on the unscaled gradients: by value, then by global norm; a learning-rate schedule (passes/schedule.ts). */
export interface ClipOptions {
  clipGradValue?: number;
  clipGradNorm?: number;
  schedule?: LrSchedule;
  /** Gradient accumulation: update once every this many steps (micro-batches), with their mean gradient. */
  accumulate?: number;
}

export type OptimizerSpec =
  | ({ kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean } & ClipOptions)
  | ({ kind: 'adam' | 'adamw'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number } & ClipOptions);

/**
 * Extra outputs of the train step, appended after every other output, for
 * inspection (each costs a stored tensor, so they exist only when asked):
 * `gradNorm` the global L2 norm of the unscaled gradients the update uses
 * (after value clipping, before norm clipping: what torch's clip_grad_norm_
 * returns; the mean over the micro-batches with accumulation), output
 * `report.grad.norm`; `gradients` those gradients themselves, one output
 * `report.grad.<p>` per float param in param order. On a skipped step they
 * are not finite; with accumulation they are complete on the last micro-step.
 */
export interface StepReport {
  readonly gradNorm?: boolean;
  readonly gradients?: boolean;
}

export interface TrainStepGraph {
  /** Inputs: the loss graph's inputs, then the optimizer state inputs, then `opt.lr` (f32[]). */
  graph: Graph;
  /** Output index of the loss (0). */
  loss: number;
  /** After each step the runtime copies output `output` into input `input`. */
  updates: { output: number; input: string }[];
  /** State inputs with their initial values: the loss-scale state, then the optimizer's (`opt.step` last). */
  state: StateInput[];
  /** The loss scaling the step does. */
  lossScaling: LossScaling;
  /** Output indices of the reported values (StepReport), when asked for. */
  reported: { gradNorm?: number; gradients?: { param: string; output: number }[] };
}

/** Name of the learning-rate input (f32[]). */
export const LR_INPUT = 'opt.lr';
/** Name of the step-counter input (f32[]): the number of steps taken. */
export const STEP_INPUT = 'opt.step';

const F32_SCALAR = tensorType('f32', []);

function badOption(detail: string): never {
  throw new AmpcError('E0609', `optimizer: ${detail}`);
}

function checkNumber(what: string, v: unknown, ok: (x: number) => boolean, range: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) badOption(`${what} must be a finite number ${range}, got ${JSON.stringify(v)}`);
  return v;
}

/** The spec with defaults filled in, checked (E0609), as PyTorch checks it. */
export function resolve(opt: OptimizerSpec) {
  if (!opt || typeof opt !== 'object') badOption(`expected an optimizer spec such as { kind: 'adam', lr: 1e-3 }, got ${JSON.stringify(opt)}`);
  checkNumber('lr', opt.lr, (x) => x >= 0, '>= 0');
  const clip: ClipSpec = {
    ...(opt.clipGradValue !== undefined ? { value: checkNumber('clipGradValue', opt.clipGradValue, (x) => x > 0, '> 0') } : {}),
    ...(opt.clipGradNorm !== undefined ? { norm: checkNumber('clipGradNorm', opt.clipGradNorm, (x) => x > 0, '> 0') } : {}),
  };
  const schedule = opt.schedule !== undefined ? resolveSchedule(opt.schedule) : undefined;
  const accumulate = opt.accumulate ?? 1;
  if (typeof accumulate !== 'number' || !Number.isSafeInteger(accumulate) || accumulate < 1 || accumulate > 2 ** 24) {
    badOption(`accumulate must be a whole number of steps in [1, 2^24], got ${JSON.stringify(opt.accumulate)}`);
  }
  if (opt.kind === 'sgd') {
    const momentum = checkNumber('momentum', opt.momentum ?? 0, (x) => x >= 0, '>= 0');
    const weightDecay = checkNumber('weightDecay', opt.weightDecay ?? 0, (x) => x >= 0, '>= 0');
    const nesterov = opt.nesterov ?? false;
    if (typeof nesterov !== 'boolean') badOption(`nesterov must be true or false, got ${JSON.stringify(nesterov)}`);
    if (nesterov && momentum === 0) badOption('nesterov momentum requires a momentum > 0');
    return { kind: 'sgd' as const, momentum, weightDecay, nesterov, clip, schedule, accumulate };
  }
  if (opt.kind === 'adam' || opt.kind === 'adamw') {
    const beta1 = checkNumber('beta1', opt.beta1 ?? 0.9, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const beta2 = checkNumber('beta2', opt.beta2 ?? 0.999, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const eps = checkNumber('eps', opt.eps ?? 1e-8, (x) => x >= 0, '>= 0');
    const weightDecay = checkNumber('weightDecay', opt.weightDecay ?? (opt.kind === 'adamw' ? 0.01 : 0), (x) => x >= 0, '>= 0');
    return { kind: opt.kind, beta1, beta2, eps, weightDecay, clip, schedule, accumulate };
  }
  return badOption(`unknown optimizer kind ${JSON.stringify((opt as { kind?: unknown }).kind)} (known: sgd, adam, adamw)`);
}

function checkExtraUpdates(loss: Graph, extra: readonly { output: number; input: string }[], optimized: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const u of extra) {
    if (!Number.isInteger(u.output) || u.output < 0 || u.output >= loss.outputs.length) {
      throw new AmpcError('E0603', `train step: extra update names output ${u.output}, but @${loss.name} has ${loss.outputs.length} output(s)`, loss.loc);
    }
    const input = loss.inputs.find((v) => v.name === u.input);
    if (!input) throw new AmpcError('E0603', `train step: extra update of %${u.input}: @${loss.name} has no such input`, loss.loc);
    if (optimized.has(u.input)) throw new AmpcError('E0603', `train step: extra update of %${u.input}: it is a param the optimizer updates`, loss.loc);
    if (seen.has(u.input)) throw new AmpcError('E0603', `train step: %${u.input} is updated twice`, loss.loc);
    seen.add(u.input);
    const out = loss.outputs[u.output]!;
    if (!typesEqual(out.type, input.type)) {
      throw new AmpcError('E0603', `train step: output ${u.output} (${typeToString(out.type)}) cannot update %${u.input} (${typeToString(input.type)})`, loss.loc);
    }
  }
}

export interface TrainStepOptions {
  /** Further in-place updates by output index of the loss graph (e.g. BatchNorm running statistics). */
  extraUpdates?: { output: number; input: string }[];
  /** 'f32' (default) or 'amp': the loss graph goes through the amp pipeline before differentiation. */
  precision?: 'f32' | 'amp';
  /** Options of the amp pipeline (precision overrides, see passes/precision/policy.ts). */
  ampOptions?: PassOptions;
  /** Under amp: the loss graph already went through the amp pipeline (as in `train-amp`); do not run it again. */
  ampApplied?: boolean;
  /**
   * Loss scaling (passes/loss-scaling.ts): 'dynamic' (the default under amp),
   * 'off' (the default under f32), a static scale, or dynamic with options.
   */
  lossScale?: LossScaleSpec;
  /** Extra outputs for inspection: the gradients' global norm, the gradients (StepReport). */
  report?: StepReport;
}

/** The report spec checked (E0609): an object of booleans. */
export function checkReport(r: unknown): StepReport {
  const bad = (detail: string): never => {
    throw new AmpcError('E0609', `report${detail}`);
  };
  if (r === undefined) return {};
  if (!r || typeof r !== 'object' || Array.isArray(r)) bad(` must be an object such as { gradNorm: true, gradients: true }, got ${JSON.stringify(r)}`);
  for (const [k, v] of Object.entries(r as object)) {
    if (k !== 'gradNorm' && k !== 'gradients') bad(`: unknown key '${k}' (known: gradNorm, gradients)`);
    if (typeof v !== 'boolean') bad(`.${k} must be true or false, got ${JSON.stringify(v)}`);
  }
  return r as StepReport;
}

export function checkStepOptions(opts: TrainStepOptions): { precision: 'f32' | 'amp'; lossScaling: LossScaling } {
  const precision = opts.precision ?? 'f32';
  if (precision !== 'f32' && precision !== 'amp') badOption(`precision must be 'f32' or 'amp', got ${JSON.stringify(precision)}`);
  return { precision, lossScaling: resolveLossScale(opts.lossScale, precision) };
}

/** The settings of the train-step passes from the pass context (checked: E0609). */
export function stepSettings(options: PassOptions, precision: 'f32' | 'amp'): { opt: OptimizerSpec; precision: 'f32' | 'amp'; lossScaling: LossScaling; extraUpdates: readonly { output: number; input: string }[]; report: StepReport } {
  const opt = options.optimizer ?? DEFAULT_OPTIMIZER;
  resolve(opt);
  const { lossScaling } = checkStepOptions({ precision, ...(options.lossScale !== undefined ? { lossScale: options.lossScale } : {}) });
  return { opt, precision, lossScaling, extraUpdates: options.extraUpdates ?? [], report: checkReport(options.report) };
}

export const DEFAULT_OPTIMIZER: OptimizerSpec = { kind: 'adam', lr: 1e-3 };

/**
 * Stage 1 (pass `loss-scaling`): checks the loss graph (its first output a
 * scalar float loss, f32 params under amp, the extra updates) and appends
 * the loss-scale state inputs and `%scaled.loss` (unchanged when scaling is off).
 */
export function lossScalingStage(lossGraph: Graph, precision: 'f32' | 'amp', ls: LossScaling, extra: readonly { output: number; input: string }[]): Graph {
  const params = lossGraph.params.filter((v) => isFloat(v.type.dtype));
  checkExtraUpdates(lossGraph, extra, new Set(params.map((p) => p.name!)));
  if (precision === 'amp') {
    const low = params.find((p) => p.type.dtype !== 'f32');
    if (low) badOption(`amp training keeps f32 master weights, but param %${low.name} is ${typeToString(low.type)}; declare params f32`);
  }
  const loss = lossGraph.outputs[0];
  if (!loss || loss.type.shape.length !== 0 || !isFloat(loss.type.dtype)) {
    // The printed name (%1 for an unnamed value), as dumps show it.
    const what = loss ? `%${nameValues(lossGraph).get(loss) ?? '?'}: ${typeToString(loss.type)}` : 'none';
    throw new AmpcError('E0405', `train step: the first output of @${lossGraph.name} (${what}) is not a scalar float loss; reduce it first, e.g. with reduce_sum or a loss op`, loss?.def?.loc ?? lossGraph.loc);
  }
  return scaleLoss(lossGraph, ls).graph;
}

/** Whether the last output of a graph is the scaled loss of the loss-scaling stage. */
function hasScaledLoss(g: Graph): boolean {
  const last = g.outputs[g.outputs.length - 1];
  return g.outputs.length > 1 && last?.name === 'scaled.loss' && last.def?.op === 'mul';
}

/**
 * Stage 2 (pass `autodiff` of the train step): the gradients of the scaled
 * loss (or of the loss, without scaling) with respect to every float param,
 * appended as outputs `%grad.<p>` in param order; the scaled loss is no
 * longer an output. The graph is named `<loss graph>_step`.
 */
export function gradientsStage(g: Graph): Graph {
  const scaled = hasScaledLoss(g);
  const out = gradientGraph(g, { output: scaled ? g.outputs.length - 1 : 0 });
  out.name = `${g.name}_step`;
  const n = g.outputs.length;
  out.setOutputs([...out.outputs.slice(0, scaled ? n - 1 : n), ...out.outputs.slice(n)]);
  return out;
}

/**
 * Stage 3 (pass `optimizer`): unscale and check the gradients (the last
 * outputs, one per float param), the optimizer's update of every param and
 * its state, the guards and the loss-scale update, as described above.
 * Inputs: the optimizer state and `opt.lr` are appended; outputs: the
 * gradients are replaced by the `new.<input>` values.
 */
export function optimizerStage(
  input: Graph, opt: OptimizerSpec, precision: 'f32' | 'amp', ls: LossScaling, extra: readonly { output: number; input: string }[], report: StepReport = {},
): Graph {
  const o = resolve(opt);
  const g = cloneGraph(input);
  const pv = g.params.filter((v) => isFloat(v.type.dtype));
  const nOut = g.outputs.length - pv.length;
  const grads = g.outputs.slice(nOut);
  g.setOutputs(g.outputs.slice(0, nOut));
  const lsInputs = lossScaleState(ls).map((s) => g.inputs.find((v) => v.name === s.name)!);
  if (precision === 'amp') {
    grads.forEach((d, i) => {
      if (d.type.dtype !== 'f32') throw new Error(`trainStepGraph: under amp the gradient %${d.name} of f32 param %${pv[i]!.name} is ${typeToString(d.type)}; the optimizer needs f32 gradients`);
    });
  }

  // State inputs: per param its buffers, then the step counter; then the learning rate.
  const addState = (name: string, type: TensorType): Value => g.addInput(name, type);
  const bufs = pv.map((p) => {
    const t = tensorType('f32', p.type.shape);
    if (o.kind === 'sgd') return o.momentum > 0 ? [addState(`sgd.momentum.${p.name}`, t)] : [];
    return [addState(`adam.m.${p.name}`, t), addState(`adam.v.${p.name}`, t)];
  });
  const step = addState(STEP_INPUT, F32_SCALAR);
  // Accumulation state (passes/accumulate.ts): the sums of the unscaled gradients, the micro-steps taken, a non-finite one seen.
  const accState = o.accumulate > 1 ? {
    sums: pv.map((p) => addState(`accum.${p.name}`, tensorType('f32', p.type.shape))),
    count: addState(ACCUM_COUNT_INPUT, F32_SCALAR),
    skip: ls.mode !== 'off' ? addState(ACCUM_SKIP_INPUT, F32_SCALAR) : undefined,
  } : undefined;
  const baseLr = g.addInput(LR_INPUT, F32_SCALAR);

  const b = new UpdateBuilder(g);
  b.nameIfUnnamed(g.outputs[0]!, 'loss');
  const newStep = b.add(step, b.c(1)); // also t, the 1-based step of Adam's bias corrections
  /** The rate this step uses: `opt.lr`, times the schedule's factor at the 0-based step. */
  const scheduled = o.schedule && !(o.schedule.kind === 'constant' && o.schedule.warmup === 0) ? o.schedule : undefined;
  const lr = scheduled ? b.named(b.mul(baseLr, scheduleFactorOps(b, scheduled, step)), 'lr.scheduled') : baseLr;
  const newParams: Value[] = [];
  const newState: Value[] = [];
  const checked = unscaleAndCheck(b, ls, lsInputs, grads.map((d) => b.toF32(d)));
  const acc = accState ? accumulateGradients(b, o.accumulate, accState, checked.grads, checked.finite) : undefined;
  const clipped = clipGradients(b, acc ? acc.mean : checked.grads, o.clip);
  /** The gradient of param i in f32, unscaled (averaged over the micro-batches, clipped, when asked). */
  const grad = (i: number): Value => clipped.grads[i]!;
  /** When the update applies: the finite flag under loss scaling; with accumulation, only on the last micro-step (and only if every micro-batch was finite). */
  const applies = acc ? acc.apply : checked.finite;
  /** Output `new.<input>` of an updated input: guarded by `applies`. */
  const update = (candidate: Value, old: Value): Value => guardUpdate(b, applies, candidate, old, `new.${old.name}`);

  if (o.kind === 'sgd') {
    const first = o.momentum > 0 ? b.op('equal', [step, b.c(0)]) : undefined;
    pv.forEach((p0, i) => {
      const p = b.toF32(p0);
      let d = grad(i);
      if (o.weightDecay !== 0) d = b.add(d, b.scale(o.weightDecay, p));
      if (first) {
        const buf = b.op('select', [first, d, b.add(b.scale(o.momentum, bufs[i]![0]!), d)]);
        d = o.nesterov ? b.add(d, b.scale(o.momentum, buf)) : buf;
        newState.push(update(buf, bufs[i]![0]!));
      }
      newParams.push(update(b.sub(p, b.mul(lr, d)), p0));
    });
  } else {
    const bc1 = b.sub(b.c(1), b.op('pow', [b.c(o.beta1), newStep]));
    const bc2 = b.sub(b.c(1), b.op('pow', [b.c(o.beta2), newStep]));
    const decoupled = o.kind === 'adamw' && o.weightDecay !== 0 ? b.mul(lr, b.c(o.weightDecay)) : undefined;
    pv.forEach((p0, i) => {
      let p = b.toF32(p0);
      let d = grad(i);
      if (o.kind === 'adam' && o.weightDecay !== 0) d = b.add(d, b.scale(o.weightDecay, p));
      if (decoupled) p = b.sub(p, b.mul(decoupled, p));
      const [m0, v0] = bufs[i] as [Value, Value];
      const m = b.add(b.scale(o.beta1, m0), b.scale(1 - o.beta1, d));
      const v = b.add(b.scale(o.beta2, v0), b.scale(1 - o.beta2, b.mul(d, d)));
      const mhat = b.div(m, bc1);
      const vhat = b.div(v, bc2);
      const denom = b.add(b.op('sqrt', [vhat]), b.c(o.eps));
      newParams.push(update(b.sub(p, b.div(b.mul(lr, mhat), denom)), p0));
      newState.push(update(m, m0), update(v, v0));
    });
  }
  newState.push(update(newStep, step));
  if (acc) newState.push(...acc.newState);

  // Loss scaling: the scale state moves (with accumulation only on the last micro-step, from every micro-batch's
  // finiteness: the scale is fixed across the micro-batches of one update); extra updates (computed by the
  // forward) keep their old values on a skipped micro-step too.
  const newScaleState = updateLossScale(b, ls, acc ? acc.finiteAll : checked.finite, lsInputs, acc?.commit);
  const guardedExtra = checked.finite ? extra.map((u) => guardUpdate(b, checked.finite, g.outputs[u.output]!, g.inputs.find((v) => v.name === u.input)!, `new.${u.input}`)) : [];
  g.setOutputs([...g.outputs, ...newParams, ...newState, ...newScaleState, ...guardedExtra, ...reportOutputs(b, pv, clipped, report)]);
  return g;
}


/** The StepReport outputs: `report.grad.norm`, then `report.grad.<p>` per param (see StepReport). */
function reportOutputs(b: UpdateBuilder, params: readonly Value[], clipped: Clipped, report: StepReport): Value[] {
  const out: Value[] = [];
  if (report.gradNorm) out.push(b.named(clipped.norm ?? globalNorm(b, clipped.beforeNorm), 'report.grad.norm'));
  if (report.gradients) out.push(...clipped.beforeNorm.map((d, i) => b.named(d, `report.grad.${params[i]!.name}`)));
  return out;
}

/** The output indices of the StepReport outputs of a train step graph (its last outputs). */
export function reportedOutputs(step: Graph, params: readonly string[], report: StepReport): TrainStepGraph['reported'] {
  let next = step.outputs.length - (report.gradNorm ? 1 : 0) - (report.gradients ? params.length : 0);
  const out: TrainStepGraph['reported'] = {};
  if (report.gradNorm) out.gradNorm = next++;
  if (report.gradients) out.gradients = params.map((param) => ({ param, output: next++ }));
  return out;
}

/** The learning rate as the value of input `opt.lr`. */
export function lrTensor(lr: number): HostTensor {
  return scalar('f32', lr);
}

/** Initial values of the step's own inputs: every state input at its init value, `opt.lr` = `opt.lr`. */
export function initialInputs(step: TrainStepGraph, opt: OptimizerSpec | { readonly lr: number }): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const s of step.state) out[s.name] = full(s.type.dtype, s.type.shape, s.init);
  out[LR_INPUT] = lrTensor(opt.lr);
  return out;
}

/**
 * The inputs of the next step on the host (the reference interpreter's way
 * of doing what the runtime does in place): `inputs` with every update's
 * output written into its input.
 */
export function nextInputs(
  step: TrainStepGraph,
  inputs: Readonly<Record<string, HostTensor>>,
  outputs: readonly HostTensor[],
): Record<string, HostTensor> {
  const next: Record<string, HostTensor> = { ...inputs };
  for (const u of step.updates) next[u.input] = outputs[u.output]!;
  return next;
}
