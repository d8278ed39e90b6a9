// Ahead-of-time artifacts: `ampc compile` + `ampc-run` print what `ampc run`
// prints; compile() + loadArtifact() in memory; train-step artifacts give the
// Trainer's losses bit for bit; graph.ir parses back; damaged or foreign
// artifacts are refused (E0601/E0605/E0606) before any GPU work.

import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../compiler/artifact.ts';
import { writeArtifact } from '../compiler/artifact-write.ts';
import { runCli } from '../compiler/cli/main.ts';
import { runGraphOnGpu } from '../compiler/execute.ts';
import { Trainer } from '../compiler/train/index.ts';
import { hostTensor } from '../ir/interp/tensor.ts';
import { parseModule } from '../ir/text/parser.ts';
import { verifyGraph } from '../ir/verify.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { traceModule } from '../ir/trace/trace.ts';
import { loadArtifact } from '../runtime/artifact.ts';
import { runAmpcRun } from '../runtime/cli/ampc-run.ts';
import type { GpuContext } from '../runtime/device.ts';
import { parseTensorJson } from '../runtime/tensor-json.ts';
import { gpuF16Test, gpuTest } from './helpers/gpu.ts';
import { TinyCnn } from './helpers/tiny-cnn.ts';

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;
const MLP = join(EXAMPLES, 'mlp.ir');
const MLP_INPUTS = join(EXAMPLES, 'mlp.inputs.json');
const tmp = mkdtempSync(join(tmpdir(), 'ampc-artifact-'));

