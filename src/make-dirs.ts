/**
 * mkdir -p without `{ recursive: true }`: Node 20's recursive mkdir never returns for a path under
 * /proc (it retries ENOENT forever, blocking the event loop). Creates the missing ancestors one
 * level at a time; a failure throws the errno error of that level (its `path` names it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The nearest ancestor of `dir` (or `dir` itself) that exists. */
export function existingAncestor(dir: string): string {
  let d = resolve(dir);
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

export function makeDirs(dir: string, mode?: number): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) {
    try {
      mkdirSync(m, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
