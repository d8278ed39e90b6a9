// conv2d (NCHW input, OIHW weight; stride, padding [top, left, bottom,
// right], dilation, groups) as a register-blocked direct convolution.
//
// Each invocation computes a block of BO output channels (of one group) ×
// BP neighbouring output pixels (of one output row): per step of the direct
// loop over (c in C/g, kh, kw) it loads BO weights and BP inputs once and does
// BO·BP multiply-adds. Channel and pixel tails are clamped on load (the
// duplicate work is discarded) and masked on store. Padding positions are
// skipped, not multiplied by zero, exactly as the reference does (so an
// inf / NaN weight does not turn a padded position into NaN). The (c, kh, kw)
// loop bounds are kept opaque to the shader compiler (see `dyn` below): fully
// unrolling them around the unrolled block cost seconds of compile time per
// shader on lavapipe, for no run-time gain we could measure there.
//
// The kernel is built from a ConvKernelSpec with three hooks — loadX / loadW
// (prologue: raw element -> product type, e.g. a fused cast on load) and
// epilogue (accumulator -> stored value, e.g. bias, activation, cast on store,
// with its own extra input bindings) — so fusion can reuse it unchanged.
//
// Numerics follow the node's `acc`:
// - acc = f32: f32 accumulator; f16 operands are widened to f32 on load (the
//   product of two halves is exact in f32).
// - acc = f16, native f16: f16 accumulator (products in f16 for f16 operands;
//   in f32 for f32 operands, the sum then rounded to f16).
// - acc = f16, packed f16: WGSL without shader-f16 has no f16 arithmetic, so
//   the math is f32; the running sum is rounded to f16 after every addition
//   (ampc_round_f16: pack2x16float / unpack2x16float, with NaN and overflow to
//   ±inf handled explicitly) to keep the f16-accumulator semantics.

import type { Node } from '../../ir/graph.ts';
import { ENTRY_PARAMS, gridFor } from '../wgsl/grid.ts';
import { accType, computeType, declareBindings, emulatesF16Math, literal, load, needsF16, store, toF16 } from '../wgsl/storage.ts';
import type { DType } from '../../ir/dtype.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';

export const CONV_WORKGROUP = 64;
/** Largest register block: output channels × output pixels per invocation. */
export const CONV_MAX_BLOCK_O = 4;
export const CONV_MAX_BLOCK_P = 4;

/** Static sizes of one conv2d. */
export interface ConvGeometry {
  readonly N: number; readonly C: number; readonly H: number; readonly W: number;
  readonly O: number; readonly KH: number; readonly KW: number;
  readonly OH: number; readonly OW: number;
  readonly groups: number;
  /** Input channels per group (the weight's dimension 1). */
  readonly CG: number;
  /** Output channels per group. */
  readonly OG: number;
  readonly sh: number; readonly sw: number;
  readonly pt: number; readonly pl: number;
  readonly dh: number; readonly dw: number;
}

export function convGeometry(node: Node): ConvGeometry {
  const [N, C, H, W] = node.operands[0]!.type.shape as [number, number, number, number];
  const [O, CG, KH, KW] = node.operands[1]!.type.shape as [number, number, number, number];
  const [, , OH, OW] = node.results[0]!.type.shape as [number, number, number, number];
  const [sh, sw] = node.attrs.stride as [number, number];
  const [pt, pl] = node.attrs.padding as [number, number, number, number];
  const [dh, dw] = node.attrs.dilation as [number, number];
  const groups = node.attrs.groups as number;
  return { N, C, H, W, O, KH, KW, OH, OW, groups, CG, OG: O / groups, sh, sw, pt, pl, dh, dw };
}

/** WGSL u32 expressions of the output element an epilogue is writing. */
export interface ConvOutputAt {
  readonly n: string;
  readonly o: string;
  readonly oh: string;
  readonly ow: string;
  /** Flat NCHW index into the output. */
  readonly flat: string;
}

export interface ConvKernelSpec {
  readonly label: string;
  readonly geometry: ConvGeometry;
  readonly x: BoundBuffer;
  readonly w: BoundBuffer;
  /** Further inputs the hooks read (e.g. a fused bias), bound after x and w. */
  readonly extraInputs?: readonly BoundBuffer[];
  readonly output: BoundBuffer;
  /** WGSL scalar type products are formed in. */
  readonly mulType: string;
  /** WGSL scalar type of the accumulators. */
  readonly accType: string;
  /** Round the running sum to f16 after every addition (f16 accumulator emulated in f32). */
  readonly roundAccToF16: boolean;
  /** Prologue hooks: the element at flat index `idx` (u32 WGSL) as `mulType`. */
  readonly loadX: (idx: string) => string;
  readonly loadW: (idx: string) => string;
  /** Epilogue hook: statements and the value (output compute type) stored for accumulator `acc`. */
  readonly epilogue: (acc: string, at: ConvOutputAt) => { stmts: string; value: string };
  /** Module-scope WGSL the hooks call. */
  readonly helpers?: string;
  /** The hooks use f16 arithmetic beyond what the bindings imply. */
  readonly hooksUseF16?: boolean;
  /** Register block (defaults from the geometry). */
  readonly block?: { readonly o: number; readonly p: number };
}

