/**
 * Finds and reads the package's templates/ directory. The compiled module lives in
 * dist/src/formats/ and the source in src/formats/, so the directory is found by walking up to the
 * package root (package.json next to templates/) instead of a fixed relative path.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';

export type TemplateLoader = (name: string) => string;

/** The package root at or above `startDir`, or null. Exported for tests of the dist layout. */
export function findPackageRoot(startDir: string): string | null {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && isDir(join(dir, 'templates'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

let templatesDir: string | null = null;

export function templatesDirectory(): string {
  if (templatesDir) return templatesDir;
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findPackageRoot(here);
  if (!root) {
    throw new InputError('INPUT_NOT_FOUND', `pinctl's templates/ directory was not found above ${here}`, {
      hint: 'the installation is incomplete; reinstall pinctl',
    });
  }
  return (templatesDir = join(root, 'templates'));
}

/** Reads templates/<name>, e.g. loadTemplate('android.xml.tmpl'). */
export function loadTemplate(name: string): string {
  if (!/^[a-z0-9][a-z0-9.-]*\.tmpl$/.test(name)) {
    throw new InputError('USAGE', `expected a template file name like "android.xml.tmpl", found "${name}"`);
  }
  const path = join(templatesDirectory(), name);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError('INPUT_NOT_FOUND', `template ${path} could not be read`, {
      hint: 'the installation is incomplete; reinstall pinctl',
      cause: e,
    });
  }
}
