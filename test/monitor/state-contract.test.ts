/**
 * The MonitorState contract: every backend of monitor/open-state.ts's registry runs these cases
 * (SQLite in a temp directory; PostgreSQL in a fresh database of the server PINCTL_TEST_PG names).
 * Two instances on one state stand for two monitor processes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { STATE_BACKENDS, StateBackend } from '../../monitor/open-state.js';
import type { EventWrite, MonitorState, SweepWrite } from '../../monitor/state.js';
import { Proposal, ProposalEvent, ProposalTransitionError, change } from '../../monitor/proposal-state.js';
import Database from 'libsql';
import pg from 'pg';
import { join } from 'node:path';
import type { Observation, StoredFinding } from '../../monitor/types.js';
import type { ChainDriftEvidence, ExpiryEvidence } from '../../monitor/evidence.js';
import { tempDir } from './helpers.js';
import { PG_SKIP, TestDatabase, createTestDatabase } from './pg.js';

const chainA = [
  { position: 'leaf', source: 'served', subject: 'CN=a', issuer: 'CN=r', serialNumber: '01', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', spkiSha256: 'pa', sha256: 'fa', keyType: 'ec P-256', keyBits: 256, sct: false },
  { position: 'root', source: 'trust-store', subject: 'CN=r', issuer: 'CN=r', serialNumber: '02', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2036-01-01T00:00:00.000Z', spkiSha256: 'pr', sha256: 'fr', keyType: 'ec P-256', keyBits: 256, sct: false },
] as Observation['chain'];

function obs(i: number, at: string, chain: Observation['chain'] | null, address = '127.0.0.1'): Observation {
  return {
    endpoint: `ep${i}.test:443`, host: `ep${i}.test`, port: 443, sni: `ep${i}.test`, address, at, durationMs: 1.5, attempts: 1,
    protocol: chain ? 'TLSv1.3' : null, chain: chain ?? [], trusted: chain !== null, anchor: 'ca-file', problems: [],
    error: chain ? null : { reason: 'refused', code: 'REFUSED', message: 'connection refused' },
  };
}

const write = (observations: Observation[], previous: SweepWrite['previous'], id: string, extra: Partial<SweepWrite> = {}): SweepWrite => ({
  sweep: { id, startedAt: `${id}-start`, finishedAt: `${id}-end`, durationMs: 1, configHash: 'h' },
  observations, previous, opened: [], updated: [], resolved: [], events: [], outbox: [], ...extra,
});

const cert = { position: 'leaf' as const, subject: 'CN=a', issuer: 'CN=r', spkiSha256: 'pa', sha256: 'fa', notAfter: '2027-01-01T00:00:00.000Z' };
const expiryEvidence = (level: number): ExpiryEvidence => ({ kind: 'expiry', addresses: ['127.0.0.1'], level, daysLeft: level - 1, pinned: false, certificate: cert });

const driftEvidence: ChainDriftEvidence = {
  kind: 'chain-drift', addresses: ['127.0.0.1'], from: 'fa', to: 'fb', newKeys: ['pb'], previousChain: [cert], chain: [{ ...cert, spkiSha256: 'pb', sha256: 'fb' }],
  changes: [{ change: 'leaf-key-changed', severity: 'warning', text: 'leaf key changed', from: cert, to: { ...cert, spkiSha256: 'pb', sha256: 'fb' } }],
};

function finding(id: string, key: string, openedAt: string, extra: Partial<StoredFinding> = {}): StoredFinding {
  return {
    id, key, kind: 'expiry', severity: 'warning', endpoint: 'ep1.test:443', host: 'ep1.test', port: 443, address: '127.0.0.1',
    title: `t ${id}`, explanation: 'e', action: 'a', signature: 's', details: expiryEvidence(30),
    openedAt, updatedAt: openedAt, resolvedAt: null, resolution: null, lastAlertAt: null, ...extra,
  };
}

const ev = (type: string, details: unknown, findingId: string | null = null): EventWrite => ({
  at: 't', endpoint: 'ep1.test:443', host: 'ep1.test', address: null, type, kind: 'chain-drift', severity: 'info', findingId, summary: type, details,
});

const alert = (id: string, channel: 'email' | 'webhook', createdAt: string) => ({
  id, channel, findingId: 'f1', type: 'new' as const, createdAt, nextAttemptAt: createdAt,
  message: { subject: `s ${id}`, text: 'x', webhook: { text: 'x' } },
});

/** A fresh, empty state of one backend, and a way to open a second handle on it. */
interface Fixture {
  open(): Promise<MonitorState>;
  cleanup(): Promise<void>;
  /** Runs SQL on the backend directly (to make a state as an older pinctl left it). */
  raw(sql: string): Promise<void>;
}

