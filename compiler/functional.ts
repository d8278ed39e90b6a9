// Functional transforms, as JAX has them: `grad(fn, argnums)`,
// `valueAndGrad(fn, argnums)` and `jit(fn, options)` over functions of
// tensors written with the tracing API.
//
//   const loss = (w: Tensor, x: Tensor, y: Tensor) => mseLoss(matmul(x, w), y);
//   const step = jit(valueAndGrad(loss), { precision: 'amp' });
//   const [value, dw] = await step(w, x, y);          // HostTensors in, HostTensors out
//
// A call traces `fn` for the dtypes and shapes of its arguments (the
// arguments `argnums` names become `{param}` inputs), differentiates the
// first output with autodiff (grad, valueAndGrad), runs the amp pipeline
// first under `precision: 'amp'`, and compiles through the one compile path
// (compileGraph: fusion, lowering, memory plan). The compiled program is
// cached per argument signature, so later calls with the same dtypes and
// shapes only upload, run and read back. `grad(fn)` without `jit` runs the
// same way with default options; `jit(grad(fn), opts)` gives it options.
// Errors point at the user's line (the traced ops carry it).

import type { DType } from '../ir/dtype.ts';
import { AmpcError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interp/interpret.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { callerLoc } from '../ir/trace/loc.ts';
import type { InputSpec } from '../ir/trace/spec.ts';
import type { Tensor } from '../ir/trace/tensor.ts';
import { trace } from '../ir/trace/trace.ts';
import type { TraceOutput } from '../ir/trace/trace.ts';
import { numel, shapesEqual } from '../ir/types.ts';
import { gradientGraph } from '../passes/autodiff.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import { acquireDevice } from '../runtime/device.ts';
import type { GpuContext } from '../runtime/device.ts';
import { decodeTensor, encodeTensor } from '../runtime/host-data.ts';
import { Session } from '../runtime/session.ts';
import { compileGraph } from './compile.ts';

export type TracedFn = (...args: Tensor[]) => TraceOutput;

export interface JitOptions {
  /** 'f32' (default) or 'amp': the traced graph goes through the amp pipeline before it is differentiated and compiled. */
  readonly precision?: 'f32' | 'amp';
  /** 'gpu' (default: the device, acquired once) or 'reference' (the f64 reference interpreter). */
  readonly backend?: 'gpu' | 'reference';
  /** The device to run on (default: one acquired on first use). */
  readonly device?: GpuContext;
  /** Fuse kernels (default true). */
  readonly fusion?: boolean;
}

type Mode = 'value' | 'grad' | 'valueAndGrad';

/** What a transformed function computes; `jit` reads it to give the same computation options. */
interface Transform {
  readonly fn: TracedFn;
  readonly mode: Mode;
  readonly argnums: readonly number[];
  /** Whether the caller gave one argnum (a tensor back) or a list (a list back). */
  readonly single: boolean;
}

const TRANSFORM = Symbol('ampc.transform');

export type Result = HostTensor | HostTensor[] | [HostTensor | HostTensor[], HostTensor | HostTensor[]];

/** A transformed function: call it with HostTensors; it resolves to what its mode returns. */
export interface Transformed {
  (...args: HostTensor[]): Promise<Result>;
  readonly [TRANSFORM]: Transform;
  /** Signatures compiled so far (dtype and shape of every argument). */
  readonly compiledSignatures: readonly string[];
  /** Frees the compiled programs' device buffers. */
  destroy(): void;
}

function checkFn(what: string, fn: unknown): asserts fn is TracedFn | Transformed {
  if (typeof fn !== 'function') throw new AmpcError('E0609', `${what}: expects a function of tensors, got ${typeof fn}`, callerLoc());
}

function normArgnums(what: string, argnums: number | readonly number[]): { list: number[]; single: boolean } {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  if (list.length === 0 || list.some((a) => !Number.isInteger(a) || a < 0) || new Set(list).size !== list.length) {
    throw new AmpcError('E0609', `${what}: argnums must be an argument index or a list of distinct ones, got ${JSON.stringify(argnums)}`, callerLoc());
  }
  return { list, single: typeof argnums === 'number' };
}

/** The gradient of `fn`'s first output (a scalar) with respect to the arguments `argnums` (default 0). */
export function grad(fn: TracedFn, argnums: number | readonly number[] = 0): Transformed {
  checkFn('grad', fn);
  const { list, single } = normArgnums('grad', argnums);
  return make({ fn, mode: 'grad', argnums: list, single }, {});
}

/** `[value, gradient]`: `fn`'s first output and its gradient with respect to the arguments `argnums` (default 0). */
export function valueAndGrad(fn: TracedFn, argnums: number | readonly number[] = 0): Transformed {
  checkFn('valueAndGrad', fn);
  const { list, single } = normArgnums('valueAndGrad', argnums);
  return make({ fn, mode: 'valueAndGrad', argnums: list, single }, {});
}

/** `fn` (a traced function, or grad / valueAndGrad of one) compiled once per argument signature, with `options`. */
export function jit(fn: TracedFn | Transformed, options: JitOptions = {}): Transformed {
  checkFn('jit', fn);
  const t = (fn as Partial<Transformed>)[TRANSFORM] ?? { fn: fn as TracedFn, mode: 'value' as const, argnums: [], single: true };
  return make(t, options);
}

interface Compiled {
  readonly graph: Graph;
  readonly session?: Session;
}

function make(t: Transform, opts: JitOptions): Transformed {
  const cache = new Map<string, Promise<Compiled>>();
  let device: Promise<GpuContext> | undefined;
  const call = async (...args: HostTensor[]): Promise<Result> => {
    args.forEach((a, i) => {
      if (!a || typeof a !== 'object' || typeof a.dtype !== 'string' || !Array.isArray(a.shape) || !a.data) {
        throw new AmpcError('E0603', `argument ${i}: expected a HostTensor ({ dtype, shape, data }), got ${typeof a}`);
      }
    });
    for (const a of t.argnums) {
      if (a >= args.length) throw new AmpcError('E0609', `argnums names argument ${a}, but the call has ${args.length} argument(s)`);
    }
    const key = args.map((a) => `${a.dtype}[${a.shape.join(',')}]`).join(', ');
    let entry = cache.get(key);
    if (!entry) {
      entry = build(t, opts, args, async () => (device ??= opts.device ? Promise.resolve(opts.device) : acquireDevice()));
      cache.set(key, entry);
      entry.catch(() => cache.delete(key));
    }
    const c = await entry;
    const outs = await execute(c, args, opts);
    return shape(t, outs, c.graph);
  };
  Object.defineProperty(call, 'compiledSignatures', { get: () => [...cache.keys()], enumerable: true });
  return Object.assign(call, {
    [TRANSFORM]: t,
    destroy() {
      for (const e of cache.values()) void e.then((c) => c.session?.destroy(), () => {});
      cache.clear();
    },
  }) as unknown as Transformed;
}

/** Traces, transforms and compiles `t` for the signature of `args`. */
async function build(t: Transform, opts: JitOptions, args: readonly HostTensor[], gpu: () => Promise<GpuContext>): Promise<Compiled> {
  const specs: InputSpec[] = args.map((a, i) => ({ dtype: a.dtype as DType, shape: [...a.shape], ...(t.argnums.includes(i) ? { param: true } : {}) }));
  let g = trace(t.fn, specs);
  if (opts.precision === 'amp') g = runPipeline(g, pipelineByName('amp'), { options: {} });
  if (t.mode !== 'value') {
    const wrt = t.argnums.map((i) => g.inputs[i]!.name!);
    g = gradientGraph(g, { output: 0, wrt });
    // Keep the value (the first output) and the gradients.
    g.setOutputs([g.outputs[0]!, ...g.outputs.slice(g.outputs.length - wrt.length)]);
  }
  if (opts.backend === 'reference') return { graph: g };
  const ctx = await gpu();
  const plan = compileGraph(g, ctx, { fusion: opts.fusion ?? true }).plan;
  return { graph: g, session: await Session.create(ctx, plan) };
}

async function execute(c: Compiled, args: readonly HostTensor[], opts: JitOptions): Promise<HostTensor[]> {
  const g = c.graph;
  g.inputs.forEach((v, i) => {
    const a = args[i]!;
    if (a.dtype !== v.type.dtype || !shapesEqual(a.shape, v.type.shape)) throw new Error(`jit: argument ${i} does not match its compiled signature`);
  });
  if (opts.backend === 'reference' || !c.session) {
    return interpret(g, Object.fromEntries(g.inputs.map((v, i) => [v.name!, args[i]!])));
  }
  const s = c.session;
  g.inputs.forEach((v, i) => s.write(v.name!, encodeTensor(v.type.dtype, args[i]!.data)));
  s.run();
  const bytes = await s.readOutputs();
  return g.outputs.map((v, i) => ({ dtype: v.type.dtype, shape: [...v.type.shape], data: decodeTensor(v.type.dtype, bytes[i]!, numel(v.type.shape)) }));
}

function shape(t: Transform, outs: HostTensor[], g: Graph): Result {
  if (t.mode === 'value') return outs.length === 1 && g.outputs.length === 1 ? outs[0]! : outs;
  const grads = outs.slice(1);
  const gr = t.single ? grads[0]! : grads;
  return t.mode === 'grad' ? gr : [outs[0]!, gr];
}
