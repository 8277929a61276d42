/**
 * The contract every alert channel of the registry (monitor/channels) passes. It iterates the
 * registry, so a new entry without a fixture here fails: it parses a sample config and rejects a
 * bad one with a typed error (path and hint), renders new/changed/reminder/resolved
 * deterministically, delivers through the outbox to a real local receiver (and a retry after a
 * restart sends the same bytes and ids), ends an attempt at its deadline against a tarpit, and
 * classifies every refusal its receiver can answer: temporary ones (SMTP 451, HTTP 408/425/429/5xx)
 * are retried with backoff, permanent ones (SMTP 550, HTTP 400/404/410/422) make the row dead with
 * the receiver's answer as its error, counted in alerts_failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, AlertsConfig } from '../../monitor/config.js';
import { CHANNELS, CHANNEL_NAMES, isRetryable, AnyChannel } from '../../monitor/channels/index.js';
import { alertId, deliverDue, defaultSenders, queuedMessage, senderFor } from '../../monitor/alerts.js';
import { Store } from '../../monitor/store.js';
import type { MonitorState, OutboxRow } from '../../monitor/state.js';
import { InputError } from '../../src/errors.js';
import { NOW, tempDir, commitOutbox } from './helpers.js';
import {
  HttpReceiver,
  RefusingSmtp,
  Tarpit,
  jsonReceiver,
  pagerdutyReceiver,
  refusingSmtp,
  slackReceiver,
  tarpit,
} from './channel-receivers.js';
import { FINDING, TYPES, viewOf } from './channel-sample.js';

interface Harness {
  /** alerts.NAME delivering to the receiver. */
  section: Record<string, unknown>;
  env?: Record<string, string>;
  /** What arrived, one key per delivery: equal keys = the same bytes and ids. */
  delivered(): string[];
  /** Refuse the next deliveries with this status or reply code (null: accept again). */
  refuse(code: number | null): void;
  close(): Promise<void>;
}

interface Fixture {
  start(dir: string): Promise<Harness>;
  /** A wrong section and the field path the error must name. */
  bad: { section: Record<string, unknown>; path: string };
  tarpit: 'smtp' | 'http';
  tarpitSection(t: Tarpit): Record<string, unknown>;
  /**
   * Refusals the receiver can answer, by how the entry must classify them: every entry retries a
   * temporary one (the row stays pending with a retry time) and buries a permanent one (dead).
   */
  refusals: { temporary: number[]; permanent: number[] };
}

const http = (r: HttpReceiver) => ({
  delivered: () => r.requests.map((q) => `${String(q.headers['idempotency-key'] ?? '')}|${q.raw}`),
  refuse: (status: number | null) => void (r.force = status),
  close: () => r.close(),
});

const ROUTING_KEY = 'R0123456789abcdefghijklmnopqrstu'.slice(0, 32);

