// The matmul kernel: register-blocked and tiled. Each invocation accumulates a
// tm x tn block of C in registers over K; a workgroup covers a (wgY*tm) x
// (wgX*tn) tile of one matrix of the batch; optionally the A / B tiles are
// staged in workgroup memory bk deep. Batch dimensions broadcast (numpy) and
// transposes are folded into the index arithmetic. The generator is built
// around three hooks — convert a loaded A element, convert a loaded B element
// (prologues: cast on load), store an output (epilogue: bias, activation,
// cast, scale) — so fused matmuls reuse it as it is; the loads themselves
// (one element, or a vector of them) are the generator's.
//
// Vector loads (register-blocked direct configurations, the CPU adapters'):
// where an operand is contiguous along the rows (A transposed) or columns (B)
// an invocation owns, its block of tm (tn) values per step of k is read as
// 16-byte vectors — 4 f32, or 8 f16 packed two per u32 and unpacked with
// unpack2x16float — instead of one load per value. lavapipe runs every load
// lane by lane, so loads bound the kernel; the arithmetic and its order are
// unchanged (bitwise the same results). f16 storage then needs half the
// loads of f32: on CPU adapters that is where AMP's matmuls gain time.
//
// Arithmetic follows `acc`:
// - acc = f32: f32 accumulator for f32 and f16 operands (f16 operands are
//   loaded and converted: "f16 storage, f32 math").
// - acc = f16 with native f16 and f16 operands: an f16 accumulator, f16 FMAs
//   ("f16 math").
// - acc = f16 otherwise (packed f16 mode, or f32 operands): packed mode has no
//   f16 arithmetic at all, so the kernel computes in f32 and rounds the
//   running sum to f16 after every step (ampc_round_f16, overflow to inf) —
//   the sum the IR asks for, without f16 arithmetic. With f32 operands the
//   products stay f32 (as the reference's) rather than being cast to f16.

