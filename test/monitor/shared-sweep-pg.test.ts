/**
 * Two, then three, `monitor run` processes of one vantage (the monitor compiled with tsc) on one
 * PostgreSQL state share each sweep of 40 slow TLS endpoints: every endpoint is probed once per
 * sweep (connections counted at the servers), every process probes some batches, the findings are
 * decided once. In the second sweep the lead is killed with kill -9 while it holds a batch: a
 * follower takes the lead over, claims the killed batch again when its lease ends, and decides the
 * same sweep. Every alert reaches the webhook receiver once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { tempDir, webhookReceiver, WebhookReceiver } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { MonitorChild, runnerScript, startMonitor } from './monitor-procs.js';
import { SlowEndpoint, StateReader, claimerOf, pgReader, sharedConfig, slowEndpoint, until } from './shared-sweep-rig.js';

const ENDPOINTS = 40;
const BATCH = 4;
const LEASE_MS = 2000;
/** Seconds between sweeps: one monitor alone takes ~8 s for the 40 endpoints (400 ms each, concurrency 2). */
const SLOT_S = 15;
/** monitor/state-pg.ts: the per-vantage sweep lead is the advisory lock (741300003, hashtext(vantage)). */
const LEAD_HOLDER = `SELECT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = 741300003 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

let compiled: Compiled;
let hook: WebhookReceiver;
let endpoints: SlowEndpoint[] = [];
const databases: TestDatabase[] = [];
const children: MonitorChild[] = [];

beforeAll(async () => {
  if (PG_SKIP) return;
  compiled = compileForChildren('shared-run', ['monitor']);
  hook = await webhookReceiver();
}, 300_000);
afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  for (const e of endpoints) await e.close();
  await hook?.close();
  for (const d of databases) await d.drop();
  compiled?.remove();
});

const alertIds = () => hook.requests.map((r) => String((r.body.pinctl as { alertId: string }).alertId));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lead's log line of a sweep: who probed how many endpoints. */
function probedBy(monitors: MonitorChild[], sweepId: string): Map<string, number> {
  const line = monitors.map((m) => m.out.match(new RegExp(`sweep ${sweepId.replace(/[.]/g, '\\.')}: .*probed by (.+) \\(\\d+ batch`))).find((x) => x);
  return new Map((line?.[1] ?? '').split(', ').filter(Boolean).map((s) => [s.slice(0, s.lastIndexOf(':')), Number(s.slice(s.lastIndexOf(':') + 1))]));
}

async function sweepRows(db: StateReader) {
  return (await db.rows(`SELECT id, endpoints, addresses FROM sweeps ORDER BY seq`)).map((r) => ({ id: String(r.id), endpoints: Number(r.endpoints), addresses: Number(r.addresses) }));
}

describe.skipIf(PG_SKIP)('monitor run processes of one vantage share each sweep (PostgreSQL)', () => {
  it.each([2, 3])('%i monitors: each endpoint probed once per sweep, by all of them; the lead killed mid-sweep; alerts once', async (n) => {
    for (const e of endpoints) await e.close();
    endpoints = await Promise.all(Array.from({ length: ENDPOINTS }, () => slowEndpoint(400)));
    hook.requests.length = 0;
    const db = await createTestDatabase();
    databases.push(db);
    const dir = tempDir();
    const extra = `schedule: "*/${SLOT_S} * * * * *"\nstatePasswordEnv: PINCTL_TEST_PG_PASSWORD\nalerts:\n  webhook: { url: "${hook.url}", timeout: 2s }\n  reminder: 1h\n`;
    const config = sharedConfig(dir, db.url, endpoints.map((e) => e.port), extra);
    const script = join(dir, 'child.mjs');
    writeFileSync(script, runnerScript(compiled.out, config, dir, ['PINCTL_SWEEP_BATCH', 'PINCTL_SWEEP_LEASE_MS']));
    const env = { PINCTL_SWEEP_BATCH: String(BATCH), PINCTL_SWEEP_LEASE_MS: String(LEASE_MS) };
    const monitors = await Promise.all(Array.from({ length: n }, () => startMonitor(script, db.password, env)));
    children.push(...monitors);
    const state = await pgReader(db.urlWithPassword);
    try {
      // Sweep 1: the first slot at least 2 s after every monitor is up (one right at start-up can
      // find a monitor still starting), shared by all, each endpoint once.
      const slot = Math.ceil((Date.now() + 2000) / (SLOT_S * 1000)) * SLOT_S * 1000;
      await sleep(slot - 1000 - Date.now());
      for (const e of endpoints) e.handshakes = 0;
      const ofSlot = async () => (await sweepRows(state)).filter((r) => Date.parse(r.id.slice(0, 24)) >= slot - 500);
      await until('the first sweep', async () => (await ofSlot()).length === 1, 40_000, 100);
      const before = (await sweepRows(state)).length;
      const [first] = await ofSlot();
      expect(first).toMatchObject({ endpoints: ENDPOINTS, addresses: ENDPOINTS });
      expect(endpoints.map((e) => e.handshakes)).toEqual(endpoints.map(() => 1));
      await until('the lead to log sweep 1', () => probedBy(monitors, first!.id).size > 0, 5000);
      const by = probedBy(monitors, first!.id);
      expect([...by.values()].reduce((x, y) => x + y, 0)).toBe(ENDPOINTS);
      for (const m of monitors) expect([...by.keys()].some((k) => claimerOf(m.proc.pid!).test(k)), `${m.proc.pid} in ${[...by.keys()].join(', ')}: ${m.out}`).toBe(true);
      await until('the pin-mismatch alert', () => hook.requests.length >= 1, 10_000);

      // Sweep 2: endpoint 1 changes key; the lead is killed while it holds a batch.
      for (const e of endpoints) e.handshakes = 0;
      endpoints[1]!.serve('chain-new-key.pem', 'leaf-new-key.key');
      let run = '';
      let lead = 0;
      await until('the lead of sweep 2 to hold a batch', async () => {
        run = String((await state.rows(`SELECT id FROM sweep_runs`))[0]?.id ?? '');
        lead = Number(/pid (\d+)$/.exec(String((await state.rows(LEAD_HOLDER))[0]?.app ?? ''))?.[1] ?? 0);
        const held = await state.rows(`SELECT claimer FROM sweep_batches WHERE run = $1 AND status = 'claimed'`, [run]);
        return run !== '' && held.some((r) => claimerOf(lead).test(String(r.claimer)));
      }, 30_000, 20);
      const killed = monitors.find((m) => m.proc.pid === lead)!;
      killed.proc.kill('SIGKILL');
      const survivors = monitors.filter((m) => m !== killed);
      await until('sweep 2 to be decided', async () => (await sweepRows(state)).length === before + 1, 30_000, 100);
      const second = (await sweepRows(state))[before]!;
      expect(second).toEqual({ id: run, endpoints: ENDPOINTS, addresses: ENDPOINTS });
      const counts = endpoints.map((e) => e.handshakes);
      expect(Math.min(...counts)).toBe(1);
      expect(counts.reduce((x, y) => x + y, 0) - ENDPOINTS).toBeLessThanOrEqual(2 * BATCH); // what the lead probed of its batches
      // A survivor says it took the lead over and logs the sweep (its log line follows the commit).
      await until('the new lead to log sweep 2', () => survivors.some((m) => m.out.includes(`the lead of sweep ${run} went away`) && m.out.includes(`sweep ${run}: `)), 5000);
      const open = (await state.rows(`SELECT kind, endpoint FROM findings WHERE resolved_at IS NULL ORDER BY kind, endpoint`)).map((r) => `${r.kind} ${r.endpoint}`);
      const ep = (i: number) => `api.pinctl.test:${endpoints[i]!.port}`;
      expect(open).toEqual([`chain-drift ${ep(1)}`, ...[ep(0), ep(1)].sort().map((e) => `pin-mismatch ${e}`)]);
      await until('three alerts', () => hook.requests.length >= 3, 15_000);
      await sleep(1500); // a duplicate would arrive by now
      expect(alertIds().length).toBe(3);
      expect(new Set(alertIds()).size).toBe(3);
      expect((await state.rows(`SELECT status, COUNT(*)::int AS n FROM outbox GROUP BY status`))).toEqual([{ status: 'sent', n: 3 }]);
      await Promise.all(survivors.map((m) => (m.proc.kill('SIGTERM'), new Promise((r) => m.proc.once('exit', r)))));
    } finally {
      await state.close();
      for (const m of monitors) m.proc.kill('SIGKILL'); // a failed case leaves nothing sweeping into the next
    }
  }, 180_000);
});
