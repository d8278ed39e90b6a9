// The gradients of conv2d (NCHW / OIHW; stride, padding [top, left, bottom,
// right], dilation, groups), without atomics.
//
// conv2d_grad_input %dy, %w — a gather: dx[n, c, ih, iw] sums dy · w over the
// taps (kh, kw) whose output position oh = (ih + pt - kh·dh) / sh (likewise
// ow) is an integer in range, and over the output channels o of c's group, in
// the order (kh, kw, o) — the reference's order. Register-blocked like the
// forward conv: an invocation computes BC input channels (of one group) × BP
// pixels of one input row, the pixels sw apart (iw = rw + sw·m for one
// residue rw), so all pixels of a block meet the same taps and their output
// columns are consecutive: per (kh, kw, o) it loads BC weights and BP dy
// values for BC·BP multiply-adds; the divisibility and range checks run once
// per tap, not per o.
//
// conv2d_grad_weight %x, %dy — dw[o, c, kh, kw] is a reduction over the
// N·OH·OW output positions. A block of BO output channels (of one group) × BT
// consecutive taps (of the flat c, kh, kw index) is one workgroup of 64
// invocations that stride over the positions (per position: BO dy loads, BT x
// loads, BO·BT multiply-adds) and leave their partials in workgroup memory,
// where invocation e then adds the 64 partials of block element e (one
// barrier; a tree over BO·BT arrays took lavapipe a second of compilation).
// Few blocks and a long reduction (the first layer of a CNN): the positions
// are also split into parts, each part's partials go to a scratch buffer of
// the accumulator's type, and a second kernel adds the parts of each weight
// element (compiler/kernels/reduce.ts). Short reductions (< 64 positions):
// one invocation per block loops over them.
//
// Numerics follow `acc` exactly as the forward conv does (compiler/kernels/
// conv.ts): acc = f32 widens f16 operands on load; acc = f16 natively is an
// f16 accumulator; acc = f16 in packed mode is f32 arithmetic rounded to f16
// (ampc_round_f16) at every addition, those combining partials included.
// Padding positions are skipped, never multiplied by zero. Loop bounds that
// lavapipe would unroll around the register block are kept opaque (`dyn`).

import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/graph.ts';
import type { Shape } from '../../ir/types.ts';
import { ENTRY_PARAMS, gridFor } from '../wgsl/grid.ts';
import { accType, computeType, declareBindings, literal, load, needsF16, roundsAccToF16, store } from '../wgsl/storage.ts';
import { convertType } from '../wgsl/workgroup.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { emitReduction } from './reduce.ts';

/** Static sizes of the conv2d a gradient op differentiates. */
export interface ConvGradGeometry {
  readonly N: number; readonly C: number; readonly H: number; readonly W: number;
  readonly O: number; readonly CG: number; readonly KH: number; readonly KW: number;
  readonly OH: number; readonly OW: number;
  readonly groups: number;
  /** Output channels per group. */
  readonly OG: number;
  readonly sh: number; readonly sw: number;
  readonly pt: number; readonly pl: number;
  readonly dh: number; readonly dw: number;
}

function geometry(x: Shape, w: Shape, dy: Shape, attrs: Node['attrs']): ConvGradGeometry {
  const [N, C, H, W] = x as [number, number, number, number];
  const [O, CG, KH, KW] = w as [number, number, number, number];
  const [, , OH, OW] = dy as [number, number, number, number];
  const [sh, sw] = attrs.stride as [number, number];
  const [pt, pl] = attrs.padding as [number, number, number, number];
  const [dh, dw] = attrs.dilation as [number, number];
  const groups = attrs.groups as number;
  return { N, C, H, W, O, CG, KH, KW, OH, OW, groups, OG: O / groups, sh, sw, pt, pl, dh, dw };
}

