// Public surface of tracing: trace a TS function or an nn.Module into a Graph.
//
//   import { trace, traceModule, f32, i32, nn, crossEntropy } from './ir/trace/index.ts';
//   const g = trace((x, w) => x.matmul(w).relu(), [f32([64, 784]), f32([784, 256], { name: 'w', param: true })]);
//   const net = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
//   const { graph, params } = traceModule(net, [f32([64, 784]), i32([64])],
//     { call: (m, x, labels) => crossEntropy(m.forward(x), labels) });
export { trace, traceWithState, traceModule, parameterNames } from './trace.ts';
export { scope } from './scopes.ts';
export type { TraceOutput, TraceOptions, TraceModuleOptions, TraceResult, ParamSpec, BufferSpec, StateUpdate, Traceable } from './trace.ts';
export { f32, f16, i32, u32, bool } from './spec.ts';
export type { InputSpec, InputSpecOptions } from './spec.ts';
export { Tensor } from './tensor.ts';
export type {
  TensorLike, Operand, Pair, Padding, Reduction, MatmulOptions, Conv2dOptions, Pool2dOptions, AvgPool2dOptions, ReduceOptions,
  LayerNormOptions, BatchNormOptions, RandomUniformOptions, CumsumOptions,
} from './build.ts';
export * from './functions.ts';
export { Parameter, Buffer } from './state.ts';
export type { Init } from './state.ts';
export { initialValues } from './nn/init.ts';
export { TRACED_BY } from './coverage.ts';
export * as nn from './nn/index.ts';
