/**
 * Pin-failure reports with two vantages on one state (SQLite directory and PostgreSQL): reports
 * come from apps, not from a place, so whichever vantage sweeps reads them from the state's one
 * cursor under the decision lead, and each report is counted exactly once in one state-wide
 * finding per domain — sweeping one after the other, and both at the same time. A real
 * `pinctl serve` receives the reports over HTTP; a real TLS server is the endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServe } from '../../cli/commands/serve.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { keyPair, tempDir as serviceDir, testIO } from '../service/helpers.js';
import { pkiFile, tempDir, writeConfig } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { loadConfig, MonitorConfig } from '../../monitor/config.js';
import { trustStores } from '../../monitor/sweep.js';
import { runCycle } from '../../monitor/cycle.js';
import { openState } from '../../monitor/open-state.js';
import type { MonitorState } from '../../monitor/state.js';
import type { ReportCounts } from '../../monitor/report-findings.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const HOST = 'api.pinctl.test';
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

let endpoint: Running;
let serve: Awaited<ReturnType<typeof startServe>>;
let data: string;

beforeAll(async () => {
  endpoint = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(() => endpoint.close());

/** A fresh `pinctl serve` with its own data directory (reports.log). */
async function startService(): Promise<void> {
  data = serviceDir();
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: 'test-admin-token-0123456789abcdef' }, now: NOW });
  serve = await startServe(
    { listen: '127.0.0.1:0', key: [keyPair().key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '1000/min' },
    io,
  );
}

async function report(domain: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const body = { type: 'pin-mismatch', audience: 'com.example.app', time: NOW.toISOString(), domain, port: 443, chainPins: ['SEEN='] };
    const r = await fetch(`${serve.url}/v1/reports`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(202);
  }
}

/** One monitor config of `vantage` on the shared state, both reading the same reports directory. */
function config(dir: string, db: TestDatabase | null, vantage: string): MonitorConfig {
  const file = writeConfig(
    dir,
    `schedule: "*/5 * * * *"
${db ? `state: ${db.url}\nstatePasswordFile: ./pg-password` : 'state: ./state'}
vantage: ${vantage}
retries: 0
timeout: 2s
reportsFrom: { dir: "${data}", window: 1h, warning: 1, critical: 100 }
endpoints:
  - host: ${HOST}
    port: ${endpoint.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: [${opensslPin('leaf.pem')}, ${opensslPin('backup.key')}]
`,
    `${vantage}.yaml`,
  );
  return loadConfig(file, { env: {}, cwd: dir, now: NOW });
}

const reportFindings = async (store: MonitorState) =>
  (await store.openFindings())
    .filter((f) => f.kind === 'pin-failure-reports')
    .map((f) => ({ key: f.key, vantage: f.vantage ?? null, title: f.title, counts: f.details as unknown as ReportCounts }));

describe.each([
  ['SQLite', ''],
  ['PostgreSQL', PG_SKIP],
])('two vantages, one %s state, one reports source', (name, skip) => {
  let db: TestDatabase | null = null;
  beforeAll(async () => {
    if (skip) return;
    if (name === 'PostgreSQL') db = await createTestDatabase();
    await startService();
  });
  afterAll(async () => {
    if (skip) return;
    await serve.stop();
    await db?.drop();
  });

  it.skipIf(skip)('every report is counted exactly once, in one state-wide finding per domain', async () => {
    const dir = tempDir();
    if (db) writeFileSync(join(dir, 'pg-password'), `${db.password}\n`, { mode: 0o600 });
    const eu = config(dir, db, 'eu');
    const us = config(dir, db, 'us');
    const [euStore, usStore] = [await openState(eu), await openState(us)];
    const cycle = (cfg: MonitorConfig, store: MonitorState, at: Date) =>
      runCycle(cfg, store, { now: () => at, stores: trustStores(cfg, {}), noDelivery: true });
    try {
      // One after the other: eu reads three, us the next two.
      await report(HOST, 3);
      const first = await cycle(eu, euStore, minutes(1));
      expect(first.reports.map((r) => r.reports.length)).toEqual([3]);
      await report(HOST, 2);
      await report('cdn.pinctl.test', 1);
      const second = await cycle(us, usStore, minutes(2));
      expect(second.reports.map((r) => r.reports.length)).toEqual([3]);
      let open = await reportFindings(usStore);
      expect(open.map((f) => [f.counts.domain, f.counts.total, f.vantage]).sort()).toEqual([
        [HOST, 5, null],
        ['cdn.pinctl.test', 1, null],
      ]);
      expect(open.every((f) => !f.key.includes('vantage=') && !f.title.startsWith('['))).toBe(true);

      // Both at the same time: whichever holds the decision lead reads the new lines; the other
      // reads none of them (it waits for the lead, or finds the cursor moved).
      await report(HOST, 4);
      const both = await Promise.all([cycle(eu, euStore, minutes(3)), cycle(us, usStore, minutes(3))]);
      const read = both.flatMap((r) => r.reports.map((c) => c.reports.length));
      expect(read.reduce((a, b) => a + b, 0)).toBe(4);
      open = await reportFindings(euStore);
      expect(open.map((f) => [f.counts.domain, f.counts.total, f.counts.inWindow]).sort()).toEqual([
        [HOST, 9, 9],
        ['cdn.pinctl.test', 1, 1],
      ]);
      // A later sweep of either vantage counts nothing again.
      await cycle(us, usStore, minutes(4));
      await cycle(eu, euStore, minutes(5));
      open = await reportFindings(euStore);
      expect(open.map((f) => [f.counts.domain, f.counts.total]).sort()).toEqual([
        [HOST, 9],
        ['cdn.pinctl.test', 1],
      ]);
    } finally {
      await euStore.close();
      await usStore.close();
    }
  }, 60_000);
});
