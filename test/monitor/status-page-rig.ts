/**
 * A real monitor for the status page tests: two TLS servers on 127.0.0.1 (EC and RSA chains), a
 * real `pinctl serve` seeded with a pins bundle, a webhook receiver, `monitor run`'s runner with
 * its metrics listener (basic auth on the page) and dynamic pinning publishing to the service.
 * sweep 1 at NOW sees the first chains; then api's intermediate is swapped and sweep 2 (one hour
 * later) opens the chain-drift and pin-mismatch findings and a dynamic-pinning proposal.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { cli, noNetworkResolver } from '../helpers/cli.js';
import { startServe, StartedServe } from '../../cli/commands/serve.js';
import { Runner, startRunner } from '../../monitor/runner.js';
import { NOW, pkiFile, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';

export const ADMIN_TOKEN = 'status-page-admin-token-0123456789';
export const PAGE_USER = 'ops';
export const PAGE_PASSWORD = 'status-page-password-42';
export const PIN_SET_EXPIRATION = '2027-06-01';

type Tls = Running & { server: import('node:tls').Server };

export interface Rig {
  api: Tls;
  rsa: Tls;
  service: StartedServe;
  hook: WebhookReceiver;
  runner: Runner;
  base: string;
  apiId: string;
  rsaId: string;
  logs: string[];
  setNow(d: Date): void;
  /** Basic auth header for the page. */
  auth: string;
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const root = tempDir('pinctl-status-page-');
  const api = await tlsServer('chain.pem', 'leaf.key');
  const rsa = await tlsServer('chain-rsa.pem', 'leaf-rsa.key');
  const hook = await webhookReceiver();
  const keys = await cli(['keys', 'generate', '--out', join(root, 'keys')]);
  expect(keys.code, keys.stderr).toBe(0);
  const quiet = { write: () => true };
  const serveIo = {
    stdout: quiet,
    stderr: quiet,
    readStdin: async () => new Uint8Array(),
    env: { PINCTL_ADMIN_TOKEN: ADMIN_TOKEN },
    cwd: root,
    now: () => new Date(),
  };
  const service = await startServe(
    {
      listen: '127.0.0.1:0',
      key: [join(root, 'keys', 'pinctl-signing.key')],
      data: join(root, 'data'),
      audience: 'com.example.app',
      expiresIn: '7d',
      guardTimeout: '3s',
      reportsRate: '10/min',
    },
    serveIo,
  );
  const seed = {
    format: 'pinctl.pins.v1',
    expiration: null,
    domains: [
      {
        domain: 'other.pinctl.test',
        includeSubdomains: false,
        pins: [opensslPin('leaf.pem'), opensslPin('backup.key')].map((p) => ({
          spkiSha256: p,
          role: 'backup',
          subject: null,
          notAfter: null,
          source: 'test',
        })),
        endpoints: [],
      },
    ],
  };
  const seeded = await fetch(`${service.url}/v1/bundles/pins?force=1`, {
    method: 'POST',
    body: JSON.stringify(seed),
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(seeded.status).toBe(200);

  // What the app ships for api: the intermediate and a backup key, with a pin-set expiration.
  const pinRecord = (spkiSha256: string, role: string) => ({
    spkiSha256,
    role,
    subject: null,
    notAfter: null,
    source: 'test',
  });
  const shipped = {
    format: 'pinctl.pins.v1',
    expiration: PIN_SET_EXPIRATION,
    domains: [
      {
        domain: 'api.pinctl.test',
        includeSubdomains: false,
        pins: [
          pinRecord(opensslPin('intermediate.pem'), 'intermediate'),
          pinRecord(opensslPin('backup.key'), 'backup'),
        ],
        endpoints: [],
      },
    ],
  };
  writeFileSync(join(root, 'app-pins.json'), JSON.stringify(shipped));
  const path = writeConfig(
    root,
    `schedule: "0 0 1 1 *"
state: ./state
retries: 0
timeout: 3s
metrics:
  listen: "127.0.0.1:0"
  auth: { user: ${PAGE_USER}, passwordEnv: PAGE_PASSWORD }
alerts:
  webhook: { url: "${hook.url}" }
dynamicPinning:
  service: "${service.url}"
  publish: true
  overlap: 30d
endpoints:
  - host: api.pinctl.test
    port: ${api.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pinsFrom: app-pins.json
  - host: rsa.pinctl.test
    port: ${rsa.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root-rsa.pem')}
    pins: ["${opensslPin('intermediate-rsa.pem')}", "${opensslPin('backup.key')}"]
`,
  );
  let now = NOW;
  const logs: string[] = [];
  const runner = await startRunner({
    configPath: path,
    env: { PINCTL_ADMIN_TOKEN: ADMIN_TOKEN, PAGE_PASSWORD },
    cwd: root,
    now: () => now,
    resolve: noNetworkResolver,
    log: (l) => logs.push(l),
    sweepAtStart: false,
  });
  const addr = runner.metricsAddress()!;
  return {
    api,
    rsa,
    service,
    hook,
    runner,
    base: `http://127.0.0.1:${addr.port}`,
    apiId: `api.pinctl.test:${api.port}`,
    rsaId: `rsa.pinctl.test:${rsa.port}`,
    logs,
    setNow: (d) => (now = d),
    auth: `Basic ${Buffer.from(`${PAGE_USER}:${PAGE_PASSWORD}`).toString('base64')}`,
    async close() {
      await runner.stop();
      await service.stop();
      await api.close();
      await rsa.close();
      await hook.close();
    },
  };
}

export const LATER = new Date(NOW.getTime() + 3_600_000);

/** Sweep 1 with the first chains, then api's intermediate swapped and sweep 2 an hour later. */
export async function sweepWithIntermediateSwap(rig: Rig): Promise<void> {
  rig.setNow(NOW);
  expect(await rig.runner.sweepNow()).not.toBeNull();
  rig.api.server.setSecureContext({ cert: readPki('chain-intermediate2.pem'), key: readPki('leaf.key') });
  rig.setNow(LATER);
  const r = await rig.runner.sweepNow();
  expect(r!.opened.map((f) => f.kind).sort()).toEqual(['chain-drift', 'pin-mismatch']);
}
