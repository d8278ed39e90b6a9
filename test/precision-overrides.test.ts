// Typos in the precision overrides are errors that name the close matches
// (issue #12), not silently ignored: a value in ampNodes or a scope in
// ampScopes that the graph does not have, and an option key no pass reads.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseModule } from '../ir/text/parser.ts';
import { f32, nn, traceModule } from '../ir/trace/index.ts';
import type { PassOptions } from '../passes/pass.ts';
import { pipelineByName, runPipeline } from '../passes/pipeline.ts';

const mlp = parseModule(readFileSync(new URL('../examples/mlp.ir', import.meta.url), 'utf8'), 'mlp.ir').main;
const amp = (g: typeof mlp, options: object) => runPipeline(g, pipelineByName('amp'), { options: options as PassOptions });

test('ampNodes: a value the graph lacks is E0609 with the close names', (t) => {
  t.notThrows(() => amp(mlp, { ampNodes: { probs: 'f16' } }));
  const e = t.throws(() => amp(mlp, { ampNodes: { prob: 'f16' } }));
  t.is(e!.message, "error E0609: ampNodes: @mlp has no value %prob (did you mean %probs?)");
  t.regex(t.throws(() => amp(mlp, { ampNodes: { zzzzzz: 'f32' } }))!.message, /ampNodes: @mlp has no value %zzzzzz$/);
});

test('ampScopes: a scope the graph lacks is E0609 with the close names, or the scopes it has', (t) => {
  const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
  const g = traceModule(model, [f32([2, 4])]).graph;
  t.notThrows(() => amp(g, { ampScopes: { '0': 'f32' } }));
  t.regex(t.throws(() => amp(g, { ampScopes: { '3': 'f32' } }))!.message, /E0609: ampScopes: @Sequential has no scope '3' \(did you mean '0', '1' or '2'\?\)/);
  t.regex(t.throws(() => amp(g, { ampScopes: { attention: 'f32' } }))!.message, /E0609: ampScopes: @\w+ has no scope 'attention' \(its scopes: /);
  t.regex(t.throws(() => amp(mlp, { ampScopes: { atn: 'f32' } }))!.message, /ampScopes: @mlp has no scope 'atn' \(it was not traced with scopes\)/);
});

test('an option key no pass reads is E0609 with the close key', (t) => {
  t.is(t.throws(() => amp(mlp, { ampDENY: ['matmul'] }))!.message, "error E0609: pass options: unknown option 'ampDENY' (did you mean 'ampDeny'?)");
  t.regex(t.throws(() => amp(mlp, { precisionPolicy: 'x' }))!.message, /unknown option 'precisionPolicy' \(known: ampAllow, ampDeny, /);
});
