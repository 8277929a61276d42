/**
 * One sweep shared by `monitor once` processes of one vantage (the CLI compiled with tsc), on the
 * SQLite state and on PostgreSQL: A opens the sweep and probes, B and C join it and probe the
 * batches left, A is killed with kill -9 while it holds a batch; B and C exit 0 saying they helped;
 * D, started after A's lease ended, continues the same sweep (claims A's batch again) and decides
 * it. Counted at the servers: every endpoint probed once, but A's killed batch at most twice; the
 * committed sweep has one observation per endpoint; its one alert reaches the webhook receiver once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { tempDir, webhookReceiver, WebhookReceiver } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';
import { SlowEndpoint, StateReader, claimerOf, pgReader, sharedConfig, slowEndpoint, sqliteReader, until } from './shared-sweep-rig.js';

const ENDPOINTS = 24;
const BATCH = 2;
const LEASE_MS = 1500;

let compiled: Compiled;
let hook: WebhookReceiver;
const databases: TestDatabase[] = [];
let endpoints: SlowEndpoint[] = [];

beforeAll(async () => {
  compiled = compileForChildren('shared-once', ['cli', 'src', 'monitor']);
  hook = await webhookReceiver();
}, 300_000);
afterAll(async () => {
  for (const e of endpoints) await e.close();
  await hook?.close();
  for (const d of databases) await d.drop();
  compiled?.remove();
});

interface Once {
  proc: ChildProcess;
  out: string;
  done: Promise<number>;
}

function once(config: string, env: Record<string, string>): Once {
  const proc = spawn(process.execPath, [join(compiled.out, 'cli', 'main.js'), 'monitor', 'once', '--config', config, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, NO_COLOR: '1', PINCTL_SWEEP_BATCH: String(BATCH), PINCTL_SWEEP_LEASE_MS: String(LEASE_MS) },
  });
  const o: Once = { proc, out: '', done: new Promise((r) => proc.once('exit', (code, signal) => r(code ?? (signal ? 137 : -1)))) };
  proc.stdout!.on('data', (d: Buffer) => (o.out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (o.out += d.toString()));
  return o;
}

const json = (o: Once) => JSON.parse(o.out.slice(o.out.indexOf('{'))) as Record<string, any>;

describe.each([
  ['sqlite', ''],
  ['postgres', PG_SKIP],
])('monitor once processes share one sweep: %s', (backend, skip) => {
  it.skipIf(skip)('A leads and is killed holding a batch; B and C help; D continues and decides the same sweep; one alert', async () => {
    for (const e of endpoints) await e.close();
    endpoints = await Promise.all(Array.from({ length: ENDPOINTS }, () => slowEndpoint(400)));
    hook.requests.length = 0;
    const dir = tempDir();
    let state = './state';
    let env: Record<string, string> = {};
    let reader: () => Promise<StateReader> = async () => sqliteReader(join(dir, 'state'));
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      databases.push(db);
      state = `${db.url}\nstatePasswordEnv: PINCTL_TEST_PG_PASSWORD`;
      env = { PINCTL_TEST_PG_PASSWORD: db.password };
      reader = () => pgReader(db.urlWithPassword);
    }
    const config = sharedConfig(dir, state, endpoints.map((e) => e.port), `schedule: "*/5 * * * *"\nalerts:\n  webhook: { url: "${hook.url}", timeout: 2s }\n`);

    const a = once(config, env);
    let db: StateReader | null = null;
    await until('A to open its sweep', async () => {
      db ??= await reader().catch(() => null);
      return db !== null && (await db.rows(`SELECT id FROM sweep_runs`).catch(() => [])).length === 1;
    }, 60_000);
    const runId = String((await db!.rows(`SELECT id FROM sweep_runs`))[0]!.id);
    const [b, c] = [once(config, env), once(config, env)];
    await until('A to hold a batch once B and C probe', async () => {
      const rows = await db!.rows(`SELECT claimer, status FROM sweep_batches WHERE run = ?`, [runId]);
      const holds = (pid: number, status: string[]) => rows.some((r) => status.includes(String(r.status)) && claimerOf(pid).test(String(r.claimer)));
      // B and C have joined (a monitor started after A's death would take the free lead instead).
      return holds(a.proc.pid!, ['claimed']) && holds(b.proc.pid!, ['claimed', 'done']) && holds(c.proc.pid!, ['claimed', 'done']);
    }, 30_000, 20);
    a.proc.kill('SIGKILL');
    expect(await a.done).toBe(137);
    expect(await b.done, b.out).toBe(0);
    expect(await c.done, c.out).toBe(0);
    for (const h of [b, c]) {
      expect(json(h).helped).toMatchObject({ sweep: runId });
      expect(json(h).helped.endpoints).toBeGreaterThan(0);
    }
    expect((await db!.rows(`SELECT COUNT(*) AS n FROM sweeps`))[0]!.n).toBe(backend === 'postgres' ? '0' : 0); // nobody decided yet
    await new Promise((r) => setTimeout(r, LEASE_MS));

    const d = once(config, env);
    expect(await d.done, d.out).toBe(1); // the pin mismatch is open: exit 1
    const decided = json(d);
    expect(decided.sweep.id).toBe(runId);
    expect(decided.observations).toHaveLength(ENDPOINTS);
    expect(new Set(decided.observations.map((o: { endpoint: string }) => o.endpoint)).size).toBe(ENDPOINTS);
    const probedBy = decided.shared.probedBy as Record<string, number>;
    expect(Object.values(probedBy).reduce((x, y) => x + y, 0)).toBe(ENDPOINTS);
    // B and C probed; A's held batch went to whichever came first after its lease (B, C, or D).
    for (const p of [b, c]) expect(Object.keys(probedBy).some((k) => claimerOf(p.proc.pid!).test(k)), `${p.proc.pid} in ${JSON.stringify(probedBy)}`).toBe(true);
    expect(decided.opened.map((f: { kind: string }) => f.kind)).toEqual(['pin-mismatch']);

    // At the servers: one handshake per endpoint, except what A had probed of the batches it held when killed.
    const counts = endpoints.map((e) => e.handshakes);
    expect(Math.min(...counts)).toBe(1);
    expect(counts.reduce((x, y) => x + y, 0) - ENDPOINTS).toBeLessThanOrEqual(2 * BATCH);
    const sweeps = await db!.rows(`SELECT id, endpoints, addresses FROM sweeps`);
    expect(sweeps.map((s) => [s.id, Number(s.endpoints), Number(s.addresses)])).toEqual([[runId, ENDPOINTS, ENDPOINTS]]);
    expect(await db!.rows(`SELECT id FROM sweep_runs`)).toEqual([]);
    expect(hook.requests.map((r) => (r.body.pinctl as { finding: { kind: string } }).finding.kind)).toEqual(['pin-mismatch']);
    await db!.close();
  }, 180_000);
});
