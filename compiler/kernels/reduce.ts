// reduce_sum, reduce_mean, reduce_max over any set of axes (negative too),
// with or without keepdims, and `emitReduction`, the general "many rows, each
// reduced to one value" launcher the losses reuse.
//
// Strategy (by the reduced extent R and the number of outputs O):
// - R < 32: one invocation per output loops over its few elements (64 per
//   workgroup); the additions then run in the reference's row-major order;
// - otherwise a workgroup per output (64 invocations for R <= 1024, else 256)
//   strides over the row and combines partials by a tree in workgroup memory;
// - R >= 16384 with fewer than 64 outputs (e.g. a full reduction): two stages,
//   workgroups of 256 reduce chunks of 4096 elements into partials in a
//   scratch buffer (of the accumulator's dtype), then a second kernel reduces
//   the partials of each output and finishes (mean divides by R, not by the
//   number of partials).
// Input offsets come from static strides of the kept and reduced axes
// (compiler/wgsl/workgroup.ts), no transposes.
//
// Precision, as the IR says: reduce_sum / reduce_mean accumulate in their
// `acc` dtype (acc = f16 in native f16 mode adds in f16, rounding every step).
// In packed f16 mode the device has no f16 arithmetic at all, so acc = f16
// adds in f32 and rounds the running sum to f16 after every addition
// (combine op 'sum_f16'), keeping f16-accumulator numerics. Integer sums add and wrap
// in their own type (acc does not apply). reduce_max compares in the compute
// type and propagates NaN; reduce_prod multiplies floats in f32 (integers wrap). The mean divides the accumulated sum by R in f32.

import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/graph.ts';
import { normalizeAxes } from '../../ir/shape-rules.ts';
import { accType, computeType, literal, load, roundsAccToF16, store } from '../wgsl/storage.ts';
import type { CombineOp, Element } from '../wgsl/workgroup.ts';
import { convertType, offsetExpr, RowScheme, rowKernel, rowLayout, threadsForRow } from '../wgsl/workgroup.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { mapKernel } from './map.ts';

/** Reduced extent from which few outputs are reduced in two stages. */
export const TWO_STAGE_MIN_EXTENT = 16384;
/** Below this many outputs, a long reduction uses two stages. */
export const TWO_STAGE_MAX_ROWS = 64;
/** Elements one stage-1 workgroup reduces into one partial. */
export const STAGE1_CHUNK = 4096;
const STAGE1_THREADS = 256;

export interface ReductionSpec {
  readonly label: string;
  readonly inputs: readonly BoundBuffer[];
  /** One element per row. */
  readonly output: BoundBuffer;
  readonly rows: number;
  readonly extent: number;
  /** WGSL type of the accumulator (f32, f16, i32, u32). */
  readonly acc: string;
  readonly op: CombineOp;
  /** Element r of row o (both u32 expressions), as the accumulator type. */
  readonly element: (o: string, r: string) => Element;
  /** The value stored for a row (of the output's compute type) from its accumulated value. */
  readonly finalize: (total: string) => string;
  readonly helpers?: string;
  /** Further buffers a fused epilogue reads or writes (bound after the output). */
  readonly extra?: readonly BoundBuffer[];
  /** Statements storing the finished value of row `row` (a fused epilogue); default: store it to `output`. */
  readonly storeRow?: (value: string, row: string) => string;
}

function dtypeOfType(t: string): DType {
  if (t === 'f32' || t === 'f16' || t === 'i32' || t === 'u32') return t;
  throw new Error(`no dtype for accumulator type ${t}`);
}

/** Kernels reducing every row of `spec` to one output element. */
export function emitReduction(ctx: EmitContext, spec: ReductionSpec): KernelLaunch[] {
  if (spec.rows === 0) return [];
  if (spec.extent >= TWO_STAGE_MIN_EXTENT && spec.rows < TWO_STAGE_MAX_ROWS) return twoStage(ctx, spec);
  return [singleStage(ctx, spec)];
}

function singleStage(ctx: EmitContext, spec: ReductionSpec): KernelLaunch {
  const scheme = new RowScheme(threadsForRow(ctx.target, spec.rows, spec.extent));
  const value = spec.finalize('total');
  const body = [
    scheme.reduce('total', spec.acc, spec.op, spec.extent, (r) => spec.element('row', r)),
    scheme.once(spec.storeRow ? spec.storeRow(value, 'row') : store(spec.output.binding, 'row', value, ctx.mode)),
  ].join('\n  ');
  return rowKernel(ctx, { label: spec.label, buffers: [...spec.inputs, spec.output, ...(spec.extra ?? [])], rows: spec.rows, scheme, body, helpers: spec.helpers });
}

function twoStage(ctx: EmitContext, spec: ReductionSpec): KernelLaunch[] {
  const parts = Math.ceil(spec.extent / STAGE1_CHUNK);
  const dtype = dtypeOfType(spec.acc);
  const scratch = ctx.scratch(dtype, spec.rows * parts);
  const partialOut: BoundBuffer = { binding: { name: 'partial', dtype, access: 'write' }, buffer: scratch };
  const partialIn: BoundBuffer = { binding: { name: 'partial', dtype, access: 'read' }, buffer: scratch };

  // Stage 1: "row" q = o * parts + p reduces positions [p * CHUNK, min((p + 1) * CHUNK, R)) of output o.
  const s1 = new RowScheme(STAGE1_THREADS);
  const body1 = [
    `let start = (row % ${parts}u) * ${STAGE1_CHUNK}u;`,
    s1.reduce('total', spec.acc, spec.op, `min(${STAGE1_CHUNK}u, ${spec.extent}u - start)`, (r) => spec.element(`(row / ${parts}u)`, `(start + ${r})`)),
    s1.once(store(partialOut.binding, 'row', 'total', ctx.mode)),
  ].join('\n  ');
  const stage1 = rowKernel(ctx, {
    label: `${spec.label} (partials)`,
    buffers: [...spec.inputs, partialOut],
    rows: spec.rows * parts,
    scheme: s1,
    body: body1,
    helpers: spec.helpers,
  });

  // Stage 2: each output combines its `parts` partials (loaded as the accumulator type) and finishes.
  const stage2 = singleStage(ctx, {
    ...spec,
    inputs: [partialIn],
    extent: parts,
    element: (o, r) => load(partialIn.binding, `${o} * ${parts}u + ${r}`, ctx.mode),
    // A fused epilogue runs in this stage and may call helpers; the element's are not needed here.
    helpers: spec.storeRow ? spec.helpers : undefined,
  });
  return [stage1, stage2];
}

