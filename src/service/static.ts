/**
 * Static hosting (`pinctl publish --out DIR`): the same bytes the service serves, at the same
 * paths, for any CDN or web server. One exception forced by file systems: `/v1/keyset` (the
 * latest keyset) cannot be a file while `/v1/keyset/N` lives in a directory of the same name, so
 * it is written as `v1/keyset/index.json`; the web server maps `/v1/keyset` to it.
 */
import { makeDirs } from '../make-dirs.js';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../durable-write.js';
import { etagOf } from './routes.js';

export interface StaticFile {
  /** URL path, e.g. /v1/bundles/pins */
  path: string;
  /** File written, relative to DIR. */
  file: string;
  etag: string;
  bytes: number;
}

/** URL path → file: a path that is also a directory of another path becomes DIR/path/index.json. */
export function staticFileNames(paths: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of paths) out.set(p, paths.some((q) => q.startsWith(`${p}/`)) ? `${p}/index.json` : p);
  return out;
}

/**
 * Writes every file atomically (temp + rename), historical keysets first and the bundles last,
 * so a server reading DIR meanwhile never sees a half-written file or a bundle whose keyset is
 * not there yet.
 */
export function writeStaticSite(outDir: string, files: Map<string, Uint8Array>): StaticFile[] {
  const names = staticFileNames([...files.keys()]);
  const rank = (p: string) => (/^v1\/keyset\/\d+$/.test(p) ? 0 : p === 'v1/keyset' ? 1 : p === 'v1/keys' ? 2 : 3);
  const order = [...files.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const written: StaticFile[] = [];
  for (const p of order) {
    const bytes = files.get(p)!;
    const file = names.get(p)!;
    const full = join(outDir, file);
    try {
      makeDirs(dirname(full));
      writeFileAtomic(full, bytes);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new InputError('OUTPUT_UNWRITABLE', `--out: cannot write ${full} (${code})`, {
        hint: code === 'EISDIR' || code === 'ENOTDIR' ? `${file} clashes with an existing file or directory in ${outDir}; publish into an empty directory` : 'choose a directory you can write to',
      });
    }
    written.push({ path: `/${p}`, file, etag: etagOf(bytes), bytes: bytes.length });
  }
  return written;
}
