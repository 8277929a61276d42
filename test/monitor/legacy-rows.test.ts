/**
 * Outbox rows queued before the channel registry (message = { subject, text, webhook }, no
 * `payloads`) are still delivered, with the bytes they were queued with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertsConfig } from '../../monitor/config.js';
import { defaultSenders, deliverDue } from '../../monitor/alerts.js';
import { Store } from '../../monitor/store.js';
import { NOW, smtpReceiver, SmtpReceiver, tempDir, webhookReceiver, WebhookReceiver, commitOutbox } from './helpers.js';

let smtp: SmtpReceiver;
let hook: WebhookReceiver;
beforeAll(async () => {
  [smtp, hook] = await Promise.all([smtpReceiver(), webhookReceiver()]);
});
afterAll(async () => {
  await Promise.all([smtp.close(), hook.close()]);
});

describe('outbox rows from before the registry', () => {
  it('email and webhook rows without payloads are sent from their subject/text/webhook fields', async () => {
    const store = await Store.open(tempDir());
    const at = NOW.toISOString();
    const old = (id: string, channel: string) => ({
      id,
      channel,
      findingId: 'f-old',
      type: 'new' as const,
      createdAt: at,
      message: {
        subject: `[pinctl] old ${id}`,
        text: `queued by an older pinctl: ${id}`,
        webhook: { text: `old body ${id}`, pinctl: { alertId: id } },
      },
      nextAttemptAt: at,
    });
    await commitOutbox(store, [old('e-old', 'email'), old('w-old', 'webhook')], 's', at);
    const alerts = {
      email: {
        smtp: `smtp://127.0.0.1:${smtp.port}`,
        from: 'pinctl@example.test',
        to: ['ops@example.test'],
        password: null,
        requireTLS: false,
        timeoutMs: 5000,
      },
      webhook: { url: hook.url, token: null, timeoutMs: 5000 },
      reminderMs: 86_400_000,
      minSeverity: 'warning',
      retryInitialMs: 60_000,
      retryMaxMs: 3_600_000,
    } as AlertsConfig;
    const r = await deliverDue(store, alerts, defaultSenders(alerts), () => NOW);
    expect(r.failed).toEqual([]);
    expect(smtp.mails.map((m) => [m.subject, m.messageId])).toEqual([['[pinctl] old e-old', '<e-old@pinctl.monitor>']]);
    expect(smtp.mails[0]!.raw).toContain('queued by an older pinctl: e-old');
    expect(hook.requests.map((q) => q.body)).toEqual([{ text: 'old body w-old', pinctl: { alertId: 'w-old' } }]);
    store.close();
  });

  it('a row of a channel that has no payload for it is dead, not retried forever', async () => {
    const store = await Store.open(tempDir());
    const at = NOW.toISOString();
    const row = {
      id: 's-old',
      channel: 'slack',
      findingId: 'f',
      type: 'new' as const,
      createdAt: at,
      message: { subject: 's', text: 't' },
      nextAttemptAt: at,
    };
    await commitOutbox(store, [row], 's', at);
    const alerts = {
      slack: { webhookUrl: hook.url, channel: null, timeoutMs: 5000 },
      reminderMs: 1,
      minSeverity: 'warning',
      retryInitialMs: 60_000,
      retryMaxMs: 3_600_000,
    } as unknown as AlertsConfig;
    const r = await deliverDue(store, alerts, defaultSenders(alerts), () => NOW);
    expect(r.failed.map((f) => [f.row.id, f.retryAt])).toEqual([['s-old', null]]);
    expect((await store.outbox('dead')).map((x) => x.lastError)).toEqual([
      'alert s-old has no slack payload (queued by another version?)',
    ]);
    store.close();
  });
});
