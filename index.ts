// ampc's public API for Node (package.json's `node` condition): everything
// browser.ts exports, and the parts that use the file system: writing
// artifacts to directories and state dicts to JSON files.
//
//   import { trace, f32, nn, Trainer, compile, writeArtifact, loadArtifact } from 'ampc';

export * from './browser.ts';
export { writeArtifact } from './compiler/artifact-write.ts';
export { saveState, loadState } from './compiler/train/state-file.ts';
export { writeFileAtomic, readFileBytes } from './runtime/node-files.ts';
