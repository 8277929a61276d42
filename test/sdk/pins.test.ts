import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PinClient, PinctlError, type PinClientOptions, type PinReport } from '../../src/sdk/index.js';
import type { Signer } from '../../src/bundle/sign.js';
import { AUDIENCE, EXPIRES, NOW, PIN, b64, domain, newSigner, pinsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const P = (n: number) => b64(Buffer.alloc(32, n));
let svc: Service;
let dir: string;
let signer: Signer;
let clock: Date;
let reports: PinReport[];

beforeEach(async () => {
  svc = await startService();
  dir = tempDir();
  signer = newSigner();
  clock = NOW;
  reports = [];
});
afterEach(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (o: Partial<PinClientOptions> = {}) =>
  new PinClient({ url: svc.url, publicKeys: [b64(signer.publicKey)], audience: AUDIENCE, storageDir: dir, now: () => clock, onReport: (r) => reports.push(r), ...o });

async function applied(domains = [domain('api.example.com', [PIN.leaf, PIN.backup])], o: Partial<PinClientOptions> = {}) {
  svc.routes.set('/v1/bundles/pins', { body: sign(pinsPayload({ version: 1, domains }), [signer]) });
  const c = client(o);
  await c.refresh();
  return c;
}

const at = (iso: string) => (clock = new Date(iso));

describe('pinsFor (SPEC §3.1)', () => {
  it('applies includeSubdomains at any depth, and the most specific covering domain wins', async () => {
    const c = await applied([
      domain('example.com', [P(1), P(2)], true),
      domain('api.example.com', [P(3), P(4)], false),
      domain('cdn.example.com', [P(5), P(6)], true),
    ]);
    expect(c.pinsFor('example.com')).toEqual([P(1), P(2)]);
    expect(c.pinsFor('a.b.c.example.com')).toEqual([P(1), P(2)]);
    expect(c.pinsFor('api.example.com')).toEqual([P(3), P(4)]);
    expect(c.pinsFor('v1.api.example.com')).toEqual([P(1), P(2)]); // api does not include subdomains
    expect(c.pinsFor('x.y.cdn.example.com')).toEqual([P(5), P(6)]);
    expect(c.pinsFor('API.Example.COM.')).toEqual([P(3), P(4)]);
    expect(c.pinsFor('badexample.com')).toEqual([]);
    expect(c.pinsFor('example.org')).toEqual([]);
  });

  it('uses the baseline until a bundle applies, then the bundle alone', async () => {
    const baseline = { 'api.example.com': { pins: [P(7), `sha256/${P(8)}`] }, 'legacy.example.com': { includeSubdomains: true, pins: [P(9), P(10)] } };
    const c = client({ baseline });
    expect(c.pinsFor('api.example.com')).toEqual([P(7), P(8)]);
    expect(c.pinsFor('a.legacy.example.com')).toEqual([P(9), P(10)]);
    svc.routes.set('/v1/bundles/pins', { body: sign(pinsPayload({ version: 1, domains: [domain('api.example.com', [P(1), P(2)])] }), [signer]) });
    await c.refresh();
    expect(c.pinsFor('api.example.com')).toEqual([P(1), P(2)]);
    expect(c.pinsFor('a.legacy.example.com')).toEqual([]);
  });

  it('stops enforcing a baseline domain on its expirationDate', () => {
    const c = client({ baseline: { 'api.example.com': { pins: [P(1), P(2)], expirationDate: '2026-06-02' } } });
    expect(c.pinsFor('api.example.com')).toEqual([P(1), P(2)]);
    at('2026-06-02T00:00:00Z');
    expect(c.pinsFor('api.example.com')).toEqual([]);
  });

  it('refuses a baseline that would brick: one pin, a bad pin, a wildcard', () => {
    expect(() => client({ baseline: { 'api.example.com': { pins: [P(1)] } } })).toThrow(/two distinct pins/);
    expect(() => client({ baseline: { 'api.example.com': { pins: [P(1), 'nope'] } } })).toThrow(PinctlError);
    expect(() => client({ baseline: { '*.example.com': { pins: [P(1), P(2)] } } })).toThrow(/host name/);
  });
});

describe('stale policy', () => {
  it('enforce-last-good (default): keeps the pins for graceMs after expiry, then platform trust with one report', async () => {
    const c = await applied(undefined, { graceMs: 2 * 86_400_000 });
    at('2026-06-08T12:00:00Z');
    expect(c.status().pins).toMatchObject({ phase: 'grace', version: 1 });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(reports).toEqual([]);
    at('2026-06-10T00:00:00Z');
    expect(c.status().pins).toMatchObject({ phase: 'lapsed' });
    expect(c.pinsFor('api.example.com')).toEqual([]);
    expect(c.pinsFor('api.example.com')).toEqual([]);
    expect(reports).toEqual([{ type: 'stale-bundle', audience: AUDIENCE, time: '2026-06-10T00:00:00.000Z', bundle: { type: 'pins', version: 1, expiresAt: EXPIRES } }]);
  });

  it('defaults to a 30-day grace', async () => {
    const c = await applied();
    at('2026-07-07T00:00:00Z');
    expect(c.pinsFor('api.example.com')).toHaveLength(2);
    at('2026-07-08T00:00:00Z');
    expect(c.pinsFor('api.example.com')).toEqual([]);
  });

  it('fail-open: platform trust as soon as the bundle expires (after the clock skew)', async () => {
    const c = await applied(undefined, { stalePolicy: 'fail-open' });
    at('2026-06-08T00:04:00Z');
    expect(c.pinsFor('api.example.com')).toHaveLength(2);
    at('2026-06-08T00:05:00Z');
    expect(c.pinsFor('api.example.com')).toEqual([]);
    expect(reports.map((r) => r.type)).toEqual(['stale-bundle']);
  });

  it('a restarted client keeps enforcing an expired stored bundle within the grace period', async () => {
    await applied();
    at('2026-06-20T00:00:00Z');
    const c = client();
    expect(c.version).toBe(1);
    expect(c.pinsFor('api.example.com')).toHaveLength(2);
  });
});

describe('reactNativeConfig', () => {
  it('exports the bundle pins with the date our policy stops enforcing them', async () => {
    const doms = [domain('api.example.com', [P(1), P(2)]), domain('example.net', [P(3), P(4)], true)];
    expect((await applied(doms)).reactNativeConfig()).toEqual({
      'api.example.com': { includeSubdomains: false, publicKeyHashes: [P(1), P(2)], expirationDate: '2026-07-08' },
      'example.net': { includeSubdomains: true, publicKeyHashes: [P(3), P(4)], expirationDate: '2026-07-08' },
    });
    expect(client({ stalePolicy: 'fail-open' }).reactNativeConfig()['api.example.com']?.expirationDate).toBe('2026-06-08');
    expect(client({ graceMs: Infinity }).reactNativeConfig()['api.example.com']).not.toHaveProperty('expirationDate');
    at('2026-08-01T00:00:00Z');
    expect(client().reactNativeConfig()).toEqual({});
  });

  it('exports the baseline when no bundle was applied', () => {
    const c = client({ baseline: { 'api.example.com': { pins: [P(1), P(2)], expirationDate: '2027-01-01' }, 'b.example.com': { includeSubdomains: true, pins: [P(3), P(4)] } } });
    expect(c.reactNativeConfig()).toEqual({
      'api.example.com': { includeSubdomains: false, publicKeyHashes: [P(1), P(2)], expirationDate: '2027-01-01' },
      'b.example.com': { includeSubdomains: true, publicKeyHashes: [P(3), P(4)] },
    });
  });
});
