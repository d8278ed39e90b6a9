// The long fuzz run (issue #12): `npm run fuzz -- --n 10000 [--seed S]
// [--budget-ms MS] [--show K]`. Mutates valid .ir sources with the mutators
// of test/fuzz.test.ts (test/helpers/fuzz-mutations.ts, seeded) and puts each
// input through what a user's file goes through: parse, verify, print and
// reparse; then, for every graph of a module that verifies, the `amp`
// pipeline, fusion, compileGraph (lowering without a device, f32 and amp),
// and the reference interpreter on small random inputs (the original graph
// and its fused amp graph). Each case is one of:
//
//   ok        every stage passed
//   coded     a stage threw an AmpcError whose code is in ERROR_CODES (a
//             parse error must also be placed inside the input)
//   internal  anything else: another exception, an unknown code, a parse
//             error placed outside the input, a print/reparse round trip
//             that changes the text, a child that died
//   hang      the case ran past --budget-ms (default 10000)
//
// Cases run one at a time in a child process (forked with tsx's loader, as
// ava runs the tests: worker threads do not get it on Node 20); a case over
// its budget is a hang: the child is killed and a fresh one takes the next
// case, as after a crash (out of memory, say), which is an internal error.
// Prints a table of the counts and timings, the first --show (default 5)
// internal errors with their input and stack, and exits 1 on any internal
// error or hang (2 on bad usage).

import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AmpcError, ERROR_CODES } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { parseModule } from '../ir/text/parser.ts';
import { printModule } from '../ir/text/printer.ts';
import { verifyGraph, verifyModule } from '../ir/verify.ts';
import { checkInterpreterSize, DEFAULT_MAX_ELEMENTS, interpret, interpreterFootprint } from '../ir/interp/interpret.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';
import { fuseGraph } from '../passes/fusion.ts';
import { compileGraph } from '../compiler/compile.ts';
import type { CompileTarget } from '../compiler/compile.ts';
import { makeFuzzer, mulberry32, SEEDS } from '../test/helpers/fuzz-mutations.ts';

/** Lowering without a device: the facts of a CPU adapter with shader-f16. */
const TARGET: CompileTarget = { f16Mode: 'native', adapter: 'cpu', maxStorageBuffers: 16 };
/** Graphs whose values hold at most this many elements in all are interpreted (on random inputs). */
const INTERP_ELEMENTS = 1 << 20;
/** Graphs above the interpreter's default limit are checked to be refused (E0802) without allocating. */
const INTERP_DEFAULT_LIMIT = DEFAULT_MAX_ELEMENTS;

type Outcome = 'ok' | 'coded' | 'internal';

interface CaseResult {
  readonly i: number;
  readonly outcome: Outcome;
  /** The stage that threw (or `done`). */
  readonly stage: string;
  /** The error code (coded), or a short signature (internal). */
  readonly what?: string;
  /** The message and stack of an internal error. */
  readonly detail?: string;
  readonly ms: number;
  /** Stages every graph of the case passed, counted once per case. */
  readonly reached: readonly string[];
  readonly interpSkipped: boolean;
  /** Graphs that went through the stages after print (all of a module that verifies). */
  readonly graphs: number;
}

const ERROR_CODE_SET = new Set(Object.keys(ERROR_CODES));

class Internal extends Error {}

/** The repository root, as file paths and URLs in stack frames start (cut from them in reports). */
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Where a parse error must lie: inside the input. Returns why not, or undefined. */
function misplaced(e: AmpcError, src: string): string | undefined {
  const loc = e.loc;
  if (!loc) return 'parse error without a place';
  if (loc.file !== 'fuzz.ir') return `parse error placed in another file (${loc.file})`;
  const lines = src.split(/\r\n|\r|\n/);
  if (!Number.isInteger(loc.line) || !Number.isInteger(loc.col) || loc.line < 1 || loc.col < 1) return 'parse error at a bad place';
  if (loc.line > lines.length || loc.col > lines[loc.line - 1]!.length + 1) return 'parse error placed outside the input';
  return undefined;
}

