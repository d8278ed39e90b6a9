/// <reference types="@webgpu/types" preserve="true" />
// ampc's public API for browsers (package.json's `browser` condition): all of
// it but what needs Node's file system. Devices come from navigator.gpu (or
// an injected GPU object), artifacts load from URLs or files in memory,
// Trainer state is saved with checkpoint() / restore() (bytes) instead of
// files. index.ts, the Node entry, adds the file-based parts.
//
//   import { loadArtifact } from 'ampc';
//   const model = await loadArtifact(new URL('./mlp.artifact/', location.href));

// The IR: graphs, the op table, the text format, the verifier.
export * as ir from './ir/index.ts';
export { parseModule, printGraph, printModule, verifyGraph, Graph, AmpcError, isAmpcError } from './ir/index.ts';
export type { DType, HostTensor, TensorType, ErrorCode } from './ir/index.ts';

// Tracing from TypeScript, and the nn library.
export * from './ir/trace/index.ts';

// The f64 reference interpreter; host tensors; tensor JSON.
export { interpret, interpretAll } from './ir/interp/interpret.ts';
export { hostTensor } from './ir/interp/tensor.ts';
export { parseTensorJson, parseTensorListJson, tensorsToJson, tensorRecordToJson } from './runtime/tensor-json.ts';

// ONNX import: a model's bytes to an IR module, and the values of the inputs its initializers became.
export { importOnnx, readOnnxTensor } from './compiler/onnx/import.ts';
export { writeOnnx, buildModelProto, attr as onnxAttr } from './compiler/onnx/write.ts';
export type { OnnxModelSpec, OnnxNodeSpec, OnnxValueSpec, OnnxTensorSpec, OnnxAttr, OnnxElemType } from './compiler/onnx/write.ts';
export type { ImportOptions as OnnxImportOptions, ImportResult as OnnxImportResult } from './compiler/onnx/import.ts';

// Passes and pipelines.
export { PIPELINES, CODEGEN_PASSES, pipelineByName, runPipeline } from './passes/pipeline.ts';
export type { Pass, PassContext, PassOptions } from './passes/pass.ts';
export { trainStepGraph } from './passes/train-step.ts';
export type { OptimizerSpec } from './passes/optimizer.ts';
export type { LossScaleSpec, DynamicLossScaleOptions } from './passes/loss-scaling.ts';

// The compiler: one compile path, ahead-of-time artifacts, the AMP accuracy check, pictures.
export { compileGraph, targetOf, defaultF16Mode } from './compiler/compile.ts';
export type { Compiled, CompileSpec, CompileTarget } from './compiler/compile.ts';
export { runGraphOnGpu, compileForDevice } from './compiler/execute.ts';
export { lowerGraph } from './compiler/lower.ts';
export { compile, WEBGPU_TARGET } from './compiler/artifact.ts';
export type { CompileOptions, CompiledArtifact } from './compiler/artifact.ts';
export { grad, jit, valueAndGrad } from './compiler/functional.ts';
export type { JitOptions, TracedFn, Transformed } from './compiler/functional.ts';
export { checkGraph, formatReport } from './compiler/check.ts';
export type { CheckRow } from './compiler/check.ts';
export { drawGraphs, PICTURE_FORMATS } from './compiler/picture/render.ts';
export type { PictureFormat } from './compiler/picture/render.ts';
export { AMPC_VERSION } from './compiler/version.ts';

// Training.
export { Trainer } from './compiler/train/trainer.ts';
export { GraphModule } from './compiler/train/graph-module.ts';
export type { TrainerOptions, StepOptions, TensorInput, LossScaleStatus, MetricsOptions, StepMetrics, StepReport } from './compiler/train/trainer.ts';
export { parseMetricsLog } from './compiler/train/metrics.ts';
export { predictInBatches, accuracy, argmax } from './compiler/train/evaluate.ts';
export { DataLoader, DataEpoch, shuffledOrder } from './compiler/train/data/loader.ts';
export type { DataLoaderOptions, DataColumn, DataBatch, BatchColumn, ColumnArray, ShapedArray } from './compiler/train/data/loader.ts';

// The runtime: devices, sessions, artifacts, safetensors.
export { acquireDevice, describeDevice } from './runtime/device.ts';
export type { AcquireOptions, GpuContext } from './runtime/device.ts';
export { Session } from './runtime/session.ts';
export type { Plan, F16Mode } from './runtime/plan.ts';
export { loadArtifact, Artifact } from './runtime/artifact.ts';
export type { ArtifactFiles, ArtifactSource, LoadOptions, Manifest, TensorValue } from './runtime/artifact.ts';
export { readSafetensors, writeSafetensors } from './runtime/safetensors.ts';
export { encodeTensor, decodeTensor } from './runtime/host-data.ts';
