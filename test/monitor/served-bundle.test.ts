/**
 * `pinsFrom: { bundle: URL, publicKey, audience }`: the monitor pulls the bundle a service serves
 * (a real HTTP server on 127.0.0.1), verifies it with the SDK, compares a real TLS endpoint with
 * the pins in force, and opens findings when the served bundle fails verification, cannot be
 * fetched or nears its expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { publicKeyPem } from '../../src/bundle/keys.js';
import { AUDIENCE, domain, newSigner, pinsPayload, sign, startService, type Service } from '../sdk/helpers.js';
import { monitorCli, pkiFile, tempDir, writeConfig } from './helpers.js';

const HOST = 'api.pinctl.test';
const LEAF = opensslPin('leaf.pem');
const LEAF_NEW = opensslPin('leaf-new-key.pem');
const BACKUP = opensslPin('backup.key');
const NOW = new Date('2026-06-01T00:00:00Z');
const signer = newSigner();
const foreign = newSigner();
let server: Running;
let service: Service;

beforeAll(async () => {
  server = await tlsServer('chain.pem', 'leaf.key');
  service = await startService();
});
afterAll(async () => {
  await server.close();
  await service.close();
});

function publish(version: number, pins: string[], opts: { expiresAt?: string; by?: typeof signer } = {}) {
  const payload = pinsPayload({ version, issuedAt: '2026-05-31T00:00:00Z', expiresAt: opts.expiresAt ?? '2026-06-30T00:00:00Z', domains: [domain(HOST, pins)] });
  service.routes.set('/v1/bundles/pins', { body: sign(payload, [opts.by ?? signer]) });
}

function setup(extra = ''): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'signing.pub.pem'), publicKeyPem(signer.publicKey));
  return writeConfig(
    dir,
    `schedule: "*/5 * * * *"
state: ./state
retries: 0
timeout: 2s
endpoints:
  - host: ${HOST}
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pinsFrom: { bundle: "${service.url}", publicKey: ./signing.pub.pem, audience: ${AUDIENCE}${extra} }
`,
  );
}

async function once(cfg: string, now = NOW) {
  const r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now });
  if (!r.stdout) throw new Error(`no stdout (exit ${r.code}): ${r.stderr}`);
  expect(r.stderr).not.toMatch(/TypeError|at .*\.js:\d+/);
  return { code: r.code, json: JSON.parse(r.stdout) as Record<string, any> };
}
const kinds = (j: Record<string, any>) => (j.open as { kind: string; severity: string }[]).map((f) => `${f.kind}:${f.severity}`).sort();

describe('pinsFrom a served bundle', () => {
  it('compares the endpoint with the pins of the bundle the service serves', async () => {
    const cfg = setup();
    publish(1, [LEAF, BACKUP]);
    const ok = await once(cfg);
    expect(ok.code).toBe(0);
    expect(ok.json.servedBundles).toEqual([
      { url: service.url, audience: AUDIENCE, version: 1, expiresAt: '2026-06-30T00:00:00Z', keysetVersion: 0, error: null, uncovered: [] },
    ]);
    expect(ok.json.open).toEqual([]);
    // The service publishes pins that do not match what the endpoint serves: apps would fail.
    publish(2, [LEAF_NEW, BACKUP]);
    const bad = await once(cfg);
    expect(bad.code).toBe(1);
    expect(bad.json.servedBundles[0].version).toBe(2);
    expect(kinds(bad.json)).toEqual(['pin-mismatch:critical']);
  });

  it('a served bundle that fails verification is critical, and the last good pins stay the reference', async () => {
    const cfg = setup();
    publish(1, [LEAF, BACKUP]);
    expect((await once(cfg)).code).toBe(0);
    publish(2, [LEAF_NEW, BACKUP], { by: foreign }); // signed by a key apps do not trust
    const r = await once(cfg);
    expect(r.code).toBe(1);
    expect(r.json.servedBundles[0]).toMatchObject({ version: 1, error: { code: 'BUNDLE_SIGNATURE' } });
    expect(kinds(r.json)).toEqual(['bundle-unavailable:critical']); // no pin-mismatch: v1 still matches
    publish(3, [LEAF, BACKUP]);
    const back = await once(cfg);
    expect(back.code).toBe(0);
    expect(back.json.recovered.map((f: { of: string; resolution: string }) => [f.of, f.resolution])).toEqual([
      ['bundle-unavailable', 'version 3 is served and verifies'],
    ]);
  });

  it('a service that cannot be reached is a warning; with no bundle ever verified the pins are not checked', async () => {
    const cfg = setup();
    service.routes.delete('/v1/bundles/pins');
    const r = await once(cfg);
    expect(r.json.servedBundles[0]).toMatchObject({ version: null, error: { code: 'BUNDLE_FETCH' }, uncovered: [`${HOST}:${server.port}`] });
    expect(kinds(r.json)).toEqual(['bundle-unavailable:warning']);
  });

  it('warns before the served bundle expires and is critical at the last threshold and after', async () => {
    const cfg = setup(', expiryWarningDays: [10, 2]');
    publish(1, [LEAF, BACKUP], { expiresAt: '2026-06-15T00:00:00Z' });
    expect(kinds((await once(cfg)).json)).toEqual([]); // 14 days left
    expect(kinds((await once(cfg, new Date('2026-06-06T00:00:00Z'))).json)).toEqual(['bundle-expiry:warning']); // 9 days
    const last = await once(cfg, new Date('2026-06-14T00:00:00Z')); // 1 day
    expect(kinds(last.json)).toEqual(['bundle-expiry:critical']);
    const expired = await once(cfg, new Date('2026-06-16T00:00:00Z'));
    expect(kinds(expired.json)).toEqual(['bundle-expiry:critical']);
    expect(expired.json.open[0].title).toMatch(/expired at 2026-06-15T00:00:00Z/);
    // The expired bundle's pins are still what devices enforce (grace): the endpoint is still checked.
    expect(expired.json.servedBundles[0]).toMatchObject({ version: 1, error: { code: 'BUNDLE_EXPIRED' } });
    publish(2, [LEAF, BACKUP], { expiresAt: '2026-07-15T00:00:00Z' });
    const renewed = await once(cfg, new Date('2026-06-16T00:00:00Z'));
    expect(renewed.code).toBe(0);
    expect(renewed.json.recovered[0]).toMatchObject({ of: 'bundle-expiry', resolution: 'version 2 is served, valid until 2026-07-15T00:00:00Z' });
  });

  it('refuses a config without the keys, or with both forms', async () => {
    const dir = tempDir();
    const bad = writeConfig(
      dir,
      `endpoints:
  - host: ${HOST}
    pinsFrom: { bundle: "${service.url}", audience: ${AUDIENCE} }
`,
    );
    const r = await monitorCli(['monitor', 'once', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/endpoints\[0\]\.pinsFrom.*publicKey: FILE/);
  });
});
