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

/** One Dawn instance per set of flags, for the life of the process. */
const instances = new Map<string, Promise<GPU>>();

/**
 * Loads dawn.node and returns the `GPU` (the object `navigator.gpu` would
 * be) for `flags`: created on first use, then shared by every device
 * acquired with the same flags. Devices come and go (a CLI command, a test, a
 * JIT compile each acquire and destroy one), but the Dawn instance under them
 * stays: creating and dropping many instances in one process made Dawn on
 * lavapipe crash (SIGSEGV, SIGABRT "std::system_error: Invalid argument") or
 * hang after some dozens of commands run in-process; one instance per flag
 * set does not.
 */
export function createDawnGpu(flags: readonly string[]): Promise<GPU> {
  const key = flags.join('\n');
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = (async () => {
      ensureXdgRuntimeDir();
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      return create([...flags]);
    })();
    gpu.catch(() => instances.delete(key));
    instances.set(key, gpu);
  }
  return gpu;
}