const wider = (a: string, b: string) => (a === 'f32' || b === 'f32' ? 'f32' : 'f16');
/** Converts between float compute types; f32 -> f16 overflows to inf as IEEE (and the reference) do. */
const convertTo = (to: string, from: string, x: string) => (to === from ? x : to === 'f16' && from === 'f32' ? toF16(x) : `${to}(${x})`);

/** The spec of a plain conv2d node: loads widened / narrowed as `acc` says, result converted to the output type. */
export function defaultConvSpec(node: Node, ctx: EmitContext): ConvKernelSpec {
  const x = readOf(ctx, node.operands[0]!, 'x');
  const w = readOf(ctx, node.operands[1]!, 'w');
  const res = node.results[0]!;
  const output = writeOf(ctx, res, 'y');
  const inT = computeType(node.operands[0]!.type.dtype, ctx.mode);
  const acc = node.attrs.acc as DType;
  const accT = accType(acc, ctx.mode);
  const mulT = wider(inT, accT);
  const outT = computeType(res.type.dtype, ctx.mode);
  return {
    label: nodeLabel(node, ctx),
    geometry: convGeometry(node),
    x,
    w,
    output,
    mulType: mulT,
    accType: accT,
    // Packed mode: no f16 arithmetic in WGSL, so an f16 accumulator is f32 rounded to f16 at every step.
    roundAccToF16: acc === 'f16' && emulatesF16Math(ctx.mode),
    loadX: (idx) => convertTo(mulT, inT, load(x.binding, idx, ctx.mode)),
    loadW: (idx) => convertTo(mulT, inT, load(w.binding, idx, ctx.mode)),
    epilogue: (a) => ({ stmts: '', value: convertTo(outT, accT, a) }),
  };
}

export function emitConv2d(node: Node, ctx: EmitContext): KernelLaunch[] {
  return [convKernel(ctx, defaultConvSpec(node, ctx))];
}

/** Default register block: up to 4 channels of the group × up to 4 pixels of the row. */
export function convBlock(g: ConvGeometry): { o: number; p: number } {
  return { o: Math.min(CONV_MAX_BLOCK_O, g.OG), p: Math.min(CONV_MAX_BLOCK_P, g.OW) };
}

