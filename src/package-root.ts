/** The installed package's root (holding templates/ and fixtures/), from src/ or dist/src/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('pinctl: cannot find the package root (templates/ missing)');
    dir = up;
  }
  root = dir;
  return dir;
}