async function fixture(b: StateBackend): Promise<Fixture> {
  if (b.id === 'sqlite') {
    const dir = tempDir();
    const raw = async (sql: string) => {
      const db = new Database(join(dir, 'monitor.db'));
      db.exec(sql);
      db.close();
    };
    return { open: () => b.open({ state: dir, localDir: dir }), cleanup: async () => {}, raw };
  }
  const db: TestDatabase = await createTestDatabase();
  const raw = async (sql: string) => {
    const c = new pg.Client({ connectionString: db.urlWithPassword });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  return { open: () => b.open({ state: db.url, statePassword: db.password, localDir: tempDir() }), cleanup: () => db.drop(), raw };
}

const proposal = (id: string, domain: string, createdAt: string): Proposal => ({
  id, domain, state: 'proposed', version: 1, createdAt, updatedAt: createdAt,
  subjects: [{ findingId: 'f1', endpoint: 'ep1.test:443', host: 'ep1.test', address: '127.0.0.1', severity: 'warning' }],
  file: `${id}.json`, json: '{"domains":[]}', pins: ['new'], backups: ['old'], positions: ['leaf'], keepBackupsUntil: '2026-07-01',
  keepBackupsUntilAt: '2026-07-01T00:00:00.000Z', retire: ['old'], publishAttemptedAt: null, followUp: null, reason: null,
});
const retireEvent = (file: string): ProposalEvent => ({ type: 'retire', followUp: { file, json: '{}', pins: ['new'], backups: [], dropped: ['old'] }, note: `retire in ${file}` });

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
}, 180_000); // one DROP DATABASE per PostgreSQL case: slow on a loaded machine

