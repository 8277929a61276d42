/**
 * Wall-clock steps (NTP corrections, a VM resumed, an operator's `date -s`). libfaketime cannot step
 * the clock of the test runner's own process, so the schedule and `monitor run` take an injected
 * clock: a wall clock the test steps and a monotonic clock that only moves forward.
 */
import { describe, expect, it } from 'vitest';
import { ScheduleClock, startSchedule } from '../../monitor/schedule.js';
import { startRunner } from '../../monitor/runner.js';
import { freshness } from '../../monitor/status.js';
import { deliverDue } from '../../monitor/alerts.js';
import { AlertsConfig } from '../../monitor/config.js';
import { Store } from '../../monitor/store.js';
import { noNetworkResolver } from '../helpers/cli.js';
import { NOW, tempDir, writeConfig, commitOutbox } from './helpers.js';

class FakeClock implements ScheduleClock {
  mono = 0;
  private timers: { at: number; fn: () => void }[] = [];
  constructor(public wall: number) {}
  wallNow = () => this.wall;
  monoNow = () => this.mono;
  setTimer = (fn: () => void, ms: number) => {
    const t = { at: this.mono + ms, fn };
    this.timers.push(t);
    return t;
  };
  clearTimer = (h: unknown) => {
    this.timers = this.timers.filter((t) => t !== h);
  };
  /** Real time passes: both clocks move together; due timers run in order. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.wall += due.at - this.mono;
      this.mono = due.at;
      due.fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }
  /** The wall clock is set: only it moves. */
  step(ms: number): void {
    this.wall += ms;
  }
}

const every30s = (at: Date) => at.getUTCSeconds() % 30 === 0;

describe('the schedule under wall-clock steps', () => {
  it('a step back of an hour: sweeps go on at the next matching second, not an hour later', () => {
    const clock = new FakeClock(Date.parse('2026-06-01T12:00:01Z'));
    const fired: string[] = [];
    const steps: number[] = [];
    const s = startSchedule({ matches: every30s, fire: () => fired.push(new Date(clock.wall).toISOString()), clock, onStep: (d) => steps.push(d) });
    clock.advance(60_000);
    expect(fired.length).toBe(2);
    clock.step(-3_600_000);
    clock.advance(61_000);
    expect(fired.length).toBe(4); // two more within the next minute of real time
    expect(fired[2]!.startsWith('2026-06-01T11:01')).toBe(true);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toBeLessThan(-3_590_000);
    s.stop();
  });

  it('a step forward of a year: one step report, no replay of missed runs, sweeps go on', () => {
    const clock = new FakeClock(Date.parse('2026-06-01T12:00:01Z'));
    let fired = 0;
    let matcherCalls = 0;
    const steps: number[] = [];
    const s = startSchedule({ matches: (at) => (matcherCalls++, every30s(at)), fire: () => fired++, clock, onStep: (d) => steps.push(d) });
    clock.advance(30_000);
    const before = { fired, matcherCalls };
    clock.step(365 * 86_400_000);
    clock.advance(60_000);
    expect(steps).toEqual([expect.any(Number)]);
    expect(steps[0]).toBeGreaterThan(364 * 86_400_000);
    expect(fired - before.fired).toBe(2); // not a year of missed executions
    expect(matcherCalls - before.matcherCalls).toBeLessThanOrEqual(61); // one look a second
    s.stop();
  });

  it('stop() ends the timer', () => {
    const clock = new FakeClock(Date.parse('2026-06-01T12:00:01Z'));
    let fired = 0;
    const s = startSchedule({ matches: () => true, fire: () => fired++, clock });
    clock.advance(3000);
    s.stop();
    const n = fired;
    clock.advance(10_000);
    expect(fired).toBe(n);
  });
});

describe('monitor run under wall-clock steps', () => {
  it('healthz: the age is measured on the monotonic clock (never negative; a stalled monitor still goes stale)', async () => {
    const dir = tempDir();
    const path = writeConfig(
      dir,
      `schedule: "0 0 1 1 *"
state: ./state
staleAfter: 10m
metrics: { listen: "127.0.0.1:0" }
endpoints:
  - host: api.pinctl.test
    addresses: [127.0.0.1]
    port: 9
`,
    );
    const clock = new FakeClock(NOW.getTime());
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => new Date(clock.wall), clock, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false });
    try {
      await runner.sweepNow();
      const health = async () => {
        const res = await fetch(`http://127.0.0.1:${runner.metricsAddress()!.port}/healthz`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      clock.advance(30_000);
      clock.step(-3_600_000); // NTP sets the clock back an hour
      clock.advance(1000);
      let h = await health();
      expect(h.status).toBe(200);
      expect(h.body.ageMs).toBeGreaterThanOrEqual(0);
      expect(h.body.ageMs).toBeLessThan(60_000);
      expect(logs.filter((l) => /wall clock stepped back/.test(l))).toHaveLength(1);
      // No sweep for 11 minutes of real time: stale, though the wall clock is still before the last sweep.
      clock.advance(11 * 60_000);
      h = await health();
      expect(h.status).toBe(503);
      expect(h.body.ageMs).toBeGreaterThan(600_000);
      expect(String(h.body.error)).toMatch(/is 12 min old, more than 10 min/);
    } finally {
      await runner.stop();
    }
  }, 30_000);
});

describe('freshness', () => {
  const cfg = { schedule: '*/10 * * * * *', timezone: null, staleAfterMs: 30_000 };
  it('says ages below a minute in seconds', () => {
    const f = freshness(cfg, NOW.toISOString(), new Date(NOW.getTime() + 45_000));
    expect(f.state).toBe('stale');
    expect(f.message).toMatch(/is 45 s old, more than 30 s/);
  });
  it('a sweep dated in the future (the clock stepped back) has age 0, never negative', () => {
    const f = freshness(cfg, new Date(NOW.getTime() + 3_600_000).toISOString(), NOW);
    expect(f.ageMs).toBe(0);
  });
});

describe('alerts queued while the clock was ahead', () => {
  it('are due at once after the clock is corrected, not a day later', async () => {
    const store = await Store.open(tempDir());
    const ahead = new Date(NOW.getTime() + 86_400_000).toISOString();
    await commitOutbox(store, [{ id: 'a1', channel: 'webhook', findingId: 'f', type: 'new', createdAt: ahead, message: { subject: 's', text: 't', webhook: {} }, nextAttemptAt: ahead }], 's1', ahead);
    const alerts = { email: null, webhook: null, reminderMs: 86_400_000, minSeverity: 'warning', retryInitialMs: 60_000, retryMaxMs: 3_600_000 } as AlertsConfig;
    const sent: string[] = [];
    const logs: string[] = [];
    const r = await deliverDue(store, alerts, { webhook: async (row) => void sent.push(row.id) }, () => NOW, (l) => logs.push(l));
    expect(r.sent.map((x) => x.id)).toEqual(['a1']);
    expect(sent).toEqual(['a1']);
    expect(logs.some((l) => /1 alert\(s\) were due later than any retry can be/.test(l))).toBe(true);
    store.close();
  });
});
