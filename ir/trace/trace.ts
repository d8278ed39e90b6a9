// Entry points: `trace(fn, inputSpecs)` runs a TS function on symbolic
// tensors and returns the recorded Graph; `traceModule(model, inputSpecs)`
// does the same for an nn.Module and also reports its parameters, buffers and
// the extra outputs that carry updated buffers (BatchNorm running statistics
// in training mode). Graph inputs come in this order: the traced arguments,
// then parameters and buffers in order of first use. Outputs: the function's
// outputs (a tensor, a list, or a record whose keys name the result values),
// then one per updated buffer.

import { isDType } from '../dtype.ts';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';
import { Graph } from '../graph.ts';
import type { Value } from '../graph.ts';
import type { TensorType } from '../types.ts';
import { verifyGraph } from '../verify.ts';
import { TraceContext, withContext } from './context.ts';
import { withModuleScopes } from './scopes.ts';
import { callerLoc } from './loc.ts';
import { checkShape } from './spec.ts';
import type { InputSpec } from './spec.ts';
import type { Init, StateOwner } from './state.ts';
import { StateTensor } from './state.ts';
import { Tensor } from './tensor.ts';
import type { TensorLike } from './build.ts';

/** What a traced function may return. */
export type TraceOutput = TensorLike | readonly TensorLike[] | { readonly [name: string]: TensorLike };

export interface TraceOptions {
  /** Graph name; default: the function's name (or the model's class name), else `main`. */
  readonly name?: string;
  /** Verify the graph after tracing (default true). */
  readonly verify?: boolean;
}

export interface ParamSpec {
  /** state_dict-style name, also the graph input's name: `fc1.weight`. */
  readonly name: string;
  readonly type: TensorType;
  readonly init: Init;
  readonly inputIndex: number;
}

export type BufferSpec = ParamSpec;

export interface StateUpdate {
  /** The buffer's name (its graph input). */
  readonly name: string;
  /** Index among the graph outputs of its value after the step. */
  readonly outputIndex: number;
}

export interface TraceResult {
  readonly graph: Graph;
  /** Names of the function's outputs (record keys), undefined for positional ones. */
  readonly outputNames: readonly (string | undefined)[];
  /** Module parameters that became `{param}` inputs, in input order. */
  readonly params: readonly ParamSpec[];
  /** Module buffers that became inputs, in input order. */
  readonly buffers: readonly BufferSpec[];
  /** Updated buffers, appended as outputs after the function's own. */
  readonly stateUpdates: readonly StateUpdate[];
}

/** The subset of nn.Module that tracing needs. */
export interface Traceable extends StateOwner {
  // Any parameters, as nn.Module's: a forward may take options after its tensors (nn.MultiheadAttention).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forward(...inputs: any[]): unknown;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const VALUE_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/**
 * Parameter names of a function from its source, if they are all plain
 * identifiers (no destructuring, defaults or rest); else undefined.
 */
export function parameterNames(fn: Function): string[] | undefined {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  src = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '').trim();
  const arrow = /^(?:async\s+)?([A-Za-z_$][A-Za-z0-9_$]*)\s*=>/.exec(src);
  if (arrow) return [arrow[1]!];
  const open = src.indexOf('(');
  const close = src.indexOf(')', open);
  if (open < 0 || close < 0) return undefined;
  const inner = src.slice(open + 1, close).trim();
  if (inner === '') return [];
  const names = inner.split(',').map((s) => s.trim());
  if (names.at(-1) === '') names.pop(); // trailing comma
  return names.every((n) => IDENT.test(n)) ? names : undefined;
}

function graphName(candidate: string | undefined): string {
  return candidate && /^[A-Za-z_][A-Za-z0-9_]*$/.test(candidate) ? candidate : 'main';
}

function checkSpec(spec: InputSpec, i: number, loc: Loc): void {
  if (!spec || typeof spec !== 'object' || typeof spec.dtype !== 'string' || !isDType(spec.dtype)) {
    throw new AmpcError('E0006', `trace: input ${i} needs a spec such as f32([64, 784]), got ${JSON.stringify(spec)}`, loc);
  }
  checkShape(`trace: input ${i}`, spec.shape, loc);
}

/** Flattens what the function returned into tensors (and their names). */
function collectOutputs(out: unknown, ctx: TraceContext, loc: Loc): { values: Value[]; names: (string | undefined)[] } {
  const values: Value[] = [];
  const names: (string | undefined)[] = [];
  const take = (t: unknown, name: string | undefined, where: string) => {
    if (t instanceof StateTensor) t = new Tensor(ctx.readState(t, loc), ctx);
    if (!(t instanceof Tensor)) {
      const what = t === undefined ? 'undefined' : t === null ? 'null' : typeof t === 'object' ? `a ${(t as object).constructor?.name ?? 'object'}` : typeof t;
      throw new AmpcError('E0501', `trace: ${where} must be a traced tensor, got ${what}`, loc);
    }
    if (t.ctx !== ctx) throw new AmpcError('E0501', `trace: ${where} is a tensor of another trace (@${t.ctx.graph.name})`, loc);
    values.push(t.value);
    names.push(name);
  };
  if (out instanceof Promise) throw new AmpcError('E0501', 'trace: the traced function must be synchronous (it returned a Promise)', loc);
  if (out instanceof Tensor) take(out, undefined, 'the result');
  else if (out instanceof StateTensor) take(out, undefined, 'the result');
  else if (Array.isArray(out)) out.forEach((t, i) => take(t, undefined, `output ${i}`));
  else if (out && typeof out === 'object' && Object.getPrototypeOf(out) === Object.prototype) {
    for (const [k, t] of Object.entries(out)) take(t, k, `output '${k}'`);
  } else take(out, undefined, 'the result');
  if (values.length === 0) throw new AmpcError('E0501', 'trace: the traced function returned no tensors', loc);
  return { values, names };
}

