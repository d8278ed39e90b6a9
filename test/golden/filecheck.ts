// A small FileCheck (LLVM/MLIR) for golden tests. Directives, written as
// `// CHECK...: pattern` lines in a golden file:
//   CHECK:       the pattern occurs after the previous match (same line allowed)
//   CHECK-NEXT:  the pattern occurs on the line right after the previous match
//   CHECK-SAME:  the pattern occurs on the line of the previous match, after it
//   CHECK-EMPTY: the line right after the previous match is empty
//   CHECK-NOT:   the pattern does not occur between the surrounding matches
//   CHECK-LABEL: as CHECK (kept for MLIR-style files)
// Patterns are literal text with `{{regex}}` pieces; `[[NAME:regex]]` captures
// a variable and `[[NAME]]` matches its captured text again. As in FileCheck,
// runs of spaces and tabs match any run of horizontal whitespace and the
// pattern's own leading and trailing whitespace is ignored.

export type CheckKind = 'CHECK' | 'CHECK-NEXT' | 'CHECK-SAME' | 'CHECK-EMPTY' | 'CHECK-NOT' | 'CHECK-LABEL';

export interface CheckDirective {
  readonly kind: CheckKind;
  readonly pattern: string;
  /** 1-based line of the directive in its file. */
  readonly line: number;
}

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly message: string; readonly check?: CheckDirective };

const DIRECTIVE_RE = /\/\/\s*(CHECK(?:-[A-Z]+)?):(.*)$/;
const KINDS: readonly string[] = ['CHECK', 'CHECK-NEXT', 'CHECK-SAME', 'CHECK-EMPTY', 'CHECK-NOT', 'CHECK-LABEL'];

/** Reads the CHECK directives of a file (or a chunk of one); `firstLine` is the line number of `source`'s first line. */
export function parseChecks(source: string, firstLine = 1): CheckDirective[] {
  const out: CheckDirective[] = [];
  source.split(/\r\n|\r|\n/).forEach((text, i) => {
    const m = DIRECTIVE_RE.exec(text);
    if (!m) return;
    const line = firstLine + i;
    if (!KINDS.includes(m[1]!)) throw new Error(`line ${line}: unknown directive '${m[1]}:' (known: ${KINDS.join(', ')})`);
    const kind = m[1] as CheckKind;
    const pattern = m[2]!.trim();
    if (kind !== 'CHECK-EMPTY' && pattern === '') throw new Error(`line ${line}: ${kind} has an empty pattern`);
    if ((kind === 'CHECK-NEXT' || kind === 'CHECK-SAME' || kind === 'CHECK-EMPTY') && !out.some((c) => c.kind !== 'CHECK-NOT')) {
      throw new Error(`line ${line}: ${kind} needs a CHECK before it`);
    }
    out.push({ kind, pattern, line });
  });
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function literal(s: string): string {
  return s.split(/[ \t]+/).map(escapeRegex).join('[ \\t]+');
}

/** Index just past the `}}` that closes a `{{` (the last `}}` of a run of braces). */
function closeOf(p: string, from: number, open: string): number {
  const close = open === '{{' ? '}}' : ']]';
  let j = p.indexOf(close, from);
  if (j < 0) return -1;
  while (p[j + 2] === close[0]) j++;
  return j;
}

interface Compiled {
  readonly re: RegExp;
  /** Variables this pattern defines, by capture group name. */
  readonly defines: readonly string[];
}

/** Turns a pattern into a regular expression, given the variables captured so far. */
export function compilePattern(pattern: string, vars: ReadonlyMap<string, string> = new Map()): Compiled {
  let src = '';
  const defines: string[] = [];
  let i = 0;
  while (i < pattern.length) {
    const rx = pattern.indexOf('{{', i);
    const vr = pattern.indexOf('[[', i);
    const next = [rx, vr].filter((k) => k >= 0).sort((a, b) => a - b)[0];
    if (next === undefined) {
      src += literal(pattern.slice(i));
      break;
    }
    src += literal(pattern.slice(i, next));
    const open = pattern.slice(next, next + 2);
    const end = closeOf(pattern, next + 2, open);
    if (end < 0) throw new Error(`unclosed '${open}' in pattern: ${pattern}`);
    const body = pattern.slice(next + 2, end);
    if (open === '{{') {
      src += `(?:${body})`;
    } else {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::(.*))?$/s.exec(body);
      if (!m) throw new Error(`bad variable '[[${body}]]' in pattern: ${pattern}`);
      const [, name, re] = m;
      if (re !== undefined) {
        src += `(?<${name}>${re})`;
        defines.push(name!);
      } else if (defines.includes(name!)) {
        src += `\\k<${name}>`;
      } else {
        const v = vars.get(name!);
        if (v === undefined) throw new Error(`variable '${name}' is used before it is defined, in pattern: ${pattern}`);
        src += escapeRegex(v);
      }
    }
    i = end + 2;
  }
  return { re: new RegExp(src, 'g'), defines };
}

