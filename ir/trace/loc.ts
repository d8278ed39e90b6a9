// Where a traced op was written: the first stack frame outside ir/trace/ and
// outside the runtime's internals, as FILE:LINE:COL of the user's TypeScript.
//
// Cost matters (one capture per traced op), so this avoids formatting the
// stack as text, which is what is slow once source maps are on: it asks V8
// for structured call sites (Error.captureStackTrace with a frame limit and a
// momentary Error.prepareStackTrace), picks the user's frame, and maps only
// that one position back to the .ts source through Node's source-map cache
// (tsx enables source maps). The result is a plain Loc holding three fields,
// so a graph keeps no stack frames alive. Where structured call sites are not
// available (non-V8 engines), the text stack is parsed instead. No Node
// modules are imported, so tracing also loads in a browser.

import type { Loc } from '../errors.ts';

/** URL of this folder (…/ir/trace/); frames under it belong to the tracer. */
const TRACE_DIR = new URL('.', import.meta.url).href;
const STACK_LIMIT = 64;

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
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

function captureSites(): CallSiteLike[] | undefined {
  const E = Error as unknown as {
    stackTraceLimit: number;
    prepareStackTrace?: (e: Error, sites: CallSiteLike[]) => unknown;
    captureStackTrace?: (target: object, fn?: Function) => void;
  };
  if (typeof E.captureStackTrace !== 'function') return undefined;
  const limit = E.stackTraceLimit;
  const prepare = E.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  try {
    E.stackTraceLimit = STACK_LIMIT;
    E.prepareStackTrace = (_e, sites) => sites;
    E.captureStackTrace(holder, callerLoc);
    const sites = holder.stack; // formatted (by the hook above) now, while it is installed
    return Array.isArray(sites) ? (sites as CallSiteLike[]) : undefined;
  } finally {
    E.stackTraceLimit = limit;
    E.prepareStackTrace = prepare;
  }
}

/** Picks the user's frame from a text stack (V8 `at f (FILE:L:C)` or Firefox `f@FILE:L:C`). */
export function locFromStack(stack: string): Loc {
  let fallback: Loc | undefined;
  for (const line of stack.split('\n')) {
    const m = /(?:\(|@|at )([^()@\s]+?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m || isInternal(m[1]!)) continue;
    const loc = { file: displayName(m[1]!), line: Number(m[2]), col: Number(m[3]) };
    if (toUrl(m[1]!).startsWith(TRACE_DIR)) {
      fallback ??= loc;
      continue;
    }
    return loc;
  }
  return fallback ?? { file: '<unknown>', line: 0, col: 0 };
}

/**
 * The place of the user's call being traced. Call it once at the entry of
 * every public tracing API (a method or a free function); frames of the
 * tracer itself are skipped, so where inside ir/trace/ it is called does not
 * matter.
 */
export function callerLoc(): Loc {
  const sites = captureSites();
  if (!sites) return locFromStack(new Error().stack ?? '');
  let fallback: CallSiteLike | undefined;
  for (const s of sites) {
    const file = s.getFileName();
    const line = s.getLineNumber();
    const col = s.getColumnNumber();
    if (!file || line === null || col === null || isInternal(file)) continue;
    if (toUrl(file).startsWith(TRACE_DIR)) {
      fallback ??= s;
      continue;
    }
    return mapped(file, line, col);
  }
  if (fallback) return mapped(fallback.getFileName()!, fallback.getLineNumber()!, fallback.getColumnNumber()!);
  return { file: '<unknown>', line: 0, col: 0 };
}