type Io = { code: number; stdout: string; stderr: string };
async function capture(run: (io: { stdout: (s: string) => void; stderr: (s: string) => void }) => Promise<number>): Promise<Io> {
  let stdout = '', stderr = '';
  const code = await run({ stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}
const ampc = (...argv: string[]) => capture((io) => runCli(argv, io));
const ampcRun = (...argv: string[]) => capture((io) => runAmpcRun(argv, io));

for (const precision of ['f32', 'amp'] as const) {
  const register = precision === 'amp' ? gpuF16Test : gpuTest;
  register(`ampc compile (${precision}) + ampc-run print exactly what ampc run prints`, async (t) => {
    const dir = join(tmp, `mlp-${precision}`);
    const compiled = await ampc('compile', MLP, '-o', dir, '--precision', precision);
    t.is(compiled.code, 0, compiled.stderr);
    t.regex(compiled.stdout, /wrote .*: @mlp \(forward, (none|amp), f16 mode (native|storage|packed), .*params to give at run time: w1, b1, w2, b2/);
    t.deepEqual(readdirSync(dir).sort(), ['graph.ir', 'kernels', 'manifest.json', 'weights.safetensors']);
    t.true(readdirSync(join(dir, 'kernels')).every((f) => f.endsWith('.wgsl')));
    const direct = await ampc('run', MLP, '--inputs', MLP_INPUTS, '--precision', precision);
    const viaArtifact = await ampcRun(dir, '--inputs', MLP_INPUTS);
    t.is(direct.code, 0, direct.stderr);
    t.is(viaArtifact.code, 0, viaArtifact.stderr);
    t.is(viaArtifact.stdout, direct.stdout);
    // The final IR is there for people, and parses back.
    const g = parseModule(readFileSync(join(dir, 'graph.ir'), 'utf8'), 'graph.ir').main;
    verifyGraph(g);
    t.is(g.name, 'mlp');
    if (precision === 'amp') t.regex(readFileSync(join(dir, 'graph.ir'), 'utf8'), /f16/);
  });
}

gpuTest('--weights carries the params: ampc-run then needs only the data input', async (t) => {
  const dir = join(tmp, 'mlp-weights');
  const compiled = await ampc('compile', MLP, '-o', dir, '--weights', MLP_INPUTS);
  t.is(compiled.code, 0, compiled.stderr);
  t.regex(compiled.stderr, /left out 'x'/);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  t.deepEqual(manifest.weights.tensors, ['w1', 'b1', 'w2', 'b2']);
  t.deepEqual(manifest.inputs.map((x: { role: string }) => x.role), ['input', 'param', 'param', 'param', 'param']);
  const all = parseTensorJson(readFileSync(MLP_INPUTS, 'utf8'), MLP_INPUTS);
  const onlyX = join(tmp, 'x.json');
  writeFileSync(onlyX, JSON.stringify({ x: { dtype: 'f32', shape: all.x!.shape, data: [...all.x!.data] } }));
  const direct = await ampc('run', MLP, '--inputs', MLP_INPUTS);
  const viaArtifact = await ampcRun(dir, '--inputs', onlyX);
  t.is(viaArtifact.code, 0, viaArtifact.stderr);
  t.is(viaArtifact.stdout, direct.stdout);
  // Missing data input: a clear error naming it.
  writeFileSync(join(tmp, 'empty.json'), '{}');
  const missing = await ampcRun(dir, '--inputs', join(tmp, 'empty.json'));
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^ampc-run: error E0603: missing input 'x' \(f32\[8,16\]\): the artifact carries no value for it\n$/);
});

gpuTest('compile() and loadArtifact() in memory: a portable artifact of a traced model matches runGraphOnGpu', async (t, ctx) => {
  const model = new nn.Sequential(new nn.Linear(12, 16), new nn.ReLU(), new nn.Linear(16, 5));
  const traced = traceModule(model, [f32([4, 12])]);
  const art = compile(traced, { seed: 3 }); // target 'webgpu': no device needed
  t.is(art.manifest.compiledWith.target, 'webgpu');
  t.is(art.manifest.requires.limits.maxStorageBuffersPerShaderStage! <= 8, true);
  t.deepEqual(art.manifest.batch, { size: 4, inputs: [traced.graph.inputs[0]!.name] });
  const loaded = await loadArtifact(art.files, { device: ctx });
  try {
    const x = hostTensor('f32', [4, 12], Array.from({ length: 48 }, (_, i) => Math.cos(i)));
    const [out] = await loaded.run({ [loaded.inputs[0]!.name]: x });
    const params = await loaded.state();
    t.deepEqual(Object.keys(params).sort(), traced.params.map((p) => p.name).sort());
    // The device's own kernels (tuned for it, not portable) sum in another order: equal to f32 rounding.
    const [want] = await runGraphOnGpu(traced.graph, { [loaded.inputs[0]!.name]: x, ...params }, ctx);
    t.deepEqual(out!.shape, [4, 5]);
    const worst = Math.max(...[...out!.data].map((v, i) => Math.abs(v - want!.data[i]!) / (1 + Math.abs(want!.data[i]!))));
    t.true(worst < 1e-6, `max relative difference ${worst}`);
    t.true([...out!.data].some((v) => v !== 0));
    // The wrong batch size says so.
    const e = await t.throwsAsync(loaded.run({ [loaded.inputs[0]!.name]: hostTensor('f32', [2, 12], new Array(24).fill(0)) }));
    t.regex(e!.message, /E0603: input '.*': expected f32\[4,12\], got f32\[2,12\]; the artifact was compiled for batch size 4: compile it again for another/);
  } finally {
    loaded.destroy();
  }
});

async function trainStepMatchesTrainer(t: import('ava').ExecutionContext, ctx: GpuContext, precision: 'f32' | 'amp'): Promise<void> {
  const loss = (m: TinyCnn, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y);
  const optimizer = { kind: 'adam' as const, lr: 1e-2 };
  const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37) * 2 + 0.5);
  const y = Int32Array.from({ length: 8 }, (_, i) => i % 3);
  const trainer = await Trainer.create({ model: new TinyCnn(), loss, inputs: [f32([8, 1, 8, 8]), i32([8])], optimizer, precision, seed: 1, device: ctx });
  const traced = traceModule(new TinyCnn(), [f32([8, 1, 8, 8]), i32([8])], { call: loss });
  const art = compile(traced, { train: { optimizer }, precision, seed: 1, target: ctx });
  t.is(art.manifest.kind, 'train-step');
  t.true(art.manifest.weights.tensors.includes('bn.running_mean'));
  t.true(art.manifest.inputs.some((i) => i.name === 'opt.lr' && i.role === 'state'));
  const loaded = await loadArtifact(art.files, { device: ctx });
  try {
    const [xName, yName] = loaded.inputs.filter((i) => i.role === 'input').map((i) => i.name);
    const batch = { [xName!]: { dtype: 'f32' as const, shape: [8, 1, 8, 8], data: x }, [yName!]: { dtype: 'i32' as const, shape: [8], data: y } };
    const fromTrainer: number[] = [], fromArtifact: number[] = [];
    for (let s = 0; s < 5; s++) {
      fromTrainer.push((await trainer.step([x, y], { readLoss: true }))!);
      fromArtifact.push((await loaded.step(batch, { readLoss: true }))!);
    }
    t.deepEqual(fromArtifact, fromTrainer);
    t.true(fromArtifact[4]! < fromArtifact[0]!, fromArtifact.join(' '));
    const state = await loaded.state();
    const params = await trainer.stateDict();
    for (const [name, p] of Object.entries(params)) t.deepEqual([...state[name]!.data], [...p.data], name);
    // The trained weights save as safetensors that a fresh load continues from.
    const files = new Map(art.files);
    files.set('weights.safetensors', await loaded.saveWeights());
    const resumed = await loadArtifact(files, { device: ctx });
    try {
      const a = await loaded.step(batch, { readLoss: true });
      const b = await resumed.step(batch, { readLoss: true });
      t.is(b, a);
    } finally {
      resumed.destroy();
    }
  } finally {
    loaded.destroy();
    trainer.destroy();
  }
}

