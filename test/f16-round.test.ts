// ampc_round_f16 (compiler/wgsl/storage.ts), the rounding of an f32 register
// to the nearest f16 value that the storage and packed modes apply after
// every f16 op: run on the adapter over every f16 value, the midpoints
// between neighbours (ties go to even), one f32 ulp either side of each
// midpoint, the subnormal range, the overflow threshold, infinities, NaN and
// random f32 bit patterns, and compared with the host's IEEE rounding
// (@petamoriken/float16's f16round, overflow to inf) bit for bit.

import test from 'ava';
import { f16round, getFloat16 } from '@petamoriken/float16';
import { withSupport } from '../compiler/wgsl/storage.ts';
import { gpuTest } from './helpers/gpu.ts';

function halfValue(h: number): number {
  const v = new DataView(new ArrayBuffer(2));
  v.setUint16(0, h, true);
  return getFloat16(v, 0, true);
}

/** The inputs: bit patterns of f32 values (NaN patterns included as bits). */
function sweep(): Uint32Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const bits: number[] = [];
  const push = (x: number) => {
    f[0] = x;
    bits.push(u[0]!);
  };
  for (let h = 0; h < 0x7c00; h++) {
    const lo = halfValue(h), hi = halfValue(h + 1);
    for (const s of [1, -1]) {
      push(s * lo);
      const mid = (lo + hi) / 2; // exact in f32: halves have 11 significant bits
      push(s * mid);
      f[0] = s * mid;
      const m = u[0]!;
      bits.push(m + 1, m - 1);
    }
  }
  // Around the overflow threshold 65520 (the midpoint between 65504 and 2^16).
  f[0] = 65520;
  for (let d = -4; d <= 4; d++) bits.push(u[0]! + d, (u[0]! + d) | 0x80000000);
  for (const x of [Infinity, -Infinity, 1e30, -1e30, 3.4e38, 0, -0, 2 ** -25, -(2 ** -25), 2 ** -26, 1.5 * 2 ** -24]) push(x);
  bits.push(0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0x7f801000);
  let s = 7;
  for (let i = 0; i < 65536; i++) bits.push((s = (Math.imul(s, 1664525) + 1013904223) >>> 0));
  return Uint32Array.from(bits);
}

const KERNEL = `@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * 65535u * 64u + gid.x;
  if (i >= arrayLength(&x)) { return; }
  y[i] = bitcast<u32>(ampc_round_f16(bitcast<f32>(x[i])));
}`;

test('the sweep covers every finite f16 value, both signs, with its midpoints', (t) => {
  t.true(sweep().length > 8 * 0x7c00);
});

gpuTest('ampc_round_f16 gives the IEEE nearest-even f16 value of every input, bit for bit (NaN stays NaN)', async (t, ctx) => {
  const d = ctx.device;
  const input = sweep();
  const n = input.length;
  const code = withSupport(KERNEL);
  t.regex(code, /fn ampc_round_f16\(/);
  const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code }), entryPoint: 'main' } });
  const bx = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const by = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const rb = d.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  d.queue.writeBuffer(bx, 0, input);
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: bx } }, { binding: 1, resource: { buffer: by } }] }));
  const groups = Math.ceil(n / 64);
  pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
  pass.end();
  enc.copyBufferToBuffer(by, 0, rb, 0, n * 4);
  d.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const got = new Uint32Array(rb.getMappedRange().slice(0));
  rb.unmap();
  [bx, by, rb].forEach((b) => b.destroy());
  const inF = new Float32Array(input.buffer);
  const gotF = new Float32Array(got.buffer);
  const want = new Float32Array(1);
  const wantU = new Uint32Array(want.buffer);
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = inF[i]!;
    if (Number.isNaN(x)) {
      if (!Number.isNaN(gotF[i]!)) bad.push(`NaN 0x${input[i]!.toString(16)} -> ${gotF[i]}`);
      continue;
    }
    want[0] = f16round(x);
    if (wantU[0] !== got[i]) bad.push(`${x} (0x${input[i]!.toString(16)}): got ${gotF[i]}, expected ${want[0]}`);
  }
  t.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${n} inputs differ`);
});
