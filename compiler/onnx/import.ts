// ONNX → ampc IR. `importOnnx(bytes)` decodes a ModelProto and builds one IR
// graph: graph inputs become inputs, float initializers become `{param}`
// inputs (integer ones plain inputs) whose values come back in `values`, and
// each node is mapped by the op table (ops/index.ts) at its domain's opset
// (the default domain, and ai.onnx.preview.training's optimizers).
// A node whose inputs are all known at import time is evaluated there when
// its mapping can fold it (integer shape arithmetic, data movement), so Shape
// → Gather → Concat → Reshape chains leave no trace in the IR. Every IR node
// carries the ONNX node as its place (`model.onnx:N:1: node 'name' (Op)`, N
// the node's position) and a note `onnx Op 'name'` that the printed IR keeps.
// An op, attribute or type the IR cannot express exactly is E0901.
// Subgraphs (If branches, Scan and Loop bodies) are imported inline by the
// same node loop (`Importer.inline`): their inputs bound to entries, names
// they do not define looked up in the enclosing graphs, their nodes placed at
// the enclosing node (`node 'if1' (If) then_branch: node 'add' (Add)`).

import type { DType, HostTensor } from '../../ir/dtype.ts';
import { AmpcError } from '../../ir/errors.ts';
import type { Loc } from '../../ir/errors.ts';
import { Graph, Module } from '../../ir/graph.ts';
import type { Value } from '../../ir/graph.ts';
import type { Entry, ImportHost, Scope } from './context.ts';
import { irDtype, NodeCtx } from './context.ts';
import { isSplat } from './fold.ts';
import { ONNX_DOMAIN_OPS, ONNX_OPS } from './ops/index.ts';
import type { ConstTensor, GraphProto, ModelProto, NodeProto, ValueInfoProto } from './proto.ts';
import { decodeModel, decodeTensorProto, elemType, tensorValues, toNumber } from './proto.ts';

export interface ImportOptions {
  /** The model's file name, used in places (default `model.onnx`). */
  file?: string;
  /** Name of the IR graph (default: the ONNX graph's name, sanitized). */
  graphName?: string;
  /**
   * Values for graph inputs, keyed by ONNX name, that are folded in at import
   * (like TVM's freeze_params): shape data a model takes as an input.
   */
  constants?: Readonly<Record<string, ConstTensor>>;
  /** Extents for symbolic dimensions (`dim_param`), by name. */
  dims?: Readonly<Record<string, number>>;
}

export interface ImportResult {
  module: Module;
  graph: Graph;
  /** Values of the inputs that initializers and constants became (params first use order), keyed by IR input name. */
  values: Record<string, HostTensor>;
  /** The IR input name of each ONNX graph input (names are sanitized to the IR's `[A-Za-z0-9_.]`). */
  inputNames: Record<string, string>;
  /** The ONNX names of the graph outputs, in return order. */
  outputNames: string[];
  /** The opset of the default domain. */
  opset: number;
}

/** A name the IR prints as written: letters, digits, `_`, `.`, not all digits. */
export function sanitizeName(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_.]/g, '_');
  if (s === '' || /^\d+$/.test(s)) s = `v${s}`;
  return s;
}

class Importer implements ImportHost {
  readonly g: Graph;
  readonly values: Record<string, HostTensor> = {};
  readonly used = new Set<string>();
  /** IR values already made for constants, and the initializer names of initializer tensors. */
  readonly made = new Map<ConstTensor, Value>();
  readonly initializers = new Map<ConstTensor, string>();
  readonly bodyInits = new WeakMap<object, ConstTensor>();

  constructor(name: string, readonly file: string, readonly model: ModelProto, readonly opset: number) {
    this.g = new Graph(name, { file, line: 1, col: 1 });
  }

