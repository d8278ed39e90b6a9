// GraphModule: an IR graph (an imported ONNX model, a parsed .ir file) as an
// nn.Module, so the Trainer fine-tunes it like a traced model, under AMP with
// dynamic loss scaling as well. Each graph input that has a value becomes
// state named as the input: a `{param}` input a trainable Parameter, any
// other (integer tables, non-splat constants the importer made inputs) a
// Buffer; both start from their values (Init `values`), not from the seed.
// The inputs without a value are forward's arguments, in graph order, of
// exactly the graph's types (an imported graph has fixed shapes: import it
// with the batch size it trains at, `dims: { batch: 32 }`). forward replays
// the graph's nodes into the trace being recorded, keeping each node's place
// (the ONNX node, for an import) and note, and returns its output;
// `outputs(...)` returns all of them, for a graph with several. The state is
// named by the graph (dots included), so it is not registered as the
// module's own: namedParameters() is empty, `parameterNames` lists it, and
// the Trainer reports it under those names. The graph runs the same in
// training and eval mode (an ONNX export is an inference graph: its
// BatchNormalization uses the running statistics, its Dropout is identity).
//
//   const r = importOnnx(bytes, { dims: { batch: 32 } });
//   const model = new GraphModule(r.graph, r.values);
//   const trainer = await Trainer.create({
//     model, loss: (m, x, y) => crossEntropy(m.forward(x), y),
//     inputs: [...model.inputSpecs, i32([32])], optimizer: { kind: 'adam', lr: 1e-3 }, precision: 'amp',
//   });
//   const tuned = await trainer.parameters(); // keyed by the graph's input names, as r.values

import type { HostTensor } from '../../ir/dtype.ts';
import { AmpcError } from '../../ir/errors.ts';
import type { Loc } from '../../ir/errors.ts';
import type { Graph, Value } from '../../ir/graph.ts';
import { requireContext } from '../../ir/trace/context.ts';
import { callerLoc, markEntry } from '../../ir/trace/loc.ts';
import { Module } from '../../ir/trace/nn/module.ts';
import type { InputSpec } from '../../ir/trace/spec.ts';
import { Buffer, Parameter, valuesInit } from '../../ir/trace/state.ts';
import type { StateTensor } from '../../ir/trace/state.ts';
import { Tensor } from '../../ir/trace/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel, typesEqual, typeToString } from '../../ir/types.ts';

export class GraphModule extends Module {
  /** The graph forward replays (not copied: leave it unchanged while the module is in use). */
  readonly graph: Graph;
  /** Graph inputs that are forward's arguments, in order. */
  readonly #args: readonly Value[];
  /** State of each graph input that has a value. */
  readonly #state = new Map<Value, StateTensor>();

  /**
   * `values` holds the graph inputs' values by input name (importOnnx's
   * `values`); every `{param}` input needs one, and every name must be an
   * input of the graph of the value's dtype and shape (E0603 otherwise).
   */
  constructor(graph: Graph, values: Readonly<Record<string, HostTensor>> = {}) {
    super();
    const loc = callerLoc();
    if (!graph || !Array.isArray(graph.inputs) || !Array.isArray(graph.nodes)) throw new AmpcError('E0501', 'GraphModule: the first argument must be an IR Graph', loc);
    const where = `GraphModule(@${graph.name})`;
    const byName = new Map(graph.inputs.map((v) => [v.name!, v] as const));
    for (const name of Object.keys(values)) {
      if (!byName.has(name)) throw new AmpcError('E0603', `${where}: '${name}' has a value but is not an input of the graph`, loc);
    }
    const args: Value[] = [];
    for (const v of graph.inputs) {
      const name = v.name!;
      const t = Object.hasOwn(values, name) ? values[name] : undefined;
      if (t === undefined) {
        if (v.isParam) throw new AmpcError('E0603', `${where}: parameter %${name} has no value (pass it in values, keyed by input name)`, loc);
        args.push(v);
        continue;
      }
      if (t.dtype !== v.type.dtype || t.shape.length !== v.type.shape.length || t.shape.some((d, i) => d !== v.type.shape[i]) || t.data.length !== numel(v.type.shape)) {
        throw new AmpcError('E0603', `${where}: the value of %${name} is ${t.dtype}[${t.shape.join(',')}] (${t.data.length} values), the input is ${typeToString(v.type)}`, loc);
      }
      const opts = { name, dtype: v.type.dtype };
      const s = v.isParam ? new Parameter(v.type.shape, valuesInit(t.data), opts) : new Buffer(v.type.shape, valuesInit(t.data), opts);
      this.#state.set(v, s);
    }
    if (graph.nodes.some((n) => n.body !== undefined)) throw new AmpcError('E0501', `${where}: the graph has fused nodes; give the graph from before fusion`, loc);
    this.graph = graph;
    this.#args = args;
  }

