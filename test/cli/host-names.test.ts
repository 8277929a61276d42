/**
 * One host-name grammar (src/vocab/hostname.ts): generate, bundle create, serve and the SDK
 * (TrustedStore, which PinClient applies bundles through) accept or refuse each name alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile } from '../helpers/fixtures.js';
import { keyPair, NOW, PIN, pinsJson, tempDir, testIO } from '../service/helpers.js';
import { startServe } from '../../cli/commands/serve.js';
import { signPayload } from '../../src/service/payloads.js';
import { signerFromPem } from '../../src/bundle/sign.js';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { PinsPayload } from '../../src/bundle/types.js';

const TOKEN = 'test-admin-token-0123456789abcdef';
const ACCEPTED = ['api.example.com', 'a-b.example.com', 'xn--bcher-kva.example', '192.0.2.10', '2001:db8::1', 'localhost'];
// (A port is endpoint syntax for generate, not part of a name: not a case here.)
const REFUSED = ['under_score.example.com', '*.example.com', 'api..example.com', '-api.example.com', `${'a'.repeat(64)}.example.com`];

const key = keyPair();
let serve: Awaited<ReturnType<typeof startServe>>;
beforeAll(async () => {
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
  serve = await startServe({ listen: '127.0.0.1:0', key: [key.key], data: tempDir(), audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min' }, io);
});
afterAll(async () => serve.stop());

async function byGenerate(name: string): Promise<boolean> {
  const r = await cli(['generate', name, '--cert', pkiFile('chain.pem'), '--format', 'json', '--ca-file', pkiFile('root.pem'), '--backup-key', pkiFile('backup.key')]);
  return r.code === 0;
}

async function byBundleCreate(name: string): Promise<boolean> {
  const file = join(tempDir(), 'pins.json');
  writeFileSync(file, pinsJson([{ domain: name, pins: [PIN.intermediate, PIN.backup] }]));
  const r = await cli(['bundle', 'create', '--pins', file, '--key', key.key, '--version', '1', '--audience', 'com.example.app', '--out', join(tempDir(), 'b.json')]);
  return r.code === 0;
}

async function byServe(name: string): Promise<boolean> {
  const r = await fetch(`${serve.url}/v1/bundles/pins?force=1`, { method: 'POST', body: pinsJson([{ domain: name, pins: [PIN.intermediate, PIN.backup] }]), headers: { Authorization: `Bearer ${TOKEN}` } });
  return r.status === 200;
}

/** The SDK side: a correctly signed bundle naming the host, verified by TrustedStore. */
function bySdk(name: string): boolean {
  const payload: PinsPayload = {
    type: 'pins', audience: 'com.example.app', version: 1, issuedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-12-31T00:00:00Z', // SPEC §7.4: at most 366 days
    domains: [{ domain: name, includeSubdomains: false, pins: [PIN.intermediate, PIN.backup] }],
  };
  const bytes = signPayload(payload, [signerFromPem(readFileSync(key.key))]);
  const store = new TrustedStore({ audience: 'com.example.app', keyset: { version: 1, threshold: 1, keys: new Map([[key.keyid, key.publicKey]]) } });
  try {
    store.verify('pins', bytes, NOW);
    return true;
  } catch {
    return false;
  }
}

describe('a host name one part accepts, every part accepts', () => {
  it.each(ACCEPTED)('accepted everywhere: %s', async (name) => {
    expect([await byGenerate(name), await byBundleCreate(name), await byServe(name), bySdk(name)]).toEqual([true, true, true, true]);
  });
  it.each(REFUSED)('refused everywhere: %s', async (name) => {
    expect([await byGenerate(name), await byBundleCreate(name), await byServe(name), bySdk(name)]).toEqual([false, false, false, false]);
  });
});