const FIXTURES: Record<string, Fixture> = {
  email: {
    async start() {
      const smtp: RefusingSmtp = await refusingSmtp();
      return {
        section: { smtp: `smtp://127.0.0.1:${smtp.port}`, from: 'pinctl@example.test', to: ['ops@example.test'] },
        delivered: () => smtp.mails.map((m) => `${m.messageId}|${m.subject}`),
        refuse: (code) => void (smtp.refuse = code),
        close: () => smtp.close(),
      };
    },
    bad: {
      section: { smtp: 'http://mail.example.test', from: 'pinctl@example.test', to: ['ops@example.test'] },
      path: 'alerts.email.smtp',
    },
    tarpit: 'smtp',
    tarpitSection: (t) => ({
      smtp: `smtp://127.0.0.1:${t.port}`,
      from: 'pinctl@example.test',
      to: ['ops@example.test'],
      timeout: '60s',
    }),
    // 451 and 550 to RCPT TO (refusingSmtp): the server's own answers, through nodemailer.
    refusals: { temporary: [451], permanent: [550] },
  },
  webhook: {
    async start() {
      const r = await jsonReceiver();
      return {
        section: { url: r.url, tokenEnv: 'HOOK_TOKEN' },
        env: { HOOK_TOKEN: 'tok' },
        ...http(r),
      };
    },
    bad: { section: { url: 'ftp://hooks.example.test/x' }, path: 'alerts.webhook.url' },
    tarpit: 'http',
    tarpitSection: (t) => ({ url: t.url, timeout: '60s' }),
    refusals: { temporary: [503, 408, 425, 429], permanent: [400, 404, 410, 422] },
  },
  slack: {
    async start(dir) {
      const r = await slackReceiver();
      writeFileSync(join(dir, 'slack-url'), `${r.url}\n`);
      return {
        section: { webhookUrlFile: './slack-url', channel: '#ops' },
        ...http(r),
      };
    },
    bad: {
      section: { webhookUrl: 'https://hooks.slack.test/x', webhookUrlEnv: 'SLACK_URL' },
      path: 'alerts.slack.webhookUrlEnv',
    },
    tarpit: 'http',
    tarpitSection: (t) => ({ webhookUrl: t.url, timeout: '60s' }),
    refusals: { temporary: [500], permanent: [404] },
  },
  pagerduty: {
    async start() {
      const r = await pagerdutyReceiver();
      return {
        section: { routingKeyEnv: 'PD_KEY', url: r.url },
        env: { PD_KEY: ROUTING_KEY },
        ...http(r),
      };
    },
    bad: {
      section: { routingKey: 'short', url: 'https://events.pagerduty.test/v2/enqueue' },
      path: 'alerts.pagerduty.routingKey',
    },
    tarpit: 'http',
    tarpitSection: (t) => ({ routingKey: ROUTING_KEY, url: t.url, timeout: '60s' }),
    refusals: { temporary: [429], permanent: [400] },
  },
};

function load(dir: string, name: string, section: unknown, env: Record<string, string> = {}): AlertsConfig {
  const text = `schedule: "*/5 * * * *"\nalerts:\n  ${name}: ${JSON.stringify(section)}\nendpoints:\n  - host: api.pinctl.test\n`;
  return parseConfig(text, 'contract.yaml', { env, cwd: dir, now: NOW }).alerts;
}

async function queue(store: MonitorState, entry: AnyChannel, cfg: unknown): Promise<string[]> {
  const at = NOW.toISOString();
  const outbox = TYPES.map((type, i) => {
    const id = alertId(FINDING.id, type, at, entry.name);
    return {
      id,
      channel: entry.name,
      findingId: FINDING.id,
      type,
      createdAt: new Date(NOW.getTime() + i).toISOString(),
      message: queuedMessage(entry, cfg, viewOf(type), id),
      nextAttemptAt: at,
    };
  });
  await commitOutbox(store, outbox, `s-${entry.name}`, at);
  return outbox.map((r) => r.id);
}

it('every registry entry has a contract fixture', () => {
  expect(Object.keys(FIXTURES).sort()).toEqual([...CHANNEL_NAMES].sort());
});

