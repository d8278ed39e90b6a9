// Control flow (If, Scan, Loop) imported inline into the static IR graph, as
// XLA does after unrolling: subgraphs are imported by the importer's own node
// loop (NodeCtx.inline), their outer-scope references resolved in the
// enclosing graphs, each IR node placed at the control-flow node and the
// subgraph node (`node 'if1' (If) then_branch: node 'add' (Add)`).
//
// If (opset 1+): a condition known at import imports only the taken branch;
// a run-time bool condition imports both and selects each output with the
// IR's `select`. Outputs whose shapes or dtypes differ between the branches
// would take a shape that depends on the run-time condition: E0901.
//
// Scan, opset 9+: the scan length (the extent of every scan input along its
// scan_input_axes) is unrolled; each iteration gets a slice of every scan
// input (from the end where scan_input_directions says 1), the state threads
// through, and the per-iteration scan outputs are stacked along
// scan_output_axes (in reverse order where scan_output_directions says 1).
// Opset 8 has a batch axis 0 on every state and scan input (scanned along
// axis 1, `directions`): each batch element is unrolled on its own and the
// results stacked; sequence_lens must be known at import and the full length
// (shorter sequences are E0901). An empty scan (length 0) is E0901.
//
// Loop, opset 11+: unrolled when the number of iterations is known at
// import: the trip count is a constant and the condition (the input, and the
// body's condition output after each iteration) is known at import — a
// run-time condition could stop the loop early, giving the scan outputs a
// shape that depends on it: E0901. At most MAX_UNROLL iterations; a loop that
// runs no iteration but has scan outputs (empty tensors) is E0901.

import type { DType } from '../../../ir/dtype.ts';
import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import { irDtype } from '../context.ts';
import { concat, ct, numel, pick, reshaped } from '../fold.ts';
import type { OpMapping } from './types.ts';
import { axisOf, reshapeTo } from './types.ts';

/** The most iterations (per batch element) a Scan or Loop is unrolled to. */
export const MAX_UNROLL = 4096;

const shapeOf = (e: Entry): readonly number[] => (e.kind === 'const' ? e.t.shape : e.v.type.shape);
const dtypeOf = (e: Entry, where: string): DType => (e.kind === 'const' ? irDtype(e.t.type, where) : e.v.type.dtype);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const showShape = (s: readonly number[]) => `[${s.join(', ')}]`;

function mat(c: NodeCtx, e: Entry, hint: string): Value {
  return c.host.materialize(e, hint, c.loc);
}

/** Element `k` of `e` along `axis`, the axis removed (folded for a constant). */
function takeAt(c: NodeCtx, e: Entry, axis: number, k: number): Entry {
  const s = shapeOf(e);
  const out = s.filter((_, i) => i !== axis);
  if (e.kind === 'const') {
    return { kind: 'const', t: reshaped(pick(e.t, s.map((d, i) => (i === axis ? [k] : Array.from({ length: d }, (_, j) => j)))), out) };
  }
  const starts = s.map((_, i) => (i === axis ? k : 0)), ends = s.map((d, i) => (i === axis ? k + 1 : d));
  return { kind: 'value', v: reshapeTo(c, c.add('slice', [e.v], { starts, ends }), out) };
}

/** The entries (all of one shape) stacked along a new axis `axis` (folded when all are constants). */
function stack(c: NodeCtx, es: readonly Entry[], axis: number, hint: string): Entry {
  const s = shapeOf(es[0]!);
  const out = [...s.slice(0, axis), 1, ...s.slice(axis)];
  for (const e of es) if (!sameShape(shapeOf(e), s)) c.bad(`${hint} has shape ${showShape(shapeOf(e))} in one iteration and ${showShape(s)} in another`);
  if (es.every((e) => e.kind === 'const')) return { kind: 'const', t: concat(es.map((e) => reshaped(e.t, out)), axis) };
  const vs = es.map((e) => reshapeTo(c, mat(c, e, hint), out));
  return { kind: 'value', v: vs.length === 1 ? vs[0]! : c.add('concat', vs, { axis }) };
}

// ------------------------------------------------------------- If