gpuTest('a train-step artifact (f32, BatchNorm, Adam) gives the Trainer\'s losses and parameters bit for bit', (t, ctx) => trainStepMatchesTrainer(t, ctx, 'f32'));
gpuF16Test('a train-step artifact (AMP, dynamic loss scaling) gives the Trainer\'s losses and parameters bit for bit', (t, ctx) => trainStepMatchesTrainer(t, ctx, 'amp'));

/** A device whose every use throws: loading must fail before touching it. */
const NO_GPU_WORK = new Proxy({}, { get: (_, key) => { throw new Error(`GPU work started (${String(key)})`); } }) as GpuContext;

gpuTest('damaged, foreign and future artifacts are refused with a clear error before any GPU work', async (t) => {
  const model = new nn.Sequential(new nn.Linear(6, 3));
  const art = compile(traceModule(model, [f32([2, 6])]));
  const manifest = JSON.parse(art.files.get('manifest.json') as string);
  const edit = (change: (m: any) => void) => {
    const m = structuredClone(manifest);
    change(m);
    const files = new Map(art.files);
    files.set('manifest.json', JSON.stringify(m));
    return files;
  };
  const withFile = (name: string, content: string | Uint8Array | undefined) => {
    const files = new Map(art.files);
    if (content === undefined) files.delete(name);
    else files.set(name, content);
    return files;
  };
  const weights = art.files.get('weights.safetensors') as Uint8Array;
  const cases: [string, Map<string, string | Uint8Array>, RegExp][] = [
    ['not JSON', withFile('manifest.json', '{"format":'), /E0606: manifest\.json: not JSON/],
    ['another format', edit((m) => (m.format = 'onnx')), /E0606: manifest\.json: format: not an ampc artifact/],
    ['a newer version', edit((m) => (m.version = 3)), /E0606: .*format version 3, made by a newer ampc; this runtime reads version 2/],
    ['an older version', edit((m) => (m.version = 0)), /E0606: .*format version 0, which this runtime no longer reads/],
    ['binding out of range', edit((m) => (m.dispatches[0].bindings[0] = 99)), /E0606: .*dispatches\[0\]\.bindings\[0\]: expected an integer in \[0, \d+\], got 99/],
    ['kernel out of range', edit((m) => (m.dispatches[0].kernel = 7)), /dispatches\[0\]\.kernel/],
    ['buffer size lies', edit((m) => (m.buffers[0].byteSize = 4)), /buffers\[0\]\.byteSize: 4 bytes, but f32\[2,6\] takes 48/],
    ['input type lies', edit((m) => (m.inputs[0].shape = [3, 6])), /inputs\[0\]: .* is f32\[3,6\], but its buffer #0 is f32\[2,6\]/],
    ['kernel file escapes', edit((m) => (m.kernels[0].file = '../../etc/passwd')), /kernels\[0\]\.file: "\.\.\/\.\.\/etc\/passwd" does not match/],
    ['weights of a non-input', edit((m) => m.weights.tensors.push('nope')), /weights\.tensors\[\d\]: 'nope' is not an input/],
    ['missing kernel file', withFile(manifest.kernels[0].file, undefined), /E0601: cannot read kernels\/.*: the artifact has no such file/],
    ['short weights file', withFile('weights.safetensors', weights.subarray(0, weights.byteLength - 3)), /E0605: weights\.safetensors: .*truncated/],
    ['weights missing a tensor', edit((m) => (m.weights.tensors = m.weights.tensors.slice(1))), /E0606: weights\.safetensors: holds '.*', which the manifest does not list/],
  ];
  for (const [what, files, msg] of cases) {
    const e = await t.throwsAsync(loadArtifact(files, { device: NO_GPU_WORK }), undefined, what);
    t.regex(e!.message, msg, what);
  }
});

gpuTest('a device without a required feature or limit is named', async (t, ctx) => {
  const art = compile(traceModule(new nn.Sequential(new nn.Linear(6, 3)), [f32([2, 6])]));
  const m = JSON.parse(art.files.get('manifest.json') as string);
  m.requires.features = ['made-up-feature'];
  const e = await t.throwsAsync(loadArtifact(new Map([...art.files, ['manifest.json', JSON.stringify(m)]]), { device: ctx }));
  t.regex(e!.message, /E0702: the artifact needs the device feature 'made-up-feature', which this device .* lacks/);
  m.requires.features = [];
  m.requires.limits.maxStorageBuffersPerShaderStage = 1e6;
  const e2 = await t.throwsAsync(loadArtifact(new Map([...art.files, ['manifest.json', JSON.stringify(m)]]), { device: ctx }));
  t.regex(e2!.message, /E0702: the artifact needs maxStorageBuffersPerShaderStage ≥ 1000000; this device .* allows \d+/);
});

test('writeArtifact replaces an artifact, refuses other directories, and leaves no temporary files', (t) => {
  const art = compile(traceModule(new nn.Sequential(new nn.Linear(6, 3)), [f32([2, 6])]));
  const parent = join(tmp, 'write');
  mkdirSync(parent);
  const dir = join(parent, 'a');
  writeArtifact(dir, art);
  writeArtifact(dir, art); // replaces the artifact it wrote
  t.deepEqual(readdirSync(parent), ['a']);
  const other = join(parent, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'notes.txt'), 'mine');
  const e = t.throws(() => writeArtifact(other, art));
  t.regex(e!.message, /E0601: cannot write the artifact to .*other: it is a directory with other files in it/);
  t.is(readFileSync(join(other, 'notes.txt'), 'utf8'), 'mine');
  const file = join(parent, 'file');
  writeFileSync(file, 'x');
  t.regex(t.throws(() => writeArtifact(file, art))!.message, /it exists and is not a directory/);
  // Missing parents are made, like mkdir -p; a parent that is a file is an error.
  writeArtifact(join(parent, 'new', 'dir'), art);
  t.deepEqual(readdirSync(join(parent, 'new')), ['dir']);
  t.regex(t.throws(() => writeArtifact(join(file, 'sub'), art))!.message, /E0601: cannot write the artifact to .*file\/sub/);
  t.deepEqual(readdirSync(parent).sort(), ['a', 'file', 'new', 'other']);
});

