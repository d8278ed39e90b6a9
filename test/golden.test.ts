// Golden tests: every test/golden/**/*.ir file, one ava test per `// -----`
// case (see test/golden/runner.ts for the format).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupCases, loadGolden, runCase } from './golden/runner.ts';

const root = fileURLToPath(new URL('./golden/', import.meta.url));
const repo = fileURLToPath(new URL('../', import.meta.url));

const files = (readdirSync(root, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ir'))
  .map((f) => relative(repo, join(root, f)))
  .sort();

test('there are golden files', (t) => {
  t.true(files.length > 0);
});

for (const file of files) {
  const cases = loadGolden(file, readFileSync(join(repo, file), 'utf8'));
  for (const c of cases) {
    const what = c.expectedError ? `expects ${c.expectedError.code}` : `${c.checks.length} check(s)`;
    test(`${file}:${c.firstLine} (${what})`, async (t) => {
      const r = await runCase(c);
      if (r.ok) t.pass();
      else t.fail(r.message);
    });
  }
}

test.after.always(() => cleanupCases());
