/**
 * pinctl/sdk/core on Node: every conformance case and Ed25519 vector in-process, the createClient
 * scenario, and createClient with Node's global fetch against a real HTTP service on 127.0.0.1.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, FetchError, SignatureError, TooLargeError, type CoreClientOptions } from '../../src/sdk/core/index.js';
import { BUNDLES_DIR, loadManifest } from '../bundle/conformance.js';
import { runVectors } from '../hermes/vectors-run.js';
import { runClientScenario } from '../hermes/client-scenario.js';
import { AUDIENCE, NOW, PIN, b64, domain, newSigner, pinsPayload, sign, startService, type Service } from './helpers.js';

const ED25519 = join(import.meta.dirname, '..', '..', '..', 'shared', 'vectors', 'ed25519');
const manifest = loadManifest();
const rolesManifest = loadManifest('vectors-roles.json');
const files: Record<string, Uint8Array> = {};
for (const f of readdirSync(join(BUNDLES_DIR, manifest.directory))) files[f] = new Uint8Array(readFileSync(join(BUNDLES_DIR, manifest.directory, f)));

describe('vectors on the core (node)', () => {
  it('every conformance case and every Ed25519 vector agree', () => {
    const wycheproof = JSON.parse(readFileSync(join(ED25519, 'wycheproof_ed25519_test.json'), 'utf8'));
    const speccheck = JSON.parse(readFileSync(join(ED25519, 'speccheck_cases.json'), 'utf8'));
    const r = runVectors({ manifest, rolesManifest, files, wycheproof, speccheck });
    expect(r.failures).toEqual([]);
    const counts = { manifest: manifest.cases.length, roles: rolesManifest.cases.length, wycheproof: wycheproof.numberOfTests, speccheck: speccheck.length };
    expect(r.counts).toEqual(counts);
    expect(rolesManifest.cases.length).toBe(18);
    expect(r.passed).toBe(manifest.cases.length + rolesManifest.cases.length + 163);
  });
  it('the createClient scenario passes', async () => {
    const checks = await runClientScenario(files, new Date(manifest.defaults.now));
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.length).toBeGreaterThan(5);
  });
});

describe('createClient with global fetch against a service on 127.0.0.1', () => {
  let svc: Service;
  const signer = newSigner();
  const second = newSigner();
  const saved = new Map<string, string>();
  const storage = { get: async (k: string) => saved.get(k) ?? null, set: async (k: string, v: string) => void saved.set(k, v) };
  const opts = (o: Partial<CoreClientOptions> = {}): CoreClientOptions => ({ url: svc.url, publicKeys: [b64(signer.publicKey)], audience: AUDIENCE, storage, now: () => NOW, ...o });
  const pins = (version: number, signers = [signer]) => sign(pinsPayload({ version, domains: [domain('api.example.com', [PIN.leaf, PIN.backup], true)] }), signers);

  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(() => svc.close());

  it('refresh, conditional GET, pinsFor, reactNativeConfig', async () => {
    svc.routes.set('/v1/bundles/pins', { body: pins(3), etag: '"v3"' });
    const client = createClient(opts());
    await expect(client.refresh()).resolves.toEqual({ pins: 'applied', trustRoots: 'none', version: 3, keysetVersion: 0 });
    expect(client.pinsFor('a.b.api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(client.reactNativeConfig()['api.example.com']).toMatchObject({ includeSubdomains: true, publicKeyHashes: [PIN.leaf, PIN.backup] });
    await expect(client.refresh()).resolves.toMatchObject({ pins: 'unchanged' });
    expect(svc.requests.at(-2)?.headers['if-none-match']).toBe('"v3"');
    expect(saved.get('pinctl:pins')).toBe(pins(3).toString('utf8'));
  });

  it('publicKeys (SPEC 1.0) with a threshold of 2 needs both signatures', async () => {
    const keys = [b64(signer.publicKey), b64(second.publicKey)];
    svc.routes.set('/v1/bundles/pins', { body: pins(4) });
    const storage2 = { get: async () => null, set: async () => {} };
    await expect(createClient(opts({ publicKeys: keys, threshold: 2, storage: storage2 })).refresh()).rejects.toBeInstanceOf(SignatureError);
    svc.routes.set('/v1/bundles/pins', { body: pins(4, [signer, second]) });
    await expect(createClient(opts({ publicKeys: keys, threshold: 2, storage: storage2 })).refresh()).resolves.toMatchObject({ version: 4 });
    expect(() => createClient(opts({ publicKeys: keys, threshold: 3 }))).toThrow(/threshold: expected an integer from 1 to 2/);
    expect(() => createClient(opts({ rootKeys: keys }))).toThrow(/rootKeys .* or publicKeys .*, not both/);
  });

  it('size cap while streaming, timeout, redirects refused', async () => {
    const empty = { get: async () => null, set: async () => {} };
    svc.routes.set('/v1/bundles/pins', { mode: 'endless' });
    await expect(createClient(opts({ storage: empty, maxBytes: 64 * 1024 })).refresh()).rejects.toBeInstanceOf(TooLargeError);
    svc.routes.set('/v1/bundles/pins', { mode: 'slow' });
    await expect(createClient(opts({ storage: empty, timeoutMs: 300 })).refresh()).rejects.toThrow(/no complete answer within 300 ms/);
    svc.routes.set('/v1/bundles/pins', { status: 302, body: '' });
    const e = await createClient(opts({ storage: empty })).refresh().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FetchError);
    expect((e as FetchError).hint).toMatch(/redirects are not followed/);
  });
});
