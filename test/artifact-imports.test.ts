// An artifact runs with the runtime alone: the loader (runtime/artifact.ts)
// and `ampc-run` (runtime/cli/ampc-run.ts) must reach nothing of the
// compiler, the passes or the IR beyond ir/dtype.ts and ir/errors.ts. This
// walks their import graph (static imports, re-exports and dynamic
// import()s) through the repository's files.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const ALLOWED = (file: string) => file.startsWith('runtime/') || file === 'ir/dtype.ts' || file === 'ir/errors.ts';
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every repository file reached from `entry`, with the file that imported it. */
function reach(entry: string): Map<string, string> {
  const seen = new Map<string, string>([[entry, '(entry)']]);
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue; // packages and node: built-ins
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      if (!seen.has(target)) {
        seen.set(target, file);
        todo.push(target);
      }
    }
  }
  return seen;
}

for (const entry of ['runtime/artifact.ts', 'runtime/cli/ampc-run.ts']) {
  test(`${entry} reaches only runtime/, ir/dtype.ts and ir/errors.ts`, (t) => {
    const files = reach(entry);
    const outside = [...files].filter(([f]) => !ALLOWED(f)).map(([f, by]) => `${f} (imported by ${by})`);
    t.deepEqual(outside, []);
    // The walk works: it sees the files the loader is made of.
    for (const f of ['runtime/session.ts', 'runtime/safetensors.ts', 'runtime/artifact-manifest.ts', 'ir/errors.ts']) t.true(files.has(f), f);
  });
}

test('the walk catches an import from outside (it can fail)', (t) => {
  const files = reach('compiler/artifact.ts');
  t.true([...files.keys()].some((f) => f.startsWith('passes/')));
});
