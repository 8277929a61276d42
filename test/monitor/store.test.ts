/**
 * The store's compact layout: each distinct chain stored once (content-addressed), `chain_data` only
 * while an address serves no chain, many rows per statement — read back exactly as written, and
 * rows written by schema 1 (chain inline, chain_data = data) still read the same.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import { Store, SweepWrite } from '../../monitor/store.js';
import { Observation } from '../../monitor/types.js';
import { tempDir } from './helpers.js';

const chainA = [
  { position: 'leaf', source: 'served', subject: 'CN=a', issuer: 'CN=r', serialNumber: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', spkiSha256: 'pa', sha256: 'fa', keyType: 'ec P-256', keyBits: 256, sct: false },
  { position: 'root', source: 'trust-store', subject: 'CN=r', issuer: 'CN=r', serialNumber: '02', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2036-01-01T00:00:00.000Z', spkiSha256: 'pr', sha256: 'fr', keyType: 'ec P-256', keyBits: 256, sct: false },
] as Observation['chain'];

function obs(i: number, at: string, chain: Observation['chain'] | null): Observation {
  return {
    endpoint: `ep${i}.test:443`,
    host: `ep${i}.test`,
    port: 443,
    sni: `ep${i}.test`,
    address: '127.0.0.1',
    at,
    durationMs: 1.5,
    attempts: 1,
    protocol: chain ? 'TLSv1.3' : null,
    chain: chain ?? [],
    trusted: chain !== null,
    anchor: 'ca-file',
    problems: [],
    error: chain ? null : { reason: 'refused', code: 'REFUSED', message: 'connection refused' },
  };
}

function write(observations: Observation[], previous: SweepWrite['previous'], id: string): SweepWrite {
  return { sweep: { id, startedAt: id, finishedAt: id, durationMs: 1, configHash: 'h' }, observations, previous, opened: [], updated: [], resolved: [], events: [], outbox: [] };
}

describe('monitor store layout', () => {
  it('stores each chain once and reads every observation back as written, over hundreds of addresses', async () => {
    const dir = tempDir();
    const store = await Store.open(dir);
    try {
      const n = 407;
      const ids = Array.from({ length: n }, (_, i) => `ep${i}.test:443`);
      const first = Array.from({ length: n }, (_, i) => obs(i, 't1', i % 2 === 0 ? chainA : null));
      await store.commitSweep(write(first, await store.previousStates(ids), 's1'));
      expect(await store.latestObservations()).toEqual([...first].sort((a, b) => a.endpoint.localeCompare(b.endpoint)));
      const db = new Database(join(dir, 'monitor.db'));
      const count = (sql: string) => Number((db.prepare(sql).all()[0] as { n: number }).n);
      try {
        expect(count('SELECT COUNT(*) AS n FROM chains')).toBe(1);
        expect(count('SELECT COUNT(*) AS n FROM latest WHERE chain_data IS NOT NULL')).toBe(0);
      } finally {
        db.close();
      }
      // Sweep 2: the chained addresses stop answering, the others start serving the chain.
      const second = Array.from({ length: n }, (_, i) => obs(i, 't2', i % 2 === 0 ? null : chainA));
      await store.commitSweep(write(second, await store.previousStates(ids), 's2'));
      const prev = await store.previousStates(ids);
      for (let i = 0; i < n; i++) {
        const p = [...prev.values()].find((v) => v.last.endpoint === `ep${i}.test:443`)!;
        expect(p.last).toEqual(second[i]);
        // The last observation with a chain: sweep 1's for the even ones, sweep 2's for the odd ones.
        expect(p.lastWithChain).toEqual(i % 2 === 0 ? first[i] : second[i]);
      }
      // Sweep 3: still down — the last chain seen is kept.
      const third = Array.from({ length: n }, (_, i) => obs(i, 't3', null));
      await store.commitSweep(write(third, prev, 's3'));
      const prev3 = await store.previousStates(ids);
      for (let i = 0; i < n; i++) {
        const p = [...prev3.values()].find((v) => v.last.endpoint === `ep${i}.test:443`)!;
        expect(p.lastWithChain).toEqual(i % 2 === 0 ? first[i] : second[i]);
      }
      // History: every address in sweeps 1 and 2 (new, then changed), only the odd ones in sweep 3.
      expect(await store.count('observations')).toBe(2 * n + Math.floor(n / 2));
    } finally {
      store.close();
    }
  });

  it('reads rows written by schema 1 (chain inline, chain_data = data)', async () => {
    const dir = tempDir();
    (await Store.open(dir)).close();
    const db = new Database(join(dir, 'monitor.db'));
    const old = obs(1, 't0', chainA);
    try {
      db.exec(`INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash) VALUES ('s0', 't0', 't0', 1, 1, 1, 0, 'h')`);
      db.prepare(`INSERT INTO latest (endpoint, address, seq, data, chain_data) VALUES (?, ?, 1, ?, ?)`).run([old.endpoint, old.address, JSON.stringify(old), JSON.stringify(old)]);
    } finally {
      db.close();
    }
    const store = await Store.open(dir);
    try {
      let prev = await store.previousStates([old.endpoint]);
      expect([...prev.values()][0]).toEqual({ last: old, lastWithChain: old });
      const down = obs(1, 't1', null);
      await store.commitSweep(write([down], prev, 's1'));
      prev = await store.previousStates([old.endpoint]);
      expect([...prev.values()][0]).toEqual({ last: down, lastWithChain: old });
    } finally {
      store.close();
    }
  });

});