test('ampc compile: bad flags are usage errors', async (t) => {
  const stray = await ampc('compile', MLP, '-o', join(tmp, 'x'), '--lr', '0.1', '--target', 'webgpu');
  t.is(stray.code, 1);
  t.regex(stray.stderr, /E0604: --lr go with --pipeline train or train-amp/);
  const clash = await ampc('compile', MLP, '-o', join(tmp, 'x'), '--precision', 'f32', '--pipeline', 'amp', '--target', 'webgpu');
  t.is(clash.code, 1);
  t.regex(clash.stderr, /E0609: pipeline 'amp' runs under amp; it cannot be compiled with precision f32/);
  const noOut = await ampc('compile', MLP);
  t.is(noOut.code, 1);
  t.false(existsSync(join(tmp, 'x')));
});

gpuF16Test('ampc-run --steps trains a train-step artifact: params uploaded once, each step continues from the last', async (t) => {
  const dir = join(tmp, 'step');
  const compiled = await ampc('compile', join(EXAMPLES, 'mlp-loss.ir'), '-o', dir, '--pipeline', 'train-amp', '--lr', '1e-2');
  t.is(compiled.code, 0, compiled.stderr);
  t.regex(compiled.stdout, /\(train-step, train-amp, /);
  const loss = async (steps: number) => {
    const r = await ampcRun(dir, '--inputs', join(EXAMPLES, 'mlp-loss.inputs.json'), '--steps', String(steps));
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout)[0].data as number;
  };
  const [one, ten] = [await loss(1), await loss(10)];
  t.true(ten < one / 2, `loss after 1 step ${one}, after 10 ${ten}`);
  const forwardDir = join(tmp, 'forward-for-steps');
  t.is((await ampc('compile', MLP, '-o', forwardDir, '--target', 'webgpu')).code, 0);
  const forward = await ampcRun(forwardDir, '--inputs', MLP_INPUTS, '--steps', '2');
  t.is(forward.code, 1);
  t.regex(forward.stderr, /E0604: --steps goes with a train-step artifact/);
  const bad = await ampcRun(dir, '--inputs', MLP_INPUTS, '--steps', '0');
  t.regex(bad.stderr, /E0604: --steps: expected a whole number ≥ 1, got '0'/);
});
