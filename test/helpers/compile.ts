/**
 * The project compiled with tsc, for tests that run it in child processes (kill -9, several
 * monitors, a real terminal). Written under node_modules/.cache so the compiled files resolve the
 * project's packages; one directory per test file and process.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Compiled {
  /** Where `ROOT/x/y.ts` is compiled to `out/x/y.js`. */
  out: string;
  remove(): void;
}

/** Where compileForChildren(name, …) writes: known before it runs, for child scripts' imports. */
export const compiledDir = (name: string) => join(ROOT, 'node_modules', '.cache', `pinctl-${name}-${process.pid}`);

/** Compiles the given top-level folders of the project (e.g. ['monitor'], ['cli', 'src', 'monitor']). */
export function compileForChildren(name: string, folders: string[]): Compiled {
  const out = compiledDir(name);
  mkdirSync(out, { recursive: true });
  const tsconfig = join(out, 'tsconfig.json');
  const compilerOptions = { outDir: out, rootDir: ROOT, declaration: false, sourceMap: false, typeRoots: [join(ROOT, 'node_modules', '@types')] };
  writeFileSync(tsconfig, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions, include: folders.map((f) => join(ROOT, f, '**', '*')) }));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'pipe' });
  return { out, remove: () => rmSync(out, { recursive: true, force: true }) };
}
