// Vjp rules of matmul, conv2d and the pools. Matmul gradients are matmuls
// whose transpose flags absorb the forward transposes (no transpose ops),
// with the forward op's `acc`; batch broadcasting is undone by reduce_sum,
// except for a rank-2 right operand (a weight) under a batched left one,
// whose gradient is one matmul over the merged rows.
// conv2d and the pools use the gradient ops of ir/ops-gradient.ts, which
// carry the forward op's attributes (and `acc` for the convolution).

import type { Value } from '../../ir/graph.ts';
import type { VjpRule } from './builder.ts';

/**
 * y = op(a) · op(b) with op = transpose where the flag is set; g = dy.
 *   ta tb  | da               | db
 *   no no  | g · bᵀ           | aᵀ · g
 *   no yes | g · b            | gᵀ · a
 *   yes no | b · gᵀ           | a · g
 *   yes yes| bᵀ · gᵀ          | gᵀ · aᵀ
 */
export const matmul: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [a, c] = x as [Value, Value];
  const ta = attrs.transpose_a as boolean, tb = attrs.transpose_b as boolean;
  const acc = attrs.acc;
  const mm = (p: Value, q: Value, tp: boolean, tq: boolean) => b.op('matmul', [p, q], { transpose_a: tp, transpose_b: tq, acc });
  let da: Value | undefined;
  let dc: Value | undefined;
  if (needs[0]) {
    da = !ta ? (!tb ? mm(g, c, false, true) : mm(g, c, false, false)) : !tb ? mm(c, g, false, true) : mm(c, g, true, true);
    da = b.sumTo(da, a.type.shape);
  }
  if (needs[1] && !ta && c.type.shape.length === 2 && a.type.shape.length > 2) {
    // A weight [K, N] applied to a batch of rows a [..., M, K] (a Linear on [B, T, K]): its gradient sums
    // over every row, so merge the batch dimensions into the rows and take one matmul, rather than a
    // batched [..., K, N] product reduced afterwards (B times the memory, and a rounding to the result
    // dtype before the sum).
    const k = a.type.shape[a.type.shape.length - 1]!, n = g.type.shape[g.type.shape.length - 1]!;
    const rows = a.type.shape.slice(0, -1).reduce((p, d) => p * d, 1);
    const a2 = b.op('reshape', [a], { shape: [rows, k] }), g2 = b.op('reshape', [g], { shape: [rows, n] });
    dc = !tb ? mm(a2, g2, true, false) : mm(g2, a2, true, false);
  } else if (needs[1]) {
    dc = !tb ? (!ta ? mm(a, g, true, false) : mm(a, g, false, false)) : !ta ? mm(g, a, true, false) : mm(g, a, true, true);
    dc = b.sumTo(dc, c.type.shape);
  }
  return [da, dc];
};

/** dx = conv2d_grad_input(g, w), dw = conv2d_grad_weight(x, g), both with the forward attributes. */
export const conv2d: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [input, w] = x as [Value, Value];
  const conv = { stride: attrs.stride, padding: attrs.padding, dilation: attrs.dilation, groups: attrs.groups, acc: attrs.acc };
  return [
    needs[0] ? b.op('conv2d_grad_input', [g, w], { input_shape: [...input.type.shape], ...conv }) : undefined,
    needs[1] ? b.op('conv2d_grad_weight', [input, g], { weight_shape: [...w.type.shape], ...conv }) : undefined,
  ];
};

/**
 * conv2d_grad_input (a transposed convolution, e.g. ONNX ConvTranspose) is linear in dy and in w,
 * the adjoint of conv2d(·, w): with cotangent g (the input's shape), d dy = conv2d(g, w) and
 * d w = conv2d_grad_weight(g, dy), both with the op's conv attributes.
 */
export const conv2dGradInput: VjpRule = ({ b, g, x, attrs, needs }) => {
  const [dy, w] = x as [Value, Value];
  const conv = { stride: attrs.stride, padding: attrs.padding, dilation: attrs.dilation, groups: attrs.groups, acc: attrs.acc };
  return [
    needs[0] ? b.op('conv2d', [g, w], conv) : undefined,
    needs[1] ? b.op('conv2d_grad_weight', [g, dy], { weight_shape: [...w.type.shape], ...conv }) : undefined,
  ];
};

/** Each window's gradient goes to its first maximum (scan order), as max_pool2d_grad defines. */
export const maxPool2d: VjpRule = ({ b, g, x, attrs }) => [
  b.op('max_pool2d_grad', [x[0]!, g], { kernel: attrs.kernel, stride: attrs.stride, padding: attrs.padding }),
];

export const avgPool2d: VjpRule = ({ b, g, x, attrs }) => [
  b.op('avg_pool2d_grad', [g], {
    input_shape: [...x[0]!.type.shape],
    kernel: attrs.kernel,
    stride: attrs.stride,
    padding: attrs.padding,
    count_include_pad: attrs.count_include_pad,
  }),
];
