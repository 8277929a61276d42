import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AudienceError,
  EnvelopeError,
  ExpiredError,
  FetchError,
  NotYetValidError,
  PayloadError,
  PayloadTypeError,
  PinClient,
  RollbackError,
  SignatureError,
  TooLargeError,
  type PinClientOptions,
} from '../../src/sdk/index.js';
import { publicKeyPem } from '../../src/bundle/keys.js';
import type { Signer } from '../../src/bundle/sign.js';
import { AUDIENCE, NOW, PIN, b64, domain, newSigner, pinsPayload, rootsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const DOMAINS = [domain('api.example.com', [PIN.leaf, PIN.backup])];
const PINS_PATH = '/v1/bundles/pins';

let svc: Service;
let dir: string;
let signer: Signer;

beforeEach(async () => {
  svc = await startService();
  dir = tempDir();
  signer = newSigner();
});
afterEach(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (o: Partial<PinClientOptions> = {}) =>
  new PinClient({ url: svc.url, publicKeys: [b64(signer.publicKey)], audience: AUDIENCE, storageDir: dir, now: () => NOW, ...o });
const pins = (version: number, extra: Partial<Parameters<typeof pinsPayload>[0]> = {}, signers = [signer]) =>
  sign(pinsPayload({ version, domains: DOMAINS, ...extra }), signers);
const serve = (body: Buffer | string, etag?: string) => svc.routes.set(PINS_PATH, { body, etag });

describe('refresh', () => {
  it('applies a signed bundle, persists it, and a new client starts from it', async () => {
    const v1 = pins(1);
    serve(v1);
    const c = client();
    expect(c.version).toBe(0);
    await expect(c.refresh()).resolves.toEqual({ pins: 'applied', trustRoots: 'none', version: 1, keysetVersion: 0 });
    expect(c.version).toBe(1);
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(readFileSync(join(dir, 'pins.json'))).toEqual(v1);
    expect(svc.requests.map((r) => r.url)).toEqual(['/v1/keyset/1', PINS_PATH, '/v1/bundles/trust-roots']);

    const again = client();
    expect(again.version).toBe(1);
    expect(again.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(again.status().restoreErrors).toEqual([]);
  });

  it('takes PEM public keys as well as base64 raw keys', async () => {
    serve(pins(1));
    await expect(client({ publicKeys: [publicKeyPem(signer.publicKey)] }).refresh()).resolves.toMatchObject({ pins: 'applied' });
  });

  it('reports unchanged for the same bytes, and for 304 on If-None-Match', async () => {
    serve(pins(1));
    const c = client();
    await c.refresh();
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'unchanged', version: 1 });

    serve(pins(2), '"v2"');
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'applied', version: 2 });
    svc.requests.length = 0;
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'unchanged', version: 2 });
    const get = svc.requests.find((r) => r.url === PINS_PATH)!;
    expect(get.headers['if-none-match']).toBe('"v2"');
  });

  it('applies trust roots when the service has them', async () => {
    serve(pins(1));
    svc.routes.set('/v1/bundles/trust-roots', { body: sign(rootsPayload({ version: 1, roots: ['root.pem'] }), [signer]) });
    const c = client();
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'applied', trustRoots: 'applied' });
    expect(client().status().trustRoots).toMatchObject({ version: 1, phase: 'fresh' });
    // A later 404 does not remove them: anyone on a plain-http path could answer 404.
    svc.routes.delete('/v1/bundles/trust-roots');
    await expect(c.refresh()).resolves.toMatchObject({ trustRoots: 'unchanged' });
    expect(c.status().trustRoots).toMatchObject({ version: 1 });
  });

  it('accepts a base URL with a path prefix, or the pins URL itself', async () => {
    svc.routes.set(`/cdn${PINS_PATH}`, { body: pins(1) });
    await expect(client({ url: `${svc.url}/cdn/` }).refresh()).resolves.toMatchObject({ pins: 'applied' });
    rmSync(dir, { recursive: true });
    await expect(client({ url: `${svc.url}/cdn${PINS_PATH}` }).refresh()).resolves.toMatchObject({ pins: 'applied' });
    expect(svc.requests.map((r) => r.url).filter((u) => !u.startsWith('/cdn/'))).toEqual([]);
  });

  it('rejects with FetchError when no pin bundle is published', async () => {
    await expect(client().refresh()).rejects.toBeInstanceOf(FetchError);
  });
});

/** Replaces members of a served envelope, keeping its signature. */
function tamper(bytes: Buffer, edit: (env: { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] }) => void): Buffer {
  const env = JSON.parse(bytes.toString('utf8'));
  edit(env);
  return Buffer.from(JSON.stringify(env));
}

