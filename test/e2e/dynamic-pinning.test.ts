/**
 * The whole loop of issue 3, with real pieces on 127.0.0.1: `pinctl keys generate`, `pinctl
 * generate --format json`, `pinctl serve` (its HTTP API, guard and signing), the SDK refreshing from
 * it, and a pinned HTTPS request that succeeds, fails after the server's key changes, and succeeds
 * again once a new pin set is published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { startServe, StartedServe } from '../../cli/commands/serve.js';
import { PinClient, PinningError } from '../../src/sdk/index.js';
import { startAppServer } from '../sdk/helpers.js';

const TOKEN = 'e2e-admin-token-0123456789abcdef';
const HOST = 'api.pinctl.test';
const dir = mkdtempSync(join(tmpdir(), 'pinctl-e2e-'));
let app: Awaited<ReturnType<typeof startAppServer>>;
let service: StartedServe;

beforeAll(async () => {
  app = await startAppServer('chain.pem', 'leaf.key');
  expect((await cli(['keys', 'generate', '--out', join(dir, 'keys')])).code).toBe(0);
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, readStdin: async () => new Uint8Array(), env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: dir, now: () => new Date() };
  service = await startServe({ listen: '127.0.0.1:0', key: [join(dir, 'keys', 'pinctl-signing.key')], data: join(dir, 'data'), audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min' }, io);
});
afterAll(async () => {
  await service?.stop();
  await app?.close();
});

/** What `pinctl generate --format json` prints for the app server, pinning its leaf plus a backup. */
async function pinsFor(chain: string): Promise<string> {
  const r = await cli(['generate', HOST, '--cert', pkiFile(chain), '--ca-file', pkiFile('root.pem'), '--pin', 'leaf', '--backup-key', pkiFile('backup.key'), '--format', 'json'], { now: new Date() });
  expect(r.code, r.stderr).toBe(0);
  // Record where the endpoint lives, so the service's pre-publish guard probes the test server.
  const doc = JSON.parse(r.stdout);
  doc.domains[0].endpoints = [{ host: HOST, port: app.port, addresses: ['127.0.0.1'] }];
  return JSON.stringify(doc);
}

async function publish(body: string): Promise<Response> {
  return fetch(`${service.url}/v1/bundles/pins`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
}

function get(client: PinClient): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: app.port, servername: HOST, headers: { host: HOST }, agent: client.httpsAgent({ ca: [readPki('root.pem')] }) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

describe('dynamic pinning end to end', () => {
  it('publish → refresh → pinned request; key change fails; new pins published → passes again', async () => {
    const first = await publish(await pinsFor('chain.pem'));
    expect(first.status, await first.clone().text()).toBe(200);

    const client = new PinClient({
      url: service.url,
      publicKeys: [readFileSync(join(dir, 'keys', 'pinctl-signing.pub.pem'), 'utf8')],
      audience: 'com.example.app',
      storageDir: join(dir, 'sdk'),
    });
    await expect(client.refresh()).resolves.toMatchObject({ pins: 'applied', version: 1 });
    expect(await get(client)).toBe('ok');

    // The server rotates to a new leaf key that the shipped bundle does not pin.
    app.use('chain-new-key.pem', 'leaf-new-key.key');
    await expect(get(client)).rejects.toBeInstanceOf(PinningError);

    // Publishing pins the live server does not serve is refused by the guard (no version bump)...
    const stale = await publish(await pinsFor('chain.pem'));
    expect(stale.status).toBe(409);
    // ...the new pin set is accepted, signed as version 2, and the app follows.
    const second = await publish(await pinsFor('chain-new-key.pem'));
    expect(second.status, await second.clone().text()).toBe(200);
    await expect(client.refresh()).resolves.toMatchObject({ pins: 'applied', version: 2 });
    expect(await get(client)).toBe('ok');
  });
});
