// npm links the bins of dependencies, never the project's own: after `npm ci` in a clone, make
// node_modules/.bin/pinctl (and so `npx pinctl`) run this checkout's build.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const target = join(root, 'dist', 'cli', 'main.js');
chmodSync(target, 0o755);
const binDir = join(root, 'node_modules', '.bin');
if (existsSync(join(root, 'node_modules'))) {
  mkdirSync(binDir, { recursive: true });
  const link = join(binDir, 'pinctl');
  rmSync(link, { force: true });
  symlinkSync(relative(binDir, target), link);
}