/** Geometry of a conv2d_grad_input (%dy, %w) or conv2d_grad_weight (%x, %dy) node. */
export function convGradGeometry(node: Node): ConvGradGeometry {
  const res = node.results[0]!.type.shape;
  if (node.op === 'conv2d_grad_input') return geometry(res, node.operands[1]!.type.shape, node.operands[0]!.type.shape, node.attrs);
  return geometry(node.operands[0]!.type.shape, res, node.operands[1]!.type.shape, node.attrs);
}

/** WGSL types of a conv gradient: operands, products, accumulator, result. */
interface Numerics {
  readonly inT: string;
  readonly mulT: string;
  readonly accT: string;
  readonly outT: string;
  /** acc = f16 emulated in f32 (packed mode): round at every addition. */
  readonly round: boolean;
}

function numerics(node: Node, ctx: EmitContext): Numerics {
  const inT = computeType(node.operands[0]!.type.dtype, ctx.mode);
  const acc = node.attrs.acc as DType;
  const accT = accType(acc, ctx.mode);
  return {
    inT,
    accT,
    mulT: inT === 'f32' || accT === 'f32' ? 'f32' : 'f16',
    outT: computeType(node.results[0]!.type.dtype, ctx.mode),
    round: roundsAccToF16(acc, ctx.mode),
  };
}

/** `a += prod` as the accumulator does it. */
function accumulate(nm: Numerics, a: string, prod: string): string {
  if (nm.round) return `${a} = ampc_round_f16(${a} + ${prod});`;
  if (nm.accT === nm.mulT) return `${a} = ${a} + ${prod};`;
  return `${a} = ${convertType(`${nm.mulT}(${a}) + ${prod}`, nm.mulT, nm.accT)};`;
}

/** Two partial sums combined as the accumulator does it. */
function combine(nm: Numerics, a: string, b: string): string {
  return nm.round ? `ampc_round_f16(${a} + ${b})` : `(${a} + ${b})`;
}

const u = (v: number) => `${v}u`;
const i = (v: number) => `${v}i`;
const range = (n: number) => [...Array(n).keys()];

function finish(code: (string | false)[]): string {
  return code.filter((l) => l !== '' && l !== false).join('\n');
}

// ---------------------------------------------------------------- grad input

export const GRAD_INPUT_WORKGROUP = 64;
export const GRAD_INPUT_MAX_BLOCK_C = 4;
export const GRAD_INPUT_MAX_BLOCK_P = 4;

/** Register block of conv2d_grad_input: input channels of a group × pixels (sw apart) of a row. */
export function gradInputBlock(g: ConvGradGeometry): { c: number; p: number } {
  return { c: Math.min(GRAD_INPUT_MAX_BLOCK_C, g.CG), p: Math.min(GRAD_INPUT_MAX_BLOCK_P, Math.ceil(g.W / g.sw)) };
}

