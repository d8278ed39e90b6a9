// Public surface of the CPU reference interpreter and tensor JSON.
export * from './tensor.ts';
export { erf, erfc, geluErf, geluTanh, sigmoid, powC } from './math.ts';
export { INTERP_RULES } from './rules.ts';
export type { InterpRule } from './rules.ts';
export { interpret, interpretAll, evalNode, evalOp, checkInputs } from './interpret.ts';
export type { InterpretOptions } from './interpret.ts';
export {
  parseTensorJson, parseTensorListJson, tensorsToJson, tensorRecordToJson, formatElement,
} from './tensor-json.ts';
export { randomInputs, seededRandom, labelClasses } from './random-inputs.ts';
export { readJson } from './json-reader.ts';
export type { JsonValue, JsonObject } from './json-reader.ts';