/** reduce_sum, reduce_mean, reduce_max, reduce_prod. */
export function emitReduce(node: Node, ctx: EmitContext): KernelLaunch[] {
  return reduceLaunches(node, ctx, { label: nodeLabel(node, ctx), x: readOf(ctx, node.operands[0]!, 'x'), output: writeOf(ctx, node.results[0]!, 'y') });
}

/** Where a reduction reads and writes: its input, its output, and (fused) an epilogue's buffers and store. */
export interface ReduceIo {
  readonly label: string;
  readonly x: BoundBuffer;
  readonly output: BoundBuffer;
  readonly extra?: readonly BoundBuffer[];
  readonly storeRow?: (value: string, row: string) => string;
  readonly helpers?: string;
}

/** The launches of reduction `node` (reduce_sum / reduce_mean / reduce_max) with the given buffers. */
export function reduceLaunches(node: Node, ctx: EmitContext, io: ReduceIo): KernelLaunch[] {
  const xv = node.operands[0]!;
  const shape = xv.type.shape;
  const layout = rowLayout(shape, normalizeAxes(node.op, node.attrs.axes as number[], shape.length));
  const dtype = xv.type.dtype;
  const ct = computeType(dtype, ctx.mode);
  const isInt = dtype === 'i32' || dtype === 'u32';
  // acc = f16 is f16 arithmetic in native mode; in packed mode (no f16 arithmetic) f32 rounded to f16 at every addition.
  const op: CombineOp = node.op === 'reduce_max' ? 'max' : node.op === 'reduce_prod' ? 'prod'
    : !isInt && roundsAccToF16(node.attrs.acc as DType, ctx.mode) ? 'sum_f16' : 'sum';
  // Float products multiply in f32 (f16 ones too: a running f16 product under- and overflows early).
  const acc = op === 'max' || isInt ? ct : op === 'prod' ? 'f32' : accType(node.attrs.acc as DType, ctx.mode);
  const x = io.x;
  const n = layout.extent;
  // The result's compute type: the operands' unless the result is the widened accumulator (f16 in, f32 out).
  const rt = computeType(node.results[0]!.type.dtype, ctx.mode);
  const finalize = node.op === 'reduce_mean'
    ? (s: string) => (n === 0 ? literal(NaN, rt) : convertType(`${convertType(s, acc, 'f32')} / ${literal(n, 'f32')}`, 'f32', rt))
    : (s: string) => convertType(s, acc, rt);
  return emitReduction(ctx, {
    label: io.label,
    inputs: [x],
    output: io.output,
    ...(io.extra ? { extra: io.extra } : {}),
    ...(io.storeRow ? { storeRow: io.storeRow } : {}),
    ...(io.helpers ? { helpers: io.helpers } : {}),
    rows: layout.rows,
    extent: n,
    acc,
    op,
    // x's buffer may be f16 under an f32 reduction (a fused widening cast, converted here as it loads).
    element: (o, r) => convertType(load(x.binding, `${offsetExpr(layout.kept, o)} + ${offsetExpr(layout.reduced, r)}`, ctx.mode), computeType(x.binding.dtype, ctx.mode), acc),
    finalize,
  });
}

/**
 * argmax / argmin: an invocation per output walks its row in order, keeping the first (or, with
 * select_last_index, the last) extreme; NaN is the extreme (tested on the bits), as the reference.
 */
export function emitArgReduce(node: Node, ctx: EmitContext): KernelLaunch[] {
  const xv = node.operands[0]!;
  const shape = xv.type.shape;
  const axis = normalizeAxes(node.op, [node.attrs.axis as number], shape.length)[0]!;
  const layout = rowLayout(shape, [axis]);
  const ct = computeType(xv.type.dtype, ctx.mode);
  const x = readOf(ctx, xv, 'x');
  const isFloat = ct === 'f32' || ct === 'f16';
  const nan = (v: string) => (isFloat ? `ampc_isnan_${ct}(${v})` : 'false');
  const cmp = node.op === 'argmax' ? '>' : '<';
  const take = node.attrs.select_last_index === true
    ? `${nan('v')} || (!${nan('best')} && (v == best || v ${cmp} best))`
    : `!${nan('best')} && (${nan('v')} || v ${cmp} best)`;
  const at = (i: string, r: string) => load(x.binding, `${offsetExpr(layout.kept, i)} + ${offsetExpr(layout.reduced, r)}`, ctx.mode);
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x],
      output: writeOf(ctx, node.results[0]!, 'y'),
      count: layout.rows,
      bodyUsesF16: ct === 'f16',
      body: (i) => ({
        stmts: `var best = ${at(i, '0u')}; var bi = 0i;\n` +
          `    for (var r = 1u; r < ${layout.extent}u; r++) { let v = ${at(i, 'r')}; if (${take}) { best = v; bi = i32(r); } }`,
        value: 'bi',
      }),
    }),
  ];
}
