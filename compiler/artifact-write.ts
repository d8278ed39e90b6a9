// Writing a compiled artifact to a directory (Node only; compile() itself
// works in memory, compiler/artifact.ts).

import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AmpcError } from '../ir/errors.ts';
import { MANIFEST_FILE } from '../runtime/artifact-manifest.ts';
import type { CompiledArtifact } from './artifact.ts';

/**
 * Writes an artifact's files to `dir` atomically: into a temporary
 * directory beside it, then renamed into place, so `dir` is either the old
 * artifact or the new one, never half of each. An existing `dir` is
 * replaced only if it is empty or an artifact (has a manifest.json).
 */
export function writeArtifact(dir: string, art: Pick<CompiledArtifact, 'files'>): void {
  const parent = dirname(dir);
  let existing: 'none' | 'replace' = 'none';
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new AmpcError('E0601', `cannot write the artifact to ${dir}: it exists and is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) throw new AmpcError('E0601', `cannot write the artifact to ${dir}: it is a directory with other files in it (not an ampc artifact); refusing to replace it`);
    existing = 'replace';
  } catch (e) {
    if (e instanceof AmpcError) throw e;
    if ((e as { code?: string }).code !== 'ENOENT') throw new AmpcError('E0601', `cannot write the artifact to ${dir}: ${(e as Error).message}`);
  }
  const tag = `${process.pid}.${Math.random().toString(36).slice(2)}`;
  const tmp = join(parent, `.${basename(dir)}.${tag}.tmp`);
  const old = join(parent, `.${basename(dir)}.${tag}.old`);
  const fail = (e: unknown): never => {
    rmSync(tmp, { recursive: true, force: true });
    throw new AmpcError('E0601', `cannot write the artifact to ${dir}: ${(e as Error).message}`);
  };
  try {
    mkdirSync(join(tmp, 'kernels'), { recursive: true });
    for (const [name, content] of art.files) writeFileSync(join(tmp, name), content);
    if (existing === 'replace') renameSync(dir, old);
  } catch (e) {
    fail(e);
  }
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if (existing === 'replace') renameSync(old, dir);
    fail(e);
  }
  rmSync(old, { recursive: true, force: true });
}
