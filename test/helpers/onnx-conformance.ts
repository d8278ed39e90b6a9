// The ONNX operator tests (Debian's libonnx-testdata: node/<test>/model.onnx
// with test_data_set_0/{input,output}_N.pb) run through the importer on a
// WebGPU device, in f32 and under the amp pipeline, compared with the shipped
// outputs. Shared by test/onnx-conformance.test.ts and
// scripts/onnx-conformance.ts (`npm run onnx-conformance`, which prints the table).
//
// In scope: one data set, every output f32/f16/bool, every input f32/f16/bool
// or an integer tensor (integer inputs are shape data or indices; they are
// folded in at import as constants, like TVM's freeze_params). Float inputs
// and bool inputs that fix a node's output shape (Resize's roi and scales,
// Upsample's scales, OneHot's depth, Range's start/limit/delta, Compress's
// condition: the output's extent depends on their values, so a static-shape
// compiler needs them at compile time, as XLA does; initializers in real
// models, graph inputs in these tests) are folded in the same way.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { HostTensor } from '../../ir/dtype.ts';
import { interpret } from '../../ir/interp/interpret.ts';
import { isAmpcError } from '../../ir/errors.ts';
import { importOnnx, readOnnxTensor } from '../../compiler/onnx/import.ts';
import { decodeModel, ELEM_TYPES } from '../../compiler/onnx/proto.ts';
import type { ConstTensor } from '../../compiler/onnx/proto.ts';
import { runGraphOnGpu } from '../../compiler/execute.ts';
import { pipelineByName } from '../../passes/pipeline.ts';
import { runPipeline } from '../../passes/runner.ts';
import type { GpuContext } from '../../runtime/device.ts';

export const ONNX_NODE_DIR = process.env.AMPC_ONNX_NODE_TESTS ?? '/usr/share/libonnx-testdata/data/node';

export const TOLERANCE = { f32: { rtol: 1e-4, atol: 1e-5 }, amp: { rtol: 3e-2, atol: 1e-2 } } as const;

export type CaseStatus = 'out-of-scope' | 'unsupported' | 'import-error' | 'run-error' | 'ran';

export interface CaseResult {
  name: string;
  status: CaseStatus;
  /** Why a case is out of scope, unsupported, or failed to import or run. */
  reason?: string;
  /** For unsupported cases: the ONNX op refused (with the attribute, if that is what was refused). */
  op?: string;
  f32?: boolean;
  amp?: boolean;
  /** First mismatch per mode. */
  detail?: { f32?: string; amp?: string };
  importMs?: number;
  runMs?: number;
}

export function listCases(dir = ONNX_NODE_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'model.onnx'))).sort();
}

const OK_OUT = new Set(['float', 'float16', 'bool']);
const INT_IN = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32']);

/** Why a case is out of scope, or undefined when it is in scope. */
export function outOfScope(dir: string, name: string): string | undefined {
  const sets = readdirSync(join(dir, name)).filter((f) => f.startsWith('test_data_set')).length;
  if (sets !== 1) return sets === 0 ? 'no data set' : 'several data sets';
  const g = decodeModel(readFileSync(join(dir, name, 'model.onnx'))).graph!;
  const type = (v: { type?: { tensorType?: { elemType?: number | null } | null } | null }) =>
    v.type?.tensorType ? (ELEM_TYPES[v.type.tensorType.elemType ?? 0] ?? 'unknown') : 'non-tensor';
  for (const o of g.output ?? []) if (!OK_OUT.has(type(o))) return `${type(o)} output`;
  for (const i of g.input ?? []) if (!OK_OUT.has(type(i)) && !INT_IN.has(type(i))) return `${type(i)} input`;
  return undefined;
}

function readSet(dir: string, kind: 'input' | 'output') {
  const files = readdirSync(dir).filter((f) => f.startsWith(`${kind}_`) && f.endsWith('.pb'));
  files.sort((a, b) => Number(a.slice(kind.length + 1, -3)) - Number(b.slice(kind.length + 1, -3)));
  return files.map((f) => readOnnxTensor(readFileSync(join(dir, f)), f));
}

