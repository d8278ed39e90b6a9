// Where a traced op was written: the user's frame, i.e. the frame that called
// into ampc's tracer, as FILE:LINE:COL of the user's TypeScript.
//
// The user's frame is found by call boundary. callerLoc() is called at the
// entry of every public tracing API, so the frame right below it is ampc's
// (the entry the user called); below that, frames are skipped while they
// belong to the tracer, and the first one that does not is the user's.
// Tracer frames are: (1) entry functions, i.e. functions seen calling
// callerLoc() or markEntry(), remembered by script and the place their code
// starts (so a public API that calls another one is skipped as a whole, also
// in a bundle where every frame is in one file); (2) when the tracer runs as
// its own files (Node, or unbundled modules), any frame of a file in this
// folder (ir/trace/), which covers its helpers that never call callerLoc();
// (3) the engine's own frames (node:, internal/, native). In a bundle only (1)
// and (3) apply, so every tracer function that makes ops through other
// entries, or calls user code, without calling callerLoc() itself (the nn
// blocks' forwards, the wrapper that puts a submodule's nodes in its scope,
// TraceContext.inScope) calls markEntry(token) first: the first call per
// token captures the stack once and remembers its caller as an entry, later
// calls are a set lookup. An op made inside nn.Linear.forward is then placed
// at the user's call of the block. A tracer function that does neither is
// taken for the user's in a bundle.
//
// Cost matters (one capture per traced op), so this avoids formatting the
// stack as text, which is what is slow once source maps are on: it asks V8
// for structured call sites (Error.captureStackTrace with a frame limit and a
// momentary Error.prepareStackTrace), picks the user's frame, and maps only
// that one position back to the .ts source through Node's source-map cache
// (tsx enables source maps). The result is a plain Loc holding three fields,
// so a graph keeps no stack frames alive. Where structured call sites are not
// available (non-V8 engines), the text stack is parsed instead. No Node
// modules are imported and nothing here needs import.meta to be set, so
// tracing also loads in a browser, bundled as a module or as a classic script.

import type { Loc } from '../errors.ts';

/** This module's URL: file:…/ir/trace/loc.ts unbundled, a bundle's URL, or undefined where import.meta is empty (a classic-script bundle). */
const OWN_URL: string | undefined = ownUrl();

/**
 * URL of this folder (…/ir/trace/) when the tracer runs as its own files;
 * frames under it belong to the tracer. Undefined in a bundle, where the
 * folder holds the user's code too.
 */
