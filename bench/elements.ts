// Elements per invocation of a map kernel on this adapter: one elementwise
// kernel (y = x·1.5 + 2 over n f32) in WGSL of the map kernels' strided loop
// (compiler/kernels/map.ts), each of 1, 4, 16, 64 and 256 elements per
// invocation, and the count elementsPerInvocation picks for this adapter's
// kind, timed interleaved (each round dispatches each variant `runs` times in
// one compute pass). The figures behind elementsPerInvocation's CPU rule.
//
//   npx tsx bench/elements.ts [--sizes 16384,83584,200704,1048576] [--rounds 8] [--json]

import { Command } from 'commander';
import { adapterKindOf } from '../compiler/kernels/matmul-config.ts';
import { elementsPerInvocation, MAP_WORKGROUP } from '../compiler/kernels/map.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';

const o = new Command()
  .option('--sizes <list>', 'element counts', '16384,83584,200704,1048576')
  .option('--rounds <n>', 'timed rounds', '8')
  .option('--json', 'JSON lines')
  .parse()
  .opts<{ sizes: string; rounds: string; json?: boolean }>();

const ctx = await acquireDevice();
const d = ctx.device;
const kind = adapterKindOf(ctx.adapterInfo);
const rounds = Number(o.rounds);
if (!o.json) console.log(`${describeDevice(ctx)} (${kind} kind); ms per dispatch, median of ${rounds} rounds (min)`);

function kernel(n: number, per: number, x: GPUBuffer, y: GPUBuffer) {
  const threads = Math.ceil(n / per);
  const code = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${MAP_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let g = gid.x;
  if (g >= ${threads}u) { return; }
  for (var k = 0u; k < ${per}u; k++) { let i = g + k * ${threads}u; if (i >= ${n}u) { break; } y[i] = x[i] * 1.5 + 2.0; }
}`;
  const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code }), entryPoint: 'main' } });
  const bindGroup = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: x } }, { binding: 1, resource: { buffer: y } }] });
  return { per, pipeline, bindGroup, workgroups: Math.ceil(threads / MAP_WORKGROUP), ms: [] as number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
try {
  for (const n of o.sizes.split(',').map(Number)) {
    const x = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const y = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
    d.queue.writeBuffer(x, 0, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    const chosen = elementsPerInvocation(kind, n);
    const pers = [...new Set([1, 4, 16, 64, 256, chosen])].filter((p) => p === chosen || n / p >= MAP_WORKGROUP).sort((a, b) => a - b);
    const variants = pers.map((p) => kernel(n, p, x, y));
    const runs = Math.max(3, Math.min(40, Math.round(4e6 / n)));
    for (let r = 0; r <= rounds; r++) {
      for (const v of variants) {
        const start = performance.now();
        const enc = d.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (let i = 0; i < runs; i++) {
          pass.setPipeline(v.pipeline);
          pass.setBindGroup(0, v.bindGroup);
          pass.dispatchWorkgroups(v.workgroups);
        }
        pass.end();
        d.queue.submit([enc.finish()]);
        await d.queue.onSubmittedWorkDone();
        if (r > 0) v.ms.push((performance.now() - start) / runs);
      }
    }
    for (const v of variants) {
      const row = { n, perInvocation: v.per, workgroups: v.workgroups, chosen: v.per === chosen, medianMs: median(v.ms), minMs: Math.min(...v.ms) };
      if (o.json) console.log(JSON.stringify(row));
    }
    if (!o.json) console.log(`n = ${n}: ` + variants.map((v) => `${v.per}${v.per === chosen ? '*' : ''} (${v.workgroups} wg) ${median(v.ms).toFixed(3)} (${Math.min(...v.ms).toFixed(3)})`).join(' | '));
    x.destroy();
    y.destroy();
  }
  if (!o.json) console.log('* the count elementsPerInvocation picks for this adapter kind');
} finally {
  ctx.destroy();
}
