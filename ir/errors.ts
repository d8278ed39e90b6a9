// Errors are values with a code and a place. Every code ampc can report lives
// in ERROR_CODES; `AmpcError` renders as `FILE:LINE:COL: error CODE: message`.

export const ERROR_CODES = {
  // text format
  E0001: 'lexical error',
  E0002: 'syntax error',
  E0003: 'unknown op',
  E0004: 'use of an undefined value',
  E0005: 'value defined twice',
  E0006: 'bad type',
  E0007: 'bad attribute literal',
  // attributes
  E0101: 'unknown attribute',
  E0102: 'attribute has the wrong type',
  E0103: 'missing required attribute',
  E0104: 'attribute value out of range',
  // shapes and dtypes
  E0201: 'shape mismatch',
  E0202: 'shapes do not broadcast',
  E0203: 'wrong rank',
  E0204: 'axis out of range',
  E0205: 'dtype mismatch',
  E0206: 'dtype not supported by this op',
  // op structure
  E0301: 'declared result type differs from the inferred one',
  E0302: 'wrong number of results',
  E0303: 'wrong number of operands',
  // graphs and modules
  E0401: 'graph is malformed',
  E0402: 'no such graph',
  E0403: 'graph defined twice',
  E0404: 'fused body is malformed',
  E0405: 'cannot differentiate',
  // tracing
  E0501: 'trace error',
  // inputs, files and the command line
  E0601: 'cannot read file',
  E0602: 'bad tensor JSON',
  E0603: 'inputs do not match the graph',
  E0604: 'bad command-line usage',
  E0605: 'bad safetensors file',
  E0606: 'bad artifact',
  E0607: 'AMP turns values non-finite (ampc check)',
  E0608: 'input too large',
  E0609: 'bad option',
  // runtime and devices
  E0701: 'no WebGPU adapter',
  E0702: 'device error',
  E0703: 'shader compilation failed',
  // reference interpreter
  E0801: 'cannot evaluate',
  E0802: 'too large for the reference interpreter',
  // ONNX import
  E0901: 'unsupported ONNX op, attribute or type',
  E0902: 'bad ONNX model',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A place in a source: an .ir file, or the user's TypeScript line for traced ops. */
export interface Loc {
  readonly file?: string;
  readonly line: number;
  readonly col: number;
  /** A named node of a model file (ONNX import: `node 'conv1' (Conv)`), printed after the position. */
  readonly node?: string;
}

export function locToString(loc: Loc | undefined): string {
  if (!loc) return '';
  const at = `${loc.file ?? '<input>'}:${loc.line}:${loc.col}`;
  return loc.node ? `${at}: ${loc.node}` : at;
}

export class AmpcError extends Error {
  readonly code: ErrorCode;
  readonly loc: Loc | undefined;
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, loc?: Loc) {
    const where = loc ? `${locToString(loc)}: ` : '';
    super(`${where}error ${code}: ${detail}`);
    this.name = 'AmpcError';
    this.code = code;
    this.loc = loc;
    this.detail = detail;
  }

  /** The same error placed at `loc` (keeps a place it already had). */
  at(loc: Loc | undefined): AmpcError {
    if (this.loc || !loc) return this;
    return new AmpcError(this.code, this.detail, loc);
  }
}

export function isAmpcError(e: unknown): e is AmpcError {
  return e instanceof AmpcError;
}

export function fail(code: ErrorCode, detail: string, loc?: Loc): never {
  throw new AmpcError(code, detail, loc);
}
