// DequantizeLinear (opsets 10, 13, 19, 21, 23): y = (x - x_zero_point) ·
// x_scale, per tensor (a scalar or one-element scale) or, from opset 13, per
// axis (a 1-D scale and zero point of x.shape[axis] entries, `axis` default
// 1, broadcast along that axis by a reshape). x is an integer tensor: when it
// is known at import (quantized weights, or the conformance harness's folded
// integer inputs) x - x_zero_point is taken on the host (each side rounded to
// f32 first, as onnx.reference does) and becomes an f32 constant; a run-time
// x (the IR's i32) is cast to f32 and the zero point subtracted in the IR.
// The product with the scale is an ordinary f32 `mul`, whose AMP class is
// `promote`: with both operands f32 it stays in f32. An f16 scale (opset 19)
// multiplies in f32 and the result is rounded to f16 (y has the scale's type,
// or output_dtype from opset 23).
//
// Refused: block quantization (opset 21 block_size ≠ 0) and a scale of
// x's rank, E0901; float8 and 4-bit x have no ONNX element type here
// (E0901 where they are decoded). E0902: a scale or zero point whose shape
// matches neither form, a zero point of another type than x, a non-integer x.

import type { Value } from '../../../ir/graph.ts';
import type { NodeCtx } from '../context.ts';
import { ct, numel } from '../fold.ts';
import type { ConstTensor, ElemType } from '../proto.ts';
import { elemType } from '../proto.ts';
import type { OpMapping } from './types.ts';
import { asDtype, axisOf, reshapeTo, val } from './types.ts';

/** Where a scale or zero point applies: one value for the whole tensor, or one per index of `axis`. */
type Layout = { per: 'tensor' } | { per: 'axis'; axis: number; dim: number };

function layoutOf(c: NodeCtx, i: number, what: string, xShape: readonly number[], rawAxis: number | undefined): Layout {
  const s = c.shape(i);
  if (numel(s) === 1 && s.length <= 1) return { per: 'tensor' };
  if (rawAxis !== undefined && s.length === 1) {
    // The axis only matters (and is only checked) for a per-axis scale.
    const axis = axisOf(c, rawAxis, xShape.length);
    if (s[0] === xShape[axis]) return { per: 'axis', axis, dim: s[0]! };
  }
  if (c.opset >= 21 && s.length === xShape.length && s.length > 0) c.unsupported(`${what} of shape [${s.join(',')}] (block quantization) is not supported`);
  const want = rawAxis === undefined ? 'a scalar (per-axis scales exist from opset 13)' : `a scalar or [${xShape[axisOf(c, rawAxis, xShape.length)]}] (axis ${rawAxis})`;
  c.bad(`${what} of shape [${s.join(',')}] for x of shape [${xShape.join(',')}]: expected ${want}`);
}

/** v (per-tensor: any 1-element shape → []; per-axis: [dim] → [dim, 1, …, 1] for x's rank). */
function broadcastable(c: NodeCtx, v: Value, l: Layout, rank: number): Value {
  if (l.per === 'tensor') return reshapeTo(c, v, []);
  return reshapeTo(c, v, [l.dim, ...new Array<number>(rank - l.axis - 1).fill(1)]);
}

/** The x element types of an opset (ints only: float8 / int4 are not ONNX element types the importer decodes). */
function xTypes(opset: number): readonly ElemType[] {
  return opset >= 21 ? ['int8', 'uint8', 'int16', 'uint16', 'int32'] : ['int8', 'uint8', 'int32'];
}

/** x - zero point as an f32 IR value. */
function centered(c: NodeCtx, xShape: readonly number[], zl: Layout | undefined): Value {
  const ex = c.entry(0);
  const ez = c.has(2) ? c.entry(2) : undefined;
  if (ex.kind === 'const' && (!ez || ez.kind === 'const')) {
    const zp = ez?.kind === 'const' ? ez.t : undefined;
    return c.materialize(hostCentered(ex.t, zp, zl), `${c.name}_x`);
  }
  const x = asDtype(c, c.value(0), 'f32');
  if (!ez || !zl) return x;
  const z = broadcastable(c, asDtype(c, c.value(2), 'f32'), zl, xShape.length);
  return c.add('sub', [x, z]);
}

/** f32(x) - f32(zero point[k]) on the host, k the zero point's index for each element. */
function hostCentered(x: ConstTensor, zp: ConstTensor | undefined, zl: Layout | undefined): ConstTensor {
  const f = Math.fround;
  if (!zp || !zl) return ct('float', x.shape, Array.from(x.data, f));
  if (zl.per === 'tensor') return ct('float', x.shape, Array.from(x.data, (v) => f(f(v) - f(zp.data[0]!))));
  const inner = numel(x.shape.slice(zl.axis + 1));
  return ct('float', x.shape, Array.from(x.data, (v, i) => f(f(v) - f(zp.data[Math.floor(i / inner) % zl.dim]!))));
}

const dequantizeLinear: OpMapping = {
  map: (c) => {
    if (c.opset < 10) c.unsupported('DequantizeLinear exists from opset 10');
    const xt = c.elem(0);
    const xShape = c.shape(0);
    const ex = c.entry(0);
    if (ex.kind === 'const' ? !xTypes(c.opset).includes(xt) : ex.v.type.dtype !== 'i32') {
      c.bad(`x of type ${ex.kind === 'const' ? xt : ex.v.type.dtype} (opset ${c.opset} dequantizes ${xTypes(c.opset).join(', ')})`);
    }
    if (c.opset >= 21) {
      const block = c.int('block_size', 0);
      if (block !== 0) c.unsupported(`block_size ${block} (block quantization) is not supported`);
    }
    const rawAxis = c.opset >= 13 ? c.int('axis', 1) : undefined;
    const sl = layoutOf(c, 1, 'x_scale', xShape, rawAxis);
    const zl = c.has(2) ? layoutOf(c, 2, 'x_zero_point', xShape, rawAxis) : undefined;
    if (c.has(2) && c.entry(2).kind === 'const' && ex.kind === 'const' && c.elem(2) !== xt) c.bad(`x_zero_point of type ${c.elem(2)} for x of type ${xt}`);
    const st = c.elem(1);
    if (st !== 'float' && st !== 'float16') c.bad(`x_scale of type ${st} (float, or float16 from opset 19)`);
    let outType: ElemType = st;
    if (c.opset >= 23) {
      const od = c.int('output_dtype', 0);
      if (od !== 0) outType = elemType(od, `node '${c.name}' output_dtype`);
      if (outType !== 'float' && outType !== 'float16') c.unsupported(`output_dtype ${outType} (float or float16)`);
    }
    const dx = centered(c, xShape, zl);
    const scale = broadcastable(c, asDtype(c, c.value(1), 'f32'), sl, xShape.length);
    const y = c.add('mul', [dx, scale]);
    return val(asDtype(c, y, outType === 'float16' ? 'f16' : 'f32'));
  },
};

export const QUANTIZE_OPS: Record<string, OpMapping> = {
  DequantizeLinear: dequantizeLinear,
};