const TRACE_DIR: string | undefined =
  OWN_URL !== undefined && /\/ir\/trace\/loc\.[cm]?[jt]s(?:[?#].*)?$/.test(OWN_URL) ? new URL('.', OWN_URL).href : undefined;
const STACK_LIMIT = 64;

function ownUrl(): string | undefined {
  try {
    const url: unknown = import.meta.url;
    return typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  /** Where the code of the frame's function starts (V8 10+). */
  getEnclosingLineNumber?(): number | null | undefined;
  getEnclosingColumnNumber?(): number | null | undefined;
}

interface SourceMapEntry {
  readonly originalSource?: string;
  readonly originalLine?: number;
  readonly originalColumn?: number;
}

type FindSourceMap = (file: string) => { findEntry(line: number, col: number): SourceMapEntry } | undefined;

const nodeProcess = (globalThis as { process?: { cwd?: () => string; getBuiltinModule?: (id: string) => unknown } }).process;
const findSourceMap = (nodeProcess?.getBuiltinModule?.('node:module') as { findSourceMap?: FindSourceMap } | undefined)?.findSourceMap;

/** A file name or path as a URL string, so frames compare with TRACE_DIR. */
function toUrl(file: string): string {
  if (file.startsWith('/')) return 'file://' + encodeURI(file);
  if (/^[A-Za-z]:[\\/]/.test(file)) return 'file:///' + encodeURI(file.replace(/\\/g, '/'));
  return file;
}

function isInternal(file: string): boolean {
  return file.startsWith('node:') || file.startsWith('internal/') || file === 'native' || file.startsWith('<');
}

/** A file as users want to read it: a path, relative to the working directory when inside it. */
function displayName(file: string): string {
  let p = file;
  if (p.startsWith('file://')) {
    try {
      p = decodeURIComponent(new URL(p).pathname);
      if (/^\/[A-Za-z]:\//.test(p)) p = p.slice(1);
    } catch {
      return file;
    }
  }
  let cwd: string | undefined;
  try {
    cwd = nodeProcess?.cwd?.().replace(/\\/g, '/');
  } catch {
    cwd = undefined;
  }
  if (cwd && p.startsWith(cwd + '/')) return p.slice(cwd.length + 1);
  return p;
}

/** Maps a generated position (1-based) to the original source when a source map is known. */
function mapped(file: string, line: number, col: number): Loc {
  try {
    const e = findSourceMap?.(file)?.findEntry(line - 1, col - 1);
    if (e && e.originalSource !== undefined && e.originalLine !== undefined && e.originalColumn !== undefined) {
      return { file: displayName(e.originalSource), line: e.originalLine + 1, col: e.originalColumn + 1 };
    }
  } catch {
    // fall through: unmapped position
  }
  return { file: displayName(file), line, col };
}

/** Up to `limit` structured call sites below the frame of `below` (which is left out, with all frames above it), or undefined without V8's API. */
function captureSites(below: Function, limit = STACK_LIMIT): CallSiteLike[] | undefined {
  const E = Error as unknown as {
    stackTraceLimit: number;
    prepareStackTrace?: (e: Error, sites: CallSiteLike[]) => unknown;
    captureStackTrace?: (target: object, fn?: Function) => void;
  };
  if (typeof E.captureStackTrace !== 'function') return undefined;
  const savedLimit = E.stackTraceLimit;
  const prepare = E.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  try {
    E.stackTraceLimit = limit;
    E.prepareStackTrace = (_e, sites) => sites;
    E.captureStackTrace(holder, below);
    const sites = holder.stack; // formatted (by the hook above) now, while it is installed
    return Array.isArray(sites) ? (sites as CallSiteLike[]) : undefined;
  } finally {
    E.stackTraceLimit = savedLimit;
    E.prepareStackTrace = prepare;
  }
}

/** True for a frame of a file in the tracer's folder (only when the tracer runs as its own files). */
function inTraceDir(file: string): boolean {
  return TRACE_DIR !== undefined && toUrl(file).startsWith(TRACE_DIR);
}

/** Entry functions (they called callerLoc or markEntry): by script, the places their code starts as line * 2^24 + column. */
const entryFunctions = new Map<string, Set<number>>();

function functionStart(site: CallSiteLike): number | undefined {
  const line = site.getEnclosingLineNumber?.();
  const col = site.getEnclosingColumnNumber?.();
  return typeof line === 'number' && typeof col === 'number' ? line * 0x1000000 + col : undefined;
}

/** Remembers the function of `site` (the caller of callerLoc or markEntry) as an entry of the tracer. */
function rememberEntry(file: string, site: CallSiteLike): void {
  const start = functionStart(site);
  if (start === undefined) return;
  let starts = entryFunctions.get(file);
  if (!starts) entryFunctions.set(file, (starts = new Set()));
  starts.add(start);
}

function isEntryFrame(file: string, site: CallSiteLike): boolean {
  const starts = entryFunctions.get(file);
  if (!starts) return false;
  const start = functionStart(site);
  return start !== undefined && starts.has(start);
}

/**
 * Picks the user's frame from a text stack (V8 `at f (FILE:L:C)` or Firefox
 * `f@FILE:L:C`): the first frame, after the first `ampcFrames` ones (known
 * to be ampc's), outside the tracer's folder. Text stacks say nothing of where
 * a function starts, so entries are not recognised. A stack of ampc's frames
 * only gives the last of the first `ampcFrames` (the entry), else its first
 * frame in the tracer's folder.
 */
export function locFromStack(stack: string, ampcFrames = 0): Loc {
  let fallback: Loc | undefined;
  let index = 0;
  for (const line of stack.split('\n')) {
    const m = /(?:\(|@|at )([^()@\s]+?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m || isInternal(m[1]!)) continue;
    const loc = { file: displayName(m[1]!), line: Number(m[2]), col: Number(m[3]) };
    if (index++ < ampcFrames) {
      fallback = loc;
      continue;
    }
    if (inTraceDir(m[1]!)) {
      fallback ??= loc;
      continue;
    }
    return loc;
  }
  return fallback ?? { file: '<unknown>', line: 0, col: 0 };
}

/** Tokens of the functions markEntry() has remembered. */
const markedEntries = new WeakSet<object>();

/**
 * Marks the function that calls it as an entry of the tracer, for a tracer
 * function that makes ops through other entries (or runs user code) without
 * calling callerLoc() itself, such as an nn block's forward: its frames are
 * then skipped when the user's frame is looked for, also in a bundle. Call it
 * first thing, with a token that stands for the calling function alone (the
 * function itself, or a constant of its own); only the first call per token
 * captures a stack (of one frame), later ones cost a WeakSet lookup.
 */
export function markEntry(token: object): void {
  if (markedEntries.has(token)) return;
  markedEntries.add(token);
  const sites = captureSites(markEntry, 1);
  const site = sites?.[0];
  const file = site?.getFileName();
  if (site && file && !isInternal(file)) rememberEntry(file, site);
}

/**
 * The place of the user's call being traced. Call it once at the entry of
 * every public tracing API (a method or a free function), before it calls
 * anything else: its caller is taken for an entry of the tracer, and so is
 * skipped wherever it is on later stacks.
 */
export function callerLoc(): Loc {
  const sites = captureSites(callerLoc);
  // A text stack: this function's frame, then the entry's.
  if (!sites) return locFromStack(new Error().stack ?? '', 2);
  let entry: CallSiteLike | undefined;
  for (const s of sites) {
    const file = s.getFileName();
    const line = s.getLineNumber();
    const col = s.getColumnNumber();
    if (!file || line === null || col === null || isInternal(file)) continue;
    if (!entry) {
      entry = s;
      rememberEntry(file, s);
      continue;
    }
    if (inTraceDir(file) || isEntryFrame(file, s)) continue;
    return mapped(file, line, col);
  }
  if (entry) return mapped(entry.getFileName()!, entry.getLineNumber()!, entry.getColumnNumber()!);
  return { file: '<unknown>', line: 0, col: 0 };
}