/** Per op, the input slots whose values fix the output's shape. */
const SHAPE_SLOTS: Readonly<Record<string, readonly number[]>> = {
  Resize: [1, 2],
  Upsample: [1],
  OneHot: [1],
  Range: [0, 1, 2],
  Compress: [1],
};

/** Names used only in slots that fix an output shape (float or bool shape parameters). */
function shapeDataInputs(nodes: readonly { opType?: string | null; input?: readonly string[] | null }[]): Set<string> {
  const isShapeSlot = (op: string, i: number) => SHAPE_SLOTS[op]?.includes(i) ?? false;
  const shape = new Set<string>(), other = new Set<string>();
  for (const n of nodes) (n.input ?? []).forEach((name, i) => (isShapeSlot(n.opType ?? '', i) ? shape : other).add(name));
  return new Set([...shape].filter((name) => name !== '' && !other.has(name)));
}

/** Imports a case: the graph, its inputs (model inputs + initializer values), expected outputs. */
export function loadCase(dir: string, name: string) {
  const bytes = readFileSync(join(dir, name, 'model.onnx'));
  const model = decodeModel(bytes);
  const inputs = readSet(join(dir, name, 'test_data_set_0'), 'input');
  const outputs = readSet(join(dir, name, 'test_data_set_0'), 'output');
  const initNames = new Set((model.graph!.initializer ?? []).map((t) => t.name));
  const modelInputs = (model.graph!.input ?? []).filter((v) => !initNames.has(v.name));
  const constants: Record<string, ConstTensor> = {};
  const given: { onnx: string; tensor: HostTensor }[] = [];
  const shapeData = shapeDataInputs(model.graph!.node ?? []);
  modelInputs.forEach((vi, k) => {
    const t = inputs[k];
    if (!t) return;
    if (INT_IN.has(t.values.type) || shapeData.has(vi.name ?? '')) constants[vi.name ?? ''] = t.values;
    else given.push({ onnx: vi.name ?? '', tensor: t.tensor });
  });
  const t0 = performance.now();
  const imported = importOnnx(bytes, { file: `${name}/model.onnx`, constants });
  const importMs = performance.now() - t0;
  const feeds: Record<string, HostTensor> = { ...imported.values };
  for (const { onnx, tensor } of given) feeds[imported.inputNames[onnx]!] = tensor;
  return { imported, feeds, expected: outputs.map((o) => o.tensor), importMs };
}

/** The first element outside the tolerance, or undefined when all are within. */
export function compareOutputs(got: readonly HostTensor[], want: readonly HostTensor[], tol: { rtol: number; atol: number }): string | undefined {
  if (got.length !== want.length) return `${got.length} outputs, expected ${want.length}`;
  for (let k = 0; k < want.length; k++) {
    const g = got[k]!, w = want[k]!;
    const gs = g.shape.join(','), ws = w.shape.join(',');
    if (gs !== ws) return `output ${k}: shape [${gs}], expected [${ws}]`;
    for (let i = 0; i < w.data.length; i++) {
      const a = Number(g.data[i]), b = Number(w.data[i]);
      if (Number.isNaN(b) ? Number.isNaN(a) : a === b || Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(b)) continue;
      return `output ${k}[${i}]: ${a}, expected ${b}`;
    }
  }
  return undefined;
}

/**
 * Checks each named node test on the reference interpreter against its
 * shipped outputs (f32 tolerance), `each` checking more per case; a pass
 * saying so when the test data is not installed (the conformance test itself
 * fails then under AMPC_REQUIRE_GPU=1).
 */
export function shippedOnReference(
  t: ExecutionContext, names: readonly string[], each?: (name: string, imported: ReturnType<typeof loadCase>['imported']) => void,
): void {
  if (!names.every((n) => existsSync(join(ONNX_NODE_DIR, n)))) {
    t.pass('no ONNX test data');
    return;
  }
  for (const name of names) {
    const { imported, feeds, expected } = loadCase(ONNX_NODE_DIR, name);
    t.is(compareOutputs(interpret(imported.graph, feeds), expected, TOLERANCE.f32), undefined, name);
    each?.(name, imported);
  }
}