function mapIf(c: NodeCtx): Entry[] {
  const thenG = c.graph('then_branch'), elseG = c.graph('else_branch');
  const cond = c.entry(0);
  if (numel(shapeOf(cond)) !== 1) c.bad(`the condition has shape ${showShape(shapeOf(cond))}; it holds one value`);
  if (cond.kind === 'const') return c.inline(cond.t.data[0] ? thenG : elseG, [], cond.t.data[0] ? 'then_branch' : 'else_branch');
  if (cond.v.type.dtype !== 'bool') c.bad(`the condition is ${cond.v.type.dtype}; it is bool`);
  const a = c.inline(thenG, [], 'then_branch'), b = c.inline(elseG, [], 'else_branch');
  if (a.length !== b.length) c.bad(`then_branch has ${a.length} output(s), else_branch ${b.length}`);
  const p = reshapeTo(c, cond.v, []);
  return a.map((x, k) => {
    const y = b[k]!;
    const dx = dtypeOf(x, c.name), dy = dtypeOf(y, c.name);
    if (!sameShape(shapeOf(x), shapeOf(y)) || dx !== dy) {
      c.unsupported(`output ${k} is ${dx}${showShape(shapeOf(x))} in then_branch and ${dy}${showShape(shapeOf(y))} in else_branch: ` +
        'with a run-time condition its shape would depend on the condition (the IR has static shapes; both branches are imported and one selected)');
    }
    const hint = (c.node.output ?? [])[k] || `${c.name}_${k}`;
    return { kind: 'value', v: c.add('select', [p, mat(c, x, `${hint}_then`), mat(c, y, `${hint}_else`)]) };
  });
}

// ------------------------------------------------------------- Scan

interface ScanSpec {
  inAxes: number[];
  inReverse: boolean[];
  outAxes: number[];
  outReverse: boolean[];
}

/**
 * One scan unrolled: `states` threaded through the body, `xs` sliced along
 * their axes; returns the final states, then the stacked scan outputs.
 */
function unrollScan(c: NodeCtx, states: readonly Entry[], xs: readonly Entry[], spec: ScanSpec, label: string): Entry[] {
  const body = c.graph('body');
  const lens = xs.map((x, m) => shapeOf(x)[spec.inAxes[m]!]!);
  const len = lens[0]!;
  if (lens.some((l) => l !== len)) c.bad(`the scan inputs have lengths ${lens.join(', ')} along their axes; they are equal`);
  if (len === 0) c.unsupported('a scan of length 0 (its scan outputs would be empty)');
  if (len > MAX_UNROLL) c.unsupported(`a scan of length ${len} (at most ${MAX_UNROLL} iterations are unrolled)`);
  let carried = [...states];
  const perIter: Entry[][] = [];
  for (let t = 0; t < len; t++) {
    const elems = xs.map((x, m) => takeAt(c, x, spec.inAxes[m]!, spec.inReverse[m] ? len - 1 - t : t));
    const outs = c.inline(body, [...carried, ...elems], `body${label} iteration ${t}`);
    if (outs.length < states.length) c.bad(`the body has ${outs.length} output(s), fewer than the ${states.length} state(s)`);
    outs.slice(0, states.length).forEach((e, n) => {
      if (!sameShape(shapeOf(e), shapeOf(states[n]!))) c.bad(`state ${n} is ${showShape(shapeOf(states[n]!))} and the body makes it ${showShape(shapeOf(e))}`);
    });
    carried = outs.slice(0, states.length);
    perIter.push(outs.slice(states.length));
  }
  const nOut = perIter[0]!.length;
  if (spec.outAxes.length !== nOut || spec.outReverse.length !== nOut) c.bad(`scan_output_axes / scan_output_directions do not have one entry per scan output (${nOut})`);
  const scanned = Array.from({ length: nOut }, (_, k) => {
    const seq = perIter.map((o) => o[k]!);
    if (spec.outReverse[k]) seq.reverse();
    const axis = axisOf(c, spec.outAxes[k]!, shapeOf(seq[0]!).length + 1, `scan_output_axes[${k}]`);
    return stack(c, seq, axis, `scan output ${k}`);
  });
  return [...carried, ...scanned];
}

/** A per-input attribute list (default all `dflt`), checked for one entry per input. */
function perInput(c: NodeCtx, name: string, n: number, dflt: number): number[] {
  const l = c.intList(name) ?? new Array<number>(n).fill(dflt);
  if (l.length !== n) c.bad(`${name} has ${l.length} entries for ${n} input(s)/output(s)`);
  return l;
}

function directions(c: NodeCtx, name: string, n: number): boolean[] {
  return perInput(c, name, n, 0).map((d) => {
    if (d !== 0 && d !== 1) c.bad(`${name} holds ${d} (0 forward, 1 reverse)`);
    return d === 1;
  });
}

