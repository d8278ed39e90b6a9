// Public surface of the IR layer.
export * from './dtype.ts';
export * from './types.ts';
export * from './errors.ts';
export * from './attrs.ts';
export * from './ops.ts';
export * from './graph.ts';
export { verifyGraph, verifyModule } from './verify.ts';
export { printGraph, printModule, printNode } from './text/printer.ts';
export { parseModule } from './text/parser.ts';