function errText(e: unknown): string {
  return isAmpcError(e) ? e.message : String((e as Error)?.stack ?? e);
}

/** Runs one case on the device in f32 and under amp. */
export async function runCase(ctx: GpuContext | undefined, name: string, dir = ONNX_NODE_DIR): Promise<CaseResult> {
  const scope = outOfScope(dir, name);
  if (scope) return { name, status: 'out-of-scope', reason: scope };
  let loaded;
  try {
    loaded = loadCase(dir, name);
  } catch (e) {
    if (isAmpcError(e) && e.code === 'E0901') {
      const op = /\((\w+)\)$/.exec(e.loc?.node ?? '')?.[1] ?? 'model';
      const attr = /attribute '(\w+)'|(output \d+)|(element type \w+)/.exec(e.detail);
      return { name, status: 'unsupported', op: attr ? `${op} (${attr[1] ?? attr[2] ?? attr[3]})` : op, reason: e.message };
    }
    return { name, status: 'import-error', reason: errText(e) };
  }
  const r: CaseResult = { name, status: 'ran', importMs: loaded.importMs, detail: {} };
  if (!ctx) return r;
  const t0 = performance.now();
  try {
    const g = loaded.imported.graph;
    const y32 = await runGraphOnGpu(g, loaded.feeds, ctx);
    r.detail!.f32 = compareOutputs(y32, loaded.expected, TOLERANCE.f32);
    r.f32 = r.detail!.f32 === undefined;
    const amp = runPipeline(g, pipelineByName('amp'), { options: {} });
    const yAmp = await runGraphOnGpu(amp, loaded.feeds, ctx);
    r.detail!.amp = compareOutputs(yAmp, loaded.expected, TOLERANCE.amp);
    r.amp = r.detail!.amp === undefined;
  } catch (e) {
    return { ...r, status: 'run-error', reason: errText(e), runMs: performance.now() - t0 };
  }
  r.runMs = performance.now() - t0;
  return r;
}

export interface Summary {
  total: number;
  inScope: number;
  imported: number;
  passF32: number;
  passAmp: number;
  outOfScope: Map<string, number>;
  unsupported: Map<string, number>;
  results: CaseResult[];
}

export function summarize(results: readonly CaseResult[]): Summary {
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const s: Summary = { total: results.length, inScope: 0, imported: 0, passF32: 0, passAmp: 0, outOfScope: new Map(), unsupported: new Map(), results: [...results] };
  for (const r of results) {
    if (r.status === 'out-of-scope') {
      count(s.outOfScope, r.reason!);
      continue;
    }
    s.inScope++;
    if (r.status === 'unsupported') count(s.unsupported, r.op!);
    if (r.status === 'ran' || r.status === 'run-error') s.imported++;
    if (r.f32) s.passF32++;
    if (r.amp) s.passAmp++;
  }
  return s;
}

const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');
const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** The table `npm run onnx-conformance` prints (Markdown). */
export function formatTable(s: Summary): string {
  const lines = [
    '| ONNX node tests | count | share |',
    '|---|---:|---:|',
    `| total | ${s.total} | |`,
    `| in scope (f32/f16/bool values, one data set) | ${s.inScope} | ${pct(s.inScope, s.total)} of total |`,
    `| imported | ${s.imported} | ${pct(s.imported, s.inScope)} of in scope |`,
    `| pass f32 (rtol 1e-4, atol 1e-5) | ${s.passF32} | ${pct(s.passF32, s.imported)} of imported |`,
    `| pass AMP (rtol 3e-2, atol 1e-2) | ${s.passAmp} | ${pct(s.passAmp, s.imported)} of imported |`,
    '',
    `Unsupported (in-scope tests refused at import, by op): ${sorted(s.unsupported).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    '',
    `Out of scope: ${sorted(s.outOfScope).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
  ];
  return lines.join('\n');
}
