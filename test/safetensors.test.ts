// The safetensors reader and writer against files the reference
// implementation (the Python `safetensors` package) wrote:
// scripts/make-safetensors-fixtures.py made test/fixtures/safetensors/.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostTensor } from '../ir/interp/tensor.ts';
import { readSafetensors, writeSafetensors } from '../runtime/safetensors.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'safetensors');
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));

const MIXED = {
  w: hostTensor('f32', [2, 3], [0, 1, 2, 3, 4, 5].map((x) => x / 4 - 0.5)),
  'layer.0.bias': hostTensor('f16', [5], [1.5, -2, 65504, Infinity, -Infinity]),
  ids: hostTensor('i32', [3], [3, -4, 2147483647]),
  count: hostTensor('u32', [3], [0, 7, 4294967295]),
  mask: hostTensor('bool', [3], [1, 0, 1]),
  empty: hostTensor('f32', [0, 2], []),
  scale: hostTensor('f32', [], [65536]),
  nan: hostTensor('f32', [1], [NaN]),
};

test('reads every dtype, scalars, empty tensors, non-finite values and metadata written by the reference', (t) => {
  const file = readSafetensors(fixture('mixed.safetensors'), 'mixed.safetensors');
  t.deepEqual(file.metadata, { format: 'ampc' });
  t.deepEqual([...file.tensors.keys()].sort(), Object.keys(MIXED).sort());
  for (const [name, want] of Object.entries(MIXED)) {
    const got = file.tensors.get(name)!;
    t.is(got.dtype, want.dtype, name);
    t.deepEqual(got.shape, want.shape, name);
    t.deepEqual([...got.data], [...want.data], name);
  }
});

test('writes the bytes the reference writes for the same tensors', (t) => {
  t.deepEqual(writeSafetensors(MIXED, { format: 'ampc' }), fixture('mixed.safetensors'));
  const plain = { b: hostTensor('f32', [2, 2], [1, 2, 3, 4]), a: hostTensor('f32', [3], [0.25, 0.5, 0.75]) };
  t.deepEqual(writeSafetensors(plain), fixture('plain.safetensors'));
});

test('round trip through the writer and the reader', (t) => {
  const back = readSafetensors(writeSafetensors(new Map(Object.entries(MIXED))), 'x');
  for (const [name, want] of Object.entries(MIXED)) t.deepEqual([...back.tensors.get(name)!.data], [...want.data], name);
});

test('a dtype ampc lacks is refused by name', (t) => {
  const e = t.throws(() => readSafetensors(fixture('f64.safetensors'), 'f64.safetensors'));
  t.regex(e!.message, /E0605: f64\.safetensors: tensor 'x' is F64; ampc reads F32, F16, I32, U32 and BOOL/);
});

test('damaged files are E0605 with the reason, never garbage', (t) => {
  const good = fixture('plain.safetensors');
  const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
  const withHeader = (json: string, data = new Uint8Array(0)) => {
    const h = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + h.byteLength + data.byteLength);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
    out.set(h, 8);
    out.set(data, 8 + h.byteLength);
    return out;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', good.subarray(0, 5), /too short/],
    ['truncated data', good.subarray(0, good.byteLength - 4), /truncated/],
    ['trailing bytes', new Uint8Array([...good, 1, 2, 3, 4]), /trailing bytes/],
    ['header past the end', good.subarray(0, 8 + n - 1), /the header says/],
    ['huge header size', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true); return b; })(), /the limit is/],
    ['not JSON', withHeader('{"a":'), /not UTF-8 JSON/],
    ['not an object', withHeader('[1,2]'), /not a JSON object/],
    ['bad shape', withHeader('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'), /non-negative integers/],
    ['size mismatch', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), /needs 8 bytes; its data_offsets span 4/],
    ['overlap', withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /a gap or an overlap/],
    ['unknown dtype', withHeader('{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unknown dtype "F7"/],
    ['metadata not strings', withHeader('{"__metadata__":{"k":1}}'), /__metadata__\.k is not a string/],
  ];
  for (const [what, bytes, msg] of cases) {
    const e = t.throws(() => readSafetensors(bytes, 'f.safetensors'), undefined, what);
    t.regex(e!.message, /error E0605: f\.safetensors: /, what);
    t.regex(e!.message, msg, what);
  }
});