function mapScan(c: NodeCtx): Entry[] {
  const body = c.graph('body');
  const m = c.int('num_scan_inputs');
  if (m === undefined || m < 1) c.bad('num_scan_inputs is missing or below 1');
  const nOut = (body.output ?? []).length;
  if (c.opset >= 9) {
    const ins = c.inputs.map((_, i) => c.entry(i));
    const n = ins.length - m;
    if (n < 0) c.bad(`num_scan_inputs is ${m}, with ${ins.length} input(s)`);
    const xs = ins.slice(n);
    const k = nOut - n;
    const spec: ScanSpec = {
      inAxes: perInput(c, 'scan_input_axes', m, 0).map((a, i) => axisOf(c, a, shapeOf(xs[i]!).length, `scan_input_axes[${i}]`)),
      inReverse: directions(c, 'scan_input_directions', m),
      outAxes: perInput(c, 'scan_output_axes', Math.max(k, 0), 0),
      outReverse: directions(c, 'scan_output_directions', Math.max(k, 0)),
    };
    return unrollScan(c, ins.slice(0, n), xs, spec, '');
  }
  // Opset 8: sequence_lens, states, scan inputs, all with a batch axis 0.
  const ins = c.inputs.slice(1).map((_, i) => c.entry(i + 1));
  const n = ins.length - m;
  if (n < 0) c.bad(`num_scan_inputs is ${m}, with ${ins.length} state and scan input(s)`);
  const xs = ins.slice(n);
  const batch = shapeOf(ins[0]!)[0]!;
  for (const e of ins) if (shapeOf(e)[0] !== batch) c.bad(`the states and scan inputs do not share the batch extent ${batch} (axis 0)`);
  const len = shapeOf(xs[0]!)[1]!;
  if (c.has(0)) {
    const lens = c.ints(0, 'sequence_lens');
    if (lens.some((l) => l !== len)) c.unsupported(`sequence_lens [${lens.join(', ')}] shorter than the scan length ${len} (only full-length sequences are unrolled)`);
  }
  const k = Math.max(nOut - n, 0);
  const spec: ScanSpec = { inAxes: new Array<number>(m).fill(0), inReverse: directions(c, 'directions', m), outAxes: new Array<number>(k).fill(0), outReverse: new Array<boolean>(k).fill(false) };
  const perBatch = Array.from({ length: batch }, (_, b) => {
    const take = (e: Entry) => takeAt(c, e, 0, b);
    return unrollScan(c, ins.slice(0, n).map(take), xs.map(take), spec, batch > 1 ? ` batch ${b}` : '');
  });
  return perBatch[0]!.map((_, k) => stack(c, perBatch.map((o) => o[k]!), 0, `output ${k}`));
}

// ------------------------------------------------------------- Loop

function mapLoop(c: NodeCtx): Entry[] {
  if (c.opset < 11) c.unsupported('Loop is mapped from opset 11');
  const body = c.graph('body');
  const trip = c.has(0) ? c.constant(0, 'the trip count').data[0]! : undefined;
  const known = (e: Entry, what: string): boolean => {
    if (e.kind !== 'const') {
      c.unsupported(`${what} is known only at run time: the loop could stop early, and its scan outputs would take a shape that depends on it (the IR has static shapes)`);
    }
    return e.t.data[0] !== 0;
  };
  let cond = c.has(1) ? known(c.entry(1), 'the condition') : true;
  let states = c.inputs.slice(2).map((_, i) => c.entry(i + 2));
  const n = states.length;
  const perIter: Entry[][] = [];
  for (let i = 0; (trip === undefined || i < trip) && cond; i++) {
    if (i >= MAX_UNROLL) c.unsupported(`more than ${MAX_UNROLL} iterations (the most that are unrolled)`);
    const iter: Entry = { kind: 'const', t: ct('int64', [], [i]) };
    const outs = c.inline(body, [iter, { kind: 'const', t: ct('bool', [], [1]) }, ...states], `body iteration ${i}`);
    if (outs.length < n + 1) c.bad(`the body has ${outs.length} output(s); it gives the condition and ${n} state(s)`);
    cond = known(outs[0]!, `the condition after iteration ${i}`);
    states = outs.slice(1, n + 1);
    perIter.push(outs.slice(n + 1));
  }
  const nScan = (body.output ?? []).length - 1 - n;
  if (nScan > 0 && perIter.length === 0) c.unsupported('a loop of no iterations with scan outputs (they would be empty)');
  const scanned = Array.from({ length: Math.max(nScan, 0) }, (_, k) => stack(c, perIter.map((o) => o[k]!), 0, `scan output ${k}`));
  return [...states, ...scanned];
}

export const CONTROL_FLOW_OPS: Record<string, OpMapping> = {
  If: { map: mapIf },
  Scan: { map: mapScan },
  Loop: { map: mapLoop },
};
