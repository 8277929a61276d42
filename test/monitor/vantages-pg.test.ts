/**
 * Two vantages on one PostgreSQL state: two `monitor run` processes (compiled with tsc) with
 * `vantage: eu` and `vantage: us`, sweeping every second. The name resolves (config `addresses:`)
 * to a different real TLS server in each place — 127.0.0.1 and 127.0.0.2, same port, different
 * keys — as geo-DNS would. eu runs two monitors (a standby), and one of them is killed with
 * kill -9. One `vantage-disagreement` is opened and alerted exactly once (counted at a webhook
 * receiver); when both places serve the same key again it resolves, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { pkiFile, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { MonitorChild, runnerScript, startMonitor } from './monitor-procs.js';

let compiled: Compiled;
let hook: WebhookReceiver;
let db: TestDatabase;
const servers: tls.Server[] = [];

/** A TLS server on host:port (port 0: any free one). */
function serve(host: string, port: number, cert: string, key: string): Promise<tls.Server> {
  const server = tls.createServer({ cert: readPki(cert), key: readPki(key) }, (s) => s.end());
  server.on('tlsClientError', () => {});
  servers.push(server);
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => done(server));
  });
}

beforeAll(async () => {
  if (PG_SKIP) return;
  hook = await webhookReceiver();
  db = await createTestDatabase();
  compiled = compileForChildren('monitor-vantage', ['monitor']);
}, 180_000);
afterAll(async () => {
  if (PG_SKIP) return;
  for (const s of servers) await new Promise((r) => s.close(r));
  await hook.close();
  await db.drop();
  compiled.remove();
});

async function stop(c: MonitorChild): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return; // exited, or killed
  c.proc.kill('SIGTERM');
  await new Promise((r) => c.proc.once('exit', r));
}

/** What the receiver gets, "kind type", sorted: each alert once. */
const RECEIVED = ['chain-drift new', 'chain-drift resolved', 'vantage-disagreement new', 'vantage-disagreement resolved'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true (the machine is shared: no fixed timing is assumed). */
async function until(what: string, fn: () => Promise<boolean>, logs: MonitorChild[], timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the monitors said:\n${logs.map((c) => c.out.slice(-3000)).join('\n---\n')}`);
    await sleep(250);
  }
}

describe.skipIf(PG_SKIP)('two vantages on one PostgreSQL state', () => {
  it('see different keys for one name: one vantage-disagreement, alerted once; resolved once when they agree', async () => {
    const eu = await serve('127.0.0.1', 0, 'chain.pem', 'leaf.key');
    const port = (eu.address() as import('node:net').AddressInfo).port;
    const us = await serve('127.0.0.2', port, 'chain-new-key.pem', 'leaf-new-key.key');
    const config = (vantage: string, address: string) => {
      const dir = tempDir();
      const path = writeConfig(
        dir,
        `schedule: "* * * * * *"
state: ${db.url}
statePasswordEnv: PINCTL_TEST_PG_PASSWORD
vantage: ${vantage}
retries: 0
timeout: 2s
alerts:
  webhook: { url: "${hook.url}" }
  reminder: 1h
endpoints:
  - host: api.pinctl.test
    port: ${port}
    addresses: [${address}]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('leaf-new-key.key')}"]
`,
      );
      const script = join(dir, 'child.mjs');
      writeFileSync(script, runnerScript(compiled.out, path, dir));
      return script;
    };
    const client = new pg.Client({ connectionString: db.urlWithPassword });
    await client.connect();
    const monitors: MonitorChild[] = [];
    try {
      const euScript = config('eu', '127.0.0.1');
      monitors.push(await startMonitor(euScript, db.password), await startMonitor(euScript, db.password), await startMonitor(config('us', '127.0.0.2'), db.password));
      const q = async (sql: string) => (await client.query(sql)).rows as Record<string, unknown>[];
      const kinds = (where: string) => q(`SELECT kind, key, title, vantage FROM findings WHERE ${where} ORDER BY kind`);
      const sent = async () => (await q(`SELECT 1 FROM outbox WHERE status = 'sent'`)).length;

      await until('the disagreement alerted', async () => (await kinds(`kind = 'vantage-disagreement'`)).length > 0 && (await sent()) >= 1, monitors);
      await sleep(3000); // more sweeps of both vantages: nothing new may be opened or sent
      const swept = await q(`SELECT vantage, COUNT(*)::int AS n FROM sweeps GROUP BY vantage ORDER BY vantage`);
      expect(swept.map((r) => r.vantage)).toEqual(['eu', 'us']);
      for (const r of swept) expect(r.n as number).toBeGreaterThanOrEqual(2);
      // Each place keeps its own view of the name: no drift, no disagreement between addresses.
      const open = await kinds('resolved_at IS NULL');
      expect(open).toEqual([
        { kind: 'vantage-disagreement', key: `vantage-disagreement|api.pinctl.test:${port}`, title: expect.stringContaining('2 vantages see different leaf keys'), vantage: null },
      ]);
      expect(await q(`SELECT vantage, address FROM latest ORDER BY vantage`)).toEqual([
        { vantage: 'eu', address: '127.0.0.1' },
        { vantage: 'us', address: '127.0.0.2' },
      ]);
      expect(await sent()).toBe(1);

      // One eu monitor dies (it may hold eu's lead or the decision lead): the other eu monitor goes on.
      monitors[0]!.proc.kill('SIGKILL');
      const killedAt = new Date().toISOString();
      await until('eu sweeping again after the kill', async () => (await q(`SELECT 1 FROM sweeps WHERE vantage = 'eu' AND started_at > '${killedAt}'`)).length >= 2, monitors);

      // The us servers move to the eu key: they agree again.
      us.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
      await until('the disagreement resolved and its alert sent', async () => (await kinds(`kind = 'vantage-disagreement' AND resolved_at IS NOT NULL`)).length > 0 && (await sent()) >= 4, monitors);
      await sleep(3000);
      for (const m of monitors) await stop(m);

      expect(await kinds(`kind = 'vantage-disagreement'`)).toHaveLength(1); // opened once, by one monitor
      // us saw its own chain change (a pinned leaf key replaced): its drift, named after it (resolved at
      // the next sweep of us: the expected pins include the new key).
      const drift = await kinds(`kind = 'chain-drift'`);
      expect(drift).toEqual([{ kind: 'chain-drift', key: expect.stringMatching(/\|vantage=us$/), title: expect.stringMatching(/^\[us\] /), vantage: 'us' }]);
      const alerts = await q(`SELECT f.kind, o.type, o.status FROM outbox o JOIN findings f ON f.id = o.finding_id ORDER BY f.kind, o.type`);
      expect(alerts.map((r) => `${String(r.kind)} ${String(r.type)} ${String(r.status)}`)).toEqual(RECEIVED.map((a) => `${a} sent`));
    } finally {
      for (const m of monitors) await stop(m);
      await client.end();
    }
    // Exactly once at the receiver: one message per alert, no duplicate alert id.
    const ids = hook.requests.map((r) => String((r.body.pinctl as { alertId: string }).alertId));
    expect(new Set(ids).size).toBe(ids.length);
    const got = hook.requests.map((r) => {
      const p = r.body.pinctl as { type: string; finding: { kind: string } };
      return `${p.finding.kind} ${p.type}`;
    });
    expect(got.sort()).toEqual(RECEIVED);
  }, 240_000);
});
