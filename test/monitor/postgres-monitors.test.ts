/**
 * Two, then three, `monitor run` processes (the monitor compiled with tsc) on one PostgreSQL state,
 * sweeping every second against a real TLS server whose key the test changes; one is killed with
 * kill -9. Each schedule slot is swept once, the survivors take over, and every alert reaches the
 * webhook receiver and the SMTP server exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { pkiFile, smtpReceiver, SmtpReceiver, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { MonitorChild, runnerScript, startMonitor, sweepTimes } from './monitor-procs.js';

let compiled: Compiled;
let server: Running & { server: import('node:tls').Server };
let hook: WebhookReceiver;
let smtp: SmtpReceiver;
let db: TestDatabase;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  if (PG_SKIP) return;
  server = await tlsServer('chain.pem', 'leaf.key');
  hook = await webhookReceiver();
  smtp = await smtpReceiver();
  compiled = compileForChildren('monitor-pg', ['monitor']);
}, 180_000);
afterAll(async () => {
  if (PG_SKIP) return;
  await server.close();
  await hook.close();
  await smtp.close();
  for (const d of databases) await d.drop();
  compiled.remove();
});

async function outboxStatus(): Promise<{ status: string; n: number }[]> {
  const client = new pg.Client({ connectionString: db.urlWithPassword });
  await client.connect();
  try {
    return (await client.query(`SELECT status, COUNT(*)::int AS n FROM outbox GROUP BY status`)).rows;
  } finally {
    await client.end();
  }
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await sleep(250);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(PG_SKIP)('several monitors on one PostgreSQL state', () => {
  it.each([2, 3])('%i monitors sweep each slot once, survive kill -9 of one, and send each alert once per channel (by its id)', async (n) => {
    db = await createTestDatabase(); // a state of its own per case
    databases.push(db);
    hook.requests.length = 0;
    smtp.mails.length = 0;
    server.server.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
    const dir = tempDir();
    const config = writeConfig(
      dir,
      `schedule: "* * * * * *"
state: ${db.url}
statePasswordEnv: PINCTL_TEST_PG_PASSWORD
retries: 0
timeout: 2s
alerts:
  webhook: { url: "${hook.url}", timeout: 1s }
  email: { smtp: "smtp://127.0.0.1:${smtp.port}", from: "pinctl@example.test", to: ["ops@example.test"], timeout: 1s }
  reminder: 1h
endpoints:
  - host: api.pinctl.test
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]
`,
    );
    const script = join(dir, 'child.mjs');
    writeFileSync(script, runnerScript(compiled.out, config, dir));
    const monitors = await Promise.all(Array.from({ length: n }, () => startMonitor(script, db.password)));
    const [a, ...others] = monitors as [MonitorChild, ...MonitorChild[]];
    await sleep(3500);
    server.server.setSecureContext({ cert: readPki('chain-new-key.pem'), key: readPki('leaf-new-key.key') });
    await sleep(2500);
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    // A row the killed monitor held mid-send is taken again when its lease (3 × 1 s + 5 s) ends.
    await sleep(3500);
    await waitFor(async () => (await outboxStatus()).every((r) => r.status === 'sent'), 20_000);
    await Promise.all(others.map((b) => (b.proc.kill('SIGTERM'), new Promise((r) => b.proc.once('exit', r)))));

    const client = new pg.Client({ connectionString: db.urlWithPassword });
    await client.connect();
    try {
      const starts = (await client.query(`SELECT started_at FROM sweeps ORDER BY started_at`)).rows.map((r) => Date.parse(String(r.started_at)));
      expect(starts.length).toBeGreaterThanOrEqual(5);
      // One sweep per one-second slot: never two within half the interval of each other.
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!, `sweeps ${i - 1} and ${i}`).toBeGreaterThanOrEqual(450);
      const open = (await client.query(`SELECT kind FROM findings WHERE resolved_at IS NULL ORDER BY kind`)).rows.map((r) => r.kind);
      expect(open).toEqual(['chain-drift', 'pin-mismatch']);
      const outbox = (await client.query(`SELECT status, COUNT(*)::int AS n FROM outbox GROUP BY status`)).rows;
      expect(outbox).toEqual([{ status: 'sent', n: 4 }]); // two findings × two channels
    } finally {
      await client.end();
    }
    // The monitors swept, and the survivors kept sweeping after one was killed.
    expect(monitors.reduce((sum, m) => sum + sweepTimes(m).length, 0)).toBeGreaterThanOrEqual(5);
    expect(others.flatMap(sweepTimes).filter((t) => t > killedAt + 1000).length).toBeGreaterThanOrEqual(1);
    // Exactly once per alert id at each receiver. A send the killed monitor had in flight may arrive
    // again after its lease (it died before recording it): with the same id, which receivers
    // deduplicate (Message-ID, the webhook's alertId) — never as a new alert.
    const ids = hook.requests.map((r) => String((r.body.pinctl as { alertId: string }).alertId));
    const kinds = new Map(hook.requests.map((r) => [String((r.body.pinctl as { alertId: string }).alertId), String(((r.body.pinctl as { finding: { kind: string } }).finding).kind)]));
    expect([...kinds.values()].sort()).toEqual(['chain-drift', 'pin-mismatch']);
    expect(ids.length - new Set(ids).size).toBeLessThanOrEqual(1);
    const messageIds = smtp.mails.map((m) => m.messageId);
    expect(new Set(messageIds).size).toBe(2);
    expect(messageIds.length - new Set(messageIds).size).toBeLessThanOrEqual(1);
    expect(smtp.mails.map((m) => m.subject).join('\n')).toMatch(/pin/i);
  }, 150_000);
});
