/** Review finding 2: one-row leases (no duplicate sends without a crash), no starvation, one delivery per process. */
import { describe, expect, it } from 'vitest';
import { AlertsConfig } from '../../monitor/config.js';
import { DeliveryLock, Senders, deliverDue } from '../../monitor/alerts.js';
import { OutboxRow, Store } from '../../monitor/store.js';
import { NOW, queueAlerts, tempDir } from './helpers.js';

const alerts: AlertsConfig = { email: null, webhook: null, slack: null, pagerduty: null, reminderMs: 86_400_000, minSeverity: 'warning', retryInitialMs: 60_000, retryMaxMs: 3_600_000 };

describe('alert delivery', () => {
  it('a second deliverer never re-claims rows the first has not reached yet (slow sends, no crash)', async () => {
    const dir = tempDir();
    const a = await Store.open(dir);
    const b = await Store.open(dir);
    await queueAlerts(a, ['r1', 'r2', 'r3', 'r4', 'r5'].map((id) => ({ id, channel: 'webhook' as const })));
    let t = NOW.getTime();
    const now = () => new Date(t);
    const sends: string[] = [];
    let bRan = false;
    const slowA: Senders = {
      webhook: async (row: OutboxRow) => {
        sends.push(row.id);
        t += 20_000; // each send takes 20 s (a slow receiver, within its 30 s attempt deadline and lease)
        if (sends.length === 3 && !bRan) {
          bRan = true;
          await deliverDue(b, alerts, { webhook: async (r) => void sends.push(r.id) }, now);
        }
      },
    };
    await deliverDue(a, alerts, slowA, now, undefined, { deadlineMs: 3_600_000 });
    expect(bRan).toBe(true);
    expect([...sends].sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect((await a.outbox('sent')).length).toBe(5);
    a.close();
    b.close();
  });

  it('a channel that keeps failing does not starve the other one', async () => {
    const dir = tempDir();
    const store = await Store.open(dir);
    await queueAlerts(store, [...['e1', 'e2', 'e3', 'e4'].map((id) => ({ id, channel: 'email' as const })), { id: 'w1', channel: 'webhook' as const }]);
    let t = NOW.getTime();
    const senders: Senders = {
      email: async () => {
        t += 30_000; // hangs until its timeout, then fails
        throw new Error('timeout');
      },
      webhook: async () => undefined,
    };
    const r = await deliverDue(store, alerts, senders, () => new Date(t), undefined, { deadlineMs: 45_000 });
    expect(r.sent.map((x) => x.id)).toEqual(['w1']);
    store.close();
  });

  it('deliveries sharing a DeliveryLock never run at once (sweep vs delivery timer)', async () => {
    const dir = tempDir();
    const store = await Store.open(dir);
    await queueAlerts(store, ['a1', 'a2', 'a3', 'a4'].map((id) => ({ id, channel: 'webhook' as const })));
    let inFlight = 0;
    let max = 0;
    const senders: Senders = {
      webhook: async () => {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
      },
    };
    const lock = new DeliveryLock();
    const [x, y] = await Promise.all([deliverDue(store, alerts, senders, () => NOW, undefined, { lock }), deliverDue(store, alerts, senders, () => NOW, undefined, { lock })]);
    expect(max).toBe(1);
    expect(x.sent.length + y.sent.length).toBe(4);
    store.close();
  });
});