export function emitConv2dGradInput(node: Node, ctx: EmitContext): KernelLaunch[] {
  const g = convGradGeometry(node);
  const nm = numerics(node, ctx);
  const dy = readOf(ctx, node.operands[0]!, 'dy');
  const w = readOf(ctx, node.operands[1]!, 'w');
  const dx = writeOf(ctx, node.results[0]!, 'dx');
  const { c: BC, p: BP } = gradInputBlock(g);
  const RW = Math.min(g.sw, g.W); // residues iw mod sw
  const MW = Math.ceil(g.W / g.sw); // pixels of the longest residue class
  const PB = Math.ceil(MW / BP);
  const CB = Math.ceil(g.CG / BC);
  const threads = g.N * g.groups * CB * g.H * RW * PB;
  const KK = g.KH * g.KW;
  const js = range(BC), ps = range(BP);
  const A = nm.accT;
  const loadDy = (idx: string) => convertType(load(dy.binding, idx, ctx.mode), nm.inT, nm.mulT);
  const loadW = (idx: string) => convertType(load(w.binding, idx, ctx.mode), nm.inT, nm.mulT);
  const acc = (j: number, p: number) => `a_${j}_${p}`;
  // An output row past the last one is reachable only if the input's last rows lie beyond every window's start.
  const checkOH = Math.floor((g.H - 1 + g.pt) / g.sh) > g.OH - 1;
  const allPixels = g.W % g.sw === 0 && MW % BP === 0;

  const stores = js.flatMap((j) => ps.map((p) => {
    const conds: string[] = [];
    if (g.CG % BC !== 0 && j > 0) conds.push(`c0 + ${u(j)} < ${u(g.CG)}`);
    if (!allPixels) conds.push(`rw + (m0 + ${u(p)}) * ${u(g.sw)} < ${u(g.W)}`);
    const st = store(dx.binding, `xo + ${u(j * g.H * g.W + p * g.sw)}`, convertType(acc(j, p), A, nm.outT), ctx.mode);
    return conds.length ? `  if (${conds.join(' && ')}) { ${st} }` : `  ${st}`;
  }));

  const grid = gridFor(Math.ceil(threads / GRAD_INPUT_WORKGROUP), ctx.maxWorkgroupsPerDim);
  const bindings = [dy, w, dx];
  const usesF16 = needsF16(bindings.map((b) => b.binding), ctx.mode, A === 'f16' || nm.mulT === 'f16');
  const code = finish([
    usesF16 && 'enable f16;',
    `// conv2d_grad_input dy ${g.N}x${g.O}x${g.OH}x${g.OW}, w ${g.O}x${g.CG}x${g.KH}x${g.KW} -> dx ${g.N}x${g.C}x${g.H}x${g.W}, ` +
      `stride [${g.sh}, ${g.sw}], pad [${g.pt}, ${g.pl}], dilation [${g.dh}, ${g.dw}], groups ${g.groups}; block ${BC} channels x ${BP} pixels`,
    declareBindings(bindings.map((b) => b.binding), ctx.mode),
    `@compute @workgroup_size(${GRAD_INPUT_WORKGROUP})`,
    `fn main(${ENTRY_PARAMS}) {`,
    `  let t = ${grid.groupIndex} * ${u(GRAD_INPUT_WORKGROUP)} + lid;`,
    `  if (t >= ${u(threads)}) { return; }`,
    // Pixel block fastest, then residue, row, channel block, group, batch.
    `  let pb = t % ${u(PB)}; let t1 = t / ${u(PB)};`,
    `  let rw = t1 % ${u(RW)}; let t2 = t1 / ${u(RW)};`,
    `  let ih = t2 % ${u(g.H)}; let t3 = t2 / ${u(g.H)};`,
    `  let cb = t3 % ${u(CB)}; let t4 = t3 / ${u(CB)};`,
    `  let g = t4 % ${u(g.groups)}; let n = t4 / ${u(g.groups)};`,
    `  let m0 = pb * ${u(BP)};`,
    `  let c0 = cb * ${u(BC)};`,
    // Weight offset of each channel of the block (the tail clamped to the group's last channel).
    ...js.map((j) => {
      const c = j === 0 ? 'c0' : g.CG % BC !== 0 ? `min(c0 + ${u(j)}, ${u(g.CG - 1)})` : `c0 + ${u(j)}`;
      return `  let wc_${j} = (${c}) * ${u(KK)};`;
    }),
    `  let dyb = (n * ${u(g.O)} + g * ${u(g.OG)}) * ${u(g.OH * g.OW)};`,
    `  let wb = g * ${u(g.OG * g.CG * KK)};`,
    ...js.flatMap((j) => ps.map((p) => `  var ${acc(j, p)}: ${A} = ${literal(0, A)};`)),
    // Opaque zero (see compiler/kernels/conv.ts): keeps the tap and channel loops rolled.
    '  let dyn = nwg.z >> 31u;',
    `  for (var kh = 0u; kh < ${u(g.KH)} + dyn; kh++) {`,
    `    let th = i32(ih) + ${i(g.pt)} - i32(kh * ${u(g.dh)});`,
    '    if (th < 0i) { continue; }',
    g.sh > 1 && `    if (th % ${i(g.sh)} != 0i) { continue; }`,
    `    let oh = u32(th) / ${u(g.sh)};`,
    checkOH && `    if (oh >= ${u(g.OH)}) { continue; }`,
    `    let dyr = dyb + oh * ${u(g.OW)};`,
    `    for (var kw = 0u; kw < ${u(g.KW)} + dyn; kw++) {`,
    `      let tw = i32(rw) + ${i(g.pl)} - i32(kw * ${u(g.dw)});`,
    g.sw > 1 && `      if (((tw % ${i(g.sw)}) + ${i(g.sw)}) % ${i(g.sw)} != 0i) { continue; }`,
    // Exact division (tw is a multiple of sw), so truncation toward zero is harmless.
    `      let ow0 = tw / ${i(g.sw)} + i32(m0);`,
    // Negative columns wrap to huge u32 values, so one comparison checks both ends.
    ...ps.map((p) => `      let ok_${p} = u32(ow0 + ${i(p)}) < ${u(g.OW)};`),
    `      let wr = wb + kh * ${u(g.KW)} + kw;`,
    `      for (var o = 0u; o < ${u(g.OG)} + dyn; o++) {`,
    ...js.map((j) => `        let w_${j} = ${loadW(`wr + o * ${u(g.CG * KK)} + wc_${j}`)};`),
    `        let dyo = dyr + o * ${u(g.OH * g.OW)};`,
    ...ps.map((p) => `        if (ok_${p}) { let d = ${loadDy(`dyo + u32(ow0 + ${i(p)})`)}; ${js.map((j) => accumulate(nm, acc(j, p), `w_${j} * d`)).join(' ')} }`),
    '      }',
    '    }',
    '  }',
    `  let xo = ((n * ${u(g.C)} + g * ${u(g.CG)} + c0) * ${u(g.H)} + ih) * ${u(g.W)} + rw + m0 * ${u(g.sw)};`,
    ...stores,
    '}',
    '',
  ]);
  return [{ label: nodeLabel(node, ctx), code, usesF16, bindings: bindings.map((b) => b.buffer), workgroups: grid.workgroups }];
}