/** The first line of an error and the first stack frame inside the repository: groups internal errors. */
function signature(e: unknown): string {
  if (!(e instanceof Error)) return String(e).split('\n')[0]!.slice(0, 160);
  const frame = (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l) && !l.includes('node:') && !l.includes('scripts/fuzz.ts'));
  const where = frame?.replace(/^\s+at /, '').replaceAll(REPO_ROOT, '');
  return `${e.name}: ${e.message.split('\n')[0]!.slice(0, 160)}${where ? ` @ ${where}` : ''}`;
}

/** Runs one input through every stage (in the child). */
function runCase(i: number, src: string, seed: number): CaseResult {
  const started = performance.now();
  const reached = new Set<string>();
  let stage = 'parse';
  let interpSkipped = false;
  let graphs = 0;
  const result = (outcome: Outcome, what?: string, detail?: string): CaseResult => ({
    i, outcome, stage, ms: performance.now() - started, reached: [...reached], interpSkipped, graphs,
    ...(what !== undefined ? { what } : {}), ...(detail !== undefined ? { detail } : {}),
  });
  try {
    let mod;
    try {
      mod = parseModule(src, 'fuzz.ir');
    } catch (e) {
      if (e instanceof AmpcError && ERROR_CODE_SET.has(e.code)) {
        const why = misplaced(e, src);
        if (why) throw new Internal(`${why}: ${e.message}`);
      }
      throw e;
    }
    reached.add('parsed');
    stage = 'verify';
    verifyModule(mod);
    reached.add('verified');
    stage = 'print';
    const once = printModule(mod);
    const twice = printModule(parseModule(once, 'printed.ir'));
    if (once !== twice) throw new Internal(`print / reparse / print changed the text:\n${once}\n---\n${twice}`);
    for (const g of mod.graphs) runGraph(g);
    stage = 'done';
    return result('ok');
  } catch (e) {
    if (e instanceof AmpcError && ERROR_CODE_SET.has(e.code) && !(e instanceof Internal)) return result('coded', e.code);
    const sig = e instanceof Internal ? `${stage}: ${e.message.split('\n')[0]!.slice(0, 160)}` : signature(e);
    const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return result('internal', sig, e instanceof AmpcError ? `unknown code ${e.code}: ${stack}` : stack);
  }

  function runGraph(g: Graph): void {
    graphs++;
    stage = 'amp';
    const amp = runPipeline(g, pipelineByName('amp'), { options: {} });
    reached.add('amp');
    stage = 'fusion';
    const fused = fuseGraph(amp, { maxBindings: TARGET.maxStorageBuffers!, castPrologues: false }).graph;
    verifyGraph(fused);
    reached.add('fused');
    stage = 'compile f32';
    compileGraph(g, TARGET);
    stage = 'compile amp';
    compileGraph(g, TARGET, { pipeline: 'amp' });
    reached.add('compiled');
    stage = 'interp';
    const elements = interpreterFootprint(g).elements;
    if (elements <= INTERP_ELEMENTS) {
      const inputs = randomInputs(g, seed);
      interpret(g, inputs);
      stage = 'interp amp';
      interpret(fused, inputs);
      reached.add('interpreted');
    } else if (elements > INTERP_DEFAULT_LIMIT) {
      checkInterpreterSize(g); // E0802 without allocating anything
      throw new Internal(`the interpreter accepts a graph of ${elements} elements, over its default limit`);
    } else {
      interpSkipped = true;
    }
  }
}

// ---------------------------------------------------------------- the child

/** Set in the children's environment. */
const CHILD_ENV = 'AMPC_FUZZ_CHILD';
const isChild = process.env[CHILD_ENV] === '1' && typeof process.send === 'function';

if (isChild) {
  process.on('message', (m: { i: number; src: string; seed: number }) => process.send!(runCase(m.i, m.src, m.seed)));
  process.send!('ready');
}

