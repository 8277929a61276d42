/**
 * `reportsFrom: { dir }` end to end: a real `pinctl serve` receives pin-failure reports over HTTP,
 * `monitor once` turns them into findings alerted once at a real webhook receiver, a sweep with no
 * new reports counts nothing again, rotation of reports.log loses and repeats nothing, and a
 * quiet window resolves the finding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServe } from '../../cli/commands/serve.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { keyPair, tempDir as serviceDir, testIO } from '../service/helpers.js';
import { monitorCli, pkiFile, tempDir, webhookReceiver, writeConfig, WebhookReceiver } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { loadConfig } from '../../monitor/config.js';
import { trustStores } from '../../monitor/sweep.js';
import { runCycle } from '../../monitor/cycle.js';
import { Store } from '../../monitor/store.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const TOKEN = 'test-admin-token-0123456789abcdef';
const HOST = 'api.pinctl.test';
const LEAF = opensslPin('leaf.pem');
const BACKUP = opensslPin('backup.key');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

let tls: Running;
let hook: WebhookReceiver;
let serve: Awaited<ReturnType<typeof startServe>>;
let data: string;

beforeAll(async () => {
  tls = await tlsServer('chain.pem', 'leaf.key');
  hook = await webhookReceiver();
});
afterAll(async () => {
  await tls.close();
  await hook.close();
});

/** A fresh `pinctl serve` (its own data directory and reports.log) and a clean receiver. */
async function startService(): Promise<void> {
  hook.requests.length = 0;
  data = serviceDir();
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN }, now: NOW });
  serve = await startServe({ listen: '127.0.0.1:0', key: [keyPair().key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '100/min' }, io);
}

