/** `pinctl keys generate` and the private-key permission check, cross-checked with openssl. */
import { describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { keyPair, pinsJson, PIN, tempDir } from './helpers.js';

describe('pinctl keys generate', () => {
  it('writes a 0600 PKCS#8 key, an openssl-readable SPKI PEM and the .pub JSON, and prints the key id openssl computes', async () => {
    const dir = tempDir();
    const r = await cli(['keys', 'generate', '--out', dir]);
    expect(r.code).toBe(0);
    const keyid = r.stdout.trim();
    expect(keyid).toMatch(/^[0-9a-f]{64}$/);

    const keyFile = join(dir, 'pinctl-signing.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    const pubPem = join(dir, 'pinctl-signing.pub.pem');
    expect(readFileSync(pubPem, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const check = spawnSync('openssl', ['pkey', '-pubin', '-in', pubPem, '-noout'], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);

    // The key id, computed by openssl alone: SHA-256 of the last 32 bytes of the DER SPKI.
    const dgst = execFileSync('bash', ['-c', `openssl pkey -pubin -in '${pubPem}' -outform DER | tail -c 32 | openssl dgst -sha256`], { encoding: 'utf8' });
    expect(dgst.trim().split(/\s+/).pop()).toBe(keyid);

    // The private key's public half is the same key (openssl derives it).
    const derived = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' });
    expect(derived).toBe(readFileSync(pubPem, 'utf8'));

    const pub = JSON.parse(readFileSync(join(dir, 'pinctl-signing.pub'), 'utf8'));
    expect(pub.keyid).toBe(keyid);
    const rawFromOpenssl = execFileSync('bash', ['-c', `openssl pkey -pubin -in '${pubPem}' -outform DER | tail -c 32 | base64`], { encoding: 'utf8' }).trim();
    expect(pub.publicKey).toBe(rawFromOpenssl);
  });

  it('never overwrites an existing key', async () => {
    const dir = tempDir();
    expect((await cli(['keys', 'generate', '--out', dir])).code).toBe(0);
    const before = readFileSync(join(dir, 'pinctl-signing.key'));
    const r = await cli(['keys', 'generate', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*pinctl-signing\.key already exists/m);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(readFileSync(join(dir, 'pinctl-signing.key'))).toEqual(before);
  });

  it('--json prints the key id, public key and files', async () => {
    const dir = tempDir();
    const r = await cli(['keys', 'generate', '--out', join(dir, 'sub'), '--json']);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.keyid).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(o.publicKey, 'base64')).toHaveLength(32);
    expect(o.files.privateKey).toBe(join(dir, 'sub', 'pinctl-signing.key'));
  });
});

describe('private key permissions', () => {
  it('refuses a key readable by group or others: KEY_UNSAFE, hint chmod 600 FILE, exit 2', async () => {
    const k = keyPair();
    chmodSync(k.key, 0o644);
    const pins = join(tempDir(), 'pins.json');
    writeFileSync(pins, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup] }]));
    const r = await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '1', '--audience', 'app']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: .*pinctl-signing\.key: private key is accessible by group or others \(mode 0644\)/m);
    expect(r.stderr).toContain(`hint: chmod 600 ${k.key}\n`);
    chmodSync(k.key, 0o640);
    expect((await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '1', '--audience', 'app'])).code).toBe(2);
    chmodSync(k.key, 0o600);
    expect((await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '1', '--audience', 'app'])).code).toBe(0);
  });

  it('refuses a key that is not Ed25519 with exit 2', async () => {
    const dir = tempDir();
    const f = join(dir, 'ec.key');
    writeFileSync(f, readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'pki', 'leaf.key')), { mode: 0o600 });
    const r = await cli(['bundle', 'create', '--pins', f, '--key', f, '--version', '1', '--audience', 'app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*ec\.key: expected an Ed25519 private key, found ec/m);
  });
});
