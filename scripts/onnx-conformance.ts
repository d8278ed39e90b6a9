// `npm run onnx-conformance [-- --filter REGEX] [--json FILE]`: runs ONNX's
// node tests (Debian's libonnx-testdata) through the importer on the WebGPU
// device in f32 and under AMP, and prints the table the README shows: total,
// in scope, imported, pass f32, pass AMP, unsupported ops with counts.

import { writeFileSync } from 'node:fs';
import { acquireDevice } from '../runtime/device.ts';
import { formatTable, listCases, ONNX_NODE_DIR, runCase, summarize } from '../test/helpers/onnx-conformance.ts';
import type { CaseResult } from '../test/helpers/onnx-conformance.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const filter = opt('--filter') ? new RegExp(opt('--filter')!) : undefined;
const cases = listCases().filter((n) => !filter || filter.test(n));
if (cases.length === 0) {
  console.error(`onnx-conformance: no node tests in ${ONNX_NODE_DIR} (install Debian's libonnx-testdata: scripts/setup.sh)`);
  process.exit(1);
}
const ctx = await acquireDevice();
const results: CaseResult[] = [];
const t0 = performance.now();
try {
  for (const name of cases) {
    const r = await runCase(ctx, name);
    results.push(r);
    if (r.status === 'run-error') console.error(`run error: ${name}: ${r.reason}`);
    else if (r.status === 'import-error') console.error(`import error: ${name}: ${r.reason}`);
    else if (r.status === 'ran' && (!r.f32 || !r.amp)) console.error(`mismatch: ${name}: ${JSON.stringify(r.detail)}`);
  }
} finally {
  ctx.destroy();
}
const s = summarize(results);
console.log(formatTable(s));
const importMs = results.reduce((a, r) => a + (r.importMs ?? 0), 0);
console.log(`\nimport ${importMs.toFixed(0)} ms in all; whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (opt('--json')) writeFileSync(opt('--json')!, JSON.stringify(results, null, 1));