// ---------------------------------------------------------------- grad weight

export const GRAD_WEIGHT_WORKGROUP = 64;
export const GRAD_WEIGHT_MAX_BLOCK_O = 4;
export const GRAD_WEIGHT_MAX_BLOCK_T = 4;
/** Below this many output positions, one invocation per block loops over all of them. */
export const GRAD_WEIGHT_DIRECT_MAX_EXTENT = 64;
/** A part of a split reduction covers at least this many output positions. */
export const GRAD_WEIGHT_MIN_CHUNK = 2048;
/** Split the reduction while there are fewer workgroups than this. */
export const GRAD_WEIGHT_TARGET_WORKGROUPS = 256;
export const GRAD_WEIGHT_MAX_PARTS = 64;

export interface GradWeightPlan {
  /** Output channels × taps per block. */
  readonly block: { readonly o: number; readonly t: number };
  readonly blocks: number;
  /** Reduction extent N·OH·OW. */
  readonly extent: number;
  /** One invocation per block (short reductions) rather than a workgroup. */
  readonly direct: boolean;
  /** Parts the extent is split into (1: no split, no second kernel). */
  readonly parts: number;
  /** Positions per part. */
  readonly chunk: number;
}

export function gradWeightPlan(g: ConvGradGeometry): GradWeightPlan {
  const KT = g.CG * g.KH * g.KW;
  const block = { o: Math.min(GRAD_WEIGHT_MAX_BLOCK_O, g.OG), t: Math.min(GRAD_WEIGHT_MAX_BLOCK_T, KT) };
  const blocks = g.groups * Math.ceil(g.OG / block.o) * Math.ceil(KT / block.t);
  const extent = g.N * g.OH * g.OW;
  const direct = extent < GRAD_WEIGHT_DIRECT_MAX_EXTENT;
  let parts = 1;
  if (!direct && blocks < GRAD_WEIGHT_TARGET_WORKGROUPS && extent >= 2 * GRAD_WEIGHT_MIN_CHUNK) {
    parts = Math.min(GRAD_WEIGHT_MAX_PARTS, Math.floor(extent / GRAD_WEIGHT_MIN_CHUNK), Math.ceil(GRAD_WEIGHT_TARGET_WORKGROUPS / blocks));
  }
  if (parts === 1) return { block, blocks, extent, direct, parts, chunk: extent };
  const chunk = Math.ceil(extent / parts);
  return { block, blocks, extent, direct, parts: Math.ceil(extent / chunk), chunk };
}

