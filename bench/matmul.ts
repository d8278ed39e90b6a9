// Matmul throughput of ampc's kernels on the WebGPU adapter this process gets.
//
//   npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--no-mlp] [--variants f32,f16,f16-math,f16-packed]
//                           [--json] [--sweep [--configs r4x4,w4x4]]
//
// Square sizes and the MLP shapes (batch 64 and 256 x 784->256, 256->10,
// 784->1024), each in f32, f16 operands with acc = f32 ("f16 storage, f32
// math"), and f16 math (acc = f16, native f16 only). Each case: one Session,
// inputs written once, a warm-up run, then 3 timed batches of back-to-back
// `run()`s ended by one `queue.onSubmittedWorkDone()`; the median batch gives
// ms per matmul and GFLOP/s = 2*M*N*K / time. `--json` prints one JSON line
// per case instead of the table. `--sweep` times every tile configuration of
// compiler/kernels/matmul-config.ts on a representative shape per shape class
// (what the table there was chosen from).

import { loadavg } from 'node:os';
import { compileForDevice } from '../compiler/execute.ts';
import type { MatmulConfigName } from '../compiler/kernels/matmul-config.ts';
import {
  chooseMatmulConfig, MATMUL_CONFIGS, adapterKindOf, setMatmulConfigOverride, shapeClassOf,
} from '../compiler/kernels/matmul-config.ts';
import type { DType } from '../ir/dtype.ts';
import { Graph } from '../ir/graph.ts';
import { matmulDims } from '../ir/shape-rules.ts';
import { numel } from '../ir/types.ts';
import type { GpuContext } from '../runtime/device.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import { encodeTensor } from '../runtime/host-data.ts';
import type { F16Mode } from '../runtime/plan.ts';
import { Session } from '../runtime/session.ts';

interface Variant {
  readonly name: string;
  readonly dtype: DType;
  readonly acc: DType;
  readonly mode: F16Mode;
}

const VARIANTS: Record<string, Variant> = {
  f32: { name: 'f32', dtype: 'f32', acc: 'f32', mode: 'native' },
  f16: { name: 'f16', dtype: 'f16', acc: 'f32', mode: 'native' },
  'f16-math': { name: 'f16-math', dtype: 'f16', acc: 'f16', mode: 'native' },
  'f16-packed': { name: 'f16-packed', dtype: 'f16', acc: 'f32', mode: 'packed' },
};

interface Case {
  readonly label: string;
  readonly a: readonly number[];
  readonly b: readonly number[];
}

interface Result {
  readonly bench: 'matmul';
  readonly label: string;
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly dtype: string;
  readonly config: string;
  readonly gflops: number;
  readonly ms: number;
  /** The fastest batch (the sweep ranks by it: on a shared machine, load only ever slows a batch down). */
  readonly bestGflops: number;
  readonly iters: number;
}

const SAMPLES = 3;
/** Aim for timed batches of about this long. */
const TARGET_MS = 300;
const MAX_ITERS = 200;

function parseArgs(argv: string[]) {
  const opts = {
    sizes: [256, 512, 1024, 2048],
    mlp: true,
    json: false,
    sweep: false,
    variants: undefined as string[] | undefined,
    configs: Object.keys(MATMUL_CONFIGS) as MatmulConfigName[],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--sizes') opts.sizes = next().split(',').filter(Boolean).map(Number);
    else if (a === '--no-mlp') opts.mlp = false;
    else if (a === '--json') opts.json = true;
    else if (a === '--sweep') opts.sweep = true;
    else if (a === '--variants') opts.variants = next().split(',');
    else if (a === '--configs') opts.configs = next().split(',') as MatmulConfigName[];
    else throw new Error(`unknown argument ${a} (see the header of bench/matmul.ts)`);
  }
  for (const v of opts.variants ?? []) if (!VARIANTS[v]) throw new Error(`unknown variant ${v}`);
  for (const c of opts.configs) if (!MATMUL_CONFIGS[c]) throw new Error(`unknown config ${c}`);
  return opts;
}

function randomValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

async function measure(ctx: GpuContext, c: Case, v: Variant): Promise<Result> {
  const g = new Graph('bench');
  const a = g.addInput('a', { dtype: v.dtype, shape: c.a });
  const b = g.addInput('b', { dtype: v.dtype, shape: c.b });
  g.setOutputs([g.add('matmul', [a, b], { acc: v.acc })]);
  const { batch, m, n, k } = matmulDims(c.a, c.b, false, false);
  const nb = numel(batch);
  const config = chooseMatmulConfig({ batch: nb, m, n, k }, adapterKindOf(ctx.adapterInfo)).name;
  const plan = compileForDevice(g, ctx, { f16Mode: v.mode });
  const session = await Session.create(ctx, plan);
  const queue = ctx.device.queue;
  try {
    session.write('a', encodeTensor(v.dtype, randomValues(numel(c.a), 1)));
    session.write('b', encodeTensor(v.dtype, randomValues(numel(c.b), 2)));
    let t0 = performance.now();
    session.run();
    await queue.onSubmittedWorkDone();
    // A second warm-up run, timed, sizes the batches.
    t0 = performance.now();
    session.run();
    await queue.onSubmittedWorkDone();
    const once = Math.max(performance.now() - t0, 0.01);
    const iters = Math.max(1, Math.min(MAX_ITERS, Math.round(TARGET_MS / once)));
    const samples: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      t0 = performance.now();
      for (let i = 0; i < iters; i++) session.run();
      await queue.onSubmittedWorkDone();
      samples.push((performance.now() - t0) / iters);
    }
    ctx.check();
    const ms = median(samples);
    const flops = 2 * nb * m * n * k;
    const gf = (t: number) => +(flops / t / 1e6).toFixed(2);
    return { bench: 'matmul', label: c.label, batch: nb, m, n, k, dtype: v.name, config, gflops: gf(ms), ms: +ms.toFixed(3), bestGflops: gf(Math.min(...samples)), iters };
  } finally {
    session.destroy();
  }
}

