// The FileCheck matcher itself: it passes what it should and, above all,
// fails what it should (out-of-order CHECK, non-adjacent CHECK-NEXT, present
// CHECK-NOT), with a message naming the directive's line.
import test from 'ava';
import { compilePattern, fileCheck, parseChecks } from './filecheck.ts';
import { cleanupCases, loadGolden, runCase } from './runner.ts';

const OUTPUT = [
  'graph @mlp(%x: f32[64,784], %w1: f32[784,256] {param}) -> (f32[64,256]) {',
  '  %0 = matmul %x, %w1 {acc = f32} : f32[64,256]',
  '  %1 = relu %0 : f32[64,256]',
  '  return %1',
  '}',
  '',
].join('\n');

function check(directives: string, output = OUTPUT) {
  return fileCheck(parseChecks(directives), output, 'case.ir');
}

test('CHECK lines in order pass', (t) => {
  const r = check(['// CHECK: graph @mlp', '// CHECK: matmul', '// CHECK: relu', '// CHECK: return %1'].join('\n'));
  t.deepEqual(r, { ok: true });
});

test('CHECK out of order fails and names the directive', (t) => {
  const r = check(['// CHECK: relu', '// CHECK: matmul'].join('\n'));
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.check?.line, 2);
    t.regex(r.message, /^case\.ir:2: CHECK: matmul\n/);
    t.regex(r.message, /expected pattern not found/);
  }
});

test('CHECK may match twice on one line, after the previous match', (t) => {
  t.true(check(['// CHECK: %0 = matmul', '// CHECK: acc = f32'].join('\n')).ok);
  t.false(check(['// CHECK: acc = f32', '// CHECK: %0 = matmul'].join('\n')).ok);
});

test('CHECK-NEXT must be on the very next line', (t) => {
  t.true(check(['// CHECK: matmul', '// CHECK-NEXT: relu'].join('\n')).ok);
  const r = check(['// CHECK: graph @mlp', '// CHECK-NEXT: relu'].join('\n'));
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.check?.kind, 'CHECK-NEXT');
    t.regex(r.message, /not found on the next line/);
  }
});

test('CHECK-SAME stays on the line of the previous match', (t) => {
  t.true(check(['// CHECK: %0 = matmul', '// CHECK-SAME: {acc = f32}'].join('\n')).ok);
  t.false(check(['// CHECK: %0 = matmul', '// CHECK-SAME: relu'].join('\n')).ok);
});

test('CHECK-NOT fails when the pattern is between the surrounding matches', (t) => {
  const r = check(['// CHECK: graph', '// CHECK-NOT: matmul', '// CHECK: return'].join('\n'));
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.check?.kind, 'CHECK-NOT');
    t.is(r.check?.line, 2);
    t.regex(r.message, /excluded pattern found at output line 2/);
  }
});

test('CHECK-NOT only looks between the surrounding matches', (t) => {
  t.true(check(['// CHECK: relu', '// CHECK-NOT: matmul', '// CHECK: return'].join('\n')).ok);
  // trailing CHECK-NOT: from the last match to the end
  t.true(check(['// CHECK: relu', '// CHECK-NOT: matmul'].join('\n')).ok);
  t.false(check(['// CHECK: graph', '// CHECK-NOT: relu'].join('\n')).ok);
  // leading CHECK-NOT: from the start to the first match
  t.false(check(['// CHECK-NOT: matmul', '// CHECK: relu'].join('\n')).ok);
});

test('CHECK-EMPTY wants an empty next line', (t) => {
  const two = `${OUTPUT}\ngraph @b() -> () {\n  return\n}\n`;
  t.true(check(['// CHECK: return %1', '// CHECK-NEXT: }', '// CHECK-EMPTY:', '// CHECK-NEXT: graph @b'].join('\n'), two).ok);
  t.false(check(['// CHECK: return %1', '// CHECK-EMPTY:'].join('\n'), two).ok);
  // the output's final newline does not make an empty last line
  t.false(check(['// CHECK: graph @b', '// CHECK-NEXT: return', '// CHECK-NEXT: }', '// CHECK-EMPTY:'].join('\n'), two).ok);
});

test('{{regex}} pieces and [[VAR]] captures', (t) => {
  t.true(check('// CHECK: %{{[0-9]+}} = matmul %x, %w{{[0-9]}} {acc = {{f(16|32)}}}').ok);
  t.false(check('// CHECK: %{{[a-z]+}} = matmul').ok);
  t.true(check(['// CHECK: %[[M:[0-9]+]] = matmul', '// CHECK-NEXT: relu %[[M]] :'].join('\n')).ok);
  t.false(check(['// CHECK: %[[R:[0-9]+]] = relu', '// CHECK: return %[[R]]x'].join('\n')).ok);
  t.throws(() => check('// CHECK: relu %[[UNDEFINED]]'), { message: /used before it is defined/ });
});

