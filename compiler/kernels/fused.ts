// The fused kernel (ir/ops-fused.ts): one invocation evaluates the whole body
// of a `fused` node for some elements of its iteration shape, keeping every
// intermediate in registers, and stores each result. Body ops use the same
// WGSL as their unfused kernels (compiler/kernels/elementwise.ts), in the
// compute type of their dtype; an f16 intermediate is rounded to f16 exactly
// where the unfused graph would have stored it (native f16 arithmetic does so
// by itself; in packed mode, which computes f16 values in f32, the kernel
// rounds), so fused and unfused kernels agree.
//
// A body headed by a matmul or a reduction is that op's kernel with the
// body's elementwise ops as its epilogue, run on each finished value before
// it is stored (fusedMatmul, fusedReduce). A finite_check body is the check
// converting its cast operands as it loads them (fusedFiniteCheck).
//
// An elementwise body runs in the element loop of map kernels
// (compiler/kernels/map.ts: several elements per invocation, per adapter).
// Ops computed from the element's own index (random_uniform, iota) get the
// flat index of the fused shape, so they give the bits of their own kernels.

import type { DType } from '../../ir/dtype.ts';
import type { Node, Value } from '../../ir/graph.ts';
import { storeAs } from '../../ir/interp/tensor.ts';
import { numel } from '../../ir/types.ts';
import type { Shape } from '../../ir/types.ts';
import { broadcastIndex, coordsOf, sameLayout } from '../wgsl/indexing.ts';
import { computeType, declareBindings, literal, load, needsF16, roundF16Fn, store } from '../wgsl/storage.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import type { Binary, Unary } from './elementwise.ts';
import { BINARY_WGSL, convert, helpersFor, UNARY_WGSL } from './elementwise.ts';
import { geluGradFn } from './elementwise-grad.ts';
import { iotaAt, RANDOM_FN, RANDOM_WGSL, randomUniformAt } from './generate.ts';
import { elementLoop } from './map.ts';
import type { CheckedSource } from './loss-scaling.ts';
import { checkLaunches } from './loss-scaling.ts';
import type { OutputSite } from './matmul.ts';
import { matmulKernel, matmulMath } from './matmul.ts';
import { emitBatchNorm } from './batch-norm.ts';
import { reduceLaunches } from './reduce.ts';

/** Where a body node is evaluated: the flat index (a u32 expression) of the kernel's iteration shape. */
interface ElementAt {
  readonly flat: string;
  readonly shape: Shape;
}

/** The WGSL expression of one body node, given its operands' expressions; `fns` collects helper functions. */
function bodyExpr(n: Node, x: readonly string[], ctx: EmitContext, fns: Map<string, string>, at: ElementAt): string {
  const t = (v: Value) => computeType(v.type.dtype, ctx.mode);
  switch (n.op) {
    // Generated values come from the element's flat index (compiler/kernels/generate.ts).
    case 'random_uniform':
      fns.set(RANDOM_FN, RANDOM_WGSL);
      return randomUniformAt(n, x[0]!, at.flat, at.shape);
    case 'iota':
      return iotaAt(n, ctx, at.flat, at.shape);
    case 'constant': {
      const r = n.results[0]!;
      return literal(storeAs(r.type.dtype, n.attrs.value as number), t(r));
    }
    case 'cast':
      return convert(x[0]!, n.operands[0]!.type.dtype, n.results[0]!.type.dtype, ctx);
    case 'select':
      return `select(${x[2]}, ${x[1]}, ${x[0]})`;
    case 'gelu_grad': {
      const ct = t(n.operands[0]!);
      const approximate = n.attrs.approximate as string;
      const name = `gelu_${approximate === 'tanh' ? 'tanh' : 'erf'}_grad_${ct}`;
      if (!fns.has(name)) fns.set(name, geluGradFn(name, ct, approximate));
      return `${name}(${x[0]}, ${x[1]})`;
    }
    default:
      if (n.op in UNARY_WGSL) return UNARY_WGSL[n.op as Unary](x[0]!, t(n.operands[0]!), n);
      if (n.op in BINARY_WGSL) return BINARY_WGSL[n.op as Binary](x[0]!, x[1]!, t(n.operands[0]!));
      throw new Error(`fused: no WGSL for body op ${n.op}`);
  }
}

/**
 * A body op's f16 result inside the kernel. Packed mode emulates f16
 * arithmetic faithfully: every result is rounded where the unfused graph
 * would store it. Storage mode computes f16 ops in f32 with excess precision
 * (as fused kernels on GPUs without fast f16 do): values are rounded to f16
 * only where the kernel stores them and where the graph casts to f16 (a
 * cast is an explicit rounding, as in C's excess-precision rules), as
 * accurate as f16 arithmetic or more (test/f16-storage.test.ts) and, on
 * lavapipe, 2.4× faster on an f16 elementwise chain (see F16_ARITHMETIC in
 * compiler/compile.ts).
 */