/** What the SDK POSTs (src/sdk/core/report.ts PinReport). */
async function report(domain: string, n = 1, seen = 'SEENLEAF='): Promise<void> {
  for (let i = 0; i < n; i++) {
    const body = { type: 'pin-mismatch', audience: 'com.example.app', time: NOW.toISOString(), domain, port: 443, chainPins: [seen, 'SEENCA='], expectedPins: [LEAF, BACKUP], bundle: { type: 'pins', version: 3, expiresAt: '2026-07-01T00:00:00Z' } };
    const r = await fetch(`${serve.url}/v1/reports`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(202);
  }
}

/** `state`: a directory (SQLite) or a PostgreSQL database, its password in a file; reports from the data directory or over HTTP. */
function config(db: TestDatabase | null, source: 'dir' | 'url'): string {
  const dir = tempDir();
  if (db) writeFileSync(join(dir, 'pg-password'), `${db.password}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'admin-token'), `${TOKEN}\n`, { mode: 0o600 });
  const from = source === 'dir' ? `dir: "${data}"` : `url: "${serve.url}", tokenFile: ./admin-token`;
  return writeConfig(
    dir,
    `schedule: "*/5 * * * *"
${db ? `state: ${db.url}\nstatePasswordFile: ./pg-password` : 'state: ./state'}
retries: 0
timeout: 2s
reportsFrom: { ${from}, window: 1h, warning: 2, critical: 5 }
alerts:
  webhook: { url: "${hook.url}" }
endpoints:
  - host: ${HOST}
    port: ${tls.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: [${LEAF}, ${BACKUP}]
`,
  );
}

async function once(cfg: string, now: Date) {
  const r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now });
  if (!r.stdout) throw new Error(`no stdout (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { reports: { from: string; read: number; error: { code: string } | null }[]; open: { kind: string; severity: string; endpoint: string; title: string; details: Record<string, any> }[]; recovered: { of: string; resolution: string }[] };
}

const reportAlerts = () => hook.requests.map((q) => q.body.pinctl as { type: string; finding: { kind: string; host: string; severity: string } }).filter((p) => p.finding.kind === 'pin-failure-reports');
const counts = (j: Awaited<ReturnType<typeof once>>) =>
  j.open
    .filter((f) => f.kind === 'pin-failure-reports')
    .map((f) => [f.details.domain, f.severity, f.details.total, f.details.inWindow])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

const cases: [string, string, 'dir' | 'url'][] = [
  ['SQLite', '', 'dir'],
  ['PostgreSQL', PG_SKIP, 'dir'],
  ['SQLite', '', 'url'],
];

describe.each(cases)('reportsFrom with the state in %s, reports read from the service %s', (_name, skip, source) => {
  let db: TestDatabase | null = null;
  beforeAll(async () => {
    if (skip) return;
    if (_name === 'PostgreSQL') db = await createTestDatabase();
    await startService();
  });
  afterAll(async () => {
    if (skip) return;
    await serve.stop();
    await db?.drop();
  });

  it.skipIf(skip)('pin-failure reports received by pinctl serve become one finding per domain, alerted once, each counted once across sweeps and rotation', async () => {
    const cfg = config(db, source);
    await report(HOST, 3);
    await report('cdn.pinctl.test', 1);
    const first = await once(cfg, minutes(1));
    expect(first.reports).toMatchObject([{ read: 4, error: null }]);
    expect(counts(first)).toEqual([
      [HOST, 'warning', 3, 3],
      ['cdn.pinctl.test', 'info', 1, 1],
    ]);
    expect(first.open.find((f) => f.details.domain === HOST)!.details).toMatchObject({ apps: { 'com.example.app': 3 }, versions: { '3': 3 }, failedOn: { 'SEENLEAF=,SEENCA=': 3 } });
    expect(reportAlerts().map((a) => [a.type, a.finding.host, a.finding.severity])).toEqual([['new', HOST, 'warning']]); // info is not alerted

    // No new reports: nothing counted again, nothing re-alerted.
    const second = await once(cfg, minutes(2));
    expect(counts(second)).toEqual(counts(first));
    expect(reportAlerts()).toHaveLength(1);

    // Two more, then the operator rotates the log with one unread line in it, and one more arrives.
    await report(HOST, 1);
    renameSync(join(data, 'reports.log'), join(data, 'reports.log.1'));
    await report(HOST, 1);
    const third = await once(cfg, minutes(3));
    expect(counts(third)).toEqual([
      [HOST, 'critical', 5, 5],
      ['cdn.pinctl.test', 'info', 1, 1],
    ]);
    // The critical threshold is 5: the severity change is alerted once.
    expect(reportAlerts().map((a) => [a.type, a.finding.severity])).toEqual([
      ['new', 'warning'],
      ['changed', 'critical'],
    ]);
    const fourth = await once(cfg, minutes(4));
    expect(counts(fourth)).toEqual(counts(third));

    // A truncated log (copytruncate) is read again from its start, also when it grew back past the
    // offset before the sweep (its first bytes differ from what was read).
    truncateSync(join(data, 'reports.log'), 0);
    await report(HOST, 1, 'OTHERLEAF=');
    expect(counts(await once(cfg, minutes(5)))).toEqual([
      [HOST, 'critical', 6, 6],
      ['cdn.pinctl.test', 'info', 1, 1],
    ]);
    expect(reportAlerts()).toHaveLength(2);

    // An hour without reports: resolved, and the resolution is alerted for the alerted finding.
    const quiet = await once(cfg, minutes(70));
    expect(counts(quiet)).toEqual([]);
    expect(quiet.recovered.map((f) => [f.of, f.resolution]).sort()).toEqual([
      ['pin-failure-reports', 'no pin-failure reports for api.pinctl.test in the last 1h'],
      ['pin-failure-reports', 'no pin-failure reports for cdn.pinctl.test in the last 1h'],
    ]);
    expect(reportAlerts().map((a) => a.type)).toEqual(['new', 'changed', 'resolved']);
  });
});

describe('a sweep that dies before its commit', () => {
  beforeAll(startService);
  afterAll(() => serve.stop());

  it('reads the same reports again at the next sweep: none is lost, none counted twice', async () => {
    const file = config(null, 'dir');
    const cfg = loadConfig(file, { env: {}, cwd: join(file, '..'), now: NOW });
    const store = await Store.open(cfg.state);
    try {
      await report(HOST, 3);
      const deps = { now: () => minutes(1), stores: trustStores(cfg, {}), noDelivery: true };
      await expect(runCycle(cfg, store, { ...deps, failCommitAt: 2 })).rejects.toThrow();
      expect(await store.openFindings()).toEqual([]);
      const r = await runCycle(cfg, store, deps);
      expect(r.open.filter((f) => f.kind === 'pin-failure-reports').map((f) => [f.host, (f.details as { total?: number }).total])).toEqual([[HOST, 3]]);
      const again = await runCycle(cfg, store, { ...deps, now: () => minutes(2) });
      expect(again.open.filter((f) => f.kind === 'pin-failure-reports').map((f) => [f.host, (f.details as { total?: number }).total])).toEqual([[HOST, 3]]);
    } finally {
      store.close();
    }
  });
});

describe('GET /v1/reports', () => {
  beforeAll(startService);
  afterAll(() => serve.stop());

  it('needs the admin token, pages through the log with a cursor, and refuses a cursor it did not give', async () => {
    await report(HOST, 2);
    expect((await fetch(`${serve.url}/v1/reports`)).status).toBe(401);
    expect((await fetch(`${serve.url}/v1/reports`, { headers: { Authorization: 'Bearer wrong-token-0123456789abcdef' } })).status).toBe(401);
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    const first = (await (await fetch(`${serve.url}/v1/reports`, auth)).json()) as { cursor: string; reports: { report: { domain: string } }[]; more: boolean };
    expect(first.reports.map((r) => r.report.domain)).toEqual([HOST, HOST]);
    expect(first.more).toBe(false);
    const none = (await (await fetch(`${serve.url}/v1/reports?cursor=${first.cursor}`, auth)).json()) as { reports: unknown[]; cursor: string };
    expect(none).toMatchObject({ reports: [], cursor: first.cursor });
    await report('cdn.pinctl.test', 1);
    const next = (await (await fetch(`${serve.url}/v1/reports?cursor=${first.cursor}`, auth)).json()) as { reports: { report: { domain: string } }[] };
    expect(next.reports.map((r) => r.report.domain)).toEqual(['cdn.pinctl.test']);
    const bad = await fetch(`${serve.url}/v1/reports?cursor=../../etc/passwd`, auth);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('USAGE');
  });

  it('a monitor with the wrong token says the reports were not read, and the sweep goes on', async () => {
    const file = config(null, 'url');
    writeFileSync(join(file, '..', 'admin-token'), 'not-the-admin-token-0123456789\n', { mode: 0o600 });
    const r = await once(file, minutes(1));
    expect(r.reports).toMatchObject([{ read: 0, error: { code: 'HTTP_401' } }]);
    expect(counts(r)).toEqual([]);
    const text = await monitorCli(['monitor', 'once', '--config', file], { now: minutes(2), env: { NO_COLOR: '1' } });
    expect(text.stdout).toMatch(/pin-failure reports from http:\/\/127\.0\.0\.1:\d+: not read: .*answered 401/);
  });
});

describe('reportsFrom config', () => {
  it('refuses a reportsFrom without a directory or URL, a URL without the token, or thresholds the wrong way round', async () => {
    const cfg = writeConfig(tempDir(), `schedule: "*/5 * * * *"\nreportsFrom: { window: 1h, warning: 5, critical: 2 }\nendpoints:\n  - host: ${HOST}\n`);
    const r = await monitorCli(['monitor', 'once', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reportsFrom: give `dir` \(the data directory of pinctl serve\) or `url`/);
    const noToken = writeConfig(tempDir(), `schedule: "*/5 * * * *"\nreportsFrom: { url: "http://127.0.0.1:1" }\nendpoints:\n  - host: ${HOST}\n`);
    expect((await monitorCli(['monitor', 'once', '--config', noToken])).stderr).toMatch(/reportsFrom: GET \/v1\/reports needs the admin token: give tokenFile or tokenEnv/);
    expect(r.stderr).toMatch(/reportsFrom\.critical: must be at least reportsFrom\.warning \(5\)/);
  });
});