  /** Types of forward's arguments (spread into the Trainer's `inputs`). */
  get inputSpecs(): InputSpec[] {
    return this.#args.map((v) => ({ dtype: v.type.dtype, shape: [...v.type.shape], name: v.name! }));
  }

  /** Names of the trainable parameters (the `{param}` inputs), in graph order. */
  get parameterNames(): string[] {
    return [...this.#state.values()].filter((s) => s.kind === 'param').map((s) => s.explicitName!);
  }

  /** The graph's output for the arguments, recorded into the current trace (E0501 when it has several: use outputs()). */
  forward(...xs: Tensor[]): Tensor {
    markEntry(GraphModule.prototype.forward);
    const loc = callerLoc();
    if (this.graph.outputs.length !== 1) {
      throw new AmpcError('E0501', `GraphModule(@${this.graph.name}).forward: the graph has ${this.graph.outputs.length} outputs; call outputs(...) for the list`, loc);
    }
    return this.#replay(xs, 'forward', loc)[0]!;
  }

  /** All the graph's outputs for the arguments, in return order, recorded into the current trace. */
  outputs(...xs: Tensor[]): Tensor[] {
    markEntry(GraphModule.prototype.outputs);
    return this.#replay(xs, 'outputs', callerLoc());
  }

  #replay(xs: readonly Tensor[], method: string, loc: Loc): Tensor[] {
    const ctx = requireContext('GraphModule.forward', loc);
    const where = `GraphModule(@${this.graph.name}).${method}`;
    if (xs.length !== this.#args.length) {
      throw new AmpcError('E0603', `${where}: expects ${this.#args.length} input(s) (${this.#args.map((v) => `%${v.name}: ${typeToString(v.type)}`).join(', ')}), got ${xs.length}`, loc);
    }
    const map = new Map<Value, Value>();
    this.#args.forEach((v, i) => {
      const x = xs[i];
      if (!(x instanceof Tensor)) throw new AmpcError('E0501', `${where}: input ${i} must be a traced Tensor`, loc);
      ctx.checkOwner(x.ctx, `${where}: input ${i}`, loc);
      if (!typesEqual(x.type, v.type)) throw new AmpcError('E0603', `${where}: input ${i} (%${v.name}) must be ${typeToString(v.type)} (the graph's shapes are fixed), got ${typeToString(x.type)}`, loc);
      map.set(v, x.value);
    });
    for (const [v, s] of this.#state) map.set(v, ctx.readState(s, loc));
    for (const n of this.graph.nodes) {
      const declared: TensorType[] = n.results.map((r) => r.type);
      const copy = ctx.emit(n.op, n.operands.map((v) => map.get(v)!), n.attrs, n.loc ?? loc, declared);
      if (n.note !== undefined) copy.note = n.note;
      n.results.forEach((r, i) => {
        const c = copy.results[i]!;
        // Keep the graph's names where they are free in this trace (dumps read like the model's).
        if (r.name !== undefined && !/^\d+$/.test(r.name) && !ctx.names.has(r.name)) {
          c.name = r.name;
          ctx.names.add(r.name);
        }
        map.set(r, c);
      });
    }
    return this.graph.outputs.map((v) => new Tensor(map.get(v)!, ctx));
  }
}