function rounded(expr: string, dtype: DType, ctx: EmitContext, isCast = false): string {
  const round = dtype === 'f16' && (ctx.mode === 'packed' || (ctx.mode === 'storage' && isCast));
  return round ? `${roundF16Fn(ctx.mode)}(${expr})` : expr;
}

/** The statements evaluating the body's elementwise ops at flat index `idx`, after `preset` values (an anchor's result). */
/** Body ops that convert their cast operands as they load them. */
const LOADS_THROUGH_CASTS: ReadonlySet<string> = new Set(['matmul', 'reduce_sum', 'reduce_mean', 'reduce_max', 'batch_norm']);

/** A cast the body's head (matmul, reduction, batch_norm) converts as it loads (its prologue): not evaluated per output element, its source not bound for the epilogue. */
export function isPrologue(n: Node, body: NonNullable<Node['body']>): boolean {
  return n.op === 'cast' && body.nodes.some((m) => LOADS_THROUGH_CASTS.has(m.op) && m.operands.includes(n.results[0]!));
}

/** The value a head op loads for operand `v`: the cast's source for a prologue cast. */
function loadedSource(v: Value): Value {
  return v.def?.op === 'cast' ? v.def.operands[0]! : v;
}

function bodyLines(
  node: Node, ctx: EmitContext, idx: string, prefix: string,
  inputs: ReadonlyMap<Value, BoundBuffer>, preset: ReadonlyMap<Value, string>, fns: Map<string, string>,
): { lines: string[]; names: Map<Value, string> } {
  const body = node.body!;
  const shape = node.results[0]!.type.shape;
  const names = new Map<Value, string>(preset);
  const lines: string[] = [];
  const used = [...inputs.keys()];
  if (used.some((v) => !sameLayout(v.type.shape, shape))) lines.push(coordsOf(shape, idx, `${prefix}c`));
  body.inputs.forEach((v, k) => {
    const b = inputs.get(v);
    if (!b) return;
    names.set(v, `${prefix}x${k}`);
    const at = sameLayout(v.type.shape, shape) ? idx : broadcastIndex(v.type.shape, shape.length, `${prefix}c`);
    lines.push(`let ${prefix}x${k} = ${load(b.binding, at, ctx.mode)};`);
  });
  body.nodes.forEach((n, j) => {
    if (preset.has(n.results[0]!) || isPrologue(n, body)) return;
    const r = n.results[0]!;
    names.set(r, `${prefix}t${j}`);
    // An f16 iota holds its index as a cast does: rounded as a cast is (see `rounded`).
    const expr = bodyExpr(n, n.operands.map((v) => names.get(v)!), ctx, fns, { flat: idx, shape });
    lines.push(`let ${prefix}t${j} = ${rounded(expr, r.type.dtype, ctx, n.op === 'cast' || n.op === 'iota')};`);
  });
  return { lines, names };
}

function helpersOf(lines: readonly string[], fns: ReadonlyMap<string, string>): string {
  const text = [...lines, ...fns.values()].join('\n');
  return [...new Set([helpersFor(text, 'f32'), helpersFor(text, 'f16'), ...fns.values()])].filter((h) => h !== '').join('\n');
}

function bodyUsesF16(node: Node): boolean {
  const body = node.body!;
  return [...body.inputs, ...body.nodes.flatMap((n) => n.results)].some((v) => v.type.dtype === 'f16');
}

export function emitFused(node: Node, ctx: EmitContext): KernelLaunch[] {
  const body = node.body!;
  const check = body.nodes.find((n) => n.op === 'finite_check');
  if (check) return fusedFiniteCheck(node, check, ctx);
  const matmul = body.nodes.find((n) => n.op === 'matmul');
  if (matmul) return [fusedMatmul(node, matmul, ctx)];
  const reduce = body.nodes.find((n) => n.op === 'reduce_sum' || n.op === 'reduce_mean' || n.op === 'reduce_max');
  if (reduce) return fusedReduce(node, reduce, ctx);
  const norm = body.nodes.find((n) => n.op === 'batch_norm');
  if (norm) return fusedBatchNorm(node, norm, ctx);
  return [fusedMap(node, ctx)];
}

/**
 * An anchor's epilogue: its inputs (body inputs an op other than the anchor
 * and its prologue reads) and results, bound as `in<k>` / `out<k>`, and the
 * store hook: statements that take the anchor's finished value (already of
 * its dtype) at flat output index `idx`, evaluate the epilogue ops on it and
 * store every result. `fns` collects the helper functions the hook calls.
 */