export function convKernel(ctx: EmitContext, spec: ConvKernelSpec): KernelLaunch {
  const g = spec.geometry;
  const { o: BO, p: BP } = spec.block ?? convBlock(g);
  const A = spec.accType, M = spec.mulType;
  const OB = Math.ceil(g.OG / BO); // channel blocks per group
  const PB = Math.ceil(g.OW / BP); // pixel blocks per output row
  const threads = g.N * g.groups * OB * g.OH * PB;
  const KK = g.KH * g.KW;
  const u = (v: number) => `${v}u`;
  const i = (v: number) => `${v}i`;
  const js = [...Array(BO).keys()], ps = [...Array(BP).keys()];

  // Bounds checks only where padding can put a tap outside the input
  // (pixel indices are clamped to OW - 1, so the last real pixel bounds the range).
  const checkRows = g.pt > 0 || (g.OH - 1) * g.sh + (g.KH - 1) * g.dh - g.pt > g.H - 1;
  const checkCols = g.pl > 0 || (g.OW - 1) * g.sw + (g.KW - 1) * g.dw - g.pl > g.W - 1;

  const accumulate = (a: string, prod: string) => {
    if (spec.roundAccToF16) return `${a} = ampc_round_f16(${a} + ${prod});`;
    if (A === M) return `${a} = ${a} + ${prod};`;
    return `${a} = ${convertTo(A, M, `${M}(${a}) + ${prod}`)};`;
  };
  const acc = (j: number, p: number) => `a_${j}_${p}`;

  const tap = ps.map((p) => {
    const body = [
      `let xv = ${spec.loadX(`xr + u32(iw)`)};`,
      ...js.map((j) => accumulate(acc(j, p), `w_${j} * xv`)),
    ].join(' ');
    const iw = `let iw = iw0_${p} + i32(kw * ${u(g.dw)});`;
    return checkCols
      ? `        { ${iw} if (iw >= 0i && iw < ${i(g.W)}) { ${body} } }`
      : `        { ${iw} ${body} }`;
  });

  const epilogue: string[] = [];
  for (const j of js) {
    for (const p of ps) {
      const at: ConvOutputAt = {
        n: 'n',
        o: `(g * ${u(g.OG)} + oc0 + ${u(j)})`,
        oh: 'oh',
        ow: `(ow0 + ${u(p)})`,
        flat: `(yb + ${u(j * g.OH * g.OW + p)})`,
      };
      const { stmts, value } = spec.epilogue(acc(j, p), at);
      const conds: string[] = [];
      if (g.OG % BO !== 0 && j > 0) conds.push(`oc0 + ${u(j)} < ${u(g.OG)}`);
      if (g.OW % BP !== 0 && p > 0) conds.push(`ow0 + ${u(p)} < ${u(g.OW)}`);
      const st = `${stmts ? stmts + ' ' : ''}${store(spec.output.binding, at.flat, value, ctx.mode)}`;
      epilogue.push(conds.length ? `  if (${conds.join(' && ')}) { ${st} }` : `  { ${st} }`);
    }
  }

  const all = [spec.x, spec.w, ...(spec.extraInputs ?? []), spec.output];
  const bindings = all.map((b) => b.binding);
  const usesF16 = needsF16(bindings, ctx.mode, A === 'f16' || M === 'f16' || spec.hooksUseF16);
  const grid = gridFor(Math.ceil(threads / CONV_WORKGROUP), ctx.maxWorkgroupsPerDim);
  const zero = literal(0, A);

  const code = [
    usesF16 ? 'enable f16;' : '',
    `// conv2d ${g.N}x${g.C}x${g.H}x${g.W} * ${g.O}x${g.CG}x${g.KH}x${g.KW} -> ${g.OH}x${g.OW}, stride [${g.sh}, ${g.sw}], ` +
      `pad [${g.pt}, ${g.pl}], dilation [${g.dh}, ${g.dw}], groups ${g.groups}; block ${BO} channels x ${BP} pixels`,
    declareBindings(bindings, ctx.mode),
    spec.helpers ?? '',
    `@compute @workgroup_size(${CONV_WORKGROUP})`,
    `fn main(${ENTRY_PARAMS}) {`,
    `  let t = ${grid.groupIndex} * ${u(CONV_WORKGROUP)} + lid;`,
    `  if (t >= ${u(threads)}) { return; }`,
    // Pixel block fastest, then row, channel block, group, batch.
    `  let pb = t % ${u(PB)}; let t1 = t / ${u(PB)};`,
    `  let oh = t1 % ${u(g.OH)}; let t2 = t1 / ${u(g.OH)};`,
    `  let ob = t2 % ${u(OB)}; let t3 = t2 / ${u(OB)};`,
    `  let g = t3 % ${u(g.groups)}; let n = t3 / ${u(g.groups)};`,
    `  let ow0 = pb * ${u(BP)};`,
    `  let oc0 = ob * ${u(BO)};`,
    // Weight base of each channel of the block (the tail clamped to the group's last channel).
    ...js.map((j) => {
      const oc = j === 0 ? 'oc0' : g.OG % BO !== 0 ? `min(oc0 + ${u(j)}, ${u(g.OG - 1)})` : `oc0 + ${u(j)}`;
      return `  let wb_${j} = (g * ${u(g.OG)} + ${oc}) * ${u(g.CG * KK)};`;
    }),
    // Input column of each pixel of the block at kw = 0 (the tail clamped to the last pixel).
    ...ps.map((p) => {
      const ow = p === 0 ? 'ow0' : g.OW % BP !== 0 ? `min(ow0 + ${u(p)}, ${u(g.OW - 1)})` : `ow0 + ${u(p)}`;
      return `  let iw0_${p} = i32(${ow} * ${u(g.sw)}) - ${i(g.pl)};`;
    }),
    `  let ih0 = i32(oh * ${u(g.sh)}) - ${i(g.pt)};`,
    `  let xb = (n * ${u(g.C)} + g * ${u(g.CG)}) * ${u(g.H * g.W)};`,
    ...js.flatMap((j) => ps.map((p) => `  var ${acc(j, p)}: ${A} = ${zero};`)),
    // A zero the shader compiler cannot see through (the grid never has 2^31
    // workgroups along z): loop bounds stay opaque, so the (c, kh, kw) loops are
    // not fully unrolled around the unrolled register block. lavapipe's LLVM
    // otherwise takes seconds per shader, and the loop overhead is small next
    // to the BO x BP block of multiply-adds each iteration does.
    '  let dyn = nwg.z >> 31u;',
    `  for (var c = 0u; c < ${u(g.CG)} + dyn; c++) {`,
    `    for (var kh = 0u; kh < ${u(g.KH)} + dyn; kh++) {`,
    `      let ih = ih0 + i32(kh * ${u(g.dh)});`,
    checkRows ? `      if (ih < 0i || ih >= ${i(g.H)}) { continue; }` : '',
    `      let xr = xb + c * ${u(g.H * g.W)} + u32(ih) * ${u(g.W)};`,
    `      let wr = c * ${u(KK)} + kh * ${u(g.KW)};`,
    `      for (var kw = 0u; kw < ${u(g.KW)} + dyn; kw++) {`,
    ...js.map((j) => `        let w_${j} = ${spec.loadW(`wb_${j} + wr + kw`)};`),
    ...tap,
    '      }',
    '    }',
    '  }',
    `  let yb = ((n * ${u(g.O)} + g * ${u(g.OG)} + oc0) * ${u(g.OH)} + oh) * ${u(g.OW)} + ow0;`,
    ...epilogue,
    '}',
    '',
  ].filter((l) => l !== '').join('\n');
  return { label: spec.label, code, usesF16, bindings: all.map((b) => b.buffer), workgroups: grid.workgroups };
}