  /**
   * Maps `nodes` in order, each by the op table at its domain's opset, their
   * inputs looked up in `env` and then in `outer` (a subgraph's outer-scope
   * references), their outputs added to `env`. Values are named after their
   * ONNX outputs in the top graph only (a subgraph unrolled repeats its names).
   */
  runNodes(nodes: readonly NodeProto[], env: Map<string, Entry>, outer: Scope | undefined, locOf: (node: NodeProto, i: number) => Loc): void {
    const scope: Scope = { lookup: (n) => env.get(n) ?? outer?.lookup(n) };
    nodes.forEach((node, i) => {
      const op = node.opType ?? '';
      const loc = locOf(node, i);
      const domain = node.domain && node.domain !== 'ai.onnx' ? node.domain : '';
      const table = domain === '' ? ONNX_OPS : Object.hasOwn(ONNX_DOMAIN_OPS, domain) ? ONNX_DOMAIN_OPS[domain] : undefined;
      if (!table) {
        const known = ['the default ONNX domain', ...Object.keys(ONNX_DOMAIN_OPS)].join(', ');
        throw new AmpcError('E0901', `${op}: ops of domain '${domain}' are not supported (only ${known})`, loc);
      }
      const nodeOpset = domain === '' ? this.opset : opsetOf(this.model, domain);
      const mapping = Object.hasOwn(table, op) ? table[op] : undefined;
      if (!mapping) throw new AmpcError('E0901', `${op} (${domain === '' ? '' : `${domain} `}opset ${nodeOpset}): this op is not supported`, loc);
      const ins = (node.input ?? []).map((n) => {
        if (n === '') return undefined;
        const e = scope.lookup(n);
        if (!e) throw new AmpcError('E0902', `${op}: input '${n}' is not defined before this node`, loc);
        return e;
      });
      const c = new NodeCtx(this, node, op, nodeOpset, ins, loc, scope);
      let outs: Entry[] | undefined;
      try {
        if (mapping.fold && ins.every((e) => e === undefined || e.kind === 'const')) {
          const folded = mapping.fold(c, ins.map((e) => (e?.kind === 'const' ? e.t : undefined)));
          if (folded) outs = folded.map((t) => ({ kind: 'const', t }));
        }
        if (!outs) {
          c.used.clear();
          outs = mapping.map(c);
        }
        c.checkAllAttrsRead();
      } catch (e) {
        throw e instanceof AmpcError ? e.at(loc) : e;
      }
      (node.output ?? []).forEach((name, k) => {
        if (name === '') return;
        const out = outs![k];
        if (!out) throw new AmpcError('E0901', `${op} (opset ${nodeOpset}): output ${k} ('${name}') is not supported`, loc);
        if (!outer && out.kind === 'value' && out.v.name === undefined && out.v.def?.loc === loc) out.v.name = sanitizeName(name);
        env.set(name, out);
      });
    });
  }

  inline(body: GraphProto, inputs: readonly Entry[], outer: Scope, where: string, loc: Loc): Entry[] {
    const env = new Map<string, Entry>();
    const formal = body.input ?? [];
    const bodyName = body.name || 'subgraph';
    for (const init of body.initializer ?? []) {
      const name = init.name ?? '';
      // One ConstTensor per initializer, so a body unrolled N times materializes it once.
      let t = this.bodyInits.get(init);
      if (!t) this.bodyInits.set(init, (t = tensorValues(init, `${where}: initializer '${name}'`)));
      env.set(name, { kind: 'const', t });
    }
    if ((body.sparseInitializer ?? []).length > 0) throw new AmpcError('E0901', `${where}: ${bodyName} has a sparse initializer; they are not supported`, loc);
    if (formal.length !== inputs.length) {
      throw new AmpcError('E0902', `${where}: ${bodyName} takes ${formal.length} input(s), the op gives it ${inputs.length}`, loc);
    }
    formal.forEach((vi, k) => env.set(vi.name ?? '', inputs[k]!));
    this.runNodes(body.node ?? [], env, outer, (node, i) => ({
      file: loc.file, line: loc.line, col: loc.col,
      node: `${where}: node '${node.name || `#${i + 1}`}' (${node.opType ?? ''})`,
    }));
    return (body.output ?? []).map((vi) => {
      const name = vi.name ?? '';
      const e = env.get(name) ?? outer.lookup(name);
      if (!e) throw new AmpcError('E0902', `${where}: ${bodyName} output '${name}' is not produced by any node`, loc);
      return e;
    });
  }

  uniqueName(hint: string): string {
    const base = sanitizeName(hint);
    let s = base;
    for (let k = 1; this.used.has(s); k++) s = `${base}_${k}`;
    this.used.add(s);
    return s;
  }

  materialize(e: Entry, hint: string, loc: Loc): Value {
    if (e.kind === 'value') return e.v;
    const t = e.t;
    const done = this.made.get(t);
    if (done) return done;
    const where = `constant '${hint}'`;
    const dtype = irDtype(t.type, where);
    const init = this.initializers.get(t);
    let v: Value;
    if (init === undefined && isSplat(t) && t.data.length > 0) {
      const x = t.data[0]!;
      checkFits(dtype, x, where, loc);
      v = this.g.addNode('constant', [], { value: x }, { loc, declared: [{ dtype, shape: t.shape }] }).results[0]!;
    } else {
      const name = this.uniqueName(init ?? hint);
      const isParam = init !== undefined && (dtype === 'f32' || dtype === 'f16');
      v = this.g.addInput(name, { dtype, shape: t.shape }, { param: isParam, loc });
      this.values[name] = hostOf(t, dtype, where, loc);
    }
    this.made.set(t, v);
    return v;
  }
}

function checkFits(dtype: DType, x: number, where: string, loc?: Loc): void {
  if (dtype === 'i32' && (x < -(2 ** 31) || x > 2 ** 31 - 1)) {
    throw new AmpcError('E0901', `${where}: value ${x} does not fit the IR's i32 (ONNX integers are held as i32)`, loc);
  }
  if (dtype === 'u32' && (x < 0 || x > 2 ** 32 - 1)) throw new AmpcError('E0901', `${where}: value ${x} does not fit u32`, loc);
}

