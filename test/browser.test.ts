// The browser is a tested path: ampc bundled for a page (esbuild, platform
// browser, through browser.ts and package.json's browser mapping) runs in
// headless Chromium on WebGPU (SwiftShader here: no shader-f16, hence packed
// f16 under AMP). The page (test/browser/page.ts) loads artifacts compiled
// here by URL and runs them, trains a few Trainer steps in f32 and AMP, and
// traces code of its own; Node runs the same case (test/browser/case.ts) on
// Dawn. The outputs and losses must agree (f32 within 1e-5, AMP within 1e-3,
// relative to the largest magnitude), a DataLoader epoch must give the same
// batches, prefetched as in Node, and a deliberate shape error in the
// page must name the page's line: the bundle's position, which its source
// map takes back to test/browser/page.ts. Ops made inside ampc's nn blocks
// (an nn.Linear fed the wrong width, a Sequential of blocks) must be placed
// at the page's call of the block, not at ampc's lines in the bundle.
//
// No Chromium (/usr/bin/chromium, or AMPC_CHROMIUM): skipped, with the reason
// in the title, unless AMPC_REQUIRE_GPU=1, where that is a failure.

import test from 'ava';
import type { ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { SourceMap } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
import type { Browser } from 'puppeteer-core';
import { compile, traceModule, writeArtifact } from '../index.ts';
import type { GpuContext } from '../index.ts';
import { artifactDir, artifactInputSpecs, CaseMlp, PRECISIONS, runCase } from './browser/case.ts';
import type { CaseResult, Precision } from './browser/case.ts';
import type { PageApi, PageResult, PageTraces } from './browser/page.ts';
import { gpuTest, requireGpu } from './helpers/gpu.ts';
import { sourceMarks } from './helpers/source-marks.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGE_SOURCE = join(ROOT, 'test', 'browser', 'page.ts');
const CHROMIUM = process.env.AMPC_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];
const LAUNCH_TIMEOUT_MS = 30_000;
const PAGE_TIMEOUT_MS = 90_000;
const TOLERANCE: Record<Precision, number> = { f32: 1e-5, amp: 1e-3 };
const TITLE = 'in headless Chromium: artifacts and Trainer steps match Node on Dawn, and a user error names the page\'s line';

const { lineOf, colOf } = sourceMarks(new URL('./browser/page.ts', import.meta.url).href);

/** Compiles the case's MLP (f32 and AMP, packed f16, portable target) into `site`/artifact-*. */
function writeArtifacts(site: string): void {
  const traced = traceModule(new CaseMlp(), artifactInputSpecs);
  for (const precision of PRECISIONS) {
    writeArtifact(join(site, artifactDir(precision)), compile(traced, { precision, f16Mode: 'packed', target: 'webgpu', seed: 3 }));
  }
}

/** Bundles the page for a browser into `site`/`name` (and `name`.map), as a module or a classic script; returns the bundle's text. */
async function bundlePage(site: string, name: string, format: 'esm' | 'iife'): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT, entryPoints: [PAGE_SOURCE], outfile: join(site, name),
    bundle: true, platform: 'browser', format, sourcemap: 'linked', logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
  return readFileSync(join(site, name), 'utf8');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.wgsl': 'text/plain', '.ir': 'text/plain',
};

/** Serves `site` (and a page that loads page.js) on 127.0.0.1, a random port: WebGPU needs a secure context. */
async function serve(site: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>ampc</title><link rel="icon" href="data:,"><script type="module" src="/page.js"></script>');
      return;
    }
    const file = resolve(site, '.' + path);
    if (!file.startsWith(site + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} took more than ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Opens the page in headless Chromium and runs it; console lines go to `log`. */
async function runPage(url: string, log: string[]): Promise<PageResult> {
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS, protocolTimeout: PAGE_TIMEOUT_MS + 10_000,
    });
    const page = await browser.newPage();
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
    await page.goto(url, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
    await page.waitForFunction(() => 'ampcPage' in globalThis, { timeout: PAGE_TIMEOUT_MS });
    const work = page.evaluate(() => (globalThis as unknown as { ampcPage: PageApi }).ampcPage.run());
    return await withTimeout(work, PAGE_TIMEOUT_MS, 'the page\'s work');
  } finally {
    await browser?.close().catch(() => undefined);
  }
}

/** The largest difference, relative to the largest magnitude of `want` (Infinity when the lengths differ or a value is not finite). */
function relativeDifference(got: readonly number[], want: readonly number[]): number {
  if (got.length !== want.length || got.length === 0) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i]) || !Number.isFinite(want[i])) return Infinity;
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / (scale || 1);
}

