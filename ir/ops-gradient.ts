// Gradient ops: the ops autodiff emits where a vjp cannot be written with
// core ops (convolution, pooling, resize and grid_sample backward, gelu's derivative). Each one's
// shape rule checks itself against the forward op's rule, so a gradient op is
// well typed exactly when the forward op it differentiates is. They carry
// only the 'gradient' trait: their operand orders differ from conv2d's and
// the pools', so passes that select forward ops by trait never match them.

import type { AttrSpec, Attrs } from './attrs.ts';
import type { DType } from './dtype.ts';
import { isFloat } from './dtype.ts';
import { AmpcError } from './errors.ts';
import type { OpDef } from './op-def.ts';
import { GRID_SAMPLE_ATTRS } from './grid-sample.ts';
import { RESIZE_ATTRS } from './resize.ts';
import type { TensorType } from './types.ts';
import { shapesEqual, shapeToString, typeToString } from './types.ts';

type ForwardInfer = OpDef['infer'];

const ACC: AttrSpec = { kind: 'dtype', default: 'f32', alwaysPrint: true };
const CONV_ATTRS = {
  stride: { kind: 'ints', default: [1, 1] },
  padding: { kind: 'ints', default: [0, 0, 0, 0] },
  dilation: { kind: 'ints', default: [1, 1] },
  groups: { kind: 'int', default: 1 },
  acc: ACC,
} as const satisfies Record<string, AttrSpec>;
const POOL_ATTRS = {
  kernel: { kind: 'ints' },
  stride: { kind: 'ints', default: [1, 1] },
  padding: { kind: 'ints', default: [0, 0, 0, 0] },
} as const satisfies Record<string, AttrSpec>;

function forwardAttrs(a: Attrs, drop: string): Attrs {
  const out: Record<string, Attrs[string]> = {};
  for (const [k, v] of Object.entries(a)) if (k !== drop) out[k] = v;
  return out;
}

/** Checks that the forward op maps `x` to the shape of `dy`. */
function checkForward(op: string, forward: ForwardInfer, operands: TensorType[], attrs: Attrs, dy: TensorType): void {
  let y: TensorType | undefined;
  try {
    [y] = forward(operands, attrs);
  } catch (e) {
    // The forward rule names the forward op; say which gradient op it was.
    if (e instanceof AmpcError) throw new AmpcError(e.code, `${op}: ${e.detail.replace(/^\w+: /, '')}`, e.loc);
    throw e;
  }
  if (!shapesEqual(y!.shape, dy.shape)) {
    throw new AmpcError('E0201', `${op}: the forward op gives ${shapeToString(y!.shape)}, but the incoming gradient is ${typeToString(dy)}`);
  }
}

function floatDtype(op: string, ts: readonly TensorType[]): DType {
  const d = ts[0]!.dtype;
  if (!isFloat(d)) throw new AmpcError('E0206', `${op}: expects float operands, got ${typeToString(ts[0]!)}`);
  for (const t of ts) if (t.dtype !== d) throw new AmpcError('E0205', `${op}: operand dtypes differ (${ts.map(typeToString).join(' vs ')})`);
  return d;
}

export interface ForwardRules {
  conv2d: ForwardInfer;
  max_pool2d: ForwardInfer;
  avg_pool2d: ForwardInfer;
  resize: ForwardInfer;
  grid_sample: ForwardInfer;
}

