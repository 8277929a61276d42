/**
 * A sweep larger than one statement's worth of rows (PostgreSQL writes ROWS_PER_STATEMENT rows per
 * statement, so a 100,000-endpoint commit does not hold every row's JSON three times at once):
 * every observation, latest row and event is written, on every backend, and a repeat sweep updates
 * every latest row.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { STATE_BACKENDS } from '../../monitor/open-state.js';
import type { SweepWrite } from '../../monitor/state.js';
import type { Observation } from '../../monitor/types.js';
import { tempDir } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';

const N = 4500; // two full statements and a partial one

function obs(i: number, at: string, chain: boolean): Observation {
  const leaf = { position: 'leaf' as const, source: 'served' as const, subject: `CN=ep${i}`, issuer: 'CN=r', serialNumber: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', spkiSha256: `p${i % 7}`, sha256: `f${i % 7}`, keyType: 'ec P-256', keyBits: 256, sct: false };
  return {
    endpoint: `ep${i}.test:443`, host: `ep${i}.test`, port: 443, sni: `ep${i}.test`, address: '127.0.0.1', at, durationMs: 1, attempts: 1,
    protocol: chain ? 'TLSv1.3' : null, chain: chain ? [leaf] : [], trusted: chain, anchor: 'ca-file', problems: [],
    error: chain ? null : { reason: 'refused', code: 'REFUSED', message: 'refused' },
  };
}

function sweepOf(id: string, observations: Observation[], previous: SweepWrite['previous']): SweepWrite {
  const events = observations.map((o) => ({ at: o.at, endpoint: o.endpoint, host: o.host, address: o.address, type: 'first-seen', kind: null, severity: null, findingId: null, summary: 's' }));
  return { sweep: { id, startedAt: o0(observations), finishedAt: o0(observations), durationMs: 1, configHash: 'h' }, observations, previous, opened: [], updated: [], resolved: [], events, outbox: [] };
}
const o0 = (list: Observation[]) => list[0]!.at;

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const d of drops) await d();
});

describe.each(STATE_BACKENDS.map((b) => [b.id, b] as const))('a %s sweep of 4,500 addresses', (id, backend) => {
  it.skipIf(id === 'postgres' && PG_SKIP)('writes every row, and a repeat sweep updates every latest row', async () => {
    let cfg = { state: tempDir(), localDir: tempDir(), statePassword: null as string | null };
    if (id === 'postgres') {
      const db: TestDatabase = await createTestDatabase();
      drops.push(db.drop);
      cfg = { state: db.url, localDir: tempDir(), statePassword: db.password };
    }
    const store = await backend.open(cfg);
    try {
      const ids = Array.from({ length: N }, (_, i) => `ep${i}.test:443`);
      await store.commitSweep(sweepOf('s1', Array.from({ length: N }, (_, i) => obs(i, '2026-06-01T00:00:00.000Z', true)), await store.previousStates(ids)));
      expect([await store.count('observations'), await store.count('latest'), await store.count('events')]).toEqual([N, N, N]);
      // Every address stops answering: every latest row changes, each keeps its last chain.
      await store.commitSweep(sweepOf('s2', Array.from({ length: N }, (_, i) => obs(i, '2026-06-01T01:00:00.000Z', false)), await store.previousStates(ids)));
      const latest = await store.latestObservations();
      expect(latest).toHaveLength(N);
      expect(latest.every((o) => o.error?.code === 'REFUSED')).toBe(true);
      const prev = await store.previousStates(ids);
      const keptChain = [...prev.values()].filter((p) => p.lastWithChain?.chain[0]?.subject === `CN=${p.last.host.slice(0, -'.test'.length)}`);
      expect(keptChain).toHaveLength(N);
    } finally {
      await store.close();
    }
  }, 120_000);
});
