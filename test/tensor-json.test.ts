// Tensor JSON: reading (flat or nested data, non-finite strings, bools),
// errors with code E0602 naming the file and the JSON path (or the position
// of a syntax error), writing (exact text), round trips, and seeded random inputs.
import test from 'ava';
import { AmpcError } from '../ir/errors.ts';
import { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/interp/tensor.ts';
import { fromNested, hostTensor, storeAs, toArray, toNested } from '../ir/interp/tensor.ts';
import { randomInputs } from '../ir/interp/random-inputs.ts';
import { parseTensorJson, parseTensorListJson, tensorRecordToJson, tensorsToJson } from '../runtime/tensor-json.ts';
import { interpret } from '../ir/interp/interpret.ts';

const parse = (text: string) => parseTensorJson(text, 'IN.json');

function parseError(text: string): AmpcError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof AmpcError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

// ---------------------------------------------------------------- reading

test('reads flat and nested data', (t) => {
  const r = parse('{"x": {"dtype": "f32", "shape": [2,3], "data": [1, 2, 3, 4, 5, 6]},\n "y": {"dtype": "f32", "shape": [2,3], "data": [[1,2,3],[4,5,6]]}}');
  t.deepEqual(Object.keys(r), ['x', 'y']);
  t.is(r.x!.dtype, 'f32');
  t.deepEqual(r.x!.shape, [2, 3]);
  t.true(r.x!.data instanceof Float64Array);
  t.deepEqual(toNested(r.x!), [[1, 2, 3], [4, 5, 6]]);
  t.deepEqual(toNested(r.y!), [[1, 2, 3], [4, 5, 6]]);
});

test('reads scalars, empty tensors, integers and bools', (t) => {
  const r = parse(JSON.stringify({
    s: { dtype: 'f32', shape: [], data: 2.5 },
    s1: { dtype: 'f32', shape: [], data: [3.5] },
    e: { dtype: 'f32', shape: [0, 3], data: [] },
    i: { dtype: 'i32', shape: [3], data: [-2147483648, 0, 2147483647] },
    u: { dtype: 'u32', shape: [2], data: [0, 4294967295] },
    b: { dtype: 'bool', shape: [4], data: [true, false, 1, 0] },
  }));
  t.deepEqual(toNested(r.s!), 2.5);
  t.deepEqual(toNested(r.s1!), 3.5);
  t.deepEqual(r.e!.shape, [0, 3]);
  t.is(r.e!.data.length, 0);
  t.deepEqual(toArray(r.i!), [-2147483648, 0, 2147483647]);
  t.true(r.i!.data instanceof Int32Array);
  t.deepEqual(toArray(r.u!), [0, 4294967295]);
  t.deepEqual(toNested(r.b!), [true, false, true, false]);
});

test('non-finite floats are strings; f16 data is rounded to f16', (t) => {
  const r = parse('{"x": {"dtype": "f32", "shape": [4], "data": ["inf", "-inf", "nan", "Infinity"]}, "h": {"dtype": "f16", "shape": [3], "data": [0.1, 65519, "NaN"]}}');
  const x = toArray(r.x!);
  t.is(x[0], Infinity);
  t.is(x[1], -Infinity);
  t.true(Number.isNaN(x[2]!));
  t.is(x[3], Infinity);
  const h = toArray(r.h!);
  t.is(h[0], 0.0999755859375);
  t.is(h[1], 65504); // rounds down to the largest f16; 65520 and up would be inf, and are refused (below)
  t.true(Number.isNaN(h[2]!));
});

test('a key named like an Object property is just a name', (t) => {
  const r = parse('{"__proto__": {"dtype": "f32", "shape": [1], "data": [1]}, "constructor": {"dtype": "f32", "shape": [1], "data": [2]}}');
  t.deepEqual(Object.keys(r), ['__proto__', 'constructor']);
  t.deepEqual(toArray(r['__proto__']!), [1]);
  t.deepEqual(toArray(r['constructor']!), [2]);
});

// ---------------------------------------------------------------- errors

const bad = (body: string) => `{"x": ${body}}`;

test('element errors name the file and the JSON path', (t) => {
  const e = parseError(bad('{"dtype": "f32", "shape": [4], "data": [1, 2, 3, "abc"]}'));
  t.is(e.code, 'E0602');
  t.is(e.message, 'error E0602: IN.json: x.data[3]: expected a number (or "inf", "-inf", "nan"), got "abc"');
  const n = parseError(bad('{"dtype": "f32", "shape": [2, 2], "data": [[1, 2], [3, null]]}'));
  t.is(n.detail, 'IN.json: x.data[1][1]: expected a number (or "inf", "-inf", "nan"), got null');
  const i = parseError(bad('{"dtype": "i32", "shape": [2], "data": [1, 1.5]}'));
  t.is(i.detail, 'IN.json: x.data[1]: expected an i32 integer, got 1.5');
  const big = parseError(bad('{"dtype": "i32", "shape": [1], "data": [2147483648]}'));
  t.is(big.detail, 'IN.json: x.data[0]: 2147483648 is outside the i32 range -2147483648..2147483647');
  const neg = parseError(bad('{"dtype": "u32", "shape": [1], "data": [-1]}'));
  t.is(neg.detail, 'IN.json: x.data[0]: -1 is outside the u32 range 0..4294967295');
  const b = parseError(bad('{"dtype": "bool", "shape": [2], "data": [true, 2]}'));
  t.is(b.detail, 'IN.json: x.data[1]: expected true, false, 0 or 1, got 2');
  const inf = parseError(bad('{"dtype": "i32", "shape": [1], "data": ["inf"]}'));
  t.is(inf.detail, 'IN.json: x.data[0]: expected an i32 integer, got "inf"');
});

test('data must match the shape', (t) => {
  t.is(parseError(bad('{"dtype": "f32", "shape": [2, 3], "data": [1, 2, 3, 4, 5]}')).detail,
    'IN.json: x.data: expected 6 value(s) for shape [2,3], got 5');
  t.is(parseError(bad('{"dtype": "f32", "shape": [2, 3], "data": [[1, 2, 3], [4, 5]]}')).detail,
    'IN.json: x.data[1]: expected a list of 3 (shape [2,3]), got a list of 2');
  t.is(parseError(bad('{"dtype": "f32", "shape": [2, 3], "data": [[1, 2, 3]]}')).detail,
    'IN.json: x.data: expected a list of 2 (shape [2,3]), got a list of 1');
  t.is(parseError(bad('{"dtype": "f32", "shape": [2, 1], "data": [[1], 2]}')).detail,
    'IN.json: x.data[1]: expected a list of 1 (shape [2,1]), got 2');
  t.is(parseError(bad('{"dtype": "f32", "shape": [2], "data": 1}')).detail,
    'IN.json: x.data: expected a list of values for shape [2], got 1');
  t.is(parseError(bad('{"dtype": "f32", "shape": [], "data": [1, 2]}')).detail,
    'IN.json: x.data: expected 1 value(s) for shape [], got 2');
});

test('dtype, shape and keys are checked', (t) => {
  t.is(parseError(bad('{"dtype": "f64", "shape": [1], "data": [1]}')).detail,
    'IN.json: x.dtype: expected one of "f32", "f16", "i32", "u32", "bool", got "f64"');
  t.is(parseError(bad('{"shape": [1], "data": [1]}')).detail, 'IN.json: x: missing "dtype"');
  t.is(parseError(bad('{"dtype": "f32", "data": [1]}')).detail, 'IN.json: x: missing "shape"');
  t.is(parseError(bad('{"dtype": "f32", "shape": [1]}')).detail, 'IN.json: x: missing "data"');
  t.is(parseError(bad('{"dtype": "f32", "shape": [2, -1], "data": []}')).detail,
    'IN.json: x.shape[1]: expected a non-negative integer, got -1');
  t.is(parseError(bad('{"dtype": "f32", "shape": 3, "data": []}')).detail,
    'IN.json: x.shape: expected a list of non-negative integers, got 3');
  t.is(parseError(bad('{"dtype": "f32", "shape": [1], "data": [1], "grad": true}')).detail,
    'IN.json: x: unknown key "grad" (a tensor has "dtype", "shape" and "data")');
  t.is(parseError(bad('[1, 2]')).detail, 'IN.json: x: expected an object with "dtype", "shape" and "data", got a list');
  t.is(parseError('[{"dtype": "f32", "shape": [1], "data": [1]}]').detail, 'IN.json: expected an object mapping input names to tensors, got a list');
  t.is(parseError('{"my input": {"dtype": "f32", "shape": [1], "data": ["x"]}}').detail,
    'IN.json: ["my input"].data[0]: expected a number (or "inf", "-inf", "nan"), got "x"');
});

test('JSON syntax errors report the line and column', (t) => {
  const e = parseError('{\n  "x": {"dtype": "f32",\n  "shape": [1] "data": [1]}\n}');
  t.is(e.code, 'E0602');
  t.deepEqual(e.loc, { file: 'IN.json', line: 3, col: 16 });
  t.is(e.message, "IN.json:3:16: error E0602: invalid JSON: expected ',' or '}' in an object, found '\"'");
  const trailing = parseError('{"x": 1,}');
  t.deepEqual(trailing.loc, { file: 'IN.json', line: 1, col: 9 });
  t.regex(trailing.message, /expected a double-quoted key, found '}'/);
  const end = parseError('{"x": [1, 2');
  t.regex(end.message, /^IN\.json:1:12: error E0602: invalid JSON: expected ',' or '\]' in a list, found the end of the file/);
  const dup = parseError('{"x": 1, "x": 2}');
  t.deepEqual(dup.loc, { file: 'IN.json', line: 1, col: 10 });
  t.regex(dup.message, /key "x" appears twice/);
  t.regex(parseError('{"x": NaN}').message, /1:7: .*expected a value, found 'N'/);
  t.regex(parseError('{} x').message, /1:4: .*unexpected 'x' after the JSON value/);
  t.regex(parseError('').message, /1:1: .*expected a value, found the end of the file/);
});

// ---------------------------------------------------------------- writing

test('tensorsToJson writes a readable list in return order', (t) => {
  const text = tensorsToJson([
    fromNested('f32', [[1, 2.5, -3], [4, 5, 6]]),
    hostTensor('f16', [], [1 / 3]),
    fromNested('bool', [true, false]),
    hostTensor('f32', [3], [Infinity, NaN, -Infinity]),
  ]);
  t.is(text, [
    '[',
    '  {',
    '    "dtype": "f32",',
    '    "shape": [2, 3],',
    '    "data": [',
    '      [1, 2.5, -3],',
    '      [4, 5, 6]',
    '    ]',
    '  },',
    '  {',
    '    "dtype": "f16",',
    '    "shape": [],',
    '    "data": [0.333251953125]',
    '  },',
    '  {',
    '    "dtype": "bool",',
    '    "shape": [2],',
    '    "data": [true, false]',
    '  },',
    '  {',
    '    "dtype": "f32",',
    '    "shape": [3],',
    '    "data": ["inf", "nan", "-inf"]',
    '  }',
    ']',
    '',
  ].join('\n'));
  t.is(tensorsToJson([]), '[]\n');
});

test('tensorRecordToJson writes named tensors, rank 3 nested', (t) => {
  const text = tensorRecordToJson({ w: hostTensor('i32', [2, 1, 2], [1, -2, 3, 4]) });
  t.is(text, [
    '{',
    '  "w": {',
    '    "dtype": "i32",',
    '    "shape": [2, 1, 2],',
    '    "data": [',
    '      [',
    '        [1, -2]',
    '      ],',
    '      [',
    '        [3, 4]',
    '      ]',
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n'));
});

test('round trip: record → JSON → record keeps every value exactly', (t) => {
  const rec: Record<string, HostTensor> = {
    a: hostTensor('f32', [2, 2], [0.1, -0, 1e-300, 123456789.123]),
    h: hostTensor('f16', [4], [0.1, 1 / 3, 65504, 2 ** -24]),
    i: hostTensor('i32', [3], [-2147483648, 7, 2147483647]),
    u: hostTensor('u32', [1], [4294967295]),
    b: hostTensor('bool', [2, 1], [1, 0]),
    n: hostTensor('f32', [3], [NaN, Infinity, -Infinity]),
    e: hostTensor('f32', [2, 0], []),
  };
  const back = parseTensorJson(tensorRecordToJson(rec), 'rt.json');
  t.deepEqual(Object.keys(back), Object.keys(rec));
  for (const k of Object.keys(rec)) {
    t.is(back[k]!.dtype, rec[k]!.dtype, k);
    t.deepEqual(back[k]!.shape, rec[k]!.shape, k);
    t.deepEqual(back[k]!.data, rec[k]!.data, k);
  }
  t.true(Object.is(back.a!.data[1], -0));
  // the list form round-trips too
  const list = parseTensorListJson(tensorsToJson([rec.h!, rec.b!]), 'out.json');
  t.deepEqual(list[0]!.data, rec.h!.data);
  t.deepEqual(list[1]!.data, rec.b!.data);
});

test('parsed inputs run through the interpreter', (t) => {
  const g = new Graph('g');
  const x = g.addInput('x', { dtype: 'f32', shape: [2] });
  g.setOutputs([g.add('mul', [x, x])]);
  const out = interpret(g, parse('{"x": {"dtype": "f32", "shape": [2], "data": [3, "-inf"]}}'));
  t.is(tensorsToJson(out), '[\n  {\n    "dtype": "f32",\n    "shape": [2],\n    "data": [9, "inf"]\n  }\n]\n');
});

// ---------------------------------------------------------------- random inputs

function lossGraph(): Graph {
  const g = new Graph('loss');
  const x = g.addInput('x', { dtype: 'f32', shape: [64, 10] });
  const labels = g.addInput('labels', { dtype: 'i32', shape: [64] });
  const ids = g.addInput('ids', { dtype: 'i32', shape: [200] });
  const cls = g.addInput('cls', { dtype: 'i32', shape: [200] });
  const h = g.addInput('h', { dtype: 'f16', shape: [100] });
  const m = g.addInput('m', { dtype: 'bool', shape: [100] });
  g.add('one_hot', [cls], { classes: 4 });
  g.add('abs', [ids]);
  g.add('select', [m, h, h]);
  g.setOutputs([g.add('cross_entropy', [x, labels])]);
  return g;
}

test('randomInputs is seeded and fits every input', (t) => {
  const g = lossGraph();
  const a = randomInputs(g, 7);
  const b = randomInputs(g, 7);
  const c = randomInputs(g, 8);
  t.deepEqual(Object.keys(a), ['x', 'labels', 'ids', 'cls', 'h', 'm']);
  for (const k of Object.keys(a)) t.deepEqual(a[k]!.data, b[k]!.data, k);
  t.notDeepEqual(a.x!.data, c.x!.data);
  const x = toArray(a.x!);
  t.is(x.length, 640);
  t.true(x.every((v) => v >= -1 && v < 1));
  t.true(x.some((v) => v < -0.5) && x.some((v) => v > 0.5));
  // labels of cross_entropy are classes 0..9 (the logits have 10 columns)
  const labels = toArray(a.labels!);
  t.true(labels.every((v) => Number.isInteger(v) && v >= 0 && v < 10));
  t.true(new Set(labels).size > 5);
  t.true(toArray(a.cls!).every((v) => v >= 0 && v < 4));
  t.is(new Set(toArray(a.cls!)).size, 4);
  const ids = toArray(a.ids!);
  t.true(ids.every((v) => Number.isInteger(v) && v >= -4 && v <= 4));
  t.true(ids.some((v) => v < 0));
  t.true(toArray(a.h!).every((v) => v >= -1 && v <= 1 && storeAs('f16', v) === v));
  t.true(toArray(a.h!).some((v) => v !== 0));
  t.deepEqual(new Set(toArray(a.m!)), new Set([0, 1]));
  // the graph runs on them
  t.notThrows(() => interpret(g, a));
});

test('floats a dtype cannot hold are refused, not turned into infinities (issue #12)', (t) => {
  const f32big = parseError(bad('{"dtype": "f32", "shape": [2], "data": [1, 1e39]}'));
  t.is(f32big.detail, 'IN.json: x.data[1]: 1e+39 is outside the f32 range (largest 3.4028234663852886e+38); write "inf" or "-inf" for infinities');
  const f16big = parseError(bad('{"dtype": "f16", "shape": [1], "data": [-70000]}'));
  t.is(f16big.detail, 'IN.json: x.data[0]: -70000 is outside the f16 range (largest 65504); write "inf" or "-inf" for infinities');
  const double = parseError(bad('{"dtype": "f32", "shape": [1], "data": [1e400]}'));
  t.is(double.code, 'E0602');
  t.regex(double.message, /IN\.json:1:\d+: error E0602: invalid JSON: the number 1e400 is too large for a double \(write "inf" or "-inf" for infinities\)/);
  // The largest finite values, values that round down to them, and the spelled infinities are fine.
  const ok = parseTensorJson('{"a": {"dtype": "f32", "shape": [2], "data": [3.4028234663852886e38, "-inf"]}, "h": {"dtype": "f16", "shape": [2], "data": [65504, 65519]}}', 'IN.json');
  t.deepEqual([...ok.a!.data], [3.4028234663852886e38, -Infinity]);
  t.deepEqual([...ok.h!.data], [65504, 65504]);
});

test('deeply nested JSON is a placed E0602, not a stack overflow (issue #12)', (t) => {
  const deep = '{"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}';
  const e = parseError(deep);
  t.is(e.code, 'E0602');
  t.regex(e.message, /^IN\.json:1:\d+: error E0602: invalid JSON: lists and objects nested deeper than 512 levels$/);
  // Nesting as deep as any real tensor is fine.
  const nested = '['.repeat(8) + '1' + ']'.repeat(8);
  t.deepEqual([...parseTensorJson(`{"x": {"dtype": "f32", "shape": [1,1,1,1,1,1,1,1], "data": ${nested}}}`, 'IN.json').x!.data], [1]);
});
