// The Node-only half of device acquisition: loads Dawn (the `webgpu` package),
// installs its WebGPU globals (GPUBufferUsage, ...), and prepares the
// environment Mesa's Vulkan drivers expect. runtime/device.ts imports this file
// dynamically, so a browser build that uses navigator.gpu never loads it.

import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Mesa warns on every process start when XDG_RUNTIME_DIR is unset. Point it at
 * a private per-user folder under the temp directory (created with mode 0700).
 */
export function ensureXdgRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const dir = join(tmpdir(), `ampc-xdg-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (statSync(dir).isDirectory()) process.env.XDG_RUNTIME_DIR = dir;
  } catch {
    // Only a warning from Mesa is at stake; carry on without it.
  }
}

/** Flags from the AMPC_DAWN_FLAGS environment variable (space-separated). */
export function envDawnFlags(): string[] {
  return (process.env.AMPC_DAWN_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0);
}

/**
 * Loads dawn.node and returns a fresh `GPU` (the object `navigator.gpu` would
 * be) created with `flags`. The caller must keep it referenced while devices
 * from it are in use.
 */
export async function createDawnGpu(flags: readonly string[]): Promise<GPU> {
  ensureXdgRuntimeDir();
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  return create([...flags]);
}
