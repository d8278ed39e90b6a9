// ampc's public API. The IR (graphs, the op table, text format, verifier),
// tracing from TypeScript (`trace`, `nn`), the reference interpreter, the
// passes and pipelines, the compiler (compileGraph: pipeline, fusion,
// lowering to a Plan) and the runtime (device, Session).
//
//   import { trace, f32, nn, acquireDevice, runGraphOnGpu } from 'ampc';

export * as ir from './ir/index.ts';
export { parseModule, printGraph, printModule, verifyGraph, Graph, AmpcError } from './ir/index.ts';
export * from './ir/trace/index.ts';
export { interpret, interpretAll } from './ir/interp/interpret.ts';
export { parseTensorJson, parseTensorListJson, tensorsToJson, tensorRecordToJson } from './runtime/tensor-json.ts';
export { hostTensor } from './ir/interp/tensor.ts';
export type { HostTensor } from './ir/interp/tensor.ts';
export { lowerGraph } from './compiler/lower.ts';
export { compileGraph } from './compiler/compile.ts';
export type { Compiled, CompileSpec, CompileTarget } from './compiler/compile.ts';
export { runGraphOnGpu, compileForDevice } from './compiler/execute.ts';
export { PIPELINES, CODEGEN_PASSES, pipelineByName, runPipeline } from './passes/pipeline.ts';
export type { Pass, PassContext, PassOptions } from './passes/pass.ts';
export { acquireDevice, describeDevice } from './runtime/device.ts';
export type { GpuContext } from './runtime/device.ts';
export { Session } from './runtime/session.ts';
export type { Plan } from './runtime/plan.ts';
