// STUB: replaced by the chevrotain parser.
import { AmpcError } from '../errors.ts';
import type { Module } from '../graph.ts';

/** Parses a module of the textual IR; errors are AmpcErrors placed at FILE:LINE:COL. */
export function parseModule(text: string, file?: string): Module {
  throw new AmpcError('E0002', `parser not implemented (${text.length} chars)`, { file, line: 1, col: 1 });
}