// ---------------------------------------------------------------- the driver

interface Args {
  n: number;
  seed: number;
  budgetMs: number;
  show: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { n: 1000, seed: 0x5eed_1234, budgetMs: 10_000, show: 5 };
  const keys: Record<string, keyof Args> = { '--n': 'n', '--seed': 'seed', '--budget-ms': 'budgetMs', '--show': 'show' };
  for (let k = 0; k < argv.length; k++) {
    const [flag, inline] = argv[k]!.split('=', 2) as [string, string | undefined];
    const key = keys[flag];
    if (!key) usage(`unknown option '${argv[k]}'`);
    const text = inline ?? argv[++k];
    const v = Number(text);
    if (text === undefined || text.trim() === '' || !Number.isSafeInteger(v) || v < 0) usage(`${flag} expects a whole number, got '${text ?? ''}'`);
    args[key!] = v;
  }
  if (args.budgetMs < 1) usage('--budget-ms must be at least 1');
  return args;
}

function usage(why: string): never {
  process.stderr.write(`fuzz: ${why}\nusage: npm run fuzz -- [--n N (1000)] [--seed S] [--budget-ms MS (10000)] [--show K (5)]\n`);
  process.exit(2);
}

/** The i-th input of a run: a seed source after 1 to 3 mutations, all drawn from one PRNG in order. */
function* inputs(n: number, seed: number): Generator<string> {
  const fuzzer = makeFuzzer(mulberry32(seed));
  for (let i = 0; i < n; i++) yield fuzzer.mutate(fuzzer.pick(SEEDS));
}

interface Runner {
  run(i: number, src: string): Promise<CaseResult | { hang: true } | { died: string }>;
  close(): Promise<void>;
}

