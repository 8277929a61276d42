/**
 * The core on the Hermes VM (hermes-engine-cli's Linux binary): `npm run build:hermes`, then the
 * vectors harness (every conformance case, every Ed25519 vector) and the createClient scenario
 * run under `hermes` and under node. The expected counts come from the vector files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../bundle/conformance.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ED25519 = join(ROOT, '..', 'shared', 'vectors', 'ed25519');
const HERMES = join(createRequire(import.meta.url).resolve('hermes-engine-cli/package.json'), '..', 'linux64-bin', 'hermes');
const SUPPORTED = process.platform === 'linux' && process.arch === 'x64';
// -Xmicrotask-queue: promise jobs before timers, as in React Native. Without it the CLI runs
// promise jobs after every pending timer, and its timers fire at once whatever their delay.
const hermes = (file: string) => execFileSync(HERMES, ['-w', '-Xmicrotask-queue', join(ROOT, 'dist/hermes', file)], { encoding: 'utf8', timeout: 240_000 });
const node = (file: string) => execFileSync(process.execPath, [join(ROOT, 'dist/hermes', file)], { encoding: 'utf8', timeout: 120_000 });
const lastLine = (out: string) => out.trim().split('\n').at(-1);

const expectedVectors = (() => {
  const wycheproof = JSON.parse(readFileSync(join(ED25519, 'wycheproof_ed25519_test.json'), 'utf8')) as { numberOfTests: number };
  const speccheck = JSON.parse(readFileSync(join(ED25519, 'speccheck_cases.json'), 'utf8')) as unknown[];
  // Both conformance manifests: SPEC 1.0 (vectors.json) and SPEC §7 roles (vectors-roles.json).
  return { ed25519: wycheproof.numberOfTests + speccheck.length, manifest: loadManifest().cases.length + loadManifest('vectors-roles.json').cases.length };
})();

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-hermes.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 240_000 });
}, 300_000);

describe('npm run build:hermes', () => {
  it('writes the core and the harnesses as single files, no require/import left', () => {
    for (const f of ['pinctl-core.js', 'pinctl-react-native.js', 'vectors-harness.js', 'client-harness.js']) {
      const code = readFileSync(join(ROOT, 'dist/hermes', f), 'utf8');
      expect(code, f).not.toMatch(/\brequire\(|^\s*import\s|\bclass\s+\w+\s*(extends\b|\{)/m);
    }
    expect(expectedVectors.ed25519).toBe(163);
    expect(expectedVectors.manifest).toBe(loadManifest().cases.length + 18);
  });
});

describe.skipIf(!SUPPORTED)('on the Hermes VM', () => {
  it('the hermes binary is Hermes 0.12 and runs here', () => {
    expect(existsSync(HERMES)).toBe(true);
    expect(execFileSync(HERMES, ['-version'], { encoding: 'utf8' })).toMatch(/Hermes release version: 0\.12\./);
  });

  it('every conformance case and every Ed25519 vector: 0 failed', () => {
    const n = expectedVectors.manifest + expectedVectors.ed25519;
    expect(lastLine(hermes('vectors-harness.js'))).toBe(`${n} passed, 0 failed`);
  }, 300_000);

  it('createClient end to end (refresh, restore from storage, forged bundle refused)', () => {
    expect(lastLine(hermes('client-harness.js'))).toMatch(/^([1-9]\d*) passed, 0 failed$/);
  }, 300_000);

  it('pinctl-core.js exports each function under its own name on Hermes', () => {
    const list = 'var k = Object.keys(pinctlCore).filter(function (n) { return typeof pinctlCore[n] === "function"; });';
    const probe = `${readFileSync(join(ROOT, 'dist/hermes/pinctl-core.js'), 'utf8')}\n${list}\nprint(k.map(function (n) { return n + "=" + pinctlCore[n].name; }).join(" "));`;
    const pairs = execFileSync(HERMES, ['-w', '-'], { input: probe, encoding: 'utf8' }).trim().split(' ');
    expect(pairs).toContain('createClient=createClient');
    expect(pairs.filter((p) => p.split('=')[0] !== p.split('=')[1])).toEqual([]);
    expect(pairs.length).toBeGreaterThan(15);
  }, 120_000);

  it('pinctl-react-native.js runs the TrustKit rules (tldts Public Suffix List) on Hermes', () => {
    const probe = `${readFileSync(join(ROOT, 'dist/hermes/pinctl-react-native.js'), 'utf8')}
var two = { includeSubdomains: false, publicKeyHashes: ['${'A'.repeat(42)}E=', '${'A'.repeat(42)}I='] };
var r = pinctlReactNative.pinningOptions({ 'api.example.co.uk': two, 'co.uk': two, '10.0.0.1': two, localhost: two });
print(Object.keys(r.options).join(','), r.skipped.map(function (s) { return s.domain + '=' + s.reason; }).join(','));`;
    const out = execFileSync(HERMES, ['-w', '-'], { input: probe, encoding: 'utf8' });
    expect(out.trim()).toBe('api.example.co.uk co.uk=public-suffix,10.0.0.1=ip-address,localhost=local-name');
  }, 120_000);
});

describe('the same bundled files on node', () => {
  it('vectors harness: 0 failed', () => {
    expect(lastLine(node('vectors-harness.js'))).toBe(`${expectedVectors.manifest + expectedVectors.ed25519} passed, 0 failed`);
  }, 120_000);
  it('client harness: 0 failed', () => {
    expect(lastLine(node('client-harness.js'))).toMatch(/^([1-9]\d*) passed, 0 failed$/);
  }, 120_000);
});
