/**
 * pinctl/sdk must load on its own: nothing from the CLI, src/net, src/formats, and no package but
 * undici and @noble (Ed25519, SHA-2). Checked on the sources (import graph) and on the build (a fresh node
 * process importing `pinctl/sdk` by package name, recording every module it loads).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from './import-graph.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
// src/vocab/hostname, ip and pin: the shared grammar, pure JavaScript, reached through src/bundle/payload.
const ALLOWED_FILES = /^src\/(sdk\/[^/]+|sdk\/core\/[^/]+|bundle\/[^/]+|core\/(pin|x509-structure|der|model)|vocab\/(hostname|ip|pin)|errors)\.(ts|js)$/;
const ALLOWED_PACKAGES = ['undici', '@noble/curves', '@noble/hashes'];

/** Why the build cannot be used, or null. CI builds in `npm ci` (prepare), so it is fresh there. */
function distProblem(): string | null {
  const built = join(ROOT, 'dist/src/sdk/index.js');
  if (!existsSync(built)) return 'dist/ is not built (run `npm run build`)';
  const newest = ['src/sdk', 'src/bundle'].flatMap((d) => readdirSync(join(ROOT, d)).map((f) => statSync(join(ROOT, d, f)).mtimeMs));
  return Math.max(...newest) > statSync(built).mtimeMs ? 'dist/ is older than src/ (run `npm run build`)' : null;
}

const PROBE = `
import { register, createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const hooks = 'let port; export function initialize(d) { port = d.port; }' +
  'export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
const { port1, port2 } = new MessageChannel();
const urls = [];
port1.on('message', (u) => urls.push(u));
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
const sdk = await import('pinctl/sdk');
await new Promise((r) => setTimeout(r, 200));
port1.close();
const cjs = Object.keys(createRequire(import.meta.url).cache).map((f) => 'file://' + f);
console.log(JSON.stringify({ exports: Object.keys(sdk), urls: [...urls, ...cjs] }));
`;

describe('pinctl/sdk stands alone', () => {
  it('imports only src/sdk, src/bundle, pure src/core code, undici and @noble (source graph)', () => {
    const { files, packages } = importGraph(join(ROOT, 'src/sdk/index.ts'));
    expect(files.filter((f) => !ALLOWED_FILES.test(f))).toEqual([]);
    expect([...packages].filter((p) => !ALLOWED_PACKAGES.includes(p))).toEqual([]);
    expect(files).toContain('src/bundle/ed25519.ts');
  });

  const problem = distProblem();
  it.skipIf(problem !== null)(`loads by package name in a fresh node process${problem ? ` — skipped: ${problem}` : ''}`, () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: ROOT, encoding: 'utf8' });
    const { exports, urls } = JSON.parse(out) as { exports: string[]; urls: string[] };
    expect(exports).toEqual(expect.arrayContaining(['PinClient', 'verifySignature', 'PinningError', 'SignatureError', 'RollbackError', 'ExpiredError']));
    const files = urls.filter((u) => u.startsWith('file:')).map((u) => relative(ROOT, fileURLToPath(u)));
    const unexpected = files.filter((f) => !/^dist\/src\//.test(f) || !ALLOWED_FILES.test(f.slice('dist/'.length)));
    const outside = unexpected.filter((f) => !new RegExp(`^node_modules/(${ALLOWED_PACKAGES.join('|')})/`).test(f));
    expect(outside).toEqual([]);
    expect(files).toContain('dist/src/sdk/index.js');
    expect(existsSync(join(ROOT, 'dist/src/sdk/index.d.ts'))).toBe(true);
  });
});