describe.each(CHANNELS.map((c) => [c.name, c as AnyChannel] as const))('alert channel %s', (name, entry) => {
  const fx = FIXTURES[name]!;
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('pinctl-channel-');
    h = await fx.start(dir);
  });
  afterAll(async () => h.close());
  const cfgOf = () => load(dir, name, h.section, h.env)[name as keyof AlertsConfig];

  it('parses its section of the config, and rejects a wrong one with the field path and a hint', () => {
    expect(cfgOf()).toBeTruthy();
    let err: unknown;
    try {
      load(dir, name, fx.bad.section);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('CONFIG_MALFORMED');
    expect((err as InputError).message).toContain(`${fx.bad.path}:`);
    expect((err as InputError).hint).toContain(`alerts.${name}`);
  });

  it('renders new, changed, reminder and resolved deterministically, naming the finding', () => {
    const cfg = cfgOf();
    const rendered = TYPES.map((t) => JSON.stringify(entry.render(viewOf(t), `alert-${t}`, cfg)));
    expect(TYPES.map((t) => JSON.stringify(entry.render(viewOf(t), `alert-${t}`, cfg)))).toEqual(rendered);
    expect(new Set(rendered).size).toBe(4);
    for (const r of rendered) expect(r).toContain(FINDING.id);
  });

  it('delivers through the outbox to a real receiver; a resend after a restart carries the same bytes and ids', async () => {
    const cfg = load(dir, name, h.section, h.env);
    const stateDir = tempDir();
    const store = await Store.open(stateDir);
    const ids = await queue(store, entry, cfg[name as keyof AlertsConfig]);
    const r = await deliverDue(store, cfg, defaultSenders(cfg), () => NOW);
    expect(r.failed).toEqual([]);
    expect(r.sent.map((x) => x.id).sort()).toEqual([...ids].sort());
    const first = h.delivered();
    expect(first).toHaveLength(4);
    store.close();
    const reopened = await Store.open(stateDir);
    const row = (await reopened.outbox('sent')).find((x) => x.id === ids[0]) as OutboxRow;
    await senderFor(entry, cfg[name as keyof AlertsConfig])(row);
    const again = h.delivered();
    expect(again).toHaveLength(5);
    expect(first.filter((k) => k === again[4])).toHaveLength(1);
    reopened.close();
  });

  it('ends an attempt at its deadline against a tarpit, and drops the connection', async () => {
    const t = await tarpit(fx.tarpit);
    try {
      const cfg = load(dir, name, fx.tarpitSection(t), h.env)[name as keyof AlertsConfig];
      const started = performance.now();
      const sent = entry.send(cfg, entry.render(viewOf('new'), 'alert-tarpit', cfg), {
        alertId: 'alert-tarpit',
        type: 'new',
        signal: AbortSignal.timeout(1500),
      });
      await expect(sent).rejects.toThrow();
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(6000); // generous on a loaded machine; without the deadline: 60 s or never
      const until = performance.now() + 3000;
      while (t.open() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(t.open()).toBe(0);
    } finally {
      await t.close();
    }
  }, 20_000);

  it('classifies every refusal as temporary (retried with backoff) or permanent (dead, error kept and counted)', async () => {
    const cfg = load(dir, name, h.section, h.env);
    const c = cfg[name as keyof AlertsConfig];
    const refusals = Object.entries(fx.refusals).flatMap(([mode, codes]) => codes.map((code) => [mode, code] as const));
    expect(refusals.filter(([m]) => m === 'temporary').length, 'a temporary refusal fixture').toBeGreaterThan(0);
    expect(refusals.filter(([m]) => m === 'permanent').length, 'a permanent refusal fixture').toBeGreaterThan(0);
    for (const [mode, code] of refusals) {
      const what = `${mode} ${code}`;
      h.refuse(code);
      const err = await entry
        .send(c, entry.render(viewOf('new'), `alert-${code}`, c), {
          alertId: `alert-${code}`,
          type: 'new',
          signal: AbortSignal.timeout(10_000),
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, what).toBeInstanceOf(Error);
      expect(isRetryable(err), what).toBe(mode === 'temporary');
      expect((err as Error).message, what).toContain(String(code));
      const store = await Store.open(tempDir());
      await queue(store, entry, c);
      const r = await deliverDue(store, cfg, defaultSenders(cfg), () => NOW);
      expect(r.sent).toEqual([]);
      const retried = r.failed.map((f) => f.retryAt !== null);
      expect(retried, what).toEqual(Array.from({ length: 4 }, () => mode === 'temporary'));
      const rows = await store.outbox(mode === 'temporary' ? 'pending' : 'dead');
      expect(rows.length, what).toBe(4);
      expect(rows.every((x) => (x.lastError ?? '').includes(String(code))), what).toBe(true);
      const failed = (await store.counters()).find((x) => x.name === 'alerts_failed' && x.label === name);
      expect(failed?.value, what).toBe(4);
      store.close();
    }
    h.refuse(null);
  }, 60_000);
});
