/**
 * A tarpit mail server (a real TCP server on 127.0.0.1 that greets, then answers every command
 * with one `250-` continuation line a second, forever: no idle timeout ever fires). Each delivery
 * attempt has a total deadline, the webhook channel is delivered independently, delivery never
 * holds a sweep, and stopping the monitor takes well under 5 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { AlertsConfig } from '../../monitor/config.js';
import { deliverDue, emailSender, webhookSender } from '../../monitor/alerts.js';
import { Store } from '../../monitor/store.js';
import { startRunner } from '../../monitor/runner.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { noNetworkResolver } from '../helpers/cli.js';
import { NOW, pkiFile, queueAlerts, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';

interface Tarpit {
  port: number;
  /** Connections open right now. */
  open: () => number;
  close(): Promise<void>;
}

function tarpitSmtp(): Promise<Tarpit> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.write('220 tarpit.test ESMTP\r\n');
    let timer: NodeJS.Timeout | undefined;
    s.on('data', () => {
      timer ??= setInterval(() => s.write('250-still thinking\r\n'), 1000);
    });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        open: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

let tarpit: Tarpit;
let hook: WebhookReceiver;
let tls: Running;
beforeAll(async () => {
  tarpit = await tarpitSmtp();
  hook = await webhookReceiver();
  tls = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(async () => {
  await tarpit.close();
  await hook.close();
  await tls.close();
});

/** The channel timeout: above the tarpit's 1 s line interval, so only the total deadline (3×) can end an attempt. */
const TIMEOUT_MS = 1500;

function alertsConfig(): AlertsConfig {
  return {
    email: { smtp: `smtp://127.0.0.1:${tarpit.port}`, from: 'pinctl@example.test', to: ['ops@example.test'], password: null, timeoutMs: TIMEOUT_MS },
    webhook: { url: hook.url, token: null, timeoutMs: 5000 },
    reminderMs: 86_400_000,
    minSeverity: 'warning',
    retryInitialMs: 60_000,
    retryMaxMs: 3_600_000,
  } as AlertsConfig;
}

describe('a tarpit SMTP server', () => {
  it('each email attempt ends at its total deadline, and the webhook is delivered at once, not after the email', async () => {
    const store = await Store.open(tempDir());
    hook.requests.length = 0;
    await queueAlerts(store, [
      { id: 'e1', channel: 'email' },
      { id: 'w1', channel: 'webhook' },
    ]);
    const cfg = alertsConfig();
    const started = performance.now();
    let webhookAt = -1;
    const web = webhookSender(cfg.webhook!);
    const senders = {
      email: emailSender(cfg.email!),
      webhook: async (row: Parameters<typeof web>[0], signal?: AbortSignal) => {
        await web(row, signal);
        webhookAt = performance.now() - started;
      },
    };
    const r = await deliverDue(store, cfg, senders, () => NOW);
    const took = performance.now() - started;
    expect(r.sent.map((x) => x.id)).toEqual(['w1']);
    expect(r.failed.map((x) => x.row.id)).toEqual(['e1']);
    expect(r.failed[0]!.error).toMatch(/no complete delivery within 4500 ms/);
    expect(hook.requests).toHaveLength(1);
    expect(webhookAt).toBeLessThan(4500); // before the email attempt's deadline
    expect(took).toBeGreaterThanOrEqual(4400);
    expect(took).toBeLessThan(15_000); // generous for a loaded machine; without a deadline: forever
    await new Promise((res) => setTimeout(res, 200));
    expect(tarpit.open()).toBe(0); // the aborted attempts dropped their connections
    store.close();
  }, 30_000);

  it('monitor run: delivery never holds a sweep, the webhook gets its alert, stop() returns within 5 s', async () => {
    const dir = tempDir();
    hook.requests.length = 0;
    const path = writeConfig(
      dir,
      `schedule: "0 0 1 1 *"
state: ./state
alerts:
  email: { smtp: "smtp://127.0.0.1:${tarpit.port}", from: "pinctl@example.test", to: ["ops@example.test"], timeout: 2s }
  webhook: { url: "${hook.url}" }
endpoints:
  - host: api.pinctl.test
    port: ${tls.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('backup.key')}"]
`,
    );
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => NOW, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false, deliveryIntervalMs: 60_000 });
    let stopped = false;
    try {
      // The first sweep opens a pin mismatch: one email (into the tarpit) and one webhook queued.
      const first = runner.sweepNow();
      await waitFor(() => hook.requests.length === 1 && tarpit.open() === 1, 10_000);
      // The email attempt is stuck in the tarpit (a 6 s deadline), yet the next sweep runs now.
      expect(await runner.sweepNow()).not.toBeNull();
      expect(logs.filter((l) => /sweep skipped/.test(l))).toEqual([]);
      expect(logs.filter((l) => /^sweep /.test(l))).toHaveLength(2);
      await first;
      const s0 = performance.now();
      await runner.stop();
      stopped = true;
      expect(performance.now() - s0).toBeLessThan(5000);
    } finally {
      if (!stopped) await runner.stop();
    }
  }, 60_000);

  it('stop() during a stuck email attempt aborts it: well under 5 s', async () => {
    const dir = tempDir();
    const path = writeConfig(
      dir,
      `schedule: "0 0 1 1 *"
state: ./state
alerts:
  email: { smtp: "smtp://127.0.0.1:${tarpit.port}", from: "pinctl@example.test", to: ["ops@example.test"], timeout: 60s }
endpoints:
  - host: api.pinctl.test
    port: ${tls.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('backup.key')}"]
`,
    );
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => NOW, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false, deliveryIntervalMs: 60_000 });
    await waitFor(() => tarpit.open() === 0, 5000); // the previous test's connections are gone
    void runner.sweepNow(); // its delivery would hang for 180 s (3 × 60 s)
    await waitFor(() => tarpit.open() === 1, 10_000);
    const s0 = performance.now();
    await runner.stop();
    expect(performance.now() - s0).toBeLessThan(5000);
    await waitFor(() => tarpit.open() === 0, 2000);
    expect(logs.some((l) => /failed, attempt 1: the monitor is stopping/.test(l)), logs.join('\n')).toBe(true);
  }, 60_000);
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
