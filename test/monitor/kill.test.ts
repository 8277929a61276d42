/**
 * kill -9 in the middle of sweeps: a child process (the monitor compiled with tsc) runs cycles in a
 * loop and is SIGKILLed at several moments; the database must open, pass SQLite's integrity check,
 * and hold whole sweeps only (counters, sweeps, latest rows and queued alerts agree).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'libsql';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { freePort, pkiFile, tempDir, writeConfig } from './helpers.js';
import { compileForChildren, compiledDir } from '../helpers/compile.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
// Under node_modules so the compiled files resolve the project's packages.
const OUT = compiledDir('monitor-kill');

let server: Running & { server: import('node:tls').Server };
beforeAll(async () => {
  server = await tlsServer('chain-intermediate2.pem', 'leaf.key');
  compileForChildren('monitor-kill', ['monitor']);
}, 120_000);
afterAll(async () => {
  await server.close();
  rmSync(OUT, { recursive: true, force: true });
});

const CHILD = (dir: string) => `
import { loadConfig } from '${OUT}/monitor/config.js';
import { runCycle } from '${OUT}/monitor/cycle.js';
import { Store } from '${OUT}/monitor/store.js';
import { trustStores } from '${OUT}/monitor/sweep.js';
const cfg = loadConfig('${join(dir, 'monitor.yaml')}', { env: {}, cwd: '${dir}', now: new Date() });
const store = await Store.open(cfg.state);
const stores = trustStores(cfg, {});
let t = Date.parse('2026-06-01T00:00:00Z');
for (let i = 0; ; i++) {
  t += 3_600_000; // an hour per cycle: reminders and retries keep the outbox busy
  await runCycle(cfg, store, { now: () => new Date(t), stores });
  if (i === 0) process.stdout.write('first\\n');
}
`;

describe('kill -9 during sweeps', () => {
  it('leaves a consistent database every time', async () => {
    const dir = tempDir();
    writeConfig(
      dir,
      `schedule: "* * * * *"
state: ./state
retries: 0
alerts:
  email: { smtp: "smtp://127.0.0.1:${await freePort()}", from: "a@b.test", to: ["c@d.test"], timeout: 200ms }
  reminder: 1h
  retry: { initial: 1s, max: 1s }
endpoints:
  - host: api.pinctl.test
    port: ${server.port}
    addresses: [127.0.0.1, 127.0.0.2]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('intermediate.pem')}"]
`,
    );
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD(dir));
    for (const delay of [5, 40, 120, 250]) {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((r, reject) => {
        child.stdout.once('data', () => r());
        child.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
      });
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const db = new Database(join(dir, 'state', 'monitor.db'));
      try {
        const one = async (sql: string) => db.prepare(sql).all()[0] as Record<string, unknown>;
        expect(String((await one('PRAGMA integrity_check')).integrity_check)).toBe('ok');
        const sweeps = Number((await one('SELECT COUNT(*) AS n FROM sweeps')).n);
        expect(sweeps).toBeGreaterThan(0);
        // The counter is bumped in the same transaction as the sweep row.
        expect(Number((await one(`SELECT value FROM counters WHERE name = 'sweeps'`)).value)).toBe(sweeps);
        // No half-written sweep: every latest row belongs to a committed sweep, both addresses each time.
        expect(Number((await one('SELECT COUNT(*) AS n FROM latest WHERE seq NOT IN (SELECT seq FROM sweeps)')).n)).toBe(0);
        expect(Number((await one('SELECT COUNT(DISTINCT seq) AS n FROM latest')).n)).toBe(1);
        expect(Number((await one('SELECT COUNT(*) AS n FROM latest')).n)).toBe(2);
        // Every queued alert belongs to a finding, and every finding that was alerted has its alert.
        expect(Number((await one('SELECT COUNT(*) AS n FROM outbox WHERE finding_id NOT IN (SELECT id FROM findings)')).n)).toBe(0);
        expect(Number((await one('SELECT COUNT(*) AS n FROM findings WHERE last_alert_at IS NOT NULL AND id NOT IN (SELECT finding_id FROM outbox)')).n)).toBe(0);
        expect(Number((await one(`SELECT COUNT(*) AS n FROM findings WHERE resolved_at IS NULL AND kind = 'pin-mismatch'`)).n)).toBe(1);
      } finally {
        db.close();
      }
    }
  }, 120_000);
});
