/**
 * `state: postgres://…` end to end: `pinctl monitor once`, `status` and `history` against a real
 * TLS server whose key the test changes, a real PostgreSQL server (PINCTL_TEST_PG, started by
 * .ci/run), the password from `statePasswordFile`, and a webhook receiver on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { monitorCli, pkiFile, tempDir, webhookReceiver, WebhookReceiver, writeConfig, NOW } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';

const HOST = 'api.pinctl.test';
let server: Running & { server: import('node:tls').Server };
let hook: WebhookReceiver;
let db: TestDatabase;

beforeAll(async () => {
  if (PG_SKIP) return;
  server = await tlsServer('chain.pem', 'leaf.key');
  hook = await webhookReceiver();
  db = await createTestDatabase();
});
afterAll(async () => {
  if (PG_SKIP) return;
  await server.close();
  await hook.close();
  await db.drop();
});

describe.skipIf(PG_SKIP)('monitor with its state in PostgreSQL', () => {
  it('records sweeps and findings in the database, alerts once, and status/history read them back', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pg-password'), `${db.password}\n`, { mode: 0o600 });
    const cfg = writeConfig(
      dir,
      `schedule: "*/5 * * * *"
state: ${db.url}
statePasswordFile: ./pg-password
retries: 0
timeout: 2s
alerts:
  webhook: { url: "${hook.url}" }
endpoints:
  - host: ${HOST}
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]
`,
    );
    const first = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: NOW });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).observations[0].chain).toHaveLength(3);
    // Certificates for the printed commands are local files; the database holds them too.
    expect(existsSync(join(dir, 'pinctl-local', 'certs'))).toBe(true);

    server.server.setSecureContext({ cert: readPki('chain-new-key.pem'), key: readPki('leaf-new-key.key') });
    const second = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: new Date(NOW.getTime() + 60_000) });
    expect(second.code).toBe(1);
    const out = JSON.parse(second.stdout);
    expect(out.opened.map((f: { kind: string }) => f.kind).sort()).toEqual(['chain-drift', 'pin-mismatch']);
    expect(out.alerts).toMatchObject({ sent: 2, failed: [] });
    expect(hook.requests).toHaveLength(2);

    const status = await monitorCli(['monitor', 'status', '--config', cfg, '--json'], { now: new Date(NOW.getTime() + 120_000) });
    expect(status.code).toBe(1);
    const st = JSON.parse(status.stdout);
    expect(JSON.stringify(st)).toContain('pin-mismatch');
    const history = await monitorCli(['monitor', 'history', HOST, '--config', cfg, '--json'], { now: NOW });
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain('first-seen');
    expect(history.stdout).not.toContain(db.password);
  });

  it('a wrong password is an input error naming the state without the password, with a hint', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pg-password'), 'wrong-password\n');
    const cfg = writeConfig(dir, `schedule: "*/5 * * * *"\nstate: ${db.url}\nstatePasswordFile: ./pg-password\nendpoints:\n  - host: ${HOST}\n`);
    const r = await monitorCli(['monitor', 'once', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: state postgres:\/\/\S+ cannot use the PostgreSQL database: .*password/m);
    expect(r.stderr).toMatch(/^hint: .*statePasswordFile/m);
    expect(r.stderr).not.toContain('wrong-password');
  });
});
