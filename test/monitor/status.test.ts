/** Review finding 6: `monitor status` without a sweep, or with a stale one, is not healthy; /healthz goes 503 when stale. */
import { describe, expect, it } from 'vitest';
import { startRunner } from '../../monitor/runner.js';
import { Store } from '../../monitor/store.js';
import { freshness, scheduleIntervalMs } from '../../monitor/status.js';
import { noNetworkResolver } from '../helpers/cli.js';
import { NOW, monitorCli, tempDir, writeConfig } from './helpers.js';

const text = (extra = '') => `schedule: "*/5 * * * *"
state: ./state
${extra}
endpoints:
  - host: api.pinctl.test
    addresses: [127.0.0.1]
`;

async function recordSweep(state: string, at: Date) {
  const store = await Store.open(state);
  const iso = at.toISOString();
  await store.commitSweep({ sweep: { id: `s-${iso}`, startedAt: iso, finishedAt: iso, durationMs: 1, configHash: 'x' }, observations: [], previous: new Map(), opened: [], updated: [], resolved: [], events: [], outbox: [] });
  store.close();
}

describe('status freshness', () => {
  it('exits 1 with "no sweep recorded yet" before the first sweep', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, text());
    const r = await monitorCli(['monitor', 'status', '--config', cfg]);
    expect(r.stdout).toMatch(/no sweep recorded yet/);
    expect(r.code).toBe(1);
    const j = await monitorCli(['monitor', 'status', '--config', cfg, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ healthy: false, sweep: { state: 'none' } });
  });

  it('exits 1 when the last sweep is older than 3x the schedule interval, 0 while fresh', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, text());
    await recordSweep(`${dir}/state`, NOW);
    expect(scheduleIntervalMs('*/5 * * * *', null)).toBe(300_000);
    expect((await monitorCli(['monitor', 'status', '--config', cfg], { now: new Date(NOW.getTime() + 14 * 60_000) })).code).toBe(0);
    const stale = await monitorCli(['monitor', 'status', '--config', cfg], { now: new Date(NOW.getTime() + 16 * 60_000) });
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/stale: the last sweep .* more than 15 min/);
  });

  it('staleAfter overrides the default', () => {
    expect(freshness({ schedule: '*/5 * * * *', timezone: null, staleAfterMs: 60_000 }, NOW.toISOString(), new Date(NOW.getTime() + 61_000)).state).toBe('stale');
  });

  it('/healthz answers 503 when the last sweep is stale', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, text('staleAfter: 10m\nmetrics: { listen: "127.0.0.1:0" }'));
    await recordSweep(`${dir}/state`, NOW);
    let t = NOW.getTime() + 60_000;
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => new Date(t), resolve: noNetworkResolver, log: () => undefined, sweepAtStart: false });
    try {
      const a = runner.metricsAddress()!;
      const url = `http://${a.host}:${a.port}/healthz`;
      expect((await fetch(url)).status).toBe(200);
      t = NOW.getTime() + 11 * 60_000;
      const res = await fetch(url);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'stale' });
    } finally {
      await runner.stop();
    }
  });
});