interface Pos {
  line: number;
  col: number;
}

/** Finds `re` in `lines` from `from` on: the first line (from `from.col`) and, unless `oneLine`, the following ones. */
function search(re: RegExp, lines: readonly string[], from: Pos, oneLine: boolean, until?: Pos): { start: Pos; end: Pos; groups: Record<string, string> } | undefined {
  const last = until ? until.line : lines.length - 1;
  for (let l = from.line; l <= Math.min(last, oneLine ? from.line : last); l++) {
    const text = lines[l]!;
    re.lastIndex = l === from.line ? from.col : 0;
    const m = re.exec(text);
    if (!m) continue;
    if (until && l === until.line && m.index + m[0].length > until.col) continue;
    return { start: { line: l, col: m.index }, end: { line: l, col: m.index + m[0].length }, groups: { ...(m.groups ?? {}) } };
  }
  return undefined;
}

function where(lines: readonly string[], p: Pos): string {
  const text = lines[p.line];
  return text === undefined ? 'at the end of the output' : `output line ${p.line + 1}: ${JSON.stringify(text)}`;
}

/** Matches the directives against `output`; on failure says which directive and where the scan was. */
export function fileCheck(checks: readonly CheckDirective[], output: string, file = '<checks>'): CheckResult {
  const lines = output.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends a line, it does not start one
  const vars = new Map<string, string>();
  let cur: Pos = { line: 0, col: 0 };
  let started = false;
  let pendingNot: CheckDirective[] = [];
  const fail = (c: CheckDirective, why: string): CheckResult => ({ ok: false, check: c, message: `${file}:${c.line}: ${c.kind}: ${c.pattern}\n  ${why}` });

  const checkNots = (from: Pos, to: Pos | undefined): CheckResult | undefined => {
    for (const n of pendingNot) {
      const found = search(compilePattern(n.pattern, vars).re, lines, from, false, to);
      if (found) return fail(n, `excluded pattern found at ${where(lines, found.start)}`);
    }
    pendingNot = [];
    return undefined;
  };

  for (const c of checks) {
    if (c.kind === 'CHECK-NOT') {
      pendingNot.push(c);
      continue;
    }
    let found: ReturnType<typeof search>;
    if (c.kind === 'CHECK-EMPTY') {
      const next = cur.line + (started ? 1 : 0);
      if (lines[next] !== '') return fail(c, `expected an empty line at ${where(lines, { line: next, col: 0 })}`);
      found = { start: { line: next, col: 0 }, end: { line: next, col: 0 }, groups: {} };
    } else {
      const { re } = compilePattern(c.pattern, vars);
      if (c.kind === 'CHECK-NEXT') {
        const next = { line: cur.line + 1, col: 0 };
        found = search(re, lines, next, true);
        if (!found) return fail(c, `not found on the next line; previous match ended at ${where(lines, cur)}, next is ${where(lines, next)}`);
      } else if (c.kind === 'CHECK-SAME') {
        found = search(re, lines, cur, true);
        if (!found) return fail(c, `not found on the same line, after the previous match: ${where(lines, cur)}`);
      } else {
        found = search(re, lines, cur, false);
        if (!found) return fail(c, `expected pattern not found; scanning from ${where(lines, cur)}`);
      }
    }
    const bad = checkNots(cur, found.start);
    if (bad) return bad;
    for (const [k, v] of Object.entries(found.groups)) vars.set(k, v);
    cur = found.end;
    started = true;
  }
  return checkNots(cur, undefined) ?? { ok: true };
}