/** A child process that runs one case at a time, replaced after a hang or a crash. */
function makeRunner(seed: number, budgetMs: number): Runner {
  let child: ChildProcess | undefined;
  let ready: Promise<void> | undefined;
  let onMessage: ((m: unknown) => void) | undefined;
  let onDeath: ((why: string) => void) | undefined;

  const start = (): void => {
    const c = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
      env: { ...process.env, [CHILD_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = c;
    ready = new Promise<void>((resolve, reject) => {
      const first = (m: unknown) => {
        if (m !== 'ready') return;
        c.off('message', first);
        c.off('exit', early);
        resolve();
      };
      const early = (code: number | null, signal: string | null) => reject(new Error(`the fuzz child exited before it was ready (code ${code}, signal ${signal})`));
      c.on('message', first);
      c.once('exit', early);
    });
    c.on('message', (m) => {
      if (m !== 'ready') onMessage?.(m);
    });
    c.on('error', (e) => onDeath?.(`child error: ${signature(e)}`));
    c.on('exit', (code, signal) => onDeath?.(`child died (exit code ${code}, signal ${signal})`));
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    onMessage = onDeath = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await gone;
  };

  return {
    async run(i, src) {
      if (!child) start();
      await ready;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          void stop().then(() => resolve({ hang: true }));
        }, budgetMs);
        onMessage = (m) => {
          clearTimeout(timer);
          onMessage = onDeath = undefined;
          resolve(m as CaseResult);
        };
        onDeath = (why) => {
          clearTimeout(timer);
          void stop().then(() => resolve({ died: why }));
        };
        child!.send({ i, src, seed: seed + i });
      });
    },
    close: stop,
  };
}

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const runner = makeRunner(args.seed, args.budgetMs);
  const counts: Record<Outcome | 'hang', number> = { ok: 0, coded: 0, internal: 0, hang: 0 };
  const byStageCode = new Map<string, number>();
  const reached = new Map<string, number>();
  const internals = new Map<string, { count: number; first: number; src: string; detail: string }>();
  const hangs: { i: number; src: string }[] = [];
  const times: number[] = [];
  let slowest = { ms: 0, i: -1 };
  let interpSkipped = 0;
  let graphs = 0;
  const progressEvery = Math.max(1, Math.floor(args.n / 20));
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

  let i = 0;
  for (const src of inputs(args.n, args.seed)) {
    const r = await runner.run(i, src);
    if ('hang' in r) {
      counts.hang++;
      hangs.push({ i, src });
    } else if ('died' in r) {
      counts.internal++;
      const sig = r.died.split('\n')[0]!;
      const seen = internals.get(sig);
      if (seen) seen.count++;
      else internals.set(sig, { count: 1, first: i, src, detail: r.died });
    } else {
      counts[r.outcome]++;
      times.push(r.ms);
      if (r.ms > slowest.ms) slowest = { ms: r.ms, i };
      for (const s of r.reached) bump(reached, s);
      if (r.interpSkipped) interpSkipped++;
      graphs += r.graphs;
      if (r.outcome === 'coded') bump(byStageCode, `${r.stage} ${r.what}`);
      if (r.outcome === 'internal') {
        const seen = internals.get(r.what!);
        if (seen) seen.count++;
        else internals.set(r.what!, { count: 1, first: i, src, detail: r.detail ?? '' });
      }
    }
    i++;
    if (process.stderr.isTTY && i % progressEvery === 0) process.stderr.write(`\r${i}/${args.n} cases`);
  }
  await runner.close();
  if (process.stderr.isTTY) process.stderr.write('\r');
  const totalMs = performance.now() - started;

  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line(`ampc fuzz: ${args.n} cases, seed ${args.seed} (0x${args.seed.toString(16)}), budget ${args.budgetMs} ms a case`);
  line();
  line(`${pad('outcome', 16)}${pad('cases', 8, true)}${pad('share', 9, true)}`);
  for (const [name, k] of [['ok', 'ok'], ['coded error', 'coded'], ['internal error', 'internal'], ['hang', 'hang']] as const) {
    line(`${pad(name, 16)}${pad(counts[k], 8, true)}${pad(((100 * counts[k]) / Math.max(1, args.n)).toFixed(1) + '%', 9, true)}`);
  }
  line(`${pad('total', 16)}${pad(args.n, 8, true)}`);
  line();
  const stages = ['parsed', 'verified', 'amp', 'fused', 'compiled', 'interpreted'];
  line(`cases that passed each stage (for at least one graph): ${stages.map((s) => `${s} ${reached.get(s) ?? 0}`).join(', ')}`);
  line(`graphs put through the passes: ${graphs}; interpreter skipped (values of ${INTERP_ELEMENTS}..${INTERP_DEFAULT_LIMIT} elements) in ${interpSkipped} case(s)`);
  line(`coded errors by stage and code: ${[...byStageCode.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}`);
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / Math.max(1, times.length);
  line(
    `time: ${(totalMs / 1000).toFixed(1)} s in all; a case: mean ${mean.toFixed(2)} ms, median ${quantile(sorted, 0.5).toFixed(2)} ms, ` +
      `p99 ${quantile(sorted, 0.99).toFixed(2)} ms, max ${slowest.ms.toFixed(1)} ms (case ${slowest.i})`,
  );
  if (internals.size) {
    line();
    line(`internal errors: ${counts.internal} in ${internals.size} distinct kind(s)`);
    let shown = 0;
    for (const [sig, { count, first, src, detail }] of internals) {
      line(`- ${count}x ${sig} (first: case ${first})`);
      if (shown++ < args.show) {
        line(`  input: ${JSON.stringify(src)}`);
        line(detail.split('\n').slice(0, 14).map((l) => `    ${l}`).join('\n'));
      }
    }
  }
  if (hangs.length) {
    line();
    line(`hangs (over ${args.budgetMs} ms): ${hangs.length}`);
    for (const h of hangs.slice(0, args.show)) line(`- case ${h.i}: ${JSON.stringify(h.src)}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  process.exitCode = counts.internal || counts.hang ? 1 : 0;
}

if (!isChild) {
  main().catch((e) => {
    process.stderr.write(`fuzz: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 2;
  });
}
