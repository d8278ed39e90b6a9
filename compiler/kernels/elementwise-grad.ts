// gelu_grad %x, %dy (= dy · gelu'(x)) as a map kernel in the compute type of
// its dtype, like gelu itself (compiler/kernels/elementwise.ts, whose erf
// helper it reuses):
// - "none": Φ(x) + x·φ(x), Φ(x) = (1 + erf(x/√2))/2, φ(x) = e^{-x²/2}/√(2π);
// - "tanh": with s = sigmoid(2u) = (1 + tanh u)/2, u = √(2/π)(x + 0.044715x³):
//   s + x·2s(1 - s)·u', where 1 - s is computed as sigmoid(-2u) so that
//   neither 1 + tanh nor 1 - tanh² cancels.
// Beyond |x| = 10 the derivative is 1 or 0 to f32 precision (|error| < 1e-20)
// and is taken as such, so ±inf (and x³ overflowing f16) give 1 or 0, not
// NaN; a NaN x gives NaN.

import type { Node } from '../../ir/graph.ts';
import { computeType, literal, load } from '../wgsl/storage.ts';
import type { EmitContext, KernelLaunch } from './context.ts';
import { nodeLabel, readOf, writeOf } from './context.ts';
import { helpersFor } from './elementwise.ts';
import { mapKernel } from './map.ts';

const SATURATE = 10;
const GELU_C = 0.044715;

/** WGSL function `name(x, dy)` of compute type `t` for one form of gelu_grad. */
export function geluGradFn(name: string, t: string, approximate: string): string {
  const L = (v: number) => literal(v, t);
  const derivative = approximate === 'tanh'
    ? [
      `  let u = ${L(Math.sqrt(2 / Math.PI))} * (x + ${L(GELU_C)} * x * x * x);`,
      `  let s = ${L(1)} / (${L(1)} + exp(${L(-2)} * u));`,
      `  let sm = ${L(1)} / (${L(1)} + exp(${L(2)} * u));`,
      `  let d = s + x * ${L(2)} * s * sm * ${L(Math.sqrt(2 / Math.PI))} * (${L(1)} + ${L(3 * GELU_C)} * x * x);`,
    ]
    : [
      `  let cdf = ${L(0.5)} * (${L(1)} + erf_${t}(x * ${L(Math.SQRT1_2)}));`,
      `  let d = cdf + x * ${L(1 / Math.sqrt(2 * Math.PI))} * exp(${L(-0.5)} * x * x);`,
    ];
  return [
    `fn ${name}(x: ${t}, dy: ${t}) -> ${t} {`,
    ...derivative,
    `  let g = select(d, select(${L(0)}, ${L(1)}, x > ${L(0)}), abs(x) > ${L(SATURATE)});`,
    `  return dy * select(g, x, ampc_isnan_${t}(x));`,
    '}',
  ].join('\n');
}

export function emitGeluGrad(node: Node, ctx: EmitContext): KernelLaunch[] {
  const t = computeType(node.operands[0]!.type.dtype, ctx.mode);
  const x = readOf(ctx, node.operands[0]!, 'x');
  const dy = readOf(ctx, node.operands[1]!, 'dy');
  const res = node.results[0]!;
  const approximate = node.attrs.approximate as string;
  const name = `gelu_${approximate === 'tanh' ? 'tanh' : 'erf'}_grad_${t}`;
  const fn = geluGradFn(name, t, approximate);
  return [
    mapKernel(ctx, {
      label: nodeLabel(node, ctx),
      inputs: [x, dy],
      output: writeOf(ctx, res, 'y'),
      count: res.type.shape.reduce((a, b) => a * b, 1),
      // erf_<t> from the elementwise helpers (ampc_* support functions are appended by lowering).
      helpers: [helpersFor(fn, t), fn].filter((h) => h !== '').join('\n'),
      body: (i) => ({ stmts: '', value: `${name}(${load(x.binding, i, ctx.mode)}, ${load(dy.binding, i, ctx.mode)})` }),
    }),
  ];
}
