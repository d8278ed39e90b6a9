// Writes examples/NAME.inputs.json for every examples/*.ir that lacks one:
// seeded random inputs (floats in [-1, 1), class labels in range).
// Usage: npx tsx scripts/make-example-inputs.ts [--force] [--seed N]

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { tensorRecordToJson } from '../runtime/tensor-json.ts';
import { parseModule } from '../ir/text/parser.ts';

const args = process.argv.slice(2);
const force = args.includes('--force');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 1;
const dir = new URL('../examples/', import.meta.url).pathname;

for (const f of readdirSync(dir).filter((n) => n.endsWith('.ir')).sort()) {
  const out = join(dir, f.replace(/\.ir$/, '.inputs.json'));
  if (existsSync(out) && !force) continue;
  const g = parseModule(readFileSync(join(dir, f), 'utf8'), f).main;
  writeFileSync(out, tensorRecordToJson(randomInputs(g, seed)) + '\n');
  console.log(`wrote ${out}`);
}
