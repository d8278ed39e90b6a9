// In-place updates inside one kernel. A train step's fused update kernel
// reads a parameter (or an optimizer state) and writes its new value, each
// invocation reading element i and then writing element i. Such an update
// can write straight into the input's buffer instead of a second buffer
// copied back after the step (XLA's input/output aliasing, "donation"):
// that halves the memory of the optimizer state. Two pieces:
//
//   readsAlignedOnly  which operands of a node its kernel reads only at the
//                     element it writes (a fused elementwise group, or a
//                     matmul's epilogue operand of the output's shape)
//   mergeAliasedBindings  a launch that binds one buffer twice (read, and
//                     read_write for the result) binds it once: WebGPU
//                     forbids a buffer bound writable and again in the same
//                     dispatch. The read binding's name is replaced by the
//                     written one and the bindings above it are renumbered.
//
// compiler/lower.ts (writtenInPlace) decides which updates qualify.

import type { Node } from '../ir/graph.ts';
import type { F16Mode } from '../runtime/plan.ts';
import type { KernelLaunch } from './kernels/context.ts';
import { isPrologue } from './kernels/fused.ts';
import { sameLayout } from './wgsl/indexing.ts';

/** Heads whose fused kernels read operands other than at the output element (several launches, or rows). */
const NOT_ELEMENTWISE_HEADS = new Set(['finite_check', 'batch_norm', 'reduce_sum', 'reduce_mean', 'reduce_max']);

/**
 * True when `node`'s kernel reads operand `k` only at the flat index of the
 * output element it writes, before writing it: a `fused` node whose body
 * input k has the output's shape and is read by neither the matmul at its
 * head nor a cast that matmul converts as it loads. Packed f16 is written
 * with atomics and is left out.
 */
export function readsAlignedOnly(node: Node, k: number, mode: F16Mode): boolean {
  const body = node.body;
  if (node.op !== 'fused' || !body) return false;
  if (body.nodes.some((n) => NOT_ELEMENTWISE_HEADS.has(n.op))) return false;
  const v = body.inputs[k];
  if (!v || !sameLayout(v.type.shape, node.results[0]!.type.shape)) return false;
  if (v.type.dtype === 'f16' && mode === 'packed') return false;
  if (!node.results.every((r) => sameLayout(r.type.shape, node.results[0]!.type.shape))) return false;
  return !body.nodes.some((n) => n.operands.includes(v) && (n.op === 'matmul' || isPrologue(n, body)));
}

const DECLARATION = /^@group\(0\) @binding\((\d+)\) var<storage, (read|read_write)> (\w+): array<([^>]+>?)>;$/;

/** `l` with every buffer it binds twice (read and read_write, or read twice) bound once: through the read_write binding, or the first read one. */
export function mergeAliasedBindings(l: KernelLaunch): KernelLaunch {
  let { code, bindings } = l;
  for (;;) {
    const dup = bindings.findIndex((b, i) => bindings.indexOf(b) !== i);
    if (dup < 0) return code === l.code ? l : { ...l, code, bindings };
    const first = bindings.indexOf(bindings[dup]!);
    const lines = code.split('\n');
    const decl = (index: number) => {
      const at = lines.findIndex((line) => DECLARATION.exec(line)?.[1] === String(index));
      const m = DECLARATION.exec(lines[at] ?? '');
      if (!m) throw new Error(`mergeAliasedBindings: ${l.label}: no declaration of binding ${index}`);
      return { at, access: m[2]!, name: m[3]!, elem: m[4]! };
    };
    const a = decl(first), b = decl(dup);
    // The binding that goes: a read one (the later of two reads), read and written through the other.
    const [read, write] = b.access === 'read' ? [b, a] : [a, b];
    if (read.access !== 'read' || read.elem !== write.elem) {
      throw new Error(`mergeAliasedBindings: ${l.label}: buffer ${bindings[dup]} bound twice as ${a.access} ${a.elem} and ${b.access} ${b.elem}`);
    }
    const readIndex = read === a ? first : dup;
    lines.splice(read.at, 1);
    code = lines.join('\n')
      .replace(new RegExp(`\\b${read.name}\\b`, 'g'), write.name)
      .replace(/@binding\((\d+)\)/g, (m, n: string) => (Number(n) > readIndex ? `@binding(${Number(n) - 1})` : m));
    bindings = bindings.filter((_, i) => i !== readIndex);
  }
}