test('literal text is not a regular expression; whitespace runs are flexible', (t) => {
  t.false(check('// CHECK: f32[64.256]').ok);
  t.true(check('// CHECK: f32[64,256]').ok);
  t.true(check('// CHECK: %1   =   relu').ok);
  t.is(compilePattern('a.b').re.test('axb'), false);
});

test('malformed directives are rejected', (t) => {
  t.throws(() => parseChecks('// CHECK-NXT: x'), { message: /unknown directive 'CHECK-NXT:'/ });
  t.throws(() => parseChecks('// CHECK-NEXT: x'), { message: /needs a CHECK before it/ });
  t.throws(() => parseChecks('// CHECK:   '), { message: /empty pattern/ });
});

test('golden files split into cases whose lines are those of the whole file', (t) => {
  const src = [
    '// RUN: ampc dump %s', // 1
    'graph @a() -> () {', // 2
    '  return', // 3
    '}', // 4
    '// -----', // 5
    '// CHECK: graph @b', // 6
    '// expected-error@+1 {{E0002: expected}}', // 7
    'graph @b(', // 8
  ].join('\n');
  const cases = loadGolden('x.ir', src);
  t.is(cases.length, 2);
  t.deepEqual(cases.map((c) => [c.firstLine, c.lastLine]), [[1, 4], [6, 8]]);
  t.deepEqual(cases[0]!.args, ['dump', '%s']);
  t.is(cases[1]!.text.split('\n')[7], 'graph @b(');
  t.deepEqual(cases[1]!.expectedError, { line: 8, code: 'E0002', text: 'expected', at: 7 });
  t.is(cases[1]!.checks[0]!.line, 6);
  t.throws(() => loadGolden('y.ir', 'graph @a() -> () { return }'), { message: /exactly one '\/\/ RUN:' line/ });
  t.throws(() => loadGolden('z.ir', '// RUN: ampc dump %s\n// expected-error@+1 E0001'), { message: /malformed expected-error/ });
});

test('the runner fails a case whose expectation is not met', async (t) => {
  const file = 'runner-self-test.ir';
  const src = [
    '// RUN: ampc dump %s', // 1
    '// CHECK: %0 = relu %x', // 2
    'graph @ok(%x: f32[4]) -> (f32[4]) {', // 3
    '  %0 = relu %x : f32[4]', // 4
    '  return %0', // 5
    '}', // 6
    '// -----', // 7
    '// CHECK: %0 = neg %x', // 8
    'graph @wrong_check(%x: f32[4]) -> (f32[4]) {', // 9
    '  %0 = relu %x : f32[4]', // 10
    '  return %0', // 11
    '}', // 12
    '// -----', // 13
    'graph @no_error(%x: f32[4]) -> (f32[4]) {', // 14
    '  // expected-error@+1 {{E0201: something}}', // 15
    '  %0 = relu %x : f32[4]', // 16
    '  return %0', // 17
    '}', // 18
    '// -----', // 19
    'graph @wrong_line(%x: f32[4]) -> (f32[4]) {', // 20
    '  // expected-error@+2 {{E0004: use of undefined value %y}}', // 21
    '  %0 = relu %y : f32[4]', // 22
    '  return %0', // 23
    '}', // 24
    '// -----', // 25
    'graph @wrong_code(%x: f32[4]) -> (f32[4]) {', // 26
    '  // expected-error@+1 {{E0005: use of undefined value %y}}', // 27
    '  %0 = relu %y : f32[4]', // 28
    '  return %0', // 29
    '}', // 30
    '// -----', // 31
    'graph @right(%x: f32[4]) -> (f32[4]) {', // 32
    '  %0 = relu %y : f32[4]  // expected-error {{E0004: use of undefined value %y}}', // 33
    '  return %0', // 34
    '}', // 35
  ].join('\n');
  const cases = loadGolden(file, src);
  const results = await Promise.all(cases.map((c) => runCase(c)));
  t.deepEqual(results.map((r) => r.ok), [true, false, false, false, false, true]);
  const msg = (i: number) => (results[i]!.ok ? '' : (results[i] as { message: string }).message);
  t.regex(msg(1), /^runner-self-test\.ir:8: CHECK: %0 = neg %x\n/);
  t.regex(msg(2), /^runner-self-test\.ir:15: expected error E0201 at line 16, but ampc succeeded/);
  t.regex(msg(3), /expected line 23: E0004: .*\n {2}but got line 22:/);
  t.regex(msg(4), /expected line 28: E0005: .*\n {2}but got line 28:13: E0004: use of undefined value %y/);
  cleanupCases();
});
