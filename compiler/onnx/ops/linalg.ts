// Det (opset 11): the determinant of each square matrix of X [*, n, n],
// output [*] (a scalar for a 2-D input), computed on the run-time input by
// IR elementwise ops (no host fold, differentiable): X is seen as
// [batch, n·n], each entry is a width-1 slice, and the determinant is the
// Laplace (cofactor) expansion along the first row, recursively, each minor
// (rows i.., a set of columns) built once and shared. That is exact in the
// sense of Leibniz's formula (no pivoting, no division: singular matrices
// give 0 up to rounding, a row swap flips the sign) and costs about n·2^n
// multiplies, so n is limited to 4 (E0901 for larger matrices); n = 1 is the
// entry itself. A non-square or rank < 2 input is E0902; an empty matrix
// (n = 0) and non-float inputs are E0901.

import type { Value } from '../../../ir/graph.ts';
import type { Entry, NodeCtx } from '../context.ts';
import { numel } from '../fold.ts';
import type { OpMapping } from './types.ts';
import { rankOf, reshapeTo, val } from './types.ts';

/** The largest matrix Det expands. */
export const DET_MAX_N = 4;

function det(c: NodeCtx): Entry[] {
  if (c.opset < 11) c.unsupported('Det exists from opset 11');
  const x = c.value(0);
  const s = x.type.shape;
  if (rankOf(x) < 2) c.bad(`input of rank ${rankOf(x)} (at least 2: [*, n, n])`);
  const n = s.at(-1)!;
  if (s.at(-2) !== n) c.bad(`input ${JSON.stringify(s)}: the last two extents must be equal (square matrices)`);
  if (x.type.dtype !== 'f32' && x.type.dtype !== 'f16') c.unsupported(`input of type ${x.type.dtype} (a float tensor is mapped)`);
  if (n === 0) c.unsupported('empty (0 x 0) matrices');
  if (n > DET_MAX_N) c.unsupported(`matrices of ${n} x ${n} (at most ${DET_MAX_N} x ${DET_MAX_N}: the determinant is expanded by cofactors)`);
  const batch = s.slice(0, -2);
  const b = numel(batch);
  const flat = reshapeTo(c, x, [b, n * n]);

  const entries = new Map<number, Value>();
  const entry = (i: number, j: number): Value => {
    const k = i * n + j;
    let v = entries.get(k);
    if (!v) {
      v = n === 1 ? flat : c.add('slice', [flat], { starts: [0, k], ends: [b, k + 1] });
      entries.set(k, v);
    }
    return v;
  };
  // The minor of rows row.. and the columns `cols` (ascending), expanded along its first row.
  const minors = new Map<string, Value>();
  const minor = (row: number, cols: readonly number[]): Value => {
    if (cols.length === 1) return entry(row, cols[0]!);
    const key = cols.join(',');
    const known = minors.get(key);
    if (known) return known;
    let acc: Value | undefined;
    cols.forEach((col, k) => {
      const term = c.add('mul', [entry(row, col), minor(row + 1, cols.filter((_, m) => m !== k))]);
      acc = acc === undefined ? term : c.add(k % 2 === 0 ? 'add' : 'sub', [acc, term]);
    });
    minors.set(key, acc!);
    return acc!;
  };
  const all = Array.from({ length: n }, (_, j) => j);
  return val(reshapeTo(c, minor(0, all), batch));
}

export const LINALG_OPS: Record<string, OpMapping> = {
  Det: { map: det },
};
