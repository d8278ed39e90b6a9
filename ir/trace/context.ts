// The trace context: the graph being recorded and the bookkeeping of one trace
// (state tensors turned into inputs, buffer updates, names in use). Active
// contexts form a stack so traces nest; `trace` pushes and pops in a
// try/finally, so an exception leaves no stale context behind. A context is
// closed when its trace ends, and tensors of a closed (or another) trace are
// rejected with a clear error.

import type { AttrValue } from '../attrs.ts';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';
import type { Graph, Node, Value } from '../graph.ts';
import type { OpName } from '../ops.ts';
import type { TensorType } from '../types.ts';
import { markEntry } from './loc.ts';
import type { Buffer, StateOwner, StateTensor } from './state.ts';

const stack: TraceContext[] = [];

export class TraceContext {
  /** False once the trace has ended. */
  open = true;
  /** Graph input of each state tensor used so far (first-use order). */
  readonly stateInputs = new Map<StateTensor, Value>();
  /** Current value of each state tensor: its input, or the last update. */
  readonly stateCurrent = new Map<StateTensor, Value>();
  /** Buffers given a new value, in first-update order. */
  readonly updates = new Map<Buffer, Value>();
  /** Names of graph inputs and named results. */
  readonly names = new Set<string>();
  /** Scope paths entered (innermost last); nodes record the innermost. */
  readonly scopes: string[] = [];

  constructor(
    readonly graph: Graph,
    /** The module whose state names are relative to it (traceModule's model). */
    readonly root: StateOwner | undefined,
  ) {}

  /** Checks that a value made in some trace may be used here and now. */
  checkOwner(ctx: TraceContext, what: string, loc: Loc | undefined): void {
    if (ctx === this) return;
    if (!ctx.open) {
      throw new AmpcError('E0501', `${what} is a tensor of a trace that has ended (@${ctx.graph.name}); traced tensors are only valid inside their trace`, loc);
    }
    throw new AmpcError('E0501', `${what} is a tensor of another trace (@${ctx.graph.name}, this one is @${this.graph.name}); pass it in as an input instead`, loc);
  }

  /** Records one op. Errors from the op table come out placed at `loc`. */
  emit(
    op: OpName,
    operands: readonly Value[],
    attrs: Readonly<Record<string, AttrValue | undefined>>,
    loc: Loc | undefined,
    declared?: readonly TensorType[],
  ): Node {
    const scope = this.scopes[this.scopes.length - 1];
    return this.graph.addNode(op, operands, attrs, { loc, ...(declared ? { declared } : {}), ...(scope !== undefined ? { scope } : {}) });
  }

  /** Runs `body` with `path` as the innermost scope. */
  inScope<T>(path: string, body: () => T): T {
    markEntry(TraceContext.prototype.inScope);
    this.scopes.push(path);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  /** The innermost scope path, if any. */
  get scope(): string | undefined {
    return this.scopes[this.scopes.length - 1];
  }

  /** The value of a state tensor in this trace; the first use adds the graph input. */
  readState(s: StateTensor, loc: Loc | undefined): Value {
    const cur = this.stateCurrent.get(s);
    if (cur) return cur;
    const name = s.path(this.root);
    if (name === undefined) {
      throw new AmpcError('E0501', `a ${s.kind === 'param' ? 'parameter' : 'buffer'} without a name is used; create it with Module.param()/Module.buffer() or pass { name }`, loc);
    }
    if (this.names.has(name)) {
      throw new AmpcError('E0501', `two different state tensors are both named '${name}'; register their modules under distinct names`, loc);
    }
    const v = this.graph.addInput(name, s.type, { param: s.kind === 'param', loc });
    this.names.add(name);
    this.stateInputs.set(s, v);
    this.stateCurrent.set(s, v);
    return v;
  }

  /** Gives a buffer a new value; it leaves the graph as an extra output. */
  writeBuffer(b: Buffer, v: Value, loc: Loc | undefined): void {
    this.readState(b, loc);
    if (v.type.dtype !== b.type.dtype || v.type.shape.length !== b.type.shape.length || v.type.shape.some((d, i) => d !== b.type.shape[i])) {
      throw new AmpcError('E0201', `buffer '${b.path(this.root)}' is ${b.type.dtype}[${b.type.shape.join(',')}], the new value is ${v.type.dtype}[${v.type.shape.join(',')}]`, loc);
    }
    this.stateCurrent.set(b, v);
    this.updates.set(b, v);
  }
}

/** The innermost active trace, or undefined outside any trace. */
export function currentContext(): TraceContext | undefined {
  return stack[stack.length - 1];
}

/** The innermost active trace; an error outside any trace. */
export function requireContext(what: string, loc: Loc | undefined): TraceContext {
  const ctx = currentContext();
  if (!ctx) throw new AmpcError('E0501', `${what} is only available while tracing (inside trace() or traceModule())`, loc);
  return ctx;
}

/** Runs `body` with `ctx` active; always closes the context and pops it. */
export function withContext<T>(ctx: TraceContext, body: () => T): T {
  stack.push(ctx);
  try {
    return body();
  } finally {
    ctx.open = false;
    const i = stack.lastIndexOf(ctx);
    if (i >= 0) stack.splice(i);
  }
}

/** Number of active traces (for tests). */
export function traceDepth(): number {
  return stack.length;
}
