// ampc as a package: another project that depends on it (installed from a
// local path) imports it by name, in plain Node (the built JavaScript of
// dist/, through package.json `exports`) and in TypeScript (its
// declarations, checked: a wrong option is a type error); and the `browser`
// condition bundles for a browser with no Node module anywhere.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { AMPC_VERSION } from '../compiler/version.ts';
import { gpuTest } from './helpers/gpu.ts';

const exec = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const consumer = mkdtempSync(join(tmpdir(), 'ampc-consumer-'));

// Build dist/ from the current sources, then install ampc into a fresh project.
const ready = (async () => {
  await exec('npm', ['run', 'build'], { cwd: ROOT });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { ampc: `file:${ROOT}` } }));
  await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: consumer });
})();

test('the version artifacts record is package.json\'s', (t) => {
  t.is(AMPC_VERSION, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});

gpuTest('a project that installs ampc imports it by name and runs a compiled artifact in plain Node', async (t) => {
  await ready;
  writeFileSync(join(consumer, 'run.mjs'), `
import { readFileSync } from 'node:fs';
import { compile, loadArtifact, parseModule, parseTensorJson, tensorsToJson, Trainer, nn, f32, i32, crossEntropy } from 'ampc';
const [examples] = process.argv.slice(2);
const g = parseModule(readFileSync(examples + '/mlp.ir', 'utf8'), 'mlp.ir').main;
const inputs = parseTensorJson(readFileSync(examples + '/mlp.inputs.json', 'utf8'), 'mlp.inputs.json');
const artifact = await loadArtifact(compile(g).files);
const out = await artifact.run(inputs);
artifact.destroy();
const trainer = await Trainer.create({
  model: new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 3)),
  loss: (m, x, y) => crossEntropy(m.forward(x), y), inputs: [f32([6, 4]), i32([6])], optimizer: { kind: 'adam', lr: 0.05 }, seed: 0,
});
const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), y = Int32Array.from({ length: 6 }, (_, i) => i % 3);
const losses = [];
for (let s = 0; s < 4; s++) losses.push(await trainer.step([x, y], { readLoss: true }));
trainer.destroy();
console.log(JSON.stringify({ out: JSON.parse(tensorsToJson(out)), losses }));
`);
  const { stdout } = await exec(process.execPath, ['run.mjs', join(ROOT, 'examples')], { cwd: consumer, env: { ...process.env, NODE_OPTIONS: '' } });
  const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as { out: { shape: number[]; data: number[][] }[]; losses: number[] };
  t.deepEqual(got.out[0]!.shape, [8, 10]);
  for (const row of got.out[0]!.data) t.true(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax rows sum to 1');
  t.true(got.losses[3]! < got.losses[0]!, `losses ${got.losses.join(' ')}`);
  // It is the built package, not the sources, that the project loaded.
  const where = await exec(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('ampc'))"], { cwd: consumer });
  t.regex(where.stdout.trim(), /\/dist\/index\.js$/);
});

test('its TypeScript declarations type-check a user\'s code, and catch a wrong option', async (t) => {
  await ready;
  writeFileSync(join(consumer, 'good.ts'), `
import { compile, loadArtifact, Trainer, nn, f32, parseModule } from 'ampc';
import type { CompileOptions, Tensor, GpuContext, Manifest } from 'ampc';
const opts: CompileOptions = { precision: 'amp', fusion: true };
const art = compile(parseModule('graph @g(%x: f32[2]) { return %x }', 'x.ir').main, opts);
const m: Manifest = art.manifest;
const kernels: number = m.kernels.length;
const layer: nn.Linear = new nn.Linear(3, 2);
const id = (x: Tensor): Tensor => x.relu();
let device: GpuContext | undefined;
void [kernels, layer, id, device, loadArtifact, Trainer.create, f32([2, 3])];
`);
  writeFileSync(join(consumer, 'bad.ts'), `
import { compile, parseModule } from 'ampc';
compile(parseModule('graph @g(%x: f32[2]) { return %x }', 'x.ir').main, { precision: 'f64' });
`);
  const good = await exec(TSC, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'ES2023,DOM', '--skipLibCheck', 'good.ts'], { cwd: consumer }).then(() => '', (e: { stdout: string }) => e.stdout);
  t.is(good, '');
  const bad = await exec(TSC, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'ES2023,DOM', '--skipLibCheck', 'bad.ts'], { cwd: consumer }).then(() => '', (e: { stdout: string }) => e.stdout);
  t.regex(bad, /bad\.ts\(3,\d+\): error TS2322: Type '"f64"' is not assignable to type '"f32" \| "amp" \| undefined'/);
});

test('the browser condition bundles with no Node module (esbuild, platform browser)', async (t) => {
  await ready;
  writeFileSync(join(consumer, 'page.js'), "import { loadArtifact, Trainer, compile, trace, nn, DataLoader } from 'ampc';\nwindow.ampc = { loadArtifact, Trainer, compile, trace, nn, DataLoader };\n");
  const result = await build({ absWorkingDir: consumer, entryPoints: ['page.js'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', outdir: 'out', splitting: true });
  t.deepEqual(result.errors, []);
  const code = result.outputFiles.map((f) => f.text).join('\n');
  t.notRegex(code, /from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
  t.true(code.includes('navigator.gpu'));
  // The browser condition picked the browser entry: the Node-only exports are not there.
  for (const name of ['writeArtifact', 'readIdx', 'loadFashionMnist']) {
    const node = await build({ absWorkingDir: consumer, stdin: { contents: `export { ${name} } from 'ampc';`, resolveDir: consumer }, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' })
      .then(() => [], (e: { errors: { text: string }[] }) => e.errors.map((x) => x.text));
    t.deepEqual(node.length, 1, name);
    t.regex(node[0]!, new RegExp(`No matching export in ".*dist/browser\\.js" for import "${name}"`));
  }
});