/** A ConstTensor as the HostTensor of an IR dtype (integers range-checked). */
export function hostOf(t: ConstTensor, dtype: DType, where: string, loc?: Loc): HostTensor {
  const shape = [...t.shape];
  switch (dtype) {
    // Rounded to f32 by typed-array conversions, not Float64Array.from(data, Math.fround): that was half the import time of a large model.
    case 'f32': return { dtype, shape, data: new Float64Array(new Float32Array(t.data)) };
    case 'f16': return { dtype, shape, data: t.data.slice() };
    case 'bool': return { dtype, shape, data: Uint8Array.from(t.data, (x) => (x ? 1 : 0)) };
    case 'i32':
    case 'u32':
      for (const x of t.data) checkFits(dtype, x, where, loc);
      return { dtype, shape, data: dtype === 'i32' ? Int32Array.from(t.data) : Uint32Array.from(t.data) };
  }
}

/** A TensorProto file's tensor (a test's input_N.pb) as a HostTensor of its IR dtype. */
export function readOnnxTensor(bytes: Uint8Array, file = 'tensor.pb'): { name: string; tensor: HostTensor; values: ConstTensor } {
  const p = decodeTensorProto(bytes, file);
  const values = tensorValues(p, file);
  return { name: p.name ?? '', tensor: hostOf(values, irDtype(values.type, file), file), values };
}

function opsetOf(m: ModelProto, domain = ''): number {
  const imp = (m.opsetImport ?? []).find((o) => (domain === '' ? !o.domain || o.domain === 'ai.onnx' : o.domain === domain));
  return imp ? toNumber(imp.version) : 1;
}

function inputType(vi: ValueInfoProto, where: string, dims: Readonly<Record<string, number>>): { dtype: DType; shape: number[] } {
  const tt = vi.type?.tensorType;
  if (!tt) throw new AmpcError('E0901', `${where}: only tensor inputs are supported (sequences, maps and optionals are not)`);
  const dtype = irDtype(elemType(tt.elemType ?? 0, where), where);
  if (!tt.shape) throw new AmpcError('E0901', `${where}: the input has no shape; the IR needs static shapes`);
  const shape = (tt.shape.dim ?? []).map((d, i) => {
    if (d.dimValue !== null && d.dimValue !== undefined) return toNumber(d.dimValue);
    const sym = d.dimParam ?? '';
    if (sym && dims[sym] !== undefined) return dims[sym];
    throw new AmpcError('E0901', `${where}: dimension ${i} is symbolic ('${sym || '?'}'); the IR needs static shapes (give it a value: dims option)`);
  });
  return { dtype, shape };
}

/** Imports an ONNX model (the bytes of a .onnx file) as an IR module of one graph. */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): ImportResult {
  const file = opts.file ?? 'model.onnx';
  const model = decodeModel(bytes, file);
  const gp = model.graph!;
  const opset = opsetOf(model);
  const imp = new Importer(opts.graphName ?? sanitizeName(gp.name || 'main'), file, model, opset);
  const env = new Map<string, Entry>();

  for (const init of gp.initializer ?? []) {
    const name = init.name ?? '';
    const t = tensorValues(init, `${file}: initializer '${name}'`);
    imp.initializers.set(t, name);
    env.set(name, { kind: 'const', t });
  }
  for (const s of gp.sparseInitializer ?? []) {
    throw new AmpcError('E0901', `${file}: sparse initializer '${s.values?.name ?? ''}' is not supported`);
  }

  const inputNames: Record<string, string> = {};
  for (const vi of gp.input ?? []) {
    const name = vi.name ?? '';
    if (env.has(name)) continue; // IR version < 4 lists initializers among the inputs
    const given = opts.constants?.[name];
    if (given) {
      env.set(name, { kind: 'const', t: given });
      continue;
    }
    const where = `${file}: graph input '${name}'`;
    const { dtype, shape } = inputType(vi, where, opts.dims ?? {});
    const irName = imp.uniqueName(name);
    inputNames[name] = irName;
    env.set(name, { kind: 'value', v: imp.g.addInput(irName, { dtype, shape }, { loc: { file, line: 1, col: 1, node: `input '${name}'` } }) });
  }

  imp.runNodes(gp.node ?? [], env, undefined, (node, i) => ({ file, line: i + 1, col: 1, node: `node '${node.name || `#${i + 1}`}' (${node.opType ?? ''})` }));

  const outputNames: string[] = [];
  const outputs = (gp.output ?? []).map((vi) => {
    const name = vi.name ?? '';
    const e = env.get(name);
    if (!e) throw new AmpcError('E0902', `${file}: graph output '${name}' is not produced by any node`);
    outputNames.push(name);
    return imp.materialize(e, name, { file, line: 1, col: 1, node: `output '${name}'` });
  });
  imp.g.setOutputs(outputs);
  const module = new Module(file);
  module.add(imp.g);
  return { module, graph: imp.g, values: imp.values, inputNames, outputNames, opset };
}
