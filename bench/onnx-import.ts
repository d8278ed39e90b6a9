// Import speed: `importOnnx` (protobuf decoding, mapping each node through the
// op table, folding what is known at import) on generated ONNX graphs of
// 1,000, 2,000 and 5,000 nodes, written with compiler/onnx/write.ts. The
// graph is a chain of transformer-style MLP blocks of eight nodes each —
// MatMul, Add, Relu, MatMul, Add, the residual Add, LayerNormalization and a
// Reshape by an int64 shape initializer (folded at import) — on a [batch,
// hidden] activation with its own weights per block (hidden 64: 2 × 16 KiB of
// f32 weights per block), cut at the requested node count. Rounds are timed
// one after another in one process after a warm-up import; no device is
// needed.
//
//   npx tsx bench/onnx-import.ts [--nodes 1000,2000,5000] [--rounds 10] [--hidden 64] [--json]

import { Command } from 'commander';
import { importOnnx } from '../compiler/onnx/import.ts';
import { attr, writeOnnx } from '../compiler/onnx/write.ts';
import type { OnnxNodeSpec, OnnxTensorSpec } from '../compiler/onnx/write.ts';
import { Rng } from '../ir/trace/nn/init.ts';

const o = new Command()
  .option('--nodes <list>', 'node counts, comma-separated', '1000,2000,5000')
  .option('--rounds <n>', 'timed imports per size', '10')
  .option('--hidden <n>', 'width of the activations', '64')
  .option('--batch <n>', 'batch dimension', '8')
  .option('--json', 'JSON lines')
  .parse()
  .opts<{ nodes: string; rounds: string; hidden: string; batch: string; json?: boolean }>();

/** A chain of MLP blocks, cut after `count` nodes; returns the .onnx bytes. */
function chainModel(count: number, hidden: number, batch: number): Uint8Array {
  const rng = new Rng(0, 'onnx-import-bench');
  const weights = (n: number, bound: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * bound);
  const initializers: OnnxTensorSpec[] = [{ name: 'shape', shape: [2], values: BigInt64Array.from([BigInt(batch), BigInt(hidden)]) }];
  const nodes: OnnxNodeSpec[] = [];
  let x = 'input';
  for (let b = 0; nodes.length < count; b++) {
    const p = `block${b}`;
    const w = (name: string, shape: number[], bound: number) => {
      initializers.push({ name: `${p}.${name}`, shape, values: weights(shape.reduce((a, d) => a * d, 1), bound) });
      return `${p}.${name}`;
    };
    const bound = 1 / Math.sqrt(hidden);
    const block: OnnxNodeSpec[] = [
      { op: 'MatMul', inputs: [x, w('fc1.weight', [hidden, hidden], bound)], outputs: [`${p}.h1`] },
      { op: 'Add', inputs: [`${p}.h1`, w('fc1.bias', [hidden], bound)], outputs: [`${p}.z1`] },
      { op: 'Relu', inputs: [`${p}.z1`], outputs: [`${p}.a1`] },
      { op: 'MatMul', inputs: [`${p}.a1`, w('fc2.weight', [hidden, hidden], bound)], outputs: [`${p}.h2`] },
      { op: 'Add', inputs: [`${p}.h2`, w('fc2.bias', [hidden], bound)], outputs: [`${p}.z2`] },
      { op: 'Add', inputs: [`${p}.z2`, x], outputs: [`${p}.res`] },
      { op: 'LayerNormalization', inputs: [`${p}.res`, w('ln.weight', [hidden], 1), w('ln.bias', [hidden], 0.1)], outputs: [`${p}.ln`], attributes: { axis: attr.int(-1), epsilon: attr.float(1e-5) } },
      { op: 'Reshape', inputs: [`${p}.ln`, 'shape'], outputs: [`${p}.out`] },
    ];
    for (const n of block) {
      if (nodes.length === count) break;
      nodes.push({ ...n, name: `/${p}/${n.op}_${nodes.length}` });
      x = n.outputs[0]!;
    }
  }
  // Only the initializers some node reads (the last block may be cut short).
  const used = new Set(nodes.flatMap((n) => n.inputs));
  return writeOnnx({
    name: `chain${count}`, opset: 17,
    inputs: [{ name: 'input', shape: [batch, hidden] }], outputs: [{ name: x, shape: [batch, hidden] }],
    initializers: initializers.filter((t) => used.has(t.name)), nodes,
  });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const rows = [];
for (const count of o.nodes.split(',').map(Number)) {
  const bytes = chainModel(count, Number(o.hidden), Number(o.batch));
  const first = performance.now();
  const r = importOnnx(bytes); // warm-up (JIT), timed apart
  const firstMs = performance.now() - first;
  const ms: number[] = [];
  for (let i = 0; i < Number(o.rounds); i++) {
    const start = performance.now();
    importOnnx(bytes);
    ms.push(performance.now() - start);
  }
  rows.push({
    onnxNodes: count, irNodes: r.graph.nodes.length, params: Object.keys(r.values).length, mib: +(bytes.length / 2 ** 20).toFixed(2),
    firstMs: +firstMs.toFixed(1), msMedian: +median(ms).toFixed(1), msMin: +Math.min(...ms).toFixed(1), usPerNode: +((median(ms) * 1000) / count).toFixed(1),
  });
}
if (o.json) for (const r of rows) console.log(JSON.stringify({ bench: 'onnx-import', hidden: Number(o.hidden), rounds: Number(o.rounds), ...r }));
else {
  console.log(`importOnnx on chains of MLP blocks (hidden ${o.hidden}, batch ${o.batch}); ${o.rounds} rounds after a warm-up import\n`);
  console.log('| ONNX nodes | IR nodes | initializers | file MiB | first import ms | ms (median) | ms (min) | µs / node |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.onnxNodes} | ${r.irNodes} | ${r.params} | ${r.mib} | ${r.firstMs} | ${r.msMedian} | ${r.msMin} | ${r.usPerNode} |`);
}
