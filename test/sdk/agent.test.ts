import https from 'node:https';
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PinClient, PinningError, type PinClientOptions } from '../../src/sdk/index.js';
import type { Signer } from '../../src/bundle/sign.js';
import { readPki } from '../helpers/fixtures.js';
import { AUDIENCE, NOW, PIN, b64, domain, newSigner, pinsPayload, rootsPayload, sign, startAppServer, startService, tempDir, until, type Service } from './helpers.js';

const HOST = 'api.pinctl.test';
const CA = readPki('root.pem');
let svc: Service;
let app: Awaited<ReturnType<typeof startAppServer>>;
let dir: string;
let signer: Signer;

beforeEach(async () => {
  svc = await startService();
  app = await startAppServer();
  dir = tempDir();
  signer = newSigner();
});
afterEach(async () => {
  await Promise.all([svc.close(), app.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const client = (o: Partial<PinClientOptions> = {}) =>
  new PinClient({ url: svc.url, publicKeys: [b64(signer.publicKey)], audience: AUDIENCE, storageDir: dir, now: () => NOW, ...o });

async function publish(version: number, pins: string[], host = HOST) {
  svc.routes.set('/v1/bundles/pins', { body: sign(pinsPayload({ version, domains: [domain(host, pins)] }), [signer]) });
}

function get(agent: https.Agent, servername = HOST, extra: https.RequestOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: app.port, servername, path: '/', agent, ...extra }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

describe('httpsAgent', () => {
  it('passes a pinned leaf, fails when the server changes key (and reports it), passes again after a new bundle', async () => {
    await publish(1, [PIN.leaf, PIN.backup]);
    const c = client({ reportUri: true });
    await c.refresh();
    const agent = c.httpsAgent({ ca: CA });
    await expect(get(agent)).resolves.toBe('ok');

    app.use('chain-new-key.pem', 'leaf-new-key.key');
    const err = await get(agent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinningError);
    expect(err).toMatchObject({ host: HOST, port: app.port, reason: 'pin-mismatch', chainPins: [PIN.leafNew, PIN.intermediate, PIN.root], expectedPins: [PIN.leaf, PIN.backup] });
    expect((err as Error).message).toContain(PIN.leafNew);
    await until(() => svc.reports.length > 0);
    expect(svc.reports[0]).toMatchObject({
      type: 'pin-mismatch',
      audience: AUDIENCE,
      domain: HOST,
      port: app.port,
      chainPins: [PIN.leafNew, PIN.intermediate, PIN.root],
      expectedPins: [PIN.leaf, PIN.backup],
      time: NOW.toISOString(),
      bundle: { type: 'pins', version: 1 },
    });

    await publish(2, [PIN.leafNew, PIN.backup]);
    await c.refresh();
    await expect(get(agent)).resolves.toBe('ok');
  });

  it('does not reuse a kept-alive connection once a pin was removed', async () => {
    await publish(1, [PIN.leaf, PIN.backup]);
    const c = client();
    await c.refresh();
    const agent = c.httpsAgent({ ca: CA, keepAlive: true });
    await expect(get(agent)).resolves.toBe('ok');
    await publish(2, [PIN.leafNew, PIN.backup]);
    await c.refresh();
    await expect(get(agent)).rejects.toBeInstanceOf(PinningError);
    agent.destroy();
  });

  it('does not resume a TLS session, which would skip the pin check', async () => {
    await publish(1, [PIN.leaf, PIN.backup]);
    const c = client();
    await c.refresh();
    const agent = c.httpsAgent({ ca: CA });
    await expect(get(agent)).resolves.toBe('ok');
    await publish(2, [PIN.leafNew, PIN.backup]);
    await c.refresh();
    await expect(get(agent)).rejects.toBeInstanceOf(PinningError);
  });

  it('keeps normal validation: unpinned hosts pass, a wrong name or an unknown CA fails whatever the request says', async () => {
    await publish(1, [PIN.leafNew, PIN.backup]);
    const c = client();
    await c.refresh();
    await expect(get(c.httpsAgent({ ca: CA }), 'localhost')).resolves.toBe('ok');
    await expect(get(c.httpsAgent({ ca: CA }), 'other.pinctl.test')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const unknownCa = await get(c.httpsAgent(), 'localhost', { rejectUnauthorized: false }).catch((e: unknown) => e);
    expect(unknownCa).toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  });

  it('uses the baseline before any bundle', async () => {
    const c = client({ baseline: { [HOST]: { pins: [PIN.intermediate, PIN.backup] } } });
    await expect(get(c.httpsAgent({ ca: CA }))).resolves.toBe('ok');
    app.use('chain-intermediate2.pem', 'leaf.key');
    await expect(get(c.httpsAgent({ ca: CA }))).rejects.toBeInstanceOf(PinningError);
  });
});

describe('dispatcher (fetch)', () => {
  it('enforces the same pins on fetch', async () => {
    await publish(1, [PIN.leaf, PIN.backup]);
    const c = client();
    await c.refresh();
    const dispatcher = c.dispatcher({ connect: { ca: CA, servername: HOST } });
    const go = () => fetch(`https://127.0.0.1:${app.port}/`, { dispatcher } as RequestInit);
    expect(await (await go()).text()).toBe('ok');

    // The kept-alive connection to the old key would pass bundle 3's pins: it must not be reused.
    app.use('chain-new-key.pem', 'leaf-new-key.key');
    await publish(2, [PIN.leafNew, PIN.backup]);
    await c.refresh();
    expect(await (await go()).text()).toBe('ok');

    await publish(3, [PIN.leaf, PIN.backup]);
    await c.refresh();
    const err = await go().catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(PinningError);
    expect((err as Error).cause).toMatchObject({ host: HOST, reason: 'pin-mismatch', chainPins: [PIN.leafNew, PIN.intermediate, PIN.root] });
    await dispatcher.close();
  });
});

describe('trust-root bundles (SPEC §3.2)', () => {
  it('passes a chain ending in root.pem only while root.pem is listed', async () => {
    await publish(1, [PIN.leaf, PIN.backup], 'unrelated.example.com');
    svc.routes.set('/v1/bundles/trust-roots', { body: sign(rootsPayload({ version: 1, roots: ['root-rsa.pem'] }), [signer]) });
    const c = client();
    await expect(c.refresh()).resolves.toMatchObject({ trustRoots: 'applied' });
    const agent = c.httpsAgent({ ca: readPki('roots.pem') });
    const err = await get(agent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinningError);
    expect(err).toMatchObject({ reason: 'untrusted-root', expectedPins: [PIN.rootRsa], chainPins: [PIN.leaf, PIN.intermediate, PIN.root] });

    svc.routes.set('/v1/bundles/trust-roots', { body: sign(rootsPayload({ version: 2, roots: ['root-rsa.pem', 'root.pem'] }), [signer]) });
    await c.refresh();
    await expect(get(agent)).resolves.toBe('ok');
  });
});
