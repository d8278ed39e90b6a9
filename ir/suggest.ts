// "Did you mean …?" for names a user mistyped: op names in the text format,
// value and scope names and option keys of the precision overrides.

/** Edit distance counting an adjacent transposition as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates close to `name` (case-insensitive edit distance within a
 * third of the candidate's length, at least 1), nearest first, at most `max`.
 */
export function closeMatches(name: string, candidates: Iterable<string>, max = 3): string[] {
  if (name.length > 64) return [];
  const lower = name.toLowerCase();
  const scored: [string, number][] = [];
  for (const c of new Set(candidates)) {
    const d = c.toLowerCase() === lower ? 0 : editDistance(lower, c.toLowerCase());
    if (d <= Math.max(1, Math.floor(c.length / 3))) scored.push([c, d]);
  }
  return scored.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(0, max).map(([c]) => c);
}

/** ` (did you mean 'x'?)`, ` (did you mean 'x' or 'y'?)`, or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>, quote: (c: string) => string = (c) => `'${c}'`): string {
  const close = closeMatches(name, candidates);
  if (close.length === 0) return '';
  const list = close.length === 1 ? quote(close[0]!) : `${close.slice(0, -1).map(quote).join(', ')} or ${quote(close.at(-1)!)}`;
  return ` (did you mean ${list}?)`;
}
