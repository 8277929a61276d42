/**
 * docs/SPEC.md §7.7, the operator's runbook "signing key stolen", end to end with a real `pinctl
 * serve` and the SDK in roles mode: the attacker signs pins at version 2^53−1 with the stolen key
 * and the client applies them; the operator signs keyset v2 naming a new key with the offline root
 * key and restarts serve with it; the client ends on the new key's pins without an app change, also
 * after a restart on the same storage directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { cli } from '../helpers/cli.js';
import { startServe, type StartedServe } from '../../cli/commands/serve.js';
import { PinClient } from '../../src/sdk/index.js';
import { signerFromPem } from '../../src/bundle/sign.js';
import { PIN, domain, pinsPayload, sign } from '../sdk/helpers.js';
import { pinsJson } from '../service/helpers.js';

const TOKEN = 'e2e-admin-token-0123456789abcdef';
const AUDIENCE = 'com.example.app';
const HOST = 'api.pinctl.test';
const dir = mkdtempSync(join(tmpdir(), 'pinctl-e2e-roles-'));
const io = { stdout: { write: () => true }, stderr: { write: () => true }, readStdin: async () => new Uint8Array(), env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: dir, now: () => new Date() };
const serveOpts = (key: string, rootKeyset: string) =>
  ({ listen: '127.0.0.1:0', key: [join(dir, key, 'pinctl-signing.key')], data: join(dir, 'data'), audience: AUDIENCE, expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', rootKeyset: join(dir, rootKeyset) });
let service: StartedServe | undefined;
/** The network between the app and the service: forwards to serve, or (attack) answers pins itself. */
let attack: Buffer | undefined;
let proxy: http.Server;
let proxyUrl: string;

async function keyset(version: number, signingDir: string, out: string): Promise<void> {
  const r = await cli(['bundle', 'create', '--keyset', join(dir, signingDir, 'pinctl-signing.pub.pem'), '--key', join(dir, 'root', 'pinctl-root.key'), '--version', String(version), '--audience', AUDIENCE, '--expires-in', '365d']);
  expect(r.code, r.stderr).toBe(0);
  writeFileSync(join(dir, out), r.stdout);
}

beforeAll(async () => {
  for (const [role, out] of [['root', 'root'], ['signing', 'stolen']]) expect((await cli(['keys', 'generate', '--role', role, '--out', join(dir, out)])).code).toBe(0);
  await keyset(1, 'stolen', 'keyset-1.json');
  service = await startServe(serveOpts('stolen', 'keyset-1.json'), io);
  proxy = http.createServer(async (req, res) => {
    if (attack && req.url === '/v1/bundles/pins') return void res.writeHead(200, { 'content-type': 'application/json' }).end(attack);
    const r = await fetch(`${service!.url}${req.url}`);
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await service?.stop();
  await new Promise((ok) => proxy?.close(ok));
});

const client = () =>
  new PinClient({
    url: proxyUrl,
    rootKeys: [readFileSync(join(dir, 'root', 'pinctl-root.pub.pem'), 'utf8')],
    trustExpires: new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10),
    audience: AUDIENCE,
    storageDir: join(dir, 'sdk'),
  });

describe('SPEC §7.7: recovery from a stolen signing key without an app update', () => {
  it('the attack, then the runbook', async () => {
    const published = await fetch(`${service!.url}/v1/bundles/pins?force=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: pinsJson([{ domain: HOST, pins: [PIN.leaf, PIN.backup] }]),
    });
    expect(published.status, await published.clone().text()).toBe(200);
    const app = client();
    await expect(app.refresh()).resolves.toMatchObject({ pins: 'applied', version: 1, keysetVersion: 1 });
    expect(app.pinsFor(HOST)).toEqual([PIN.leaf, PIN.backup]);

    // The attack: the stolen key signs pins at 2^53−1, valid for 7 months, served on the path.
    const stolen = signerFromPem(readFileSync(join(dir, 'stolen', 'pinctl-signing.key'), 'utf8'));
    const now = Date.now();
    const iso = (t: number) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
    attack = sign(pinsPayload({ version: Number.MAX_SAFE_INTEGER, domains: [domain(HOST, [PIN.intermediate, PIN.root])], issuedAt: iso(now - 60_000), expiresAt: iso(now + 213 * 86_400_000) }), [stolen]);
    await expect(app.refresh()).resolves.toMatchObject({ pins: 'applied', version: Number.MAX_SAFE_INTEGER });
    expect(app.pinsFor(HOST)).toEqual([PIN.intermediate, PIN.root]);

    // The runbook. 1: a new signing key. 2: keyset v2 naming only it, signed by the root key.
    expect((await cli(['keys', 'generate', '--role', 'signing', '--out', join(dir, 'fresh')])).code).toBe(0);
    await keyset(2, 'fresh', 'keyset-2.json');
    // Serve refuses a keyset that does not name its key (exit 2 with a hint)...
    await service!.stop();
    service = undefined;
    await expect(startServe(serveOpts('stolen', 'keyset-2.json'), io)).rejects.toMatchObject({ code: 'USAGE', exitCode: 2, hint: expect.stringMatching(/--key of a signing key the keyset names/) });
    // 3: ...and starts with the new key and the new keyset; it re-signs the pins with the new key.
    service = await startServe(serveOpts('fresh', 'keyset-2.json'), io);
    const keysetServed = await fetch(`${service.url}/v1/keyset/2`);
    expect(Buffer.from(await keysetServed.arrayBuffer())).toEqual(readFileSync(join(dir, 'keyset-2.json')));
    expect((await fetch(`${service.url}/v1/keyset/1`)).status).toBe(200);
    attack = undefined;

    // 4: the client's next refresh rotates, drops the stolen key's pins and applies the new ones.
    const r = await app.refresh();
    expect(r).toMatchObject({ pins: 'applied', keysetVersion: 2 });
    expect(r.version).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(app.pinsFor(HOST)).toEqual([PIN.leaf, PIN.backup]);

    // The attacker's bundle is refused from now on, and a restart stays on the new key's pins.
    attack = sign(pinsPayload({ version: Number.MAX_SAFE_INTEGER, domains: [domain(HOST, [PIN.intermediate, PIN.root])], issuedAt: iso(now - 60_000), expiresAt: iso(now + 213 * 86_400_000) }), [stolen]);
    await expect(app.refresh()).rejects.toMatchObject({ code: 'BUNDLE_SIGNATURE' });
    attack = undefined;
    const restarted = client();
    expect(restarted.status()).toMatchObject({ keysetVersion: 2, restoreErrors: [] });
    expect(restarted.version).toBe(r.version);
    expect(restarted.pinsFor(HOST)).toEqual([PIN.leaf, PIN.backup]);
  }, 120_000);
});
