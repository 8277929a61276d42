/** SPEC §7 on the command line: `keys generate --role root|signing`, a keyset signed by the root key alone. */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { startServe } from '../../cli/commands/serve.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { tempDir } from './helpers.js';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedRootRole } from '../../src/bundle/keys.js';

describe('pinctl keys generate --role', () => {
  it('root writes pinctl-root.* (0600 private key), signing (the default) pinctl-signing.*', async () => {
    const dir = tempDir();
    const root = await cli(['keys', 'generate', '--role', 'root', '--out', dir, '--json']);
    expect(root.code, root.stderr).toBe(0);
    expect(JSON.parse(root.stdout)).toMatchObject({ role: 'root', files: { privateKey: join(dir, 'pinctl-root.key') } });
    expect(statSync(join(dir, 'pinctl-root.key')).mode & 0o777).toBe(0o600);
    const derived = execFileSync('openssl', ['pkey', '-in', join(dir, 'pinctl-root.key'), '-pubout'], { encoding: 'utf8' });
    expect(derived).toBe(readFileSync(join(dir, 'pinctl-root.pub.pem'), 'utf8'));
    expect(existsSync(join(dir, 'pinctl-signing.key'))).toBe(false);
    const signing = await cli(['keys', 'generate', '--out', dir]);
    expect(signing.code, signing.stderr).toBe(0);
    expect(existsSync(join(dir, 'pinctl-signing.key'))).toBe(true);
    const again = await cli(['keys', 'generate', '--role', 'root', '--out', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/never overwrites a root key/);
  });

  it('an unknown role is a usage error', async () => {
    const r = await cli(['keys', 'generate', '--role', 'admin', '--out', tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --role admin: expected signing or root/m);
  });

  it('bundle create --keyset SIGNING.pub --key ROOT.key makes a keyset a roles-mode client rotates to', async () => {
    const dir = tempDir();
    expect((await cli(['keys', 'generate', '--role', 'root', '--out', join(dir, 'root')])).code).toBe(0);
    const s = await cli(['keys', 'generate', '--role', 'signing', '--out', join(dir, 'signing')]);
    const signingKeyid = s.stdout.trim();
    const r = await cli([
      'bundle', 'create', '--keyset', join(dir, 'signing', 'pinctl-signing.pub.pem'), '--key', join(dir, 'root', 'pinctl-root.key'),
      '--version', '1', '--audience', 'com.example.app', '--expires-in', '365d',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rootPem = readFileSync(join(dir, 'root', 'pinctl-root.pub.pem'), 'utf8');
    const store = new TrustedStore({ audience: 'com.example.app', root: embeddedRootRole([rootPem], 1, Date.parse('2100-01-01T00:00:00Z')) });
    const rotation = store.rotate(new Uint8Array(Buffer.from(r.stdout)), new Date());
    expect(rotation.version).toBe(1);
    expect(rotation.payload.keys.map((k) => k.keyid)).toEqual([signingKeyid]);
  });
});

describe('pinctl serve --root-keyset', () => {
  const TOKEN = 'roles-admin-token-0123456789abcdef';
  async function setup() {
    const dir = tempDir();
    for (const [role, out] of [['root', 'root'], ['signing', 'signing']]) expect((await cli(['keys', 'generate', '--role', role, '--out', join(dir, out)])).code).toBe(0);
    const keyset = async (version: number, audience = 'com.example.app') => {
      const r = await cli(['bundle', 'create', '--keyset', join(dir, 'signing', 'pinctl-signing.pub.pem'), '--key', join(dir, 'root', 'pinctl-root.key'), '--version', String(version), '--audience', audience, '--expires-in', '365d']);
      expect(r.code, r.stderr).toBe(0);
      const file = join(dir, `keyset-${version}-${audience}.json`);
      writeFileSync(file, r.stdout);
      return file;
    };
    const errors: string[] = [];
    const io = { stdout: { write: () => true }, stderr: { write: (t: string) => Boolean(errors.push(t)) }, readStdin: async () => new Uint8Array(), env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: dir, now: () => new Date() };
    const opts = (rootKeyset: string) => ({ listen: '127.0.0.1:0', key: [join(dir, 'signing', 'pinctl-signing.key')], data: join(dir, 'data'), audience: 'com.example.app', expiresIn: '7d', reportsRate: '10/min', rootKeyset });
    return { dir, keyset, io, opts, errors };
  }

  it('serves the keyset at /v1/keyset/1; the same file again is accepted; a version gap or another audience is refused', async () => {
    const { keyset, io, opts, errors } = await setup();
    const v1 = await keyset(1);
    let s = await startServe(opts(v1), io);
    expect(Buffer.from(await (await fetch(`${s.url}/v1/keyset/1`)).arrayBuffer())).toEqual(readFileSync(v1));
    expect(errors.join('')).toMatch(/keyset v1 stored and served at \/v1\/keyset\/1/);
    await s.stop();
    s = await startServe(opts(v1), io); // a restart with the same file
    await s.stop();
    await expect(startServe(opts(await keyset(3)), io)).rejects.toThrow(/keyset v3, expected v2/);
    await expect(startServe(opts(await keyset(2, 'com.other.app')), io)).rejects.toThrow(/expected audience "com.example.app"/);
    await expect(startServe(opts(join(tempDir(), 'missing.json')), io)).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
  }, 60_000);
});

describe('pinctl serve --root-key: POST /v1/keyset in roles mode (SPEC §7.3)', () => {
  const TOKEN = 'roles-admin-token-0123456789abcdef';
  async function setup(rootKey: boolean) {
    const dir = tempDir();
    for (const [role, out] of [['root', 'root'], ['signing', 'signing'], ['signing', 'next']]) expect((await cli(['keys', 'generate', '--role', role, '--out', join(dir, out)])).code).toBe(0);
    const make = async (file: string, args: string[]) => {
      const r = await cli(['bundle', 'create', '--audience', 'com.example.app', '--expires-in', '365d', '--out', join(dir, file), ...args]);
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(join(dir, file));
    };
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, readStdin: async () => new Uint8Array(), env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: dir, now: () => new Date() };
    const v1 = await make('ks1.json', ['--keyset', join(dir, 'signing', 'pinctl-signing.pub.pem'), '--key', join(dir, 'root', 'pinctl-root.key'), '--version', '1']);
    writeFileSync(join(dir, 'ks1-file.json'), v1);
    const s = await startServe({
      listen: '127.0.0.1:0', key: [join(dir, 'signing', 'pinctl-signing.key')], data: join(dir, 'data'), audience: 'com.example.app', expiresIn: '7d', reportsRate: '10/min',
      rootKeyset: join(dir, 'ks1-file.json'), ...(rootKey ? { rootKey: [join(dir, 'root', 'pinctl-root.pub.pem')] } : {}),
    }, io);
    const post = (body: Uint8Array) => fetch(`${s.url}/v1/keyset`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body });
    return { dir, make, s, post };
  }

  it('accepts keyset v2 signed by the root key (it names the current and a next key); refuses one signed by the signing key (409)', async () => {
    const { dir, make, s, post } = await setup(true);
    try {
      const pub = (n: string) => join(dir, n, 'pinctl-signing.pub.pem');
      const bySigner = await make('ks2-signer.json', ['--keyset', pub('signing'), pub('next'), '--key', join(dir, 'signing', 'pinctl-signing.key'), '--key', join(dir, 'next', 'pinctl-signing.key'), '--version', '2']);
      const refused = await post(bySigner);
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ code: 'BUNDLE_SIGNATURE' });
      const byRoot = await make('ks2-root.json', ['--keyset', pub('signing'), pub('next'), '--key', join(dir, 'root', 'pinctl-root.key'), '--version', '2']);
      const ok = await post(byRoot);
      expect(ok.status, await ok.clone().text()).toBe(200);
      expect(await ok.json()).toMatchObject({ type: 'keyset', version: 2, resigned: [] });
      expect(Buffer.from(await (await fetch(`${s.url}/v1/keyset/2`)).arrayBuffer())).toEqual(byRoot);
    } finally {
      await s.stop();
    }
  }, 60_000);

  it('without --root-key a root-signed keyset is refused with a hint naming --root-key', async () => {
    const { dir, make, s, post } = await setup(false);
    try {
      const byRoot = await make('ks2-root.json', ['--keyset', join(dir, 'signing', 'pinctl-signing.pub.pem'), '--key', join(dir, 'root', 'pinctl-root.key'), '--version', '2']);
      const r = await post(byRoot);
      expect(r.status).toBe(409);
      expect((await r.json()).hint).toMatch(/--root-key/);
    } finally {
      await s.stop();
    }
  }, 60_000);
});
