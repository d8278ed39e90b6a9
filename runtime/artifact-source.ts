// Where an artifact's files come from: a directory (Node), a URL (fetch, in a
// browser or Node: `https://…/model/`), or the files themselves in memory
// (a map from relative name to text or bytes: what `compile()` returns, or
// files a page got some other way). A missing or unreadable file is E0601
// naming it. Node's file system (runtime/node-files.ts) is imported only when
// a directory is read; browser builds map that module away (package.json).

import { AmpcError } from '../ir/errors.ts';

/** An artifact's files by relative name (`manifest.json`, `kernels/000-matmul.wgsl`, …). */
export type ArtifactFiles = ReadonlyMap<string, string | Uint8Array> | Readonly<Record<string, string | Uint8Array>>;

/** A directory path (Node), a URL of the directory, or the files in memory. */
export type ArtifactSource = string | URL | ArtifactFiles;

export interface ArtifactReader {
  /** How errors name the file `name`. */
  describe(name: string): string;
  bytes(name: string): Promise<Uint8Array>;
  text(name: string): Promise<string>;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function cannotRead(what: string, why: string): never {
  throw new AmpcError('E0601', `cannot read ${what}: ${why}`);
}

function fromMemory(files: ArtifactFiles): ArtifactReader {
  const get = (name: string) => {
    const f = files instanceof Map ? files.get(name) : Object.hasOwn(files, name) ? (files as Record<string, string | Uint8Array>)[name] : undefined;
    if (f === undefined) cannotRead(name, 'the artifact has no such file');
    return f;
  };
  return {
    describe: (name) => name,
    bytes: async (name) => {
      const f = get(name);
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
    text: async (name) => {
      const f = get(name);
      return typeof f === 'string' ? f : new TextDecoder().decode(f);
    },
  };
}

function fromUrl(base: URL): ArtifactReader {
  const dir = base.href.endsWith('/') ? base : new URL(base.href + '/');
  const get = async (name: string): Promise<Response> => {
    const url = new URL(name, dir);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      return cannotRead(url.href, (e as Error).message);
    }
    if (!res.ok) cannotRead(url.href, `HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  return {
    describe: (name) => new URL(name, dir).href,
    bytes: async (name) => new Uint8Array(await (await get(name)).arrayBuffer()),
    text: async (name) => (await get(name)).text(),
  };
}

function fromDirectory(dir: string): ArtifactReader {
  const path = (name: string) => `${dir.replace(/\/+$/, '')}/${name}`;
  const read = async (name: string): Promise<Uint8Array> => (await import('./node-files.ts')).readFileBytes(path(name));
  return {
    describe: path,
    bytes: read,
    text: async (name) => new TextDecoder().decode(await read(name)),
  };
}

/** A reader of the artifact's files from `source`. */
export function artifactReader(source: ArtifactSource): ArtifactReader {
  if (source instanceof URL) return source.protocol === 'file:' && isNode ? fromDirectory(decodeURIComponent(source.pathname)) : fromUrl(source);
  if (typeof source === 'string') {
    if (URL_LIKE.test(source)) return artifactReader(new URL(source));
    if (isNode) return fromDirectory(source);
    return fromUrl(new URL(source, (globalThis as { location?: { href: string } }).location?.href));
  }
  return fromMemory(source);
}
