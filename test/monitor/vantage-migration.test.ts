/**
 * A state written before vantages (SQLite schema 2, PostgreSQL schema 1: `latest` keyed by endpoint
 * and address) is upgraded on open: its rows become the default vantage's, and another vantage's
 * view of the same address is kept beside them.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import pg from 'pg';
import { Store } from '../../monitor/store.js';
import { PgState } from '../../monitor/state-pg.js';
import type { MonitorState, SweepWrite } from '../../monitor/state.js';
import type { Observation } from '../../monitor/types.js';
import { tempDir } from './helpers.js';
import { PG_SKIP, createTestDatabase } from './pg.js';

const chain = [
  { position: 'leaf', source: 'served', subject: 'CN=a', issuer: 'CN=r', serialNumber: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', spkiSha256: 'pa', sha256: 'fa', keyType: 'ec P-256', keyBits: 256, sct: false },
] as Observation['chain'];
const old: Observation = {
  endpoint: 'ep.test:443', host: 'ep.test', port: 443, sni: 'ep.test', address: '127.0.0.1', at: 't0', durationMs: 1, attempts: 1,
  protocol: 'TLSv1.3', chain, trusted: true, anchor: 'ca-file', problems: [], error: null,
};
const sweep = (id: string, vantage: string, observations: Observation[], previous: SweepWrite['previous']): SweepWrite => ({
  sweep: { id, startedAt: id, finishedAt: id, durationMs: 1, configHash: 'h', vantage }, observations, previous, opened: [], updated: [], resolved: [], events: [], outbox: [],
});

/** The old rows read as the default vantage's; eu's view of the same address goes beside them. */
async function checkUpgraded(s: MonitorState): Promise<void> {
  expect((await s.previousStates([old.endpoint])).get('ep.test:443|127.0.0.1')).toEqual({ last: old, lastWithChain: old });
  expect(await s.previousStates([old.endpoint], 'eu')).toEqual(new Map());
  const eu = { ...old, at: 't1', vantage: 'eu' };
  await s.commitSweep(sweep('s1', 'eu', [eu], new Map()));
  expect((await s.previousStates([old.endpoint], 'eu')).get('ep.test:443|127.0.0.1')?.last).toEqual(eu);
  expect((await s.previousStates([old.endpoint])).get('ep.test:443|127.0.0.1')?.last).toEqual(old);
  expect(await s.otherVantages('eu', [old.endpoint])).toEqual([{ ...old, vantage: 'default' }]);
  expect((await s.lastSweep(undefined))?.id).toBe('s1');
  expect((await s.lastSweep('default'))?.id).toBe('s0');
  expect(await s.count('latest')).toBe(2);
}

describe('a state from before vantages', () => {
  it('SQLite schema 2 is upgraded to 3 on open', async () => {
    const dir = tempDir();
    const db = new Database(join(dir, 'monitor.db'));
    try {
      db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '2');
        CREATE TABLE sweeps (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
          duration_ms REAL NOT NULL, endpoints INTEGER NOT NULL, addresses INTEGER NOT NULL, failures INTEGER NOT NULL, config_hash TEXT NOT NULL);
        CREATE TABLE latest (endpoint TEXT NOT NULL, address TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, chain_data TEXT, chain_key TEXT,
          PRIMARY KEY (endpoint, address));
        CREATE TABLE observations (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL,
          address TEXT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, chain_key TEXT);
        CREATE TABLE findings (id TEXT PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, endpoint TEXT NOT NULL,
          host TEXT NOT NULL, port INTEGER NOT NULL, address TEXT, title TEXT NOT NULL, explanation TEXT NOT NULL, action TEXT NOT NULL,
          signature TEXT NOT NULL, details TEXT NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT, last_alert_at TEXT);
        INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash) VALUES ('s0', 's0', 's0', 1, 1, 1, 0, 'h');`);
      db.prepare(`INSERT INTO latest (endpoint, address, seq, data) VALUES (?, ?, 1, ?)`).run([old.endpoint, old.address, JSON.stringify(old)]);
    } finally {
      db.close();
    }
    const s = await Store.open(dir);
    try {
      await checkUpgraded(s);
    } finally {
      s.close();
    }
  });

  it.skipIf(PG_SKIP)('PostgreSQL schema 1 is upgraded to 2 on open', async () => {
    const t = await createTestDatabase();
    const c = new pg.Client({ connectionString: t.urlWithPassword });
    await c.connect();
    try {
      await c.query(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE sweeps (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
          duration_ms DOUBLE PRECISION NOT NULL, endpoints INTEGER NOT NULL, addresses INTEGER NOT NULL, failures INTEGER NOT NULL, config_hash TEXT NOT NULL);
        CREATE TABLE latest (ord BIGSERIAL, endpoint TEXT NOT NULL, address TEXT NOT NULL, seq BIGINT NOT NULL, data TEXT NOT NULL, chain_key TEXT,
          chain_data TEXT, PRIMARY KEY (endpoint, address));
        CREATE TABLE observations (id BIGSERIAL PRIMARY KEY, seq BIGINT NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL, address TEXT NOT NULL,
          at TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, chain_key TEXT);
        CREATE TABLE findings (id TEXT PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, endpoint TEXT NOT NULL,
          host TEXT NOT NULL, port INTEGER NOT NULL, address TEXT, title TEXT NOT NULL, explanation TEXT NOT NULL, action TEXT NOT NULL,
          signature TEXT NOT NULL, details TEXT NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT, last_alert_at TEXT);
        INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash) VALUES ('s0', 's0', 's0', 1, 1, 1, 0, 'h');`);
      await c.query(`INSERT INTO latest (endpoint, address, seq, data) VALUES ($1, $2, 1, $3)`, [old.endpoint, old.address, JSON.stringify(old)]);
      const s = await PgState.open(t.url, { password: t.password, certDir: tempDir() });
      try {
        await checkUpgraded(s);
        expect((await c.query(`SELECT value FROM meta WHERE key = 'schema'`)).rows).toEqual([{ value: '2' }]);
      } finally {
        await s.close();
      }
    } finally {
      await c.end();
      await t.drop();
    }
  });
});