import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/graph.ts';
import { matmulDims } from '../../ir/shape-rules.ts';
import type { Shape } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { F16Mode } from '../../runtime/plan.ts';
import { ENTRY_PARAMS, gridFor } from '../wgsl/grid.ts';
import { broadcastIndex, coordsOf } from '../wgsl/indexing.ts';
import { computeType, declareBindings, literal, load, needsF16, store, vectorElem } from '../wgsl/storage.ts';
import type { BoundBuffer, EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import type { MatmulConfig } from './matmul-config.ts';
import { chooseMatmulConfig, tileOf } from './matmul-config.ts';

/** Where an output element lives: its flat index in C and its (batch, row, column), all u32 expressions. */
export interface OutputSite {
  readonly idx: string;
  readonly batch: string;
  readonly row: string;
  readonly col: string;
}

export interface MatmulHooks {
  /**
   * Prologue of A: an element of A's buffer as loaded (an expression of the
   * compute type of the buffer's dtype) as an expression of the math type.
   */
  readonly convertA: (loaded: string) => string;
  /** Prologue of B, likewise. */
  readonly convertB: (loaded: string) => string;
  /** Epilogue: statement(s) storing the finished accumulator `acc` (an expression of the math type) at `site`. */
  readonly storeC: (acc: string, site: OutputSite) => string;
}

/** The arithmetic of a matmul: the WGSL type it multiplies and accumulates in, and whether the sum is rounded to f16 each step. */
export interface MatmulMath {
  readonly type: 'f32' | 'f16';
  readonly roundToF16: boolean;
}

export function matmulMath(operands: DType, acc: DType, mode: F16Mode): MatmulMath {
  if (acc === 'f16' && operands === 'f16' && mode === 'native') return { type: 'f16', roundToF16: false };
  return { type: 'f32', roundToF16: acc === 'f16' };
}

export interface MatmulSpec {
  readonly label: string;
  readonly a: BoundBuffer;
  readonly b: BoundBuffer;
  readonly out: BoundBuffer;
  readonly aShape: Shape;
  readonly bShape: Shape;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly acc: DType;
  /**
   * dtype of A and B as the matmul sees them, after any prologue (a fused
   * cast on load reads an f32 buffer as f16 operands); default: A's storage
   * dtype. With `acc` and the f16 mode it decides the arithmetic.
   */
  readonly operands?: DType;
  /** Further buffers prologue / epilogue hooks read; bound after a and b, before the output. */
  readonly extra?: readonly BoundBuffer[];
  /** Module-scope WGSL the hooks call. */
  readonly helpers?: string;
  /** Hooks replacing the default plain load / convert-and-store. */
  readonly hooks?: Partial<MatmulHooks>;
  /** The hooks themselves use f16 arithmetic or types. */
  readonly hooksUseF16?: boolean;
  /** Tile configuration; default from the table for the current target. */
  readonly config?: MatmulConfig;
}

const u = (n: number) => `${n}u`;

/** `x` of WGSL type `from` as type `to`. */
function convertTo(x: string, from: string, to: string): string {
  return from === to ? x : `${to}(${x})`;
}

/** The default hooks: loaded values converted to the math type, and a plain store of the accumulator converted to C's type. */
export function defaultMatmulHooks(spec: MatmulSpec, mode: F16Mode, math: MatmulMath): MatmulHooks {
  const convertFrom = (b: BoundBuffer) => (x: string) => convertTo(x, computeType(b.binding.dtype, mode), math.type);
  return {
    convertA: convertFrom(spec.a),
    convertB: convertFrom(spec.b),
    // store() converts an f32 accumulator to a native f16 output (overflow to inf).
    storeC: (acc, site) => store(spec.out.binding, site.idx, acc, mode, math.type),
  };
}

interface Geometry {
  readonly batch: Shape;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Strides in A of a row i and of an inner step p; in B of an inner step p and a column j. */
  readonly aI: number;
  readonly aP: number;
  readonly bP: number;
  readonly bJ: number;
}

function geometry(spec: MatmulSpec): Geometry {
  const { batch, m, k, n } = matmulDims(spec.aShape, spec.bShape, spec.transposeA, spec.transposeB);
  const [aI, aP] = spec.transposeA ? [1, m] : [k, 1];
  const [bP, bJ] = spec.transposeB ? [1, k] : [n, 1];
  return { batch, m, n, k, aI, aP, bP, bJ };
}

/** `base + x * stride` with the trivial cases folded. */
function plusScaled(base: string, x: string, stride: number): string {
  const term = stride === 1 ? x : `${x} * ${u(stride)}`;
  return base === '0u' ? term : `${base} + ${term}`;
}

/** Statements computing aOff / bOff / cOff (element offsets of this batch entry's matrices) from `bt`. */
function batchOffsets(spec: MatmulSpec, g: Geometry): string[] {
  const rank = g.batch.length;
  const mat = (shape: Shape) => shape.at(-2)! * shape.at(-1)!;
  if (rank === 0) return ['let aOff = 0u;', 'let bOff = 0u;', 'let cOff = 0u;'];
  const aB = spec.aShape.slice(0, -2), bB = spec.bShape.slice(0, -2);
  return [
    coordsOf(g.batch, 'bt', 'q'),
    `let aOff = (${broadcastIndex(aB, rank, 'q')}) * ${u(mat(spec.aShape))};`,
    `let bOff = (${broadcastIndex(bB, rank, 'q')}) * ${u(mat(spec.bShape))};`,
    `let cOff = bt * ${u(g.m * g.n)};`,
  ];
}

/**
 * Statements adding `products` (one per unrolled step of k) to accumulator
 * `c`: summed first and added once; with f16 rounding, one product at a time,
 * rounding the running sum to f16 after each addition as acc = f16
 * prescribes. A product and a sum rather than fma(): SPIR-V drivers contract
 * them where the hardware fuses, and lavapipe emits the same mul + add for
 * both (fma() measured 13.4 vs 15.4 GFLOP/s for r16x16 there).
 */
function accumulate(c: string, products: readonly string[], math: MatmulMath): string[] {
  if (math.roundToF16) return products.map((p) => `${c} = ampc_round_f16(${c} + ${p});`);
  return [`${c} = ${c} + ${products.length === 1 ? products[0] : `(${products.join(' + ')})`};`];
}

export function matmulKernel(ctx: EmitContext, spec: MatmulSpec): KernelLaunch {
  const mode = ctx.mode;
  const math = matmulMath(spec.operands ?? spec.a.binding.dtype, spec.acc, mode);
  const hooks = { ...defaultMatmulHooks(spec, mode, math), ...spec.hooks };
  const g = geometry(spec);
  const c = spec.config ?? chooseMatmulConfig({ batch: numel(g.batch), m: g.m, n: g.n, k: g.k }, ctx.target);
  const { bm, bn } = tileOf(c);
  const tilesM = Math.ceil(g.m / bm), tilesN = Math.ceil(g.n / bn);
  const total = numel(g.batch) * tilesM * tilesN;
  const grid = gridFor(total, ctx.maxWorkgroupsPerDim);
  const vec = vectorPlan(spec, g, c, math);
  const all = [spec.a, spec.b, ...(spec.extra ?? []), spec.out];
  const bindings = all.map((b, i) => ((i === 0 && vec.a) || (i === 1 && vec.b) ? { ...b.binding, vector: true } : b.binding));
  const usesF16 = needsF16(bindings, mode, math.type === 'f16' || spec.hooksUseF16);
  const T = math.type;
  const zero = literal(0, T);
  const nt = c.wgX * c.wgY;

  // The bound of the k loop. On CPU drivers it is hidden from the shader
  // compiler: NIR fully unrolls loops of up to ~32 iterations, after which
  // lavapipe takes 0.7-1.5 s to compile one small kernel (50 ms rolled) for
  // no gain at run time. arrayLength of a bound buffer is never 0.
  const bound = (n: number) => (ctx.target === 'cpu' ? `select(${u(n)}, 0u, arrayLength(&${spec.out.binding.name}) == 0u)` : u(n));
  const rows = Array.from({ length: c.tm }, (_, i) => i);
  const cols = Array.from({ length: c.tn }, (_, j) => j);
  // Row / column within the tile of this invocation's i-th row and j-th
  // column (i, j: numbers, folded, or u32 expressions).
  const owned = (t: string, i: number | string, block: number, threads: number) => {
    if (c.layout === 'blocked') return `${t} * ${u(block)} + ${typeof i === 'number' ? u(i) : i}`;
    return typeof i === 'number' ? `${t} + ${u(i * threads)}` : `${t} + ${i} * ${u(threads)}`;
  };
  const localRow = (i: number | string) => owned('ty', i, c.tm, c.wgY);
  const localCol = (j: number | string) => owned('tx', j, c.tn, c.wgX);

  const body: string[] = [
    `let g = ${grid.groupIndex};`,
    `if (g >= ${u(total)}) { return; }`,
    `let tn = g % ${u(tilesN)};`,
    `let tm = (g / ${u(tilesN)}) % ${u(tilesM)};`,
    `let bt = g / ${u(tilesN * tilesM)};`,
    `let tx = lid % ${u(c.wgX)};`,
    `let ty = lid / ${u(c.wgX)};`,
    ...batchOffsets(spec, g),
    `let tileRow = tm * ${u(bm)};`,
    `let tileCol = tn * ${u(bn)};`,
    ...rows.flatMap((i) => cols.map((j) => `var c${i}_${j}: ${T} = ${zero};`)),
  ];
  const workgroupVars: string[] = [];

  if (c.bk === 0) {
    body.push(...directLoop(c, g, spec, mode, math, hooks, vec, rows, cols, localRow, localCol, bound));
  } else {
    workgroupVars.push(`var<workgroup> As: array<${T}, ${c.bk * bm}>;`, `var<workgroup> Bs: array<${T}, ${c.bk * bn}>;`);
    body.push(...stagedLoop(c, g, spec, mode, math, hooks, nt, bm, bn, rows, cols, localRow, localCol, bound));
  }

  // Epilogue: the block goes through a private array and one guarded store in
  // a loop, so the store hook (packed f16 stores are two atomics, fused
  // epilogues more) is emitted once rather than tm*tn times: unrolled, the
  // driver's compile time grows with it (lavapipe: 35 s for a 16x16 block).
  const blockSize = c.tm * c.tn;
  body.push(
    `var blk: array<${T}, ${blockSize}>;`,
    ...rows.flatMap((i) => cols.map((j) => `blk[${i * c.tn + j}] = c${i}_${j};`)),
    `for (var e = 0u; e < ${u(blockSize)}; e = e + 1u) {`,
    `  let row = tileRow + ${localRow(`(e / ${u(c.tn)})`)};`,
    `  let col = tileCol + ${localCol(`(e % ${u(c.tn)})`)};`,
    `  if (row < ${u(g.m)} && col < ${u(g.n)}) {`,
    `    ${hooks.storeC('blk[e]', { idx: `cOff + row * ${u(g.n)} + col`, batch: 'bt', row: 'row', col: 'col' })}`,
    '  }',
    '}',
  );

  const code = [
    usesF16 ? 'enable f16;' : '',
    `// matmul ${g.batch.length ? `batch [${g.batch.join(', ')}] x ` : ''}${g.m}x${g.k} * ${g.k}x${g.n}` +
      `${spec.transposeA ? ' (A transposed)' : ''}${spec.transposeB ? ' (B transposed)' : ''}, acc ${spec.acc}, math ${T}${math.roundToF16 ? ' rounded to f16 each step' : ''}; config ${c.name}` +
      `${vec.a || vec.b ? `; vector loads of ${[vec.a && 'A', vec.b && 'B'].filter(Boolean).join(' and ')}` : ''}`,
    declareBindings(bindings, mode),
    spec.helpers ?? '',
    ...workgroupVars,
    `@compute @workgroup_size(${nt})`,
    `fn main(${ENTRY_PARAMS}) {`,
    ...body.map((l) => '  ' + l),
    '}',
    '',
  ].filter((l) => l !== '').join('\n');
  return { label: spec.label, code, usesF16, bindings: all.map((b) => b.buffer), workgroups: grid.workgroups };
}

let vectorLoadsOn = true;

/** Turns vector loads off (or back on) for every matmul compiled after: benches compare both; default on. */
export function setMatmulVectorLoads(on: boolean): void {
  vectorLoadsOn = on;
}

/** Vector loads of one operand: `width` elements per 16-byte vector. */
export interface VectorLoad {
  readonly width: number;
}

/**
 * Which operands the direct loop loads as vectors: only in register-blocked
 * direct configurations (an invocation owns tm contiguous rows and tn
 * contiguous columns), f32 or f16 buffers contiguous along the owned
 * dimension (A transposed: along the rows; B untransposed: along the
 * columns) whose extent, block and batch stride are multiples of the vector
 * width, so every vector is aligned, and not a buffer the kernel binds twice
 * (one buffer has one declaration). A prologue converts each loaded value
 * as it would a single load. Not with an f16 sum rounded every step.
 */
function vectorPlan(spec: MatmulSpec, g: Geometry, c: MatmulConfig, math: MatmulMath): { readonly a?: VectorLoad; readonly b?: VectorLoad } {
  if (!vectorLoadsOn || c.layout !== 'blocked' || c.bk !== 0 || math.roundToF16) return {};
  const shared = (x: BoundBuffer) => [spec.a, spec.b, ...(spec.extra ?? []), spec.out].some((y) => y !== x && y.buffer === x.buffer);
  const plan = (x: BoundBuffer, contiguous: boolean, extent: number, block: number, inner: number): VectorLoad | undefined => {
    const v = vectorElem(x.binding.dtype);
    if (!v || !contiguous || shared(x)) return undefined;
    return extent % v.width === 0 && block % v.width === 0 && inner % v.width === 0 ? { width: v.width } : undefined;
  };
  const a = plan(spec.a, g.aI === 1, g.m, c.tm, g.aP);
  const b = plan(spec.b, g.bJ === 1, g.n, c.tn, g.bP);
  return { ...(a ? { a } : {}), ...(b ? { b } : {}) };
}

/**
 * Statements loading one step of k of an operand's block as vectors: `names`
 * (the block's values, in order), vector q at index `at(q)` (a u32
 * expression in vector units), from a buffer of dtype f32 (vec4<f32>) or f16
 * (vec4<u32>, two halves a word); each value, of the compute type of the
 * buffer's dtype as a single load gives it, goes through `convert`.
 */
function vectorLoads(b: BoundBuffer, mode: F16Mode, at: (q: number) => string, names: readonly string[], width: number, convert: (loaded: string) => string, tag: string): string[] {
  const out: string[] = [];
  const asLoaded = (x: string) => convertTo(x, 'f32', computeType(b.binding.dtype, mode));
  for (let q = 0; q * width < names.length; q++) {
    const v = `${tag}v${q}`;
    out.push(`let ${v} = ${b.binding.name}[${at(q)}];`);
    if (b.binding.dtype === 'f32') {
      for (let r = 0; r < 4; r++) out.push(`let ${names[q * 4 + r]} = ${convert(`${v}[${r}]`)};`);
    } else {
      for (let r = 0; r < 4; r++) {
        out.push(`let ${v}_${r} = unpack2x16float(${v}[${r}]);`);
        out.push(`let ${names[q * 8 + 2 * r]} = ${convert(asLoaded(`${v}_${r}.x`))};`);
        out.push(`let ${names[q * 8 + 2 * r + 1]} = ${convert(asLoaded(`${v}_${r}.y`))};`);
      }
    }
  }
  return out;
}

/**
 * Direct variant: each invocation reads its rows of A and columns of B from
 * storage. Row and column indices are clamped into range so the k loop has no
 * branches; out-of-range results are simply not stored. Vector loads (see
 * vectorPlan) clamp whole vectors: extents are multiples of the width.
 */
function directLoop(
  c: MatmulConfig, g: Geometry, spec: MatmulSpec, mode: F16Mode, math: MatmulMath, hooks: MatmulHooks, vec: ReturnType<typeof vectorPlan>,
  rows: number[], cols: number[], localRow: (i: number) => string, localCol: (j: number) => string, bound: (n: number) => string,
): string[] {
  const out: string[] = [
    // Invocations wholly outside C have nothing to do (no barriers in this variant).
    `if (tileRow + ${localRow(0)} >= ${u(g.m)} || tileCol + ${localCol(0)} >= ${u(g.n)}) { return; }`,
  ];
  // Vector operands: the index (in vectors) of the block's q-th vector at k = 0, clamped like a row or column.
  const vectorStarts = (tag: string, off: string, first: string, w: number, count: number, extent: number) =>
    Array.from({ length: count / w }, (_, q) => `let ${tag}${q} = ${off} / ${u(w)} + min((${first}) / ${u(w)} + ${u(q)}, ${u(extent / w - 1)});`);
  if (vec.a) out.push(...vectorStarts('arv', 'aOff', `tileRow + ${localRow(0)}`, vec.a.width, c.tm, g.m));
  else out.push(...rows.map((i) => `let ar${i} = aOff + min(tileRow + ${localRow(i)}, ${u(g.m - 1)}) * ${u(g.aI)};`));
  if (vec.b) out.push(...vectorStarts('bcv', 'bOff', `tileCol + ${localCol(0)}`, vec.b.width, c.tn, g.n));
  else out.push(...cols.map((j) => `let bc${j} = bOff + min(tileCol + ${localCol(j)}, ${u(g.n - 1)}) * ${u(g.bJ)};`));
  // One block of `unroll` steps of k: the loads of every step first, then
  // each accumulator takes the sum of the block's products in one addition.
  // (Only the gpu configuration s4x4 unrolls: on lavapipe unrolling measured
  // slower, with more live values to spill.)
  const block = (ks: readonly string[]): string[] => [
    '{',
    ...ks.flatMap((k, s) => [
      ...(vec.a
        ? vectorLoads(spec.a, mode, (q) => plusScaled(`arv${q}`, k, g.aP / vec.a!.width), rows.map((i) => `a${i}_${s}`), vec.a.width, hooks.convertA, `a${s}`)
        : rows.map((i) => `let a${i}_${s} = ${hooks.convertA(load(spec.a.binding, plusScaled(`ar${i}`, k, g.aP), mode))};`)),
      ...(vec.b
        ? vectorLoads(spec.b, mode, (q) => plusScaled(`bcv${q}`, k, g.bP / vec.b!.width), cols.map((j) => `b${j}_${s}`), vec.b.width, hooks.convertB, `b${s}`)
        : cols.map((j) => `let b${j}_${s} = ${hooks.convertB(load(spec.b.binding, plusScaled(`bc${j}`, k, g.bP), mode))};`)),
    ].map((l) => '  ' + l)),
    ...rows.flatMap((i) => cols.flatMap((j) => accumulate(`c${i}_${j}`, ks.map((_, s) => `a${i}_${s} * b${j}_${s}`), math).map((l) => '  ' + l))),
    '}',
  ];
  const unroll = Math.max(1, c.unroll);
  const kMain = g.k - (g.k % unroll);
  if (kMain > 0) {
    out.push(`let kEnd = ${bound(kMain)};`, `for (var k = 0u; k < kEnd; k = k + ${u(unroll)}) {`);
    out.push(...block(Array.from({ length: unroll }, (_, s) => (s === 0 ? 'k' : `(k + ${u(s)})`))).map((l) => '  ' + l));
    out.push('}');
  }
  if (kMain < g.k) out.push(...block(Array.from({ length: g.k - kMain }, (_, s) => u(kMain + s))));
  return out;
}

/**
 * Workgroup-memory variant: per bk-deep slice of K, the workgroup copies the
 * A tile (bm x bk) and the B tile (bk x bn) into workgroup memory, converted
 * to the math type by the prologue hooks, zero-padded outside the matrices; then
 * every invocation runs its register block over the slice. Copies walk the
 * operand's contiguous dimension with consecutive invocations.
 */
function stagedLoop(
  c: MatmulConfig, g: Geometry, spec: MatmulSpec, mode: F16Mode, math: MatmulMath, hooks: MatmulHooks, nt: number, bm: number, bn: number,
  rows: number[], cols: number[], localRow: (i: number) => string, localCol: (j: number) => string, bound: (n: number) => string,
): string[] {
  const zero = literal(0, math.type);
  const bk = c.bk;
  // A element (m, kk) of the tile; contiguous along k unless A is transposed.
  const aSplit = spec.transposeA ? `let kk = e / ${u(bm)}; let mm = e % ${u(bm)};` : `let mm = e / ${u(bk)}; let kk = e % ${u(bk)};`;
  // B element (kk, n); contiguous along n unless B is transposed.
  const bSplit = spec.transposeB ? `let nn = e / ${u(bk)}; let kk = e % ${u(bk)};` : `let kk = e / ${u(bn)}; let nn = e % ${u(bn)};`;
  const aIdx = plusScaled(plusScaled('aOff', `min(gr, ${u(g.m - 1)})`, g.aI), `min(gk, ${u(g.k - 1)})`, g.aP);
  const bIdx = plusScaled(plusScaled('bOff', `min(gk, ${u(g.k - 1)})`, g.bP), `min(gc, ${u(g.n - 1)})`, g.bJ);
  return [
    `let kEnd = ${bound(g.k)};`,
    `for (var k0 = 0u; k0 < kEnd; k0 = k0 + ${u(bk)}) {`,
    `  for (var e = lid; e < ${u(bm * bk)}; e = e + ${u(nt)}) {`,
    `    ${aSplit}`,
    `    let gr = tileRow + mm; let gk = k0 + kk;`,
    `    As[kk * ${u(bm)} + mm] = select(${zero}, ${hooks.convertA(load(spec.a.binding, aIdx, mode))}, gr < ${u(g.m)} && gk < ${u(g.k)});`,
    '  }',
    `  for (var e = lid; e < ${u(bn * bk)}; e = e + ${u(nt)}) {`,
    `    ${bSplit}`,
    `    let gc = tileCol + nn; let gk = k0 + kk;`,
    `    Bs[kk * ${u(bn)} + nn] = select(${zero}, ${hooks.convertB(load(spec.b.binding, bIdx, mode))}, gc < ${u(g.n)} && gk < ${u(g.k)});`,
    '  }',
    '  workgroupBarrier();',
    `  for (var kk = 0u; kk < ${u(bk)}; kk = kk + 1u) {`,
    ...rows.map((i) => `    let a${i} = As[kk * ${u(bm)} + ${localRow(i)}];`),
    ...cols.map((j) => `    let b${j} = Bs[kk * ${u(bn)} + ${localCol(j)}];`),
    ...rows.flatMap((i) => cols.flatMap((j) => accumulate(`c${i}_${j}`, [`a${i} * b${j}`], math).map((l) => '    ' + l))),
    '  }',
    '  workgroupBarrier();',
    '}',
  ];
}

/** The emitter of the `matmul` op. */
export function emitMatmul(node: Node, ctx: EmitContext): KernelLaunch[] {
  const a = node.operands[0]!, b = node.operands[1]!;
  const res = node.results[0]!;
  return [
    matmulKernel(ctx, {
      label: nodeLabel(node, ctx),
      a: readOf(ctx, a, 'a'),
      b: readOf(ctx, b, 'b'),
      out: writeOf(ctx, res, 'c'),
      aShape: a.type.shape,
      bShape: b.type.shape,
      transposeA: node.attrs.transpose_a as boolean,
      transposeB: node.attrs.transpose_b as boolean,
      acc: node.attrs.acc as DType,
    }),
  ];
}
