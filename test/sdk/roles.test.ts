/** SPEC §7 roles mode in the SDK: PinClient and createClient with rootKeys, recovery, freeze, restart. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExpiredError, FetchError, PinClient, SignatureError, TrustExpiredError, type PinReport } from '../../src/sdk/index.js';
import { InputError } from '../../src/errors.js';
import { createClient } from '../../src/sdk/core/index.js';
import type { Signer } from '../../src/bundle/sign.js';
import type { Payload } from '../../src/bundle/types.js';
import { AUDIENCE, NOW, PIN, b64, domain, keyid, keysetPayload, newSigner, pinsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const DOMAINS = [domain('api.example.com', [PIN.leaf, PIN.backup])];
const ATTACK = [domain('api.example.com', [PIN.intermediate, PIN.root])];
const MAX = Number.MAX_SAFE_INTEGER;
let svc: Service;
let dir: string;
let root: Signer;
let stolen: Signer;
let fresh: Signer;

beforeEach(async () => {
  svc = await startService();
  dir = tempDir();
  [root, stolen, fresh] = [newSigner(), newSigner(), newSigner()];
});
afterEach(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const reports: PinReport[] = [];
const client = (o: { trustExpires?: string; now?: Date } = {}) =>
  new PinClient({
    url: svc.url,
    rootKeys: [b64(root.publicKey)],
    trustExpires: o.trustExpires ?? '2027-06-01',
    audience: AUDIENCE,
    storageDir: dir,
    now: () => o.now ?? NOW,
    onReport: (r) => reports.push(r),
  });
const pins = (version: number, signers: Signer[], domains = DOMAINS, expiresAt?: string) => sign(pinsPayload({ version, domains, expiresAt }), signers);
const keyset = (version: number, keys: Signer[], signers: Signer[], extra: Partial<Payload> = {}) =>
  sign({ ...keysetPayload({ version, keys: keys.map((k) => k.publicKey) }), ...extra } as Payload, signers);
const route = (path: string, body: Buffer) => svc.routes.set(path, { body });

describe('roles mode (SPEC §7) in PinClient', () => {
  it('root-signed keyset names the signing key; the root key itself never signs pins', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(5, [root]));
    const c = client();
    await expect(c.refresh()).rejects.toBeInstanceOf(SignatureError);
    expect(c.status().keysetVersion).toBe(1);
    route('/v1/bundles/pins', pins(5, [stolen]));
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'applied', version: 5, keysetVersion: 1 });
    expect(c.status().trustExpires).toBe('2027-06-01T00:00:00.000Z');
  });

  it('a keyset signed only by the signing key is refused (SPEC §7.3.2)', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(5, [stolen]));
    await client().refresh();
    route('/v1/keyset/2', keyset(2, [stolen], [stolen]));
    await expect(client().refresh()).rejects.toBeInstanceOf(SignatureError);
    expect(existsSync(join(dir, 'keyset-2.json'))).toBe(false);
  });

  it('recovery: the attacker’s fast-forward is dropped, its file deleted, and the new key’s pins apply in the same refresh', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(MAX, [stolen], ATTACK, '2027-01-01T00:00:00Z'));
    const c = client();
    await expect(c.refresh()).resolves.toMatchObject({ version: MAX });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.intermediate, PIN.root]);

    route('/v1/keyset/2', keyset(2, [fresh], [root]));
    route('/v1/bundles/pins', pins(10, [fresh]));
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'applied', version: 10, keysetVersion: 2 });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(readFileSync(join(dir, 'pins.json'))).toEqual(pins(10, [fresh]));

    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 2, restoreErrors: [] });
    expect(restarted.version).toBe(10);
  });

  it('a dropped bundle is gone even when the new pins cannot be fetched: baseline, file deleted, not back after restart', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(MAX, [stolen], ATTACK, '2027-01-01T00:00:00Z'));
    await client().refresh();
    expect(existsSync(join(dir, 'pins.json'))).toBe(true);
    route('/v1/keyset/2', keyset(2, [fresh], [root]));
    svc.routes.set('/v1/bundles/pins', { status: 500 });
    const c = client();
    expect(c.version).toBe(MAX);
    await expect(c.refresh()).rejects.toBeInstanceOf(FetchError);
    expect(c.version).toBe(0);
    expect(c.pinsFor('api.example.com')).toEqual([]);
    expect(existsSync(join(dir, 'pins.json'))).toBe(false);
    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 2, pins: null });
  });

  it('a restart whose stored chain already holds the recovery keyset drops and deletes the old bundle', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(MAX, [stolen], ATTACK, '2027-01-01T00:00:00Z'));
    await client().refresh();
    // As if the process died after saving keyset-2 and before deleting pins.json.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'keyset-2.json'), keyset(2, [fresh], [root]));
    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 2, pins: null });
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, 'pins.json'))).toBe(false);
  });

  it('a root rotation is restored after a restart: the new root signs the next keyset', async () => {
    const root2 = newSigner();
    const rootMember = { keys: [{ keyid: keyid(root2.publicKey), publicKey: b64(root2.publicKey) }], threshold: 1, expiresAt: '2028-01-01T00:00:00Z' };
    route('/v1/keyset/1', keyset(1, [stolen], [root, root2], { root: rootMember } as Partial<Payload>));
    await expect(client().refresh()).rejects.toBeInstanceOf(FetchError); // no pins published yet
    route('/v1/keyset/2', keyset(2, [fresh], [root]));
    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 1, trustExpires: '2028-01-01T00:00:00.000Z' });
    await expect(restarted.refresh()).rejects.toBeInstanceOf(SignatureError);
    route('/v1/keyset/2', keyset(2, [fresh], [root2]));
    route('/v1/bundles/pins', pins(3, [fresh]));
    await expect(restarted.refresh()).resolves.toMatchObject({ version: 3, keysetVersion: 2 });
  });

  it('freeze: expired embedded trust refuses bundles with TrustExpiredError and reports it', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(5, [stolen]));
    reports.length = 0;
    const c = client({ trustExpires: '2026-05-01T00:00:00Z' });
    const err = await c.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrustExpiredError);
    expect((err as TrustExpiredError).code).toBe('BUNDLE_TRUST_EXPIRED');
    expect(c.version).toBe(0);
    expect(reports.map((r) => r.type)).toEqual(['trust-expired']);
  });

  it('a 404, 403 or 410 for a type whose applied bundle expired is ExpiredError, not unchanged', async () => {
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(5, [stolen]));
    await client().refresh();
    const later = new Date('2026-06-20T00:00:00Z'); // the bundle expired on 2026-06-08
    for (const status of [404, 403, 410]) {
      svc.routes.set('/v1/bundles/pins', { status });
      await expect(client({ now: later }).refresh()).rejects.toBeInstanceOf(ExpiredError);
    }
    svc.routes.set('/v1/bundles/pins', { status: 404 });
    await expect(client().refresh()).rejects.toBeInstanceOf(FetchError); // not expired: "not published"
  });

  it('options: trustExpires format, rootKeys xor publicKeys, trustExpires only with rootKeys, root threshold', () => {
    const base = { url: svc.url, audience: AUDIENCE, storageDir: dir };
    const key = b64(root.publicKey);
    for (const bad of ['2027-13-01', '2027-02-30', 'next year', '2027-06-01 00:00']) {
      expect(() => new PinClient({ ...base, rootKeys: [key], trustExpires: bad }), bad).toThrow(InputError);
    }
    expect(() => new PinClient({ ...base, rootKeys: [key], trustExpires: '2027-06-01T00:00:00+02:00' })).not.toThrow();
    expect(() => new PinClient({ ...base, rootKeys: [key], publicKeys: [key] })).toThrow(/not both/);
    expect(() => new PinClient({ ...base, publicKeys: [key], trustExpires: '2027-06-01' })).toThrow(/only with rootKeys/);
    expect(() => new PinClient({ ...base, rootKeys: [key], threshold: 2 })).toThrow(/from 1 to 1/);
  });
});

describe('roles mode in createClient (key-value storage)', () => {
  it('recovery removes the dropped bundle from storage; a restart stays on the new key', async () => {
    const saved = new Map<string, string>();
    const storage = { get: (k: string) => saved.get(k) ?? null, set: (k: string, v: string) => void saved.set(k, v), remove: (k: string) => void saved.delete(k) };
    const opts = { url: svc.url, rootKeys: [b64(root.publicKey)], trustExpires: '2027-06-01', audience: AUDIENCE, storage, now: () => NOW };
    route('/v1/keyset/1', keyset(1, [stolen], [root]));
    route('/v1/bundles/pins', pins(MAX, [stolen], ATTACK, '2027-01-01T00:00:00Z'));
    await expect(createClient(opts).refresh()).resolves.toMatchObject({ version: MAX });
    route('/v1/keyset/2', keyset(2, [fresh], [root]));
    svc.routes.set('/v1/bundles/pins', { status: 500 });
    await expect(createClient(opts).refresh()).rejects.toBeInstanceOf(FetchError);
    expect(saved.has('pinctl:pins')).toBe(false);
    route('/v1/bundles/pins', pins(10, [fresh]));
    const c = createClient(opts);
    await expect(c.refresh()).resolves.toMatchObject({ version: 10, keysetVersion: 2 });
    const restarted = createClient(opts);
    await restarted.ready();
    expect(restarted.version).toBe(10);
  });
});
