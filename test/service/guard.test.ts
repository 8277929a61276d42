/**
 * What the guards let through, with real TLS servers on 127.0.0.1: the pins guard probes only
 * the domains of the posted pin set (at most 64 addresses; other host names only if they resolve
 * to the domain), and trust roots must be valid now and in the configured trust store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { tlsServer } from '../helpers/servers.js';
import { ServeOptions, startServe } from '../../cli/commands/serve.js';
import { probeTls, Prober, ProbeRequest } from '../../src/net/probe.js';
import { makeResolver } from '../../src/net/resolve.js';
import { keyPair, NOW, pinsJson, PIN, tempDir, testIO, DomainSpec } from './helpers.js';

const TOKEN = 'guard-admin-token-0123456789abcdef';
let tls: Awaited<ReturnType<typeof tlsServer>>;
beforeAll(async () => {
  tls = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(async () => {
  await tls.close();
});

/** DNS for the test: api.pinctl.test and its alias at 127.0.0.1, elsewhere.pinctl.test at 127.0.0.2. */
const DNS: Record<string, string[]> = { 'api.pinctl.test': ['127.0.0.1'], 'alias.pinctl.test': ['127.0.0.1'], 'elsewhere.pinctl.test': ['127.0.0.2'] };
const resolver = makeResolver(async (host) => {
  const a = DNS[host];
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: 4 }));
});

async function start(extra: Partial<ServeOptions> = {}, now = NOW) {
  const probes: ProbeRequest[] = [];
  const probe: Prober = (req) => {
    probes.push(req);
    return probeTls(req);
  };
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN }, resolve: resolver, probe, now });
  const data = tempDir();
  const s = await startServe({ listen: '127.0.0.1:0', key: [keyPair().key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', ...extra }, io);
  return { ...s, io, probes, data };
}

async function post(url: string, body: string) {
  const r = await fetch(url, { method: 'POST', body, headers: { Authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const at = (host: string, addresses: string[] = []) => ({ host, port: tls.port, addresses });
const set = (d: Partial<DomainSpec> & { endpoints: DomainSpec['endpoints'] }) => pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup], ...d }]);

describe('the pins guard probes only the domains of the posted pin set', () => {
  it('the domain itself, a subdomain under includeSubdomains, or a name resolving to the domain: probed', async () => {
    const s = await start();
    try {
      expect((await post(`${s.url}/v1/bundles/pins`, set({ endpoints: [at('api.pinctl.test', ['127.0.0.1'])] }))).status).toBe(200);
      expect((await post(`${s.url}/v1/bundles/pins`, set({ endpoints: [at('alias.pinctl.test')] }))).status).toBe(200);
      expect((await post(`${s.url}/v1/bundles/pins`, set({ includeSubdomains: true, endpoints: [at('eu.api.pinctl.test', ['127.0.0.1'])] }))).status).toBe(200);
      expect(s.probes.map((p) => [p.host, p.address])).toEqual([
        ['api.pinctl.test', '127.0.0.1'],
        ['alias.pinctl.test', '127.0.0.1'],
        ['eu.api.pinctl.test', '127.0.0.1'],
      ]);
    } finally {
      await s.stop();
    }
  });

  it('refuses (400, nothing probed, nothing signed) another host, an unresolvable one, a subdomain without includeSubdomains', async () => {
    const s = await start();
    try {
      for (const [endpoints, why] of [
        [[at('elsewhere.pinctl.test')], /endpoint host elsewhere\.pinctl\.test is neither the domain nor a name resolving to its addresses/],
        [[at('elsewhere.pinctl.test', ['127.0.0.1'])], /endpoint host elsewhere\.pinctl\.test/],
        [[at('db.internal.test', ['127.0.0.1'])], /endpoint host db\.internal\.test/],
        [[at('eu.api.pinctl.test', ['127.0.0.1'])], /endpoint host eu\.api\.pinctl\.test/],
        [[at('api.pinctl.test', ['not-an-ip'])], /endpoint address "not-an-ip" is not an IP address/],
      ] as const) {
        const r = await post(`${s.url}/v1/bundles/pins`, set({ endpoints: [...endpoints] }));
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.error).toMatch(why);
        expect(r.body.error).toMatch(/nothing was probed or signed$/);
      }
      expect(s.probes).toEqual([]);
      expect((await fetch(`${s.url}/v1/bundles/pins`)).status).toBe(404);
    } finally {
      await s.stop();
    }
  });

  it('probes at most 64 addresses: 65 are refused before any probe', async () => {
    const s = await start();
    try {
      const addresses = (n: number) => Array.from({ length: n }, (_, i) => `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      const r = await post(`${s.url}/v1/bundles/pins`, set({ endpoints: [at('api.pinctl.test', addresses(65))] }));
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/more than 64 addresses/);
      expect(s.probes).toEqual([]);
    } finally {
      await s.stop();
    }
  });
});

describe('the trust-roots guard', () => {
  it('accepts roots valid now and in --ca-file; refuses unknown, expired and not-yet-valid roots (409); ?force=1 publishes and is logged', async () => {
    const s = await start({ caFile: pkiFile('root.pem') });
    try {
      const ok = await post(`${s.url}/v1/bundles/trust-roots`, readPki('root.pem').toString());
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toMatchObject({ guard: { checked: 1 }, forced: false });

      // root-rsa is a fine root, but not in the store serve was given.
      const unknown = await post(`${s.url}/v1/bundles/trust-roots`, readPki('roots.pem').toString());
      expect(unknown.status).toBe(409);
      expect(unknown.body).toMatchObject({ code: 'TRUST_ROOTS_GUARD_FAILED' });
      expect(unknown.body.error).toMatch(/^trust-roots guard: pinctl Test Root CA RSA: not in the trust store \(.*root\.pem\); nothing was signed$/);
      expect(unknown.body.failures).toEqual([expect.objectContaining({ name: 'pinctl Test Root CA RSA', reason: 'unknown' })]);
      const untrusted = await post(`${s.url}/v1/bundles/trust-roots`, readPki('example-untrusted-root.pem').toString());
      expect(untrusted.status).toBe(409);

      // A non-CA certificate never gets that far (400).
      expect((await post(`${s.url}/v1/bundles/trust-roots`, readPki('leaf.pem').toString())).status).toBe(400);

      const forced = await fetch(`${s.url}/v1/bundles/trust-roots?force=1`, { method: 'POST', body: readPki('roots.pem'), headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(forced.status).toBe(200);
      expect(await forced.json()).toMatchObject({ version: 2, forced: true, guard: { skipped: true } });
      const log = readFileSync(join(s.data, 'publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log.map((l) => [l.type, l.version, l.forced])).toEqual([['trust-roots', 1, false], ['trust-roots', 2, true]]);
    } finally {
      await s.stop();
    }
    // The fixture roots are valid 2025-01-01 to 2050-12-31.
    for (const [now, reason] of [[new Date('2051-06-01T00:00:00Z'), 'expired'], [new Date('2024-06-01T00:00:00Z'), 'not-yet-valid']] as const) {
      const late = await start({ caFile: pkiFile('root.pem') }, now);
      try {
        const r = await post(`${late.url}/v1/bundles/trust-roots`, readPki('root.pem').toString());
        expect(r.status).toBe(409);
        expect(r.body.failures).toEqual([expect.objectContaining({ reason })]);
      } finally {
        await late.stop();
      }
    }
  });

  it('--ca-file that cannot be read fails the start (exit 2)', async () => {
    await expect(start({ caFile: join(tempDir(), 'missing.pem') })).rejects.toThrow(/missing\.pem/);
  });
});