describe.each(STATE_BACKENDS.map((b) => [b.id, b] as const))('MonitorState contract: %s', (id, backend) => {
  const skip = id === 'postgres' && PG_SKIP;
  const test = skip ? it.skip : it;
  if (skip) it(`PostgreSQL cases skipped: ${PG_SKIP}`, () => expect(PG_SKIP).not.toBe(''));

  async function withState(fn: (a: MonitorState, b: () => Promise<MonitorState>, f: Fixture) => Promise<void>) {
    const f = await fixture(backend);
    cleanups.push(f.cleanup);
    const handles: MonitorState[] = [];
    const open = async () => {
      const s = await f.open();
      handles.push(s);
      return s;
    };
    try {
      await fn(await open(), open, f);
    } finally {
      for (const h of handles) await h.close();
    }
  }

  test('reads every observation back as written, and remembers the last chain of an address that stopped serving one', async () => {
    await withState(async (s) => {
      const n = 157;
      const ids = Array.from({ length: n }, (_, i) => `ep${i}.test:443`);
      const first = Array.from({ length: n }, (_, i) => obs(i, 't1', i % 2 === 0 ? chainA : null));
      expect(await s.previousStates(ids)).toEqual(new Map());
      await s.commitSweep(write(first, await s.previousStates(ids), 's1'));
      const byEndpoint = [...first].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
      expect(await s.latestObservations()).toEqual(byEndpoint);
      const second = Array.from({ length: n }, (_, i) => obs(i, 't2', i % 2 === 0 ? null : chainA));
      await s.commitSweep(write(second, await s.previousStates(ids), 's2'));
      const prev = await s.previousStates(ids);
      expect(prev.get('ep0.test:443|127.0.0.1')).toEqual({ last: second[0], lastWithChain: first[0] });
      expect(prev.get('ep1.test:443|127.0.0.1')).toEqual({ last: second[1], lastWithChain: second[1] });
      expect(prev.get('ep3.test:443|127.0.0.1')?.lastWithChain).toEqual(second[3]);
      expect(await s.count('observations')).toBe(2 * n); // every address changed state twice
      expect((await s.lastSweep())?.id).toBe('s2');
      await s.commitSweep(write(second, await s.previousStates(ids), 's3'));
      expect(await s.count('observations')).toBe(2 * n); // nothing changed: no history rows
      expect((await s.lastChanges()).get('ep0.test:443')).toBe('t2');
    });
  });

  test('findings: opened, updated, resolved; open ones in order; recently resolved by kind', async () => {
    await withState(async (s) => {
      const f1 = finding('f1', 'k1', '2026-06-01T00:00:00.000Z');
      const f2 = finding('f2', 'k2', '2026-06-01T00:00:00.000Z', { kind: 'chain-drift', details: driftEvidence, flapping: true, lastSeenToAt: 't2', lastSeenFromAt: 't1' });
      const f0 = finding('f0', 'k0', '2026-06-02T00:00:00.000Z');
      await s.commitSweep(write([], new Map(), 's1', { opened: [f0, f2, f1] }));
      expect((await s.openFindings()).map((f) => f.id)).toEqual(['f1', 'f2', 'f0']);
      const up = { ...f1, severity: 'critical' as const, details: expiryEvidence(7), updatedAt: '2026-06-03T00:00:00.000Z' };
      const res = { ...f2, resolvedAt: '2026-06-03T00:00:00.000Z', resolution: 'gone', updatedAt: '2026-06-03T00:00:00.000Z' };
      await s.commitSweep(write([], new Map(), 's2', { updated: [up], resolved: [res] }));
      expect(await s.finding('f1')).toEqual(up);
      expect(await s.finding('f2')).toEqual(res);
      expect((await s.openFindings()).map((f) => f.id)).toEqual(['f1', 'f0']);
      expect((await s.recentlyResolved('chain-drift', '2026-06-02T00:00:00.000Z')).map((f) => f.id)).toEqual(['f2']);
      expect(await s.recentlyResolved('chain-drift', '2026-06-04T00:00:00.000Z')).toEqual([]);
      expect(await s.chainChanges()).toEqual(new Map([['ep1.test:443', 1]]));
    });
  });

  test('a commit that fails part-way keeps nothing of the sweep', async () => {
    await withState(async (s) => {
      for (const failAt of [1, 4, 8]) {
        const proposals = [{ op: 'create' as const, proposal: proposal('p1', 'ep1.test', 't'), note: 'proposed' }];
        const w = write([obs(1, 't1', chainA)], new Map(), `s${failAt}`, { opened: [finding('f1', 'k1', 't')], events: [ev('x', null)], outbox: [alert('a1', 'email', 't')], proposals });
        await expect(s.commitSweep(w, { failAt })).rejects.toThrow();
      }
      for (const table of ['sweeps', 'latest', 'observations', 'findings', 'events', 'outbox', 'proposals'] as const) expect(await s.count(table)).toBe(0);
    });
  });

  test('history: newest events by host or endpoint, oldest first; events of a finding', async () => {
    await withState(async (s) => {
      await s.commitSweep(write([], new Map(), 's1', { events: [ev('a', { i: 1 }, 'f1'), ev('b', null), ev('c', { i: 3 }, 'f1')] }));
      await s.addEvents([ev('d', { i: 4 })]);
      expect((await s.history('ep1.test')).map((e) => e.type)).toEqual(['a', 'b', 'c', 'd']);
      expect((await s.history('ep1.test:443', 2)).map((e) => e.type)).toEqual(['c', 'd']);
      expect((await s.findingEvents('f1')).map((e) => [e.type, e.details])).toEqual([['a', { i: 1 }], ['c', { i: 3 }]]);
    });
  });

  test('proposals: created and moved in a sweep, each applied change writes its history; active ones listed oldest first', async () => {
    await withState(async (s) => {
      const p1 = proposal('p1', 'ep1.test', '2026-06-01T00:00:00.000Z');
      const p2 = proposal('p2', 'ep2.test', '2026-06-02T00:00:00.000Z');
      await s.commitSweep(write([], new Map(), 's1', { proposals: [{ op: 'create', proposal: p2, note: 'p2' }, { op: 'create', proposal: p1, note: 'p1' }] }));
      expect((await s.proposals({ active: true })).map((p) => p.id)).toEqual(['p1', 'p2']);
      expect(await s.proposals()).toEqual([p1, p2]);
      const attempt = change(p1, { type: 'publish-attempt', note: 'publishing p1', details: { file: 'p1.json' } }, '2026-06-03T00:00:00.000Z');
      const published = change(attempt.after, { type: 'published', note: 'published p1', details: { version: 2 } }, '2026-06-03T00:00:01.000Z');
      expect(await s.applyProposalChanges([attempt, published])).toEqual({ lost: [] });
      const kept = change(p2, { type: 'keep', reason: 'old key still served', note: 'kept' }, '2026-06-04T00:00:00.000Z');
      await s.commitSweep(write([], new Map(), 's2', { proposals: [kept] }));
      expect(await s.proposals()).toEqual([published.after, kept.after]);
      expect((await s.proposals({ active: true })).map((p) => [p.id, p.state, p.version])).toEqual([['p1', 'published', 3]]);
      const h = await s.history('ep1.test');
      expect(h.map((e) => e.type)).toEqual(['pins-proposed', 'pins-proposed', 'pins-publish-attempt', 'pins-publish-published', 'pins-retire-skipped']);
      expect(h[3]).toMatchObject({ findingId: 'f1', summary: 'published p1', details: { version: 2 } });
      expect(await s.count('proposals')).toBe(2);
    });
  });

  test('two monitors retiring the same proposal record it once (compare-and-set inside the commit)', async () => {
    await withState(async (a, open) => {
      const b = await open();
      await a.commitSweep(write([], new Map(), 's0', { proposals: [{ op: 'create', proposal: proposal('p1', 'ep1.test', 't0'), note: 'proposed' }] }));
      // Both monitors read the pending proposal and decided its retirement before either committed.
      const [seenByA] = await a.proposals({ active: true });
      const [seenByB] = await b.proposals({ active: true });
      const first = change(seenByA!, retireEvent('r-a.json'), 't1');
      const second = change(seenByB!, retireEvent('r-b.json'), 't1');
      const [ra, rb] = await Promise.all([a.commitSweep(write([], new Map(), 's1', { proposals: [first] })), b.commitSweep(write([], new Map(), 's2', { proposals: [second] }))]);
      expect([...ra.lost, ...rb.lost]).toHaveLength(1);
      const winner = ra.lost.length === 0 ? 'r-a.json' : 'r-b.json';
      const retired = (await a.history('ep1.test')).filter((e) => e.type === 'pins-retire-proposed');
      expect(retired.map((e) => (e.details as { file: string }).file)).toEqual([winner]);
      expect((await b.proposals()).map((p) => [p.state, p.version, p.followUp?.file])).toEqual([['retiring', 2, winner]]);
      expect(await a.proposals({ active: true })).toEqual([]);
      // The loser's view is out of date: the machine refuses to decide the window again, before any write.
      expect(() => change((ra.lost.length === 0 ? first : second).after, { type: 'keep', reason: 'r', note: 'n' }, 't2')).toThrow(ProposalTransitionError);
    });
  });

  test('two monitors attempting to publish the same proposal at once: one attempt', async () => {
    await withState(async (a, open) => {
      const b = await open();
      const p = proposal('p1', 'ep1.test', 't0');
      await a.commitSweep(write([], new Map(), 's0', { proposals: [{ op: 'create', proposal: p, note: 'proposed' }] }));
      const attempts = [a, b, a, b].map((s, i) => ({ s, c: change(p, { type: 'publish-attempt', note: `attempt ${i}` }, 't1') }));
      const results = await Promise.all(attempts.map(({ s, c }) => s.applyProposalChanges([c])));
      expect(results.filter((r) => r.lost.length === 0)).toHaveLength(1);
      expect((await a.history('ep1.test')).filter((e) => e.type === 'pins-publish-attempt')).toHaveLength(1);
      expect((await b.proposals())[0]).toMatchObject({ state: 'proposed', version: 2, publishAttemptedAt: 't1' });
    });
  });

  test('a state written before proposals had a table: its history events become proposals on open, once', async () => {
    await withState(async (s, open, f) => {
      await s.addEvents([
        ev('pins-proposed', { file: 'p1.json', pins: ['k'], backups: ['o'], keepBackupsUntil: '2026-07-01', retire: ['o'] }, 'f1'),
        ev('pins-publish-attempt', { file: 'p1.json' }, 'f1'),
        ev('pins-publish-published', { file: 'p1.json', version: 2 }, 'f1'),
      ]);
      await s.close();
      // As an older pinctl left it: no proposals table, no migration mark.
      await f.raw(`DROP TABLE proposals; DELETE FROM meta WHERE key = 'proposals_migrated'`);
      for (let i = 0; i < 2; i++) {
        const again = await open();
        expect((await again.proposals()).map((p) => [p.domain, p.state, p.file, p.retire, p.publishAttemptedAt])).toEqual([['ep1.test', 'published', 'p1.json', ['o'], 't']]);
        await again.close();
      }
      await f.raw(`DELETE FROM meta WHERE key = 'proposals_migrated'`); // migrating again adds nothing (ids come from the events)
      const third = await open();
      expect(await third.count('proposals')).toBe(1);
    });
  });

  test('outbox: one row per claim, leases, tokens, backoff, counters', async () => {
    await withState(async (s) => {
      const t0 = new Date('2026-06-01T00:00:00.000Z');
      await s.commitSweep(write([], new Map(), 's1', { outbox: [alert('a2', 'email', '2026-06-01T00:00:00.000Z'), alert('a1', 'email', '2026-06-01T00:00:00.000Z'), alert('w1', 'webhook', '2026-06-01T00:00:00.000Z')] }));
      await s.commitSweep(write([], new Map(), 's2', { outbox: [alert('a1', 'email', 'later')] })); // same id: not queued twice
      expect(await s.channels()).toEqual(['email', 'webhook']);
      const c1 = await s.claimNext(t0, 60_000, 'email');
      expect(c1?.id).toBe('a1');
      expect((await s.claimNext(t0, 60_000, 'email'))?.id).toBe('a2');
      expect(await s.claimNext(t0, 60_000, 'email')).toBeNull(); // both leased
      expect(await s.markSent('a1', 'email', t0, 'not-the-token')).toBe(false);
      expect(await s.markSent('a1', 'email', t0, c1!.leaseToken)).toBe(true);
      // The lease of a2 runs out: another deliverer claims it, and the first one's token is void.
      const later = new Date(t0.getTime() + 61_000);
      const again = await s.claimNext(later, 60_000, 'email');
      expect(again).toMatchObject({ id: 'a2', attempts: 2 });
      expect(await s.markFailed('a2', 'email', 'smtp down', new Date(later.getTime() + 30_000), again!.leaseToken)).toBe(true);
      expect((await s.outbox('pending')).map((r) => [r.id, r.lastError, r.nextAttemptAt])).toEqual([['a2', 'smtp down', '2026-06-01T00:01:31.000Z'], ['w1', null, '2026-06-01T00:00:00.000Z']]);
      expect(await s.pendingByChannel()).toEqual(new Map([['email', 1], ['webhook', 1]]));
      const w = await s.claimNext(later, 60_000, 'webhook');
      expect(await s.markFailed('w1', 'webhook', 'gone', null, w!.leaseToken)).toBe(true);
      expect((await s.outbox('dead')).map((r) => r.id)).toEqual(['w1']);
      expect((await s.outbox('sent'))[0]).toMatchObject({ id: 'a1', sentAt: t0.toISOString(), message: { subject: 's a1' } });
      expect((await s.counters()).filter((c) => c.name.startsWith('alerts'))).toEqual([
        { name: 'alerts_failed', label: 'email', value: 1 },
        { name: 'alerts_failed', label: 'webhook', value: 1 },
        { name: 'alerts_sent', label: 'email', value: 1 },
      ]);
    });
  });

  test('one monitor leads the sweeps of a state at a time; a released lead can be taken', async () => {
    await withState(async (a, open) => {
      const b = await open();
      const lead = await a.leadSweep();
      expect(lead).not.toBeNull();
      expect(await b.leadSweep()).toBeNull();
      expect(await a.leadSweep()).toBeNull(); // not re-entrant: one sweep at a time, also in one process
      await lead!.release();
      const next = await b.leadSweep();
      expect(next).not.toBeNull();
      expect(await a.leadSweep()).toBeNull();
      await next!.release();
    });
  });

  test('vantages: each keeps its own view of an address, its own sweeps and its own lead', async () => {
    await withState(async (a, open) => {
      const b = await open();
      const ids = ['ep1.test:443', 'ep2.test:443'];
      const chainB = chainA.map((c, i) => (i === 0 ? { ...c, spkiSha256: 'pb', sha256: 'fb' } : c));
      const at = (o: Observation, vantage: string) => ({ ...o, vantage });
      const eu = [at(obs(1, 't1', chainA), 'eu'), at(obs(2, 't1', chainA), 'eu')];
      const us = [at(obs(1, 't2', chainB), 'us')];
      await a.commitSweep({ ...write(eu, await a.previousStates(ids, 'eu'), 's-eu'), sweep: { ...write([], new Map(), 's-eu').sweep, vantage: 'eu' } });
      await b.commitSweep({ ...write(us, await b.previousStates(ids, 'us'), 's-us'), sweep: { ...write([], new Map(), 's-us').sweep, vantage: 'us' } });
      // Same endpoint and address, two vantages: neither overwrote the other.
      expect((await a.previousStates(ids, 'eu')).get('ep1.test:443|127.0.0.1')?.last).toEqual(eu[0]);
      expect((await a.previousStates(ids, 'us')).get('ep1.test:443|127.0.0.1')?.last).toEqual(us[0]);
      expect(await a.previousStates(ids)).toEqual(new Map()); // the default vantage saw nothing
      expect(await a.latestObservations()).toEqual(expect.arrayContaining([...eu, ...us]));
      expect((await a.latestObservations()).length).toBe(3);
      expect(await a.otherVantages('eu', ids)).toEqual(us);
      expect(await a.otherVantages('us', ids)).toEqual(eu);
      expect(await a.otherVantages('us', ['ep2.test:443'])).toEqual([eu[1]]);
      expect((await a.lastSweep('eu'))?.id).toBe('s-eu');
      expect((await a.lastSweep('us'))).toMatchObject({ id: 's-us', vantage: 'us' });
      expect((await a.lastSweep())?.id).toBe('s-us');
      expect(await a.lastSweep('ap')).toBeNull();
      // Each vantage keeps its history of changes apart: eu's second sweep is no change for eu.
      await a.commitSweep({ ...write(eu, await a.previousStates(ids, 'eu'), 's-eu2'), sweep: { ...write([], new Map(), 's-eu2').sweep, vantage: 'eu' } });
      expect(await a.count('observations')).toBe(3);
      // One lead per vantage; the decision lead is one for the whole state.
      const euLead = await a.leadSweep('eu');
      const usLead = await b.leadSweep('us');
      expect(euLead).not.toBeNull();
      expect(usLead).not.toBeNull();
      expect(await b.leadSweep('eu')).toBeNull();
      const decision = await a.leadDecision();
      expect(decision).not.toBeNull();
      expect(await b.leadDecision()).toBeNull();
      await decision!.release();
      const next = await b.leadDecision();
      expect(next).not.toBeNull();
      for (const l of [euLead, usLead, next]) await l!.release();
    });
  });

  test('vantages: a finding keeps the vantage that found it; state-wide and default ones have none', async () => {
    await withState(async (s) => {
      const eu = finding('f-eu', 'k|vantage=eu', '2026-06-01T00:00:00.000Z', { vantage: 'eu' });
      const plain = finding('f0', 'k', '2026-06-01T00:00:00.000Z');
      const wide = finding('f-vd', 'vantage-disagreement|ep1.test:443', '2026-06-01T00:00:00.000Z', { kind: 'vantage-disagreement', address: null });
      await s.commitSweep(write([], new Map(), 's1', { opened: [eu, plain, wide] }));
      expect(await s.finding('f-eu')).toEqual(eu);
      expect(await s.finding('f0')).toEqual(plain);
      expect((await s.openFindings()).map((f) => [f.id, f.vantage])).toEqual([['f-eu', 'eu'], ['f-vd', undefined], ['f0', undefined]]);
    });
  });

  test('alerts scheduled while the clock was ahead become due now, others keep their time', async () => {
    await withState(async (s) => {
      const now = new Date('2026-06-01T00:00:00.000Z');
      await s.commitSweep(write([], new Map(), 's1', { outbox: [alert('far', 'email', '2026-06-02T00:00:00.000Z'), alert('near', 'email', '2026-06-01T00:10:00.000Z')] }));
      expect(await s.rebaseFutureAlerts(now, 3_600_000)).toBe(1);
      expect((await s.outbox('pending')).map((r) => [r.id, r.nextAttemptAt])).toEqual([
        ['near', '2026-06-01T00:10:00.000Z'],
        ['far', '2026-06-01T00:00:00.000Z'],
      ]);
    });
  });

  test('two deliverers claiming at once never get the same row', async () => {
    await withState(async (a, open) => {
      const b = await open();
      const rows = Array.from({ length: 30 }, (_, i) => alert(`r${String(i).padStart(2, '0')}`, 'email', '2026-06-01T00:00:00.000Z'));
      await a.commitSweep(write([], new Map(), 's1', { outbox: rows }));
      const t = new Date('2026-06-01T00:00:00.000Z');
      const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).claimNext(t, 60_000, 'email')));
      const got = claims.filter((c) => c !== null).map((c) => c!.id);
      expect(got.length).toBe(30);
      expect(new Set(got).size).toBe(30);
    });
  });

  test('shared sweeps: one open run per vantage; batches claimed, renewed, completed; an ended lease is claimed again; the commit closes the run once', async () => {
    await withState(async (a, open) => {
      const b = await open();
      const t0 = new Date('2026-06-01T00:00:00.000Z');
      const at = (ms: number) => new Date(t0.getTime() + ms);
      const run = { id: 'r1', vantage: 'eu', configHash: 'h', startedAt: t0.toISOString() };
      expect(await a.openRun(run, [['e1', 'e2'], ['e3'], ['e4']])).toBe(true);
      expect(await b.openRun({ ...run, id: 'r2' }, [['e1']])).toBe(false); // one open run per vantage
      expect(await b.openedRun('eu')).toEqual({ ...run, batches: 3 });
      expect(await b.openedRun('us')).toBeNull();
      const c0 = await a.claimBatch('r1', t0, 1000, 'A');
      const c1 = await b.claimBatch('r1', t0, 1000, 'B');
      expect([c0?.n, c0?.endpoints, c1?.n, c1?.endpoints]).toEqual([0, ['e1', 'e2'], 1, ['e3']]);
      const c2 = await a.claimBatch('r1', t0, 1000, 'A');
      expect(c2?.n).toBe(2);
      expect(await b.claimBatch('r1', at(500), 1000, 'B')).toBeNull(); // every batch is claimed and leased
      expect(await a.renewBatch(c0!, at(900), 1000)).toBe(true); // A is still probing batch 0: lease to 1900
      const result = (e: string) => ({ observations: [obs(Number(e.slice(1)), 't', chainA)], certificates: { fa: 'AAEC' } });
      expect(await b.completeBatch(c1!, result('e3'))).toBe(true);
      expect(await a.batchProgress('r1', at(500))).toEqual({ total: 3, done: 1, claimed: 2, byClaimer: { B: 1 } });
      // A's claim of batch 2 ran out (A died): B claims it again, A's late completion is refused.
      const again = await b.claimBatch('r1', at(1500), 1000, 'B');
      expect(again).toMatchObject({ n: 2, endpoints: ['e4'] });
      expect(await a.completeBatch(c2!, result('e4'))).toBe(false);
      expect(await a.renewBatch(c2!, at(1500), 1000)).toBe(false);
      expect(await b.completeBatch(again!, result('e4'))).toBe(true);
      expect(await b.completeBatch(again!, result('e4'))).toBe(false); // done: not twice
      expect(await a.completeBatch(c0!, result('e1'))).toBe(true); // renewed: still A's
      expect(await b.batchProgress('r1', at(1600))).toEqual({ total: 3, done: 3, claimed: 0, byClaimer: { A: 2, B: 2 } });
      const results = [];
      for await (const r of b.batchResults('r1')) results.push(r);
      expect(results).toEqual([result('e1'), result('e3'), result('e4')]);
      await a.commitSweep(write([], new Map(), 'r1', { run: 'r1' }));
      expect(await b.openedRun('eu')).toBeNull();
      // A second decider of the same run commits nothing.
      await expect(b.commitSweep(write([], new Map(), 'r1-again', { run: 'r1' }))).rejects.toMatchObject({ code: 'STATE_BUSY' });
      expect(await b.count('sweeps')).toBe(1);
      expect(await b.claimBatch('r1', at(2000), 1000, 'B')).toBeNull();
      // A run that will not be decided is dropped, and the vantage can open a new one.
      expect(await a.openRun({ ...run, id: 'r3' }, [['e1']])).toBe(true);
      await b.dropRun('r3');
      expect(await a.openedRun('eu')).toBeNull();
      expect(await a.openRun({ ...run, id: 'r4' }, [])).toBe(true);
      expect(await a.batchProgress('r4', t0)).toEqual({ total: 0, done: 0, claimed: 0, byClaimer: {} });
    });
  });

  test('shared sweeps: three claimers at once never get the same batch', async () => {
    await withState(async (a, open) => {
      const [b, c] = [await open(), await open()];
      const batches = Array.from({ length: 40 }, (_, i) => [`e${i}`]);
      await a.openRun({ id: 'r1', vantage: 'default', configHash: 'h', startedAt: '2026-06-01T00:00:00.000Z' }, batches);
      const t = new Date('2026-06-01T00:00:00.000Z');
      const got: { who: string; n: number }[] = [];
      const claimer = async (s: MonitorState, who: string) => {
        for (let cl = await s.claimBatch('r1', t, 60_000, who); cl; cl = await s.claimBatch('r1', t, 60_000, who)) got.push({ who, n: cl.n });
      };
      await Promise.all([claimer(a, 'A'), claimer(b, 'B'), claimer(c, 'C')]);
      expect(got.map((g) => g.n).sort((x, y) => x - y)).toEqual(batches.map((_, i) => i));
      expect(new Set(got.map((g) => g.who)).size).toBeGreaterThan(1);
    });
  });
});
