// Public surface of the CPU reference interpreter (tensor JSON, the host
// exchange format, lives in runtime/tensor-json.ts).
export * from './tensor.ts';
export { erf, erfc, geluErf, geluTanh, sigmoid, powC } from './math.ts';
export { INTERP_RULES } from './rules.ts';
export type { InterpRule } from './rules.ts';
export { interpret, interpretAll, evalNode, evalOp, checkInputs, checkInterpreterSize, interpreterFootprint, DEFAULT_MAX_ELEMENTS } from './interpret.ts';
export type { InterpretOptions, InterpreterFootprint } from './interpret.ts';
export { randomInputs, seededRandom, labelClasses } from './random-inputs.ts';
export type { RandomInputsOptions } from './random-inputs.ts';