describe('every attack keeps the last good bundle and throws its class', () => {
  const MAX = 64 * 1024;
  const cases: [string, () => Buffer | string | { mode: 'slow' | 'endless' } | { status: number }, new (...a: never[]) => Error][] = [
    ['tampered payload', () => tamper(pins(3), (e) => (e.payload = b64(Buffer.from(Buffer.from(e.payload, 'base64').toString().replace('"version":3', '"version":4'))))), SignatureError],
    ['tampered signature', () => tamper(pins(3), (e) => (e.signatures[0]!.sig = b64(Buffer.from(e.signatures[0]!.sig, 'base64').map((x, i) => (i === 5 ? x ^ 1 : x))))), SignatureError],
    ['a signature by an unknown key', () => pins(3, {}, [newSigner()]), SignatureError],
    ['an empty keyid does not help an unknown key', () => tamper(pins(3, {}, [newSigner()]), (e) => (e.signatures[0]!.keyid = '')), SignatureError],
    ['a trust-roots envelope at the pins URL', () => sign(rootsPayload({ version: 3, roots: ['root.pem'] }), [signer]), PayloadTypeError],
    ['a pins payload signed as trust-roots', () => sign(pinsPayload({ version: 3, domains: DOMAINS }), [signer], 'trust-roots'), PayloadTypeError],
    ['another audience', () => pins(3, { audience: 'com.other.app' }), AudienceError],
    ['a rollback to an older version', () => pins(1), RollbackError],
    ['a replay of the current version with other bytes', () => pins(2, { domains: [domain('api.example.com', [PIN.leafNew, PIN.backup])] }), RollbackError],
    ['an expired bundle', () => pins(3, { issuedAt: '2026-05-01T00:00:00Z', expiresAt: '2026-05-20T00:00:00Z' }), ExpiredError],
    ['a bundle issued in the future', () => pins(3, { issuedAt: '2026-06-02T00:00:00Z', expiresAt: '2026-06-09T00:00:00Z' }), NotYetValidError],
    ['a payload with a single pin', () => pins(3, { domains: [domain('api.example.com', [PIN.leaf])] }), PayloadError],
    ['malformed JSON', () => '{"payloadType": "application/vnd.pinctl.pins.v1+json", "payload": ', EnvelopeError],
    ['malformed base64', () => tamper(pins(3), (e) => (e.payload = `${e.payload.slice(0, 8)} ${e.payload.slice(8)}`)), EnvelopeError],
    ['an oversized response', () => Buffer.alloc(MAX + 1, 0x20), TooLargeError],
    ['an endless chunked response', () => ({ mode: 'endless' }), TooLargeError],
    ['a server that never answers', () => ({ mode: 'slow' }), FetchError],
    ['an HTTP error', () => ({ status: 500 }), FetchError],
  ];

  for (const [name, attack, ErrorClass] of cases) {
    it(name, async () => {
      const good = pins(2);
      serve(good);
      const c = client({ maxBytes: MAX, timeoutMs: 400 });
      await c.refresh();
      const r = attack();
      svc.routes.set(PINS_PATH, typeof r === 'string' || Buffer.isBuffer(r) ? { body: r } : r);

      const err = await c.refresh().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ErrorClass);
      expect(c.version).toBe(2);
      expect(c.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
      expect(readFileSync(join(dir, 'pins.json'))).toEqual(good);
      expect(client().version).toBe(2);
    });
  }

  it('aborts an endless response at the cap instead of reading on', async () => {
    svc.routes.set(PINS_PATH, { mode: 'endless' });
    await expect(client({ maxBytes: MAX }).refresh()).rejects.toBeInstanceOf(TooLargeError);
    await new Promise((r) => setTimeout(r, 100));
    expect(svc.endless.closed).toBe(true);
    expect(svc.endless.written).toBeLessThan(100 * MAX);
    expect(existsSync(join(dir, 'pins.json'))).toBe(false);
  });
});

describe('review regressions', () => {
  it('a freeze (same bytes, or 304 forever) surfaces ExpiredError once stale; the bundle stays applied', async () => {
    serve(pins(1), '"v1"');
    let now = NOW;
    const c = client({ now: () => now });
    await c.refresh();
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'unchanged' }); // 304 while fresh
    now = new Date('2026-07-01T00:00:00Z'); // EXPIRES is 2026-06-08
    await expect(c.refresh()).rejects.toBeInstanceOf(ExpiredError); // 304 while stale
    serve(pins(1)); // the same bytes again, without ETag
    await expect(c.refresh()).rejects.toBeInstanceOf(ExpiredError);
    expect(c.version).toBe(1);
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
  });
  it('a 403 for the next keyset (what S3 answers for a missing object) ends rotation and pins still update', async () => {
    serve(pins(1));
    svc.routes.set('/v1/keyset/1', { status: 403, body: '<Error>AccessDenied</Error>' });
    await expect(client().refresh()).resolves.toMatchObject({ pins: 'applied', version: 1, keysetVersion: 0 });
  });
});