function dtypeOfAcc(t: string): DType {
  return t === 'f16' ? 'f16' : 'f32';
}

export function emitConv2dGradWeight(node: Node, ctx: EmitContext): KernelLaunch[] {
  const g = convGradGeometry(node);
  const nm = numerics(node, ctx);
  const plan = gradWeightPlan(g);
  const { o: BO, t: BT } = plan.block;
  const { parts, chunk, extent: R } = plan;
  const x = readOf(ctx, node.operands[0]!, 'x');
  const dy = readOf(ctx, node.operands[1]!, 'dy');
  const dwValue = node.results[0]!;
  const KK = g.KH * g.KW;
  const KT = g.CG * KK;
  const OB = Math.ceil(g.OG / BO), TB = Math.ceil(KT / BT);
  const A = nm.accT;
  const WG = GRAD_WEIGHT_WORKGROUP;
  const js = range(BO), ks = range(BT);
  const acc = (j: number, k: number) => `a_${j}_${k}`;
  const loadX = (idx: string) => convertType(load(x.binding, idx, ctx.mode), nm.inT, nm.mulT);
  const loadDy = (idx: string) => convertType(load(dy.binding, idx, ctx.mode), nm.inT, nm.mulT);

  // Stage-1 target: dw itself, or the parts' partials (weight element e, part p at e * parts + p).
  const split = parts > 1;
  const partialsId = split ? ctx.scratch(dtypeOfAcc(A), g.O * KT * parts) : -1;
  const target: BoundBuffer = split
    ? { binding: { name: 'partial', dtype: dtypeOfAcc(A), access: 'write' }, buffer: partialsId }
    : writeOf(ctx, dwValue, 'dw');

  // Taps run off the input only where padding or the last windows reach past it.
  const checkRows = g.pt > 0 || (g.OH - 1) * g.sh + (g.KH - 1) * g.dh - g.pt > g.H - 1;
  const checkCols = g.pl > 0 || (g.OW - 1) * g.sw + (g.KW - 1) * g.dw - g.pl > g.W - 1;
  const inBounds = [checkRows && `u32(ih) < ${u(g.H)}`, checkCols && `u32(iw) < ${u(g.W)}`].filter((c): c is string => !!c);

  const position = [
    `    let ow = r % ${u(g.OW)}; let r2 = r / ${u(g.OW)};`,
    `    let oh = r2 % ${u(g.OH)}; let n = r2 / ${u(g.OH)};`,
    `    let dyp = n * ${u(g.O * g.OH * g.OW)} + oh * ${u(g.OW)} + ow;`,
    ...js.map((j) => `    let d_${j} = ${loadDy(`dyp + dyc_${j}`)};`),
    `    let xn = n * ${u(g.C * g.H * g.W)};`,
    `    let ih0 = i32(oh * ${u(g.sh)}); let iw0 = i32(ow * ${u(g.sw)});`,
    ...ks.map((k) => {
      const body = `let xv = ${loadX(`xn + xc_${k} + u32(ih) * ${u(g.W)} + u32(iw)`)}; ${js.map((j) => accumulate(nm, acc(j, k), `d_${j} * xv`)).join(' ')}`;
      const pos = `let ih = ih0 + ihb_${k}; let iw = iw0 + iwb_${k};`;
      return inBounds.length ? `    { ${pos} if (${inBounds.join(' && ')}) { ${body} } }` : `    { ${pos} ${body} }`;
    }),
  ];

  const storeBlock = (value: (j: number, k: number) => string, indent: string) => js.flatMap((j) => ks.map((k) => {
    const conds: string[] = [];
    if (g.OG % BO !== 0 && j > 0) conds.push(`oc0 + ${u(j)} < ${u(g.OG)}`);
    if (KT % BT !== 0 && k > 0) conds.push(`tap0 + ${u(k)} < ${u(KT)}`);
    const e = `(wo + ${u(j * KT + k)})`;
    const st = split
      ? store(target.binding, `${e} * ${u(parts)} + part`, value(j, k), ctx.mode)
      : store(target.binding, e, convertType(value(j, k), A, nm.outT), ctx.mode);
    return conds.length ? `${indent}if (${conds.join(' && ')}) { ${st} }` : `${indent}${st}`;
  }));

  const units = plan.blocks * parts;
  const grid = gridFor(plan.direct ? Math.ceil(units / WG) : units, ctx.maxWorkgroupsPerDim);
  const E = BO * BT;
  const loop = plan.direct
    ? [`  for (var r = 0u; r < ${u(R)} + dyn; r++) {`]
    : [
      split ? `  let r0 = part * ${u(chunk)}; let r1 = min(r0 + ${u(chunk)}, ${u(R)});` : `  let r0 = 0u; let r1 = ${u(R)};`,
      `  for (var r = r0 + lid; r < r1; r += ${u(WG)}) {`,
    ];
  // Workgroup scheme: invocation e < BO·BT adds the 64 partials of block
  // element e (channel e / BT, tap e % BT) in order, in a rolled loop.
  const wgIndex = `(wo + j * ${u(KT)} + k)`;
  const blockMask = [g.OG % BO !== 0 && `oc0 + j < ${u(g.OG)}`, KT % BT !== 0 && `tap0 + k < ${u(KT)}`].filter((c): c is string => !!c);
  const wgStore = split
    ? store(target.binding, `${wgIndex} * ${u(parts)} + part`, 'v', ctx.mode)
    : store(target.binding, wgIndex, convertType('v', A, nm.outT), ctx.mode);
  const reduce = plan.direct
    ? storeBlock(acc, '  ')
    : [
      ...js.flatMap((j) => ks.map((k) => `  wg[${u((j * BT + k) * WG)} + lid] = ${acc(j, k)};`)),
      '  workgroupBarrier();',
      `  if (lid < ${u(E)}) {`,
      `    let j = lid / ${u(BT)}; let k = lid % ${u(BT)}; let wb = lid * ${u(WG)};`,
      `    var v: ${A} = wg[wb];`,
      `    for (var m = 1u; m < ${u(WG)} + dyn; m++) { v = ${combine(nm, 'v', 'wg[wb + m]')}; }`,
      blockMask.length ? `    if (${blockMask.join(' && ')}) { ${wgStore} }` : `    ${wgStore}`,
      '  }',
    ];

  const bindings = [x, dy, target];
  const usesF16 = needsF16(bindings.map((b) => b.binding), ctx.mode, A === 'f16' || nm.mulT === 'f16');
  const code = finish([
    usesF16 && 'enable f16;',
    `// conv2d_grad_weight x ${g.N}x${g.C}x${g.H}x${g.W}, dy ${g.N}x${g.O}x${g.OH}x${g.OW} -> dw ${g.O}x${g.CG}x${g.KH}x${g.KW}, ` +
      `stride [${g.sh}, ${g.sw}], pad [${g.pt}, ${g.pl}], dilation [${g.dh}, ${g.dw}], groups ${g.groups}; ` +
      `block ${BO} channels x ${BT} taps, ${plan.direct ? 'one invocation' : `a workgroup of ${WG}`} per block, ${parts} part(s) of ${chunk} positions`,
    declareBindings(bindings.map((b) => b.binding), ctx.mode),
    !plan.direct && `var<workgroup> wg: array<${A}, ${E * WG}>;`,
    `@compute @workgroup_size(${WG})`,
    `fn main(${ENTRY_PARAMS}) {`,
    plan.direct ? `  let q = ${grid.groupIndex} * ${u(WG)} + lid;` : `  let q = ${grid.groupIndex};`,
    // In the workgroup scheme q is uniform, so the barriers below stay in uniform control flow.
    `  if (q >= ${u(units)}) { return; }`,
    // Part fastest, then tap block, channel block, group.
    split ? `  let part = q % ${u(parts)}; let bq = q / ${u(parts)};` : '  let bq = q;',
    `  let tb = bq % ${u(TB)}; let b1 = bq / ${u(TB)};`,
    `  let ob = b1 % ${u(OB)}; let g = b1 / ${u(OB)};`,
    `  let oc0 = ob * ${u(BO)}; let tap0 = tb * ${u(BT)};`,
    // dy channel of each output channel of the block, x channel and tap offsets of each tap (tails clamped).
    ...js.map((j) => {
      const oc = j === 0 ? 'oc0' : g.OG % BO !== 0 ? `min(oc0 + ${u(j)}, ${u(g.OG - 1)})` : `oc0 + ${u(j)}`;
      return `  let dyc_${j} = (g * ${u(g.OG)} + ${oc}) * ${u(g.OH * g.OW)};`;
    }),
    ...ks.map((k) => {
      const tp = k === 0 ? 'tap0' : KT % BT !== 0 ? `min(tap0 + ${u(k)}, ${u(KT - 1)})` : `tap0 + ${u(k)}`;
      return `  let tp_${k} = ${tp}; let xc_${k} = (g * ${u(g.CG)} + tp_${k} / ${u(KK)}) * ${u(g.H * g.W)};\n` +
        `  let ihb_${k} = i32(((tp_${k} / ${u(g.KW)}) % ${u(g.KH)}) * ${u(g.dh)}) - ${i(g.pt)}; let iwb_${k} = i32((tp_${k} % ${u(g.KW)}) * ${u(g.dw)}) - ${i(g.pl)};`;
    }),
    `  let wo = (g * ${u(g.OG)} + oc0) * ${u(KT)} + tap0;`,
    ...js.flatMap((j) => ks.map((k) => `  var ${acc(j, k)}: ${A} = ${literal(0, A)};`)),
    '  let dyn = nwg.z >> 31u;',
    ...loop,
    ...position,
    '  }',
    ...reduce,
    '}',
    '',
  ]);
  const stage1: KernelLaunch = {
    label: split ? `${nodeLabel(node, ctx)} (partials)` : nodeLabel(node, ctx),
    code,
    usesF16,
    bindings: bindings.map((b) => b.buffer),
    workgroups: grid.workgroups,
  };
  if (!split) return [stage1];

  // Stage 2: each weight element adds its parts, as the accumulator does, and converts once.
  const partialIn: BoundBuffer = { binding: { name: 'partial', dtype: dtypeOfAcc(A), access: 'read' }, buffer: partialsId };
  const stage2 = emitReduction(ctx, {
    label: nodeLabel(node, ctx),
    inputs: [partialIn],
    output: writeOf(ctx, dwValue, 'dw'),
    rows: g.O * KT,
    extent: parts,
    acc: A,
    op: nm.round ? 'sum_f16' : 'sum',
    element: (o, r) => load(partialIn.binding, `${o} * ${u(parts)} + ${r}`, ctx.mode),
    finalize: (s) => convertType(s, A, nm.outT),
  });
  return [stage1, ...stage2];
}
