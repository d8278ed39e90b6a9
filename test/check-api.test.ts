// `checkGraph` from TypeScript (the API behind `ampc check`) on a traced
// model: the report names each value by its module scope and the user's
// TypeScript line, not only by its number (issue #12).

import test from 'ava';
import { checkGraph, formatReport } from '../compiler/check.ts';
import { hostTensor, interpret } from '../ir/interp/index.ts';
import { f32, nn, traceModule } from '../ir/trace/index.ts';
import { initialValues } from '../ir/trace/index.ts';
import { seededValues } from './helpers/compare.ts';

test('checkGraph on a traced model: rows carry the module scope and the line of the model code', async (t) => {
  const model = new nn.Sequential(new nn.Linear(6, 5), new nn.ReLU(), new nn.Linear(5, 3));
  const traced = traceModule(model, [f32([4, 6])]);
  const inputs = {
    ...Object.fromEntries(traced.params.map((p) => [p.name, hostTensor(p.type.dtype, p.type.shape, initialValues(p, 1))])),
    [traced.graph.inputs[0]!.name!]: hostTensor('f32', [4, 6], seededValues(3, 24)),
  };
  const { rows } = await checkGraph(traced.graph, inputs, {}, async (g, xs) => interpret(g, xs));
  t.true(rows.length >= 3);
  const report = formatReport(rows, 'model', '');
  t.regex(report, /^value\s+op\s+scope\s+amp type\s+max abs err\s+max rel err\s+at$/m, report);
  t.regex(report, /^%\S+\s+matmul\s+0\s+f16\[4,5\]\s.*check-api\.test\.ts:\d+:\d+$/m, report);
  t.regex(report, /^%\S+\s+matmul\s+2\s+f16\[4,3\]\s/m, report);
});