function run(
  fn: (...inputs: Tensor[]) => unknown,
  argNames: readonly string[] | undefined,
  specs: readonly InputSpec[],
  name: string,
  root: StateOwner | undefined,
  opts: TraceOptions,
  loc: Loc,
): TraceResult {
  if (!Array.isArray(specs)) throw new AmpcError('E0501', 'trace: input specs must be a list, e.g. [f32([64, 784])]', loc);
  specs.forEach((s, i) => checkSpec(s, i, loc));
  if (argNames !== undefined && argNames.length !== specs.length) {
    const args = argNames.length === 0 ? 'no arguments' : `${argNames.length} argument${argNames.length > 1 ? 's' : ''} (${argNames.join(', ')})`;
    throw new AmpcError('E0501', `trace: the function takes ${args}, but ${specs.length} input spec${specs.length === 1 ? ' was' : 's were'} given`, loc);
  }
  const graph = new Graph(name, loc);
  const ctx = new TraceContext(graph, root);
  return withContext(ctx, () => {
    const inputs = specs.map((s, i) => {
      const inName = s.name ?? argNames?.[i] ?? `arg${i}`;
      if (ctx.names.has(inName)) throw new AmpcError('E0005', `trace: two inputs are named '${inName}'`, loc);
      ctx.names.add(inName);
      return new Tensor(graph.addInput(inName, s, { param: s.param, loc }), ctx);
    });
    const { values, names } = collectOutputs(fn(...inputs), ctx, loc);

    // Record keys name the result values they return (when free and printable).
    const userOutputs = new Set<Value>();
    values.forEach((v, i) => {
      const k = names[i];
      if (k !== undefined && v.def && v.name === undefined && VALUE_NAME.test(k) && !/^\d+$/.test(k) && !ctx.names.has(k) && !userOutputs.has(v)) {
        v.name = k;
        ctx.names.add(k);
      }
      userOutputs.add(v);
    });

    const stateUpdates: StateUpdate[] = [];
    const outputs = [...values];
    for (const [buffer, v] of ctx.updates) {
      stateUpdates.push({ name: ctx.stateInputs.get(buffer)!.name!, outputIndex: outputs.length });
      outputs.push(v);
    }
    graph.setOutputs(outputs);

    const params: ParamSpec[] = [];
    const buffers: BufferSpec[] = [];
    for (const [s, input] of ctx.stateInputs) {
      const spec = { name: input.name!, type: s.type, init: s.init, inputIndex: graph.inputs.indexOf(input) };
      (s.kind === 'param' ? params : buffers).push(spec);
    }
    if (opts.verify !== false) verifyGraph(graph);
    return { graph, outputNames: names, params, buffers, stateUpdates };
  });
}

/**
 * Traces `fn` on symbolic inputs of the given specs into a Graph.
 *
 *   const g = trace((x, w) => x.matmul(w).relu(), [f32([64, 784]), f32([784, 256], { param: true })]);
 */
export function trace(fn: (...inputs: Tensor[]) => TraceOutput, inputSpecs: readonly InputSpec[], opts: TraceOptions = {}): Graph {
  const loc = callerLoc();
  if (typeof fn !== 'function') throw new AmpcError('E0501', 'trace: the first argument must be a function', loc);
  return run(fn, parameterNames(fn), inputSpecs, graphName(opts.name ?? fn.name), undefined, opts, loc).graph;
}

/** Like `trace`, but also returns the parameter and buffer specs and state updates. */
export function traceWithState(fn: (...inputs: Tensor[]) => TraceOutput, inputSpecs: readonly InputSpec[], opts: TraceOptions = {}): TraceResult {
  const loc = callerLoc();
  if (typeof fn !== 'function') throw new AmpcError('E0501', 'traceWithState: the first argument must be a function', loc);
  return run(fn, parameterNames(fn), inputSpecs, graphName(opts.name ?? fn.name), undefined, opts, loc);
}

export interface TraceModuleOptions<M> extends TraceOptions {
  /**
   * What to trace instead of `model.forward(...inputs)`, e.g. a loss:
   * `(m, x, labels) => crossEntropy(m.forward(x), labels)`.
   */
  readonly call?: (model: M, ...inputs: Tensor[]) => TraceOutput;
}

/**
 * Traces a module. State names are relative to `model` (`fc1.weight`);
 * buffers updated in training mode come out as extra outputs.
 */
export function traceModule<M extends Traceable>(model: M, inputSpecs: readonly InputSpec[], opts: TraceModuleOptions<M> = {}): TraceResult {
  const loc = callerLoc();
  if (!model || typeof model.forward !== 'function') throw new AmpcError('E0501', 'traceModule: the first argument must be a module', loc);
  const call = opts.call;
  const fn = call ? (...xs: Tensor[]) => call(model, ...xs) : (...xs: Tensor[]) => model.forward(...xs);
  const names = call ? parameterNames(call)?.slice(1) : parameterNames(model.forward);
  return withModuleScopes(model, () => run(fn, names, inputSpecs, graphName(opts.name ?? model.constructor.name), model, opts, loc));
}