function epilogue(node: Node, anchor: Node, ctx: EmitContext, firstOut: string) {
  const body = node.body!;
  const inputs = new Map<Value, BoundBuffer>();
  body.inputs.forEach((v, k) => {
    if (body.nodes.some((n) => n !== anchor && !isPrologue(n, body) && n.operands.includes(v))) inputs.set(v, readOf(ctx, node.operands[k]!, `in${k}`));
  });
  const outputs = node.results.map((r, k) => writeOf(ctx, r, k === 0 ? firstOut : `out${k}`));
  const fns = new Map<string, string>();
  const storeAt = (value: string, idx: string): string => {
    const { lines, names } = bodyLines(node, ctx, 'ei', 'e', inputs, new Map([[anchor.results[0]!, 'et']]), fns);
    const stores = body.outputs.map((v, k) => store(outputs[k]!.binding, 'ei', names.get(v)!, ctx.mode));
    return `{ let ei = ${idx}; let et = ${value};\n      ${[...lines, ...stores].join('\n      ')} }`;
  };
  // The hook's text (emitted once to probe it) tells which helpers the epilogue needs.
  const helpers = () => helpersOf([storeAt('x', '0u')], fns);
  return { inputs, outputs, storeAt, helpers };
}

/**
 * A finite_check whose cast operands are its prologue: each is read from its
 * source and converted as it loads, rounded as the cast rounds (the f16 copy
 * of a batch it checks is never stored).
 */
function fusedFiniteCheck(node: Node, check: Node, ctx: EmitContext): KernelLaunch[] {
  const body = node.body!;
  const operandOf = (v: Value) => node.operands[body.inputs.indexOf(v)]!;
  const [inv, ...checked] = check.operands as [Value, ...Value[]];
  const sources: CheckedSource[] = checked.map((v) => {
    const cast = v.def?.op === 'cast' ? v.def : undefined;
    const src = operandOf(cast ? cast.operands[0]! : v);
    const count = numel(v.type.shape);
    if (!cast) return { buffer: ctx.buffer(src), dtype: src.type.dtype, count };
    const from = src.type.dtype, to = v.type.dtype;
    const widen = (loaded: string) => {
      const x = rounded(convert(loaded, from, to, ctx), to, ctx, true);
      return computeType(to, ctx.mode) === 'f32' ? x : `f32(${x})`;
    };
    return { buffer: ctx.buffer(src), dtype: from, count, convert: widen };
  });
  return checkLaunches(nodeLabel(node, ctx), ctx, ctx.buffer(operandOf(inv)), sources, ctx.buffer(node.results[0]!));
}

/**
 * A reduction with an epilogue (e.g. a bias gradient and its cast to f32):
 * the reduction kernel (compiler/kernels/reduce.ts) whose row store
 * evaluates the epilogue on the finished value, rounded to the reduction's
 * dtype as storing it would.
 */
function fusedReduce(node: Node, anchor: Node, ctx: EmitContext): KernelLaunch[] {
  const body = node.body!;
  const { inputs, outputs, storeAt, helpers } = epilogue(node, anchor, ctx, 'y');
  const res = anchor.results[0]!;
  // A widening cast operand (the prologue) is read from its f16 source; the kernel converts it as it loads.
  return reduceLaunches(anchor, ctx, {
    label: nodeLabel(node, ctx),
    x: readOf(ctx, node.operands[body.inputs.indexOf(loadedSource(anchor.operands[0]!))]!, 'x'),
    output: outputs[0]!,
    extra: [...inputs.values(), ...outputs.slice(1)],
    storeRow: (value, row) => storeAt(rounded(value, res.type.dtype, ctx), row),
    helpers: helpers(),
  });
}

/**
 * batch_norm reading its widening cast operands (f16 storage) through: its
 * own kernels (compiler/kernels/batch-norm.ts, which load every operand as
 * the dtype of its buffer and compute in f32) on the cast's sources. The
 * results are the fused node's; one the graph no longer reads gets scratch.
 */
