/**
 * Durability: the alert queue survives restarts (each `monitor once` is a fresh process state), a
 * failed SMTP delivery is retried with backoff and delivered once the server is back, a sweep that
 * dies before its commit leaves the state as it was, and a crash between send and mark-sent re-sends
 * with the same Message-ID (so the copy can be dropped), never a new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { loadConfig } from '../../monitor/config.js';
import { runCycle } from '../../monitor/cycle.js';
import { LEASE_MS, defaultSenders, deliverDue } from '../../monitor/alerts.js';
import { Store } from '../../monitor/store.js';
import { trustStores } from '../../monitor/sweep.js';
import { freePort, monitorCli, NOW, pkiFile, smtpReceiver, tempDir, writeConfig } from './helpers.js';

let server: Running & { server: import('node:tls').Server };
beforeAll(async () => {
  server = await tlsServer('chain-intermediate2.pem', 'leaf.key'); // the intermediate pin does not match: a critical finding
});
afterAll(async () => server.close());

function config(dir: string, smtpPort: number): string {
  return writeConfig(
    dir,
    `schedule: "*/30 * * * * *"
state: ./state
alerts:
  email: { smtp: "smtp://127.0.0.1:${smtpPort}", from: "pinctl@example.test", to: ["ops@example.test"], timeout: 2s }
  retry: { initial: 30s, max: 10m }