/** A place `BUNDLE-URL:LINE:COL` in `site`/`name` taken back to its source through the bundle's source map. */
function originalPlace(site: string, name: string, place: string): { file: string; line: number; col: number } {
  const m = /^(.*):(\d+):(\d+)$/.exec(place);
  if (!m) throw new Error(`not a place: '${place}'`);
  if (!m[1]!.endsWith(`/${name}`)) throw new Error(`${place} is not in ${name}`);
  const map = new SourceMap(JSON.parse(readFileSync(join(site, `${name}.map`), 'utf8')));
  const e = map.findEntry(Number(m[2]) - 1, Number(m[3]) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  if (e.originalSource === undefined) throw new Error(`${place} is not in the source map`);
  return { file: resolve(site, e.originalSource), line: e.originalLine! + 1, col: e.originalColumn! + 1 };
}

function compareCase(t: ExecutionContext, page: CaseResult, node: CaseResult): void {
  // The DataLoader gives the same batches in the page, all prefetched while the loop waited.
  t.deepEqual(page.loader, node.loader);
  t.is(page.loader.batches.length, 5);
  t.deepEqual(page.loader.batches.flat().sort((a, b) => a - b), Array.from({ length: 19 }, (_, i) => i));
  t.is(page.loader.prefetched, 4);
  t.is(page.loader.misaligned, 0);
  // AMP is in effect: its artifact's f16 matmuls round the output away from f32's.
  t.true(relativeDifference(node.outputs.amp, node.outputs.f32) > 1e-5, 'the AMP artifact computes in f16');
  for (const precision of PRECISIONS) {
    const out = relativeDifference(page.outputs[precision], node.outputs[precision]);
    const loss = relativeDifference(page.losses[precision], node.losses[precision]);
    t.log(`${precision}: artifact output max difference ${out.toExponential(2)}, losses max difference ${loss.toExponential(2)} (relative)`);
    t.log(`${precision} losses: page ${page.losses[precision].map((l) => l.toFixed(6)).join(' ')} | node ${node.losses[precision].map((l) => l.toFixed(6)).join(' ')}`);
    t.true(out <= TOLERANCE[precision], `${precision} artifact outputs differ by ${out} (relative), more than ${TOLERANCE[precision]}`);
    t.true(loss <= TOLERANCE[precision], `${precision} losses differ by ${loss} (relative), more than ${TOLERANCE[precision]}`);
    for (const [side, losses] of [['page', page.losses[precision]], ['node', node.losses[precision]]] as const) {
      t.true(losses.every((l, i) => i === 0 || l < losses[i - 1]!), `${side} ${precision}: every step lowers the loss (${losses.join(' ')})`);
    }
  }
}

/** The page's traces, run from the bundle `bundleUrl` (served from `site`): the error and the nodes are placed on page.ts's lines. */
function checkPlaces(t: ExecutionContext, site: string, bundleUrl: string, result: PageTraces): void {
  const name = bundleUrl.slice(bundleUrl.lastIndexOf('/') + 1);
  // The error names the bundle's line and column of `h.matmul(w)`; the source map says it is page.ts's.
  const { code, message, loc } = result.traceError;
  t.is(code, 'E0201');
  t.regex(loc, /:\d+:\d+$/);
  t.true(loc.startsWith(`${bundleUrl}:`), loc);
  t.true(message.startsWith(`${loc}: error E0201: matmul: inner dimensions differ (3 vs 4)`), message);
  const line = lineOf('deliberate-mismatch');
  t.deepEqual(originalPlace(site, name, loc), { file: PAGE_SOURCE, line, col: colOf(line, 'matmul(') });
  // Every node of the page's well-shaped trace records its line of page.ts.
  const places = result.nodePlaces.map((p) => originalPlace(site, name, p));
  t.deepEqual(places.map((p) => `${p.file === PAGE_SOURCE ? 'page.ts' : p.file}:${p.line}`), [
    `page.ts:${lineOf('well-shaped-matmul')}`, `page.ts:${lineOf('well-shaped-tanh')}`,
  ]);
  // Ops made inside ampc's nn blocks (nn.Linear's matmul, run in its module's
  // scope by traceModule, or called from a function given to trace) are placed
  // at the page's call of the block, not at a line of ampc in the bundle.
  for (const [error, mark] of [[result.blockError, 'block-mismatch'], [result.blockErrorInTrace, 'block-mismatch-in-trace']] as const) {
    t.is(error.code, 'E0201', error.message);
    t.true(error.message.startsWith(`${error.loc}: error E0201: matmul: inner dimensions differ (5 vs 4)`), error.message);
    const at = lineOf(mark);
    t.deepEqual(originalPlace(site, name, error.loc), { file: PAGE_SOURCE, line: at, col: colOf(at, 'forward(') }, mark);
  }
  // Every node of a well-shaped model of nn blocks (a Sequential of Conv2d,
  // BatchNorm2d, pools, Flatten, Linear, LayerNorm, GELU, ReLU) records the page's call of the block.
  const blocks = lineOf('well-shaped-blocks');
  const blockCall = `page.ts:${blocks}:${colOf(blocks, 'forward(')}`;
  const blockPlaces = result.blockNodePlaces.map((entry) => {
    const [op, at] = entry.split(' ') as [string, string];
    const p = originalPlace(site, name, at);
    return `${op} ${p.file === PAGE_SOURCE ? 'page.ts' : p.file}:${p.line}:${p.col}`;
  });
  const ops = ['conv2d', 'reshape', 'add', 'batch_norm', 'max_pool2d', 'avg_pool2d', 'reshape', 'matmul', 'add', 'layer_norm', 'gelu', 'relu'];
  t.deepEqual(blockPlaces, ops.map((op) => `${op} ${blockCall}`));
}

/** The Node device with the page's limits where they are lower, so that both sides compile the same kernels. */
function sameLimits(ctx: GpuContext, page: Readonly<Record<string, number>>): GpuContext {
  const limits = Object.fromEntries(Object.entries(ctx.limits).map(([k, v]) => [k, Math.min(v, page[k] ?? v)]));
  return Object.create(ctx, { limits: { value: limits } }) as GpuContext;
}

async function browserCase(t: ExecutionContext, ctx: GpuContext): Promise<void> {
  const started = performance.now();
  const site = mkdtempSync(join(tmpdir(), 'ampc-browser-'));
  const log: string[] = [];
  let server: Server | undefined;
  try {
    writeArtifacts(site);
    const bundle = await bundlePage(site, 'page.js', 'esm');
    // The browser mapping took the Node-only modules out, and nothing imports node:.
    t.regex(bundle, /\(disabled\):runtime\/gpu-node\.ts/);
    t.notRegex(bundle, /from\s*["']node:|import\(\s*["']node:/);
    const served = await serve(site);
    server = served.server;

    const pageStarted = performance.now();
    const result = await runPage(served.url, log).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${log.join('\n')}`);
    });
    const pageSeconds = (performance.now() - pageStarted) / 1000;
    t.log(`page adapter: ${result.adapter.vendor}/${result.adapter.architecture} (${result.adapter.featureLevel}, shader-f16 ${result.adapter.hasF16 ? 'yes' : 'no'})`);
    t.log(`page device: ${result.adapter.summary}`);
    t.log(`node device: ${ctx.adapterInfo.name}`);
    t.log(`page error message: ${result.traceError.message.split('\n')[0]}`);
    for (const line of log) t.log(line);

    const node = await runCase(sameLimits(ctx, result.adapter.limits), (dir) => join(site, dir));
    compareCase(t, result, node);
    checkPlaces(t, site, `${served.url}page.js`, result);
    t.log(`browser launch and page work ${pageSeconds.toFixed(1)} s, whole test ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    server?.closeAllConnections();
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    rmSync(site, { recursive: true, force: true });
  }
}

test('a classic-script (IIFE) bundle of the page loads ampc and places a trace error and nodes on the page\'s lines', async (t) => {
  const site = mkdtempSync(join(tmpdir(), 'ampc-classic-'));
  try {
    const code = await bundlePage(site, 'page-classic.js', 'iife');
    t.notRegex(code, /^\s*(?:import|export)\b/m, 'a classic script has no import or export statements');
    // A context with only what a page has of these: no process, no require, no import.meta.
    const context = createContext({ console, TextEncoder, TextDecoder, URL });
    const bundleUrl = 'http://page.test/page-classic.js';
    runInContext(code, context, { filename: bundleUrl });
    const traces = (context as { ampcPage: PageApi }).ampcPage.traces();
    t.log(`classic-script error message: ${traces.traceError.message.split('\n')[0]}`);
    checkPlaces(t, site, bundleUrl, traces);
  } finally {
    rmSync(site, { recursive: true, force: true });
  }
});

if (existsSync(CHROMIUM)) {
  gpuTest(TITLE, browserCase);
} else if (requireGpu) {
  test(TITLE, (t) => t.fail(`AMPC_REQUIRE_GPU=1 but there is no Chromium at ${CHROMIUM} (scripts/setup.sh installs Debian's; AMPC_CHROMIUM names another)`));
} else {
  test.skip(`${TITLE} [skipped: no Chromium at ${CHROMIUM}]`, () => undefined);
}