function fusedBatchNorm(node: Node, norm: Node, ctx: EmitContext): KernelLaunch[] {
  const body = node.body!;
  const outer = new Map<Value, Value>();
  body.inputs.forEach((v, k) => outer.set(v, node.operands[k]!));
  body.outputs.forEach((v, k) => outer.set(v, node.results[k]!));
  const operands = norm.operands.map((v) => outer.get(loadedSource(v))!);
  const scratch = new Map<Value, number>();
  const results = norm.results.map((r) => outer.get(r) ?? r);
  const inner: EmitContext = Object.create(ctx, {
    buffer: { value: (v: Value) => (outer.has(v) || node.operands.includes(v) || node.results.includes(v) ? ctx.buffer(v) : scratch.get(v) ?? scratch.set(v, ctx.scratch(v.type.dtype, numel(v.type.shape))).get(v)!) },
    nameOf: { value: (v: Value) => ctx.nameOf(v) },
  });
  const view = Object.create(norm, { operands: { value: operands }, results: { value: results } }) as Node;
  const launches = emitBatchNorm(view, inner);
  // Labels name the fused node's values.
  return launches.map((l) => ({ ...l, label: l.label.replace(nodeLabel(view, inner), nodeLabel(node, ctx)) }));
}

/** Elementwise only: a map kernel over the fused shape. */
function fusedMap(node: Node, ctx: EmitContext): KernelLaunch {
  const body = node.body!;
  const shape = node.results[0]!.type.shape;
  const count = numel(shape);
  const inputs = node.operands.map((v, k) => readOf(ctx, v, `in${k}`));
  const outputs = node.results.map((r, k) => writeOf(ctx, r, `out${k}`));
  const fns = new Map<string, string>();
  const { lines, names } = bodyLines(node, ctx, 'i', '', new Map(body.inputs.map((v, k) => [v, inputs[k]!])), new Map(), fns);
  body.outputs.forEach((v, k) => lines.push(store(outputs[k]!.binding, 'i', names.get(v)!, ctx.mode)));

  const all = [...inputs, ...outputs];
  const bindings = all.map((b) => b.binding);
  const usesF16 = needsF16(bindings, ctx.mode, bodyUsesF16(node));
  const loop = elementLoop(ctx, count, lines.join('\n'));
  const code = [
    usesF16 ? 'enable f16;' : '',
    declareBindings(bindings, ctx.mode),
    helpersOf(lines, fns),
    loop.main,
    '',
  ].filter((l) => l !== '').join('\n');
  return { label: nodeLabel(node, ctx), code, usesF16, bindings: all.map((b) => b.buffer), workgroups: loop.workgroups };
}

/**
 * A matmul with an epilogue: the matmul kernel (compiler/kernels/matmul.ts)
 * whose store hook takes the finished accumulator, rounds it to the matmul's
 * dtype as storing it would, evaluates the epilogue ops on it (reading their
 * other inputs at the output element) and stores every result.
 */
function fusedMatmul(node: Node, anchor: Node, ctx: EmitContext): KernelLaunch {
  const body = node.body!;
  const operandOf = (v: Value) => node.operands[body.inputs.indexOf(v)]!;
  const [av, bv] = anchor.operands as [Value, Value];
  const { inputs: epilogueInputs, outputs, storeAt, helpers } = epilogue(node, anchor, ctx, 'c');
  // A cast operand (the prologue) is read from its source and converted on load, rounded as the cast rounds.
  const source = (v: Value) => (v.def?.op === 'cast' ? v.def.operands[0]! : v);
  const a = readOf(ctx, operandOf(source(av)), 'a'), b = readOf(ctx, operandOf(source(bv)), 'b');
  const mm = anchor.results[0]!;
  const acc = anchor.attrs.acc as DType;
  const math = matmulMath(av.type.dtype, acc, ctx.mode);
  // A prologue converts the loaded source element as the cast does (rounding to f16 on the way), then to the math type.
  const convertAs = (v: Value) => (loaded: string): string => {
    const from = source(v).type.dtype, to = v.type.dtype;
    const x = rounded(convert(loaded, from, to, ctx), from === to ? 'f32' : to, ctx, true);
    const t = computeType(to, ctx.mode);
    return t === math.type ? x : `${math.type}(${x})`;
  };
  // The accumulator rounded to the matmul's dtype, as storing it would.
  const accAs = (x: string) => rounded(convert(x, math.type === 'f16' ? 'f16' : 'f32', mm.type.dtype, ctx), mm.type.dtype, ctx);
  const storeC = (x: string, site: OutputSite): string => storeAt(accAs(x), site.idx);
  return matmulKernel(ctx, {
    label: nodeLabel(node, ctx),
    a,
    b,
    operands: av.type.dtype,
    out: outputs[0]!,
    extra: [...epilogueInputs.values(), ...outputs.slice(1)],
    aShape: av.type.shape,
    bShape: bv.type.shape,
    transposeA: anchor.attrs.transpose_a as boolean,
    transposeB: anchor.attrs.transpose_b as boolean,
    acc,
    helpers: helpers(),
    hooks: { storeC, convertA: convertAs(av), convertB: convertAs(bv) },
    hooksUseF16: ctx.mode !== 'packed' && bodyUsesF16(node),
  });
}