const pad = (s: string | number, w: number) => String(s).padStart(w);

function printTable(rows: readonly Result[], variants: readonly string[]): void {
  const labels = [...new Set(rows.map((r) => r.label))];
  const head = `${'shape'.padEnd(26)}${variants.map((v) => pad(`${v} GFLOP/s`, 18) + pad('ms', 9)).join('')}  config`;
  console.log(head);
  console.log('-'.repeat(head.length + 6));
  for (const label of labels) {
    const cells = variants.map((v) => {
      const r = rows.find((x) => x.label === label && x.dtype === v);
      return r ? pad(r.gflops.toFixed(1), 18) + pad(r.ms.toFixed(2), 9) : pad('-', 18) + pad('', 9);
    });
    const cfg = rows.find((x) => x.label === label)?.config ?? '';
    console.log(`${label.padEnd(26)}${cells.join('')}  ${cfg}`);
  }
}

/** One representative shape (or two) per shape class, for the sweep. */
const SWEEP_CASES: Case[] = [
  { label: 'small 48^3', a: [48, 48], b: [48, 48] },
  { label: 'small 33x127x9', a: [33, 127], b: [127, 9] },
  { label: 'narrow 4096x8x16', a: [4096, 8], b: [8, 16] },
  { label: 'narrow 256x256x10', a: [256, 256], b: [256, 10] },
  { label: 'batched 32x64^3', a: [32, 64, 64], b: [32, 64, 64] },
  { label: 'medium 256^3', a: [256, 256], b: [256, 256] },
  { label: 'medium 256x784x256', a: [256, 784], b: [784, 256] },
  { label: 'large 1024^3', a: [1024, 1024], b: [1024, 1024] },
  { label: 'large 256x784x1024', a: [256, 784], b: [784, 1024] },
];

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = await acquireDevice();
  try {
    const target = adapterKindOf(ctx.adapterInfo);
    // Without shader-f16, f16 runs packed and there is no f16 math.
    const usable = (vs: string[]) =>
      [...new Set(vs.map((v) => (!ctx.hasF16 && v === 'f16' ? 'f16-packed' : v)))].filter((v) => ctx.hasF16 || VARIANTS[v]!.mode === 'packed' || VARIANTS[v]!.dtype === 'f32');
    const variants = usable(opts.variants ?? ['f32', 'f16', 'f16-math']);
    const log = (s: string) => { if (!opts.json) console.log(s); };
    log(`device: ${describeDevice(ctx)}`);
    log(`matmul target: ${target} · load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    if (opts.sweep) {
      const vs = usable(opts.variants ?? ['f32', 'f16']);
      for (const c of SWEEP_CASES) {
        const { batch, m, n, k } = matmulDims(c.a, c.b, false, false);
        log(`\n${c.label} (class ${shapeClassOf({ batch: numel(batch), m, n, k })})`);
        for (const name of opts.configs) {
          setMatmulConfigOverride(name);
          const cells: string[] = [];
          for (const v of vs) {
            const r = await measure(ctx, c, VARIANTS[v]!);
            if (opts.json) console.log(JSON.stringify({ ...r, sweep: true }));
            cells.push(`${v} ${pad(r.bestGflops.toFixed(1), 6)} best ${pad(r.gflops.toFixed(1), 6)} median GFLOP/s`);
          }
          log(`  ${name.padEnd(8)} ${cells.join('   ')}   (as ${chooseMatmulConfig({ batch: numel(batch), m, n, k }, target).name})`);
        }
        setMatmulConfigOverride(undefined);
      }
      return;
    }
    const cases: Case[] = opts.sizes.map((s) => ({ label: `${s}x${s}x${s}`, a: [s, s], b: [s, s] }));
    if (opts.mlp) {
      for (const bs of [64, 256]) {
        for (const [i, o] of [[784, 256], [256, 10], [784, 1024]] as const) cases.push({ label: `mlp b${bs} ${i}->${o}`, a: [bs, i], b: [i, o] });
      }
    }
    const rows: Result[] = [];
    for (const c of cases) {
      for (const v of variants) {
        const r = await measure(ctx, c, VARIANTS[v]!);
        rows.push(r);
        if (opts.json) console.log(JSON.stringify(r));
      }
    }
    if (!opts.json) {
      console.log('');
      printTable(rows, variants);
      console.log(`\nGFLOP/s = 2*M*N*K / median time per matmul (${SAMPLES} batches of back-to-back runs, ~${TARGET_MS} ms each)`);
    }
  } finally {
    ctx.destroy();
  }
}

await main();
