import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExpiredError, FetchError, KeysetError, PinClient, SignatureError } from '../../src/sdk/index.js';
import type { Signer } from '../../src/bundle/sign.js';
import { AUDIENCE, NOW, PIN, b64, domain, keysetPayload, newSigner, pinsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const DOMAINS = [domain('api.example.com', [PIN.leaf, PIN.backup])];
let svc: Service;
let dir: string;
let oldKey: Signer;
let newKey: Signer;

beforeEach(async () => {
  svc = await startService();
  dir = tempDir();
  oldKey = newSigner();
  newKey = newSigner();
});
afterEach(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = () => new PinClient({ url: svc.url, publicKeys: [b64(oldKey.publicKey)], audience: AUDIENCE, storageDir: dir, now: () => NOW });
const pins = (version: number, signers: Signer[]) => sign(pinsPayload({ version, domains: DOMAINS }), signers);
const keyset = (version: number, keys: Signer[], signers: Signer[], extra: { expiresAt?: string; issuedAt?: string } = {}) =>
  sign(keysetPayload({ version, keys: keys.map((k) => k.publicKey), ...extra }), signers);
const route = (path: string, body: Buffer) => svc.routes.set(path, { body });

describe('keyset rotation (SPEC §5)', () => {
  it('follows a rotation signed by the old and new keys, persists it, and trusts only the new key', async () => {
    route('/v1/keyset/1', keyset(1, [newKey], [oldKey, newKey]));
    route('/v1/bundles/pins', pins(1, [newKey]));
    const c = client();
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'applied', keysetVersion: 1 });
    expect(existsSync(join(dir, 'keyset-1.json'))).toBe(true);

    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 1, restoreErrors: [] });
    expect(restarted.version).toBe(1);
    route('/v1/bundles/pins', pins(2, [oldKey]));
    await expect(restarted.refresh()).rejects.toBeInstanceOf(SignatureError);
    expect(restarted.version).toBe(1);
  });

  it('keeps a stored bundle signed by the previous key across the restart that follows a rotation', async () => {
    route('/v1/bundles/pins', pins(1, [oldKey]));
    await client().refresh();
    route('/v1/keyset/1', keyset(1, [newKey], [oldKey, newKey]));
    svc.routes.set('/v1/bundles/pins', { status: 500 });
    await expect(client().refresh()).rejects.toBeInstanceOf(FetchError);
    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 1, restoreErrors: [] });
    expect(restarted.version).toBe(1);
  });

  it('rejects a keyset signed by the new key only', async () => {
    route('/v1/keyset/1', keyset(1, [newKey], [newKey]));
    route('/v1/bundles/pins', pins(1, [newKey]));
    const c = client();
    await expect(c.refresh()).rejects.toBeInstanceOf(SignatureError);
    expect(c.status().keysetVersion).toBe(0);
    expect(c.version).toBe(0);
    expect(existsSync(join(dir, 'keyset-1.json'))).toBe(false);
  });

  it('rejects a keyset that the new keys do not sign', async () => {
    route('/v1/keyset/1', keyset(1, [newKey], [oldKey]));
    await expect(client().refresh()).rejects.toBeInstanceOf(SignatureError);
  });

  it('rejects a keyset holding a small-order key', async () => {
    const identity = new Uint8Array(32);
    identity[0] = 1; // the neutral point: verifies forged signatures
    const body = sign(keysetPayload({ version: 1, keys: [newKey.publicKey, identity] }), [oldKey, newKey]);
    route('/v1/keyset/1', body);
    const c = client();
    const err = await c.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeysetError);
    expect((err as Error).message).toMatch(/unsafe/);
    expect(c.status().keysetVersion).toBe(0);
  });

  it('rejects a keyset that skips a version', async () => {
    route('/v1/keyset/1', keyset(2, [newKey], [oldKey, newKey]));
    await expect(client().refresh()).rejects.toBeInstanceOf(KeysetError);
  });

  it('follows at most 8 rotations per refresh', async () => {
    const keys = [oldKey, ...Array.from({ length: 9 }, newSigner)];
    for (let v = 1; v <= 9; v++) route(`/v1/keyset/${v}`, keyset(v, [keys[v]!], [keys[v - 1]!, keys[v]!]));
    route('/v1/bundles/pins', pins(1, [keys[9]!]));
    const c = client();
    // After 8 rotations the pins, signed by key 9, are not trusted yet.
    await expect(c.refresh()).rejects.toBeInstanceOf(SignatureError);
    expect(c.status().keysetVersion).toBe(8);
    await expect(c.refresh()).resolves.toMatchObject({ keysetVersion: 9, pins: 'applied' });
    expect(client().status().keysetVersion).toBe(9);
  });

  it('rotates through an expired keyset but accepts bundles only under a fresh one', async () => {
    const expired = { issuedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-02-01T00:00:00Z' };
    route('/v1/keyset/1', keyset(1, [newKey], [oldKey, newKey], expired));
    route('/v1/bundles/pins', pins(1, [newKey]));
    const c = client();
    await expect(c.refresh()).rejects.toBeInstanceOf(ExpiredError);
    expect(c.version).toBe(0);

    const third = newSigner();
    route('/v1/keyset/2', keyset(2, [third], [newKey, third]));
    route('/v1/bundles/pins', pins(1, [third]));
    await expect(c.refresh()).resolves.toMatchObject({ keysetVersion: 2, pins: 'applied' });
  });
});

describe('embedded keys with a threshold', () => {
  const twoOfTwo = () =>
    new PinClient({ url: svc.url, publicKeys: [b64(oldKey.publicKey), b64(newKey.publicKey)], threshold: 2, audience: AUDIENCE, storageDir: dir, now: () => NOW });
  it('threshold 2 of two embedded keys: one signature is refused, both are applied', async () => {
    route('/v1/bundles/pins', pins(1, [oldKey]));
    await expect(twoOfTwo().refresh()).rejects.toBeInstanceOf(SignatureError);
    route('/v1/bundles/pins', pins(1, [oldKey, newKey]));
    await expect(twoOfTwo().refresh()).resolves.toMatchObject({ pins: 'applied', version: 1 });
  });
  it('a threshold above the number of keys is a configuration error, not silently lowered', () => {
    expect(() => new PinClient({ url: svc.url, publicKeys: [b64(oldKey.publicKey)], threshold: 2, audience: AUDIENCE, storageDir: dir })).toThrow(/threshold: expected an integer from 1 to 1/);
  });
});