export function gradientDefs(fwd: ForwardRules) {
  return {
    /** dx of conv2d: `conv2d_grad_input %dy, %w {input_shape, ...conv attrs}`. */
    conv2d_grad_input: {
      operands: 2,
      attrs: { input_shape: { kind: 'ints' }, ...CONV_ATTRS },
      traits: ['gradient'],
      infer: ([dy, w], a) => {
        const d = floatDtype('conv2d_grad_input', [dy!, w!]);
        const x: TensorType = { dtype: d, shape: a.input_shape as number[] };
        checkForward('conv2d_grad_input', fwd.conv2d, [x, w!], forwardAttrs(a, 'input_shape'), dy!);
        return [x];
      },
    },
    /** dw of conv2d: `conv2d_grad_weight %x, %dy {weight_shape, ...conv attrs}`. */
    conv2d_grad_weight: {
      operands: 2,
      attrs: { weight_shape: { kind: 'ints' }, ...CONV_ATTRS },
      traits: ['gradient'],
      infer: ([x, dy], a) => {
        const d = floatDtype('conv2d_grad_weight', [x!, dy!]);
        const w: TensorType = { dtype: d, shape: a.weight_shape as number[] };
        checkForward('conv2d_grad_weight', fwd.conv2d, [x!, w], forwardAttrs(a, 'weight_shape'), dy!);
        return [w];
      },
    },
    /**
     * dx of max_pool2d: each window's gradient goes to its first maximum in
     * scan order (a NaN beats any number; the first NaN wins), overlapping
     * windows add up; sums in f32 like the forward pooling statistics.
     */
    max_pool2d_grad: {
      operands: 2,
      attrs: { ...POOL_ATTRS },
      traits: ['gradient'],
      infer: ([x, dy], a) => {
        floatDtype('max_pool2d_grad', [x!, dy!]);
        checkForward('max_pool2d_grad', fwd.max_pool2d, [x!], a, dy!);
        return [x!];
      },
    },
    /** dx of avg_pool2d: `avg_pool2d_grad %dy {input_shape, kernel, stride, padding, count_include_pad}`. */
    avg_pool2d_grad: {
      operands: 1,
      attrs: { input_shape: { kind: 'ints' }, ...POOL_ATTRS, count_include_pad: { kind: 'bool', default: false } },
      traits: ['gradient'],
      infer: ([dy], a) => {
        const d = floatDtype('avg_pool2d_grad', [dy!]);
        const x: TensorType = { dtype: d, shape: a.input_shape as number[] };
        checkForward('avg_pool2d_grad', fwd.avg_pool2d, [x], forwardAttrs(a, 'input_shape'), dy!);
        return [x];
      },
    },
    /**
     * dx of resize: `resize_grad %dy {input_shape, ...resize attrs}`, the adjoint of the
     * interpolation (each input element sums dy · weight over the outputs whose taps read it).
     */
    resize_grad: {
      operands: 1,
      attrs: { input_shape: { kind: 'ints' }, ...RESIZE_ATTRS },
      traits: ['gradient'],
      infer: ([dy], a) => {
        const d = floatDtype('resize_grad', [dy!]);
        const x: TensorType = { dtype: d, shape: a.input_shape as number[] };
        checkForward('resize_grad', fwd.resize, [x], forwardAttrs(a, 'input_shape'), dy!);
        return [x];
      },
    },
    /**
     * dx of grid_sample: `grid_sample_grad_input %dy, %grid {input_shape, mode, padding_mode,
     * align_corners}`, the adjoint of the sampling (each input element sums dy · weight over
     * the outputs of its batch whose taps read it).
     */
    grid_sample_grad_input: {
      operands: 2,
      attrs: { input_shape: { kind: 'ints' }, ...GRID_SAMPLE_ATTRS },
      traits: ['gradient'],
      infer: ([dy, grid], a) => {
        const d = floatDtype('grid_sample_grad_input', [dy!, grid!]);
        const x: TensorType = { dtype: d, shape: a.input_shape as number[] };
        checkForward('grid_sample_grad_input', fwd.grid_sample, [x, grid!], forwardAttrs(a, 'input_shape'), dy!);
        return [x];
      },
    },
    /**
     * dgrid of grid_sample: `grid_sample_grad_grid %x, %grid, %dy {mode, padding_mode,
     * align_corners}`: per grid position, the sum over channels of dy times the derivative of
     * the interpolation along each coordinate (0 for nearest).
     */
    grid_sample_grad_grid: {
      operands: 3,
      attrs: { ...GRID_SAMPLE_ATTRS },
      traits: ['gradient'],
      infer: ([x, grid, dy], a) => {
        floatDtype('grid_sample_grad_grid', [x!, grid!, dy!]);
        checkForward('grid_sample_grad_grid', fwd.grid_sample, [x!, grid!], a, dy!);
        return [grid!];
      },
    },
    /** dy · gelu'(x): `gelu_grad %x, %dy {approximate}`. */
    gelu_grad: {
      operands: 2,
      attrs: { approximate: { kind: 'string', default: 'none', oneOf: ['none', 'tanh'] } },
      traits: ['elementwise', 'gradient'],
      infer: ([x, dy]) => {
        floatDtype('gelu_grad', [x!, dy!]);
        if (!shapesEqual(x!.shape, dy!.shape)) {
          throw new AmpcError('E0201', `gelu_grad: shapes differ (${shapeToString(x!.shape)} vs ${shapeToString(dy!.shape)})`);
        }
        return [x!];
      },
    },
  } satisfies Record<string, OpDef>;
}
