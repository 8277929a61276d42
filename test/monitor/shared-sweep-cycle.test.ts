/**
 * A shared sweep's life in one process (runCycle on SQLite, real TLS endpoints counting their
 * handshakes): a sweep whose commit fails is dropped and the next one probes afresh; a run left
 * open by a lead that died is continued under its id (only its unprobed batches are probed); a run
 * left open with another config is dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../monitor/config.js';
import { runCycle } from '../../monitor/cycle.js';
import { Store } from '../../monitor/store.js';
import { trustStores } from '../../monitor/sweep.js';
import { NOW, tempDir } from './helpers.js';
import { SlowEndpoint, sharedConfig, slowEndpoint } from './shared-sweep-rig.js';

let endpoints: SlowEndpoint[] = [];
beforeAll(async () => {
  endpoints = await Promise.all(Array.from({ length: 6 }, () => slowEndpoint(0)));
});
afterAll(async () => {
  for (const e of endpoints) await e.close();
});

const handshakes = () => endpoints.reduce((n, e) => n + e.handshakes, 0);

async function rig() {
  for (const e of endpoints) e.handshakes = 0;
  const dir = tempDir();
  const cfg = loadConfig(sharedConfig(dir, './state', endpoints.map((e) => e.port), 'schedule: "*/5 * * * *"\n'), { env: {}, cwd: dir, now: NOW });
  const store = await Store.open(cfg.state);
  const deps = { now: () => NOW, stores: trustStores(cfg, {}), noDelivery: true, share: { batchSize: 2, leaseMs: 5000, pollMs: 20, parallel: 4, claimer: 'me' } };
  return { cfg, store, deps, ids: cfg.endpoints.map((e) => e.id) };
}

describe('a shared sweep in one process', () => {
  it('a sweep whose commit fails is dropped; the next one probes every endpoint again', async () => {
    const { cfg, store, deps } = await rig();
    try {
      await expect(runCycle(cfg, store, { ...deps, failCommitAt: 2 })).rejects.toThrow(/no_such_table/);
      expect(await store.openedRun('default')).toBeNull();
      expect(handshakes()).toBe(6);
      const r = await runCycle(cfg, store, deps);
      expect(handshakes()).toBe(12);
      expect(r.sweep.observations).toHaveLength(6);
      expect(r.shared).toMatchObject({ batches: 3, probedHere: { batches: 3, endpoints: 6 }, byClaimer: { me: 6 } });
      expect((await store.lastSweep())?.id).toBe(r.sweepId);
    } finally {
      store.close();
    }
  });

  it('a run left open by a lead that died is continued under its id: only what was not probed is probed', async () => {
    const { cfg, store, deps, ids } = await rig();
    try {
      const run = { id: 'left-open', vantage: 'default', configHash: cfg.hash, startedAt: NOW.toISOString() };
      await store.openRun(run, [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
      // The dead lead had completed batch 0 (its observations are in the state, as a real lead's would be).
      const elsewhere = await Store.open(tempDir());
      const first = await runCycle({ ...cfg, endpoints: cfg.endpoints.slice(0, 2) }, elsewhere, deps).finally(() => elsewhere.close());
      const claim = (await store.claimBatch('left-open', NOW, 5000, 'dead'))!;
      expect(claim.n).toBe(0);
      await store.completeBatch(claim, { observations: first.sweep.observations, certificates: {} });
      for (const e of endpoints) e.handshakes = 0;
      const r = await runCycle(cfg, store, deps);
      expect(r.sweepId).toBe('left-open');
      expect(handshakes()).toBe(4);
      expect(r.sweep.observations.map((o) => o.endpoint)).toEqual(ids);
      expect(r.shared.byClaimer).toEqual({ dead: 2, me: 4 });
      expect(r.opened.map((f) => f.kind)).toEqual(['pin-mismatch']);
    } finally {
      store.close();
    }
  });

  it('a run left open with another config is dropped and a new one probes everything', async () => {
    const { cfg, store, deps, ids } = await rig();
    try {
      await store.openRun({ id: 'other-config', vantage: 'default', configHash: 'not-this-one', startedAt: NOW.toISOString() }, [ids]);
      const r = await runCycle(cfg, store, deps);
      expect(r.sweepId).not.toBe('other-config');
      expect(handshakes()).toBe(6);
      expect(await store.openedRun('default')).toBeNull();
    } finally {
      store.close();
    }
  });
});