endpoints:
  - host: api.pinctl.test
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('intermediate.pem')}"]
`,
  );
}
const later = (s: number) => new Date(NOW.getTime() + s * 1000);

describe('alert delivery across restarts and crashes', () => {
  it('a queued alert is delivered after the SMTP server comes back, exactly once', async () => {
    const dir = tempDir();
    const port = await freePort(); // nothing listens yet: the SMTP server is down
    const cfg = config(dir, port);
    let r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: NOW });
    expect(r.code).toBe(1);
    let out = JSON.parse(r.stdout);
    expect(out.alerts.queued).toBe(1);
    expect(out.alerts.failed).toEqual([expect.objectContaining({ channel: 'email', retryAt: later(30).toISOString() })]);
    expect(out.alerts.failed[0].error).toMatch(/ECONNREFUSED|connect/i);

    const smtp = await smtpReceiver(port);
    try {
      // Before the backoff ends: nothing is sent, and the finding is not queued again.
      r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: later(10) });
      out = JSON.parse(r.stdout);
      expect(out.alerts).toMatchObject({ queued: 0, sent: 0 });
      expect(smtp.mails).toHaveLength(0);
      // After it: delivered by the next run, a new process state reading the queue from the database.
      r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: later(45) });
      out = JSON.parse(r.stdout);
      expect(out.alerts).toMatchObject({ queued: 0, sent: 1 });
      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0]!.subject).toContain('CRITICAL pin-mismatch');
      // And never again.
      for (const s of [120, 600]) await monitorCli(['monitor', 'once', '--config', cfg], { now: later(s) });
      expect(smtp.mails).toHaveLength(1);
      const store = await Store.open(join(dir, 'state'));
      const rows = await store.outbox();
      store.close();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
    } finally {
      await smtp.close();
    }
  });

  it('backoff doubles per failed attempt up to the maximum', async () => {
    const dir = tempDir();
    const cfg = config(dir, await freePort());
    const retryAts: string[] = [];
    let t = 0;
    for (let i = 0; i < 7; i++) {
      const out = JSON.parse((await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: later(t) })).stdout);
      if (out.alerts.failed.length) retryAts.push(out.alerts.failed[0].retryAt);
      t = (Date.parse(retryAts.at(-1)!) - NOW.getTime()) / 1000;
    }
    const gaps = retryAts.map((iso, i) => (Date.parse(iso) - (i === 0 ? NOW.getTime() : Date.parse(retryAts[i - 1]!))) / 1000);
    expect(gaps).toEqual([30, 60, 120, 240, 480, 600, 600]);
  });

  it('a sweep that dies before its commit leaves the state exactly as it was', async () => {
    const dir = tempDir();
    const smtpPort = await freePort();
    const cfg = loadConfig(config(dir, smtpPort), { env: {}, cwd: dir, now: NOW });
    const stores = trustStores(cfg, {});
    const store = await Store.open(cfg.state);
    const counts = async () => Promise.all((['sweeps', 'latest', 'observations', 'findings', 'events', 'outbox'] as const).map((t) => store.count(t)));
    try {
      const before = await counts();
      expect(before).toEqual([0, 0, 0, 0, 0, 0]);
      for (const failAt of [1, 3, 5]) {
        await expect(runCycle(cfg, store, { now: () => NOW, stores, failCommitAt: failAt, noDelivery: true })).rejects.toThrow(/no_such_table/);
        expect(await counts()).toEqual(before);
      }
      const ok = await runCycle(cfg, store, { now: () => NOW, stores, noDelivery: true });
      expect(ok.opened.map((f) => f.kind)).toEqual(['pin-mismatch']);
      expect(await counts()).toEqual([1, 1, 1, 1, 2, 1]); // sweep, latest, history, finding, first-seen + opened, one queued email
    } finally {
      store.close();
    }
  });

  it('a crash between sending and marking sent re-sends with the same Message-ID after the lease, never a new message', async () => {
    const dir = tempDir();
    const smtp = await smtpReceiver();
    try {
      const cfg = loadConfig(config(dir, smtp.port), { env: {}, cwd: dir, now: NOW });
      const stores = trustStores(cfg, {});
      let store = await Store.open(cfg.state);
      await runCycle(cfg, store, { now: () => NOW, stores, noDelivery: true });
      // The process sends, then dies before markSent: claim + send by hand, then drop the store.
      const [row] = await store.claimDue(NOW, LEASE_MS);
      await defaultSenders(cfg.alerts).email!(row!);
      store.close();
      expect(smtp.mails).toHaveLength(1);

      store = await Store.open(cfg.state); // restart
      // Within the lease nobody touches the row (another live process may be sending it).
      expect((await deliverDue(store, cfg.alerts, defaultSenders(cfg.alerts), () => later(60))).sent).toHaveLength(0);
      // After the lease it is sent again, as the same message.
      const d = await deliverDue(store, cfg.alerts, defaultSenders(cfg.alerts), () => later(LEASE_MS / 1000 + 1));
      expect(d.sent).toHaveLength(1);
      expect(smtp.mails).toHaveLength(2);
      expect(smtp.mails[1]!.messageId).toBe(smtp.mails[0]!.messageId);
      expect(smtp.mails[1]!.raw.replace(/^Date: .*$/m, '')).toBe(smtp.mails[0]!.raw.replace(/^Date: .*$/m, ''));
      // Marked sent: later runs send nothing.
      expect((await deliverDue(store, cfg.alerts, defaultSenders(cfg.alerts), () => later(3600))).sent).toHaveLength(0);
      store.close();
    } finally {
      await smtp.close();
    }
  });

  it('two monitors sharing the state never both send an alert', async () => {
    const dir = tempDir();
    const smtp = await smtpReceiver();
    try {
      const cfg = loadConfig(config(dir, smtp.port), { env: {}, cwd: dir, now: NOW });
      const a = await Store.open(cfg.state);
      const b = await Store.open(cfg.state);
      await runCycle(cfg, a, { now: () => NOW, stores: trustStores(cfg, {}), noDelivery: true });
      const [ra, rb] = await Promise.all([
        deliverDue(a, cfg.alerts, defaultSenders(cfg.alerts), () => NOW),
        deliverDue(b, cfg.alerts, defaultSenders(cfg.alerts), () => NOW),
      ]);
      expect(ra.sent.length + rb.sent.length).toBe(1);
      expect(smtp.mails).toHaveLength(1);
      a.close();
      b.close();
    } finally {
      await smtp.close();
    }
  });
});

export { readPki };
