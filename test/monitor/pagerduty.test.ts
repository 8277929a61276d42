/** The PagerDuty Events API v2 channel against a local receiver that enforces the v2 schema. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlertsConfig, parseConfig } from '../../monitor/config.js';
import { alertId, channelsFor, defaultSenders, deliverDue, queuedMessage } from '../../monitor/alerts.js';
import { pagerdutyChannel, PAGERDUTY_URL } from '../../monitor/channels/pagerduty.js';
import { alertView } from '../../monitor/channels/view.js';
import { Store } from '../../monitor/store.js';
import type { AlertType, Severity, StoredFinding } from '../../monitor/types.js';
import { NOW, tempDir, commitOutbox } from './helpers.js';
import { HttpReceiver, pagerdutyReceiver } from './channel-receivers.js';
import { FINDING, RESOLVED } from './channel-sample.js';

const KEY = 'abcdefghijklmnopqrstuvwxyz012345';
let pd: HttpReceiver;
beforeAll(async () => {
  pd = await pagerdutyReceiver();
});
afterAll(async () => pd.close());

function load(section: string, env: Record<string, string> = {}, dir = tempDir()): AlertsConfig {
  return parseConfig(
    `schedule: "*/5 * * * *"\nalerts:\n  pagerduty: ${section}\nendpoints:\n  - host: api.pinctl.test\n`,
    'x.yaml',
    { env, cwd: dir, now: NOW },
  ).alerts;
}

async function queueAndDeliver(alerts: AlertsConfig, items: { f: StoredFinding; type: AlertType }[]) {
  const store = await Store.open(tempDir());
  const at = NOW.toISOString();
  const outbox = items.flatMap(({ f, type }, i) =>
    channelsFor(alerts, alertView(f, type, NOW)).map(({ entry, cfg }) => {
      const id = alertId(f.id, type, at, entry.name);
      return {
        id,
        channel: entry.name,
        findingId: f.id,
        type,
        createdAt: new Date(NOW.getTime() + i).toISOString(),
        message: queuedMessage(entry, cfg, alertView(f, type, NOW), id),
        nextAttemptAt: at,
      };
    }),
  );
  await commitOutbox(store, outbox, 's', at);
  const result = await deliverDue(store, alerts, defaultSenders(alerts), () => NOW);
  return { store, result, outbox };
}

describe('pagerduty', () => {
  it('triggers on new/changed/reminder and resolves on resolved, all with dedup_key = the finding id', async () => {
    pd.requests.length = 0;
    const alerts = load(`{ routingKeyEnv: PD_KEY, url: "${pd.url}" }`, { PD_KEY: KEY });
    const { store, result, outbox } = await queueAndDeliver(alerts, [
      { f: FINDING, type: 'new' },
      { f: FINDING, type: 'changed' },
      { f: FINDING, type: 'reminder' },
      { f: RESOLVED, type: 'resolved' },
    ]);
    expect(result.failed).toEqual([]);
    expect(pd.violations).toEqual([]);
    expect(pd.requests.map((r) => [r.body.event_action, r.body.dedup_key, r.body.routing_key])).toEqual([
      ['trigger', FINDING.id, KEY],
      ['trigger', FINDING.id, KEY],
      ['trigger', FINDING.id, KEY],
      ['resolve', FINDING.id, KEY],
    ]);
    const payload = pd.requests[0]!.body.payload as Record<string, unknown>;
    expect(payload).toMatchObject({
      source: FINDING.host,
      severity: 'critical',
      component: FINDING.endpoint,
      class: 'pin-mismatch',
      timestamp: NOW.toISOString(),
    });
    expect(String(payload.summary)).toContain(FINDING.title);
    expect(payload.custom_details).toMatchObject({
      action: FINDING.action,
      explanation: FINDING.explanation,
      finding_id: FINDING.id,
      addresses: ['127.0.0.1'],
    });
    expect(JSON.stringify(outbox)).not.toContain(KEY); // the routing key is added when sending, never stored
    store.close();
  });

  it('maps severities info/warning/critical to PagerDuty info/warning/critical and keeps the summary within 1024 characters', async () => {
    pd.requests.length = 0;
    const alerts = load(`{ routingKey: ${KEY}, url: "${pd.url}" }`);
    const sevs: Severity[] = ['info', 'warning', 'critical'];
    const { store } = await queueAndDeliver(
      alerts,
      sevs.map((severity) => ({
        f: { ...FINDING, id: `f-${severity}`, severity, title: 'long '.repeat(400) },
        type: 'new' as const,
      })),
    );
    expect(pd.violations).toEqual([]);
    const got = pd.requests.map((r) => r.body.payload as { severity: string; summary: string });
    expect(got.map((p) => p.severity)).toEqual(['info', 'warning', 'critical']);
    for (const p of got) expect(p.summary.length).toBe(1024);
    store.close();
  });

  it('severityMin: lower findings do not trigger; resolves always go (PagerDuty ignores an unknown key)', () => {
    const alerts = load(`{ routingKey: ${KEY}, url: "${pd.url}", severityMin: critical }`);
    const names = (f: StoredFinding, t: AlertType) =>
      channelsFor(alerts, alertView(f, t, NOW)).map((c) => c.entry.name);
    expect(names({ ...FINDING, severity: 'warning' }, 'new')).toEqual([]);
    expect(names({ ...FINDING, severity: 'critical' }, 'new')).toEqual(['pagerduty']);
    expect(names({ ...RESOLVED, severity: 'warning' }, 'resolved')).toEqual(['pagerduty']);
  });

  it("202 is sent; 429 and 5xx are retried; 400 is dead with PagerDuty's message", async () => {
    const alerts = load(`{ routingKey: ${KEY}, url: "${pd.url}" }`);
    for (const [status, state] of [
      [429, 'pending'],
      [500, 'pending'],
      [400, 'dead'],
    ] as const) {
      pd.force = status;
      const { store, result } = await queueAndDeliver(alerts, [{ f: FINDING, type: 'new' }]);
      const rows = await store.outbox(state);
      expect(rows, String(status)).toHaveLength(1);
      expect(result.failed[0]!.retryAt === null, String(status)).toBe(state === 'dead');
      // 429 with Retry-After: 120 s waits at least that long, though the backoff would retry after 30 s.
      if (status === 429) expect(Date.parse(result.failed[0]!.retryAt!) - NOW.getTime()).toBe(120_000);
      if (status === 500) expect(Date.parse(result.failed[0]!.retryAt!) - NOW.getTime()).toBe(alerts.retryInitialMs);
      if (status === 400)
        expect(rows[0]!.lastError).toMatch(
          /pagerduty answered HTTP 400: Event object is invalid; Length of 'routing_key' is incorrect/,
        );
      store.close();
    }
    pd.force = null;
  });

  it('config: routingKey, routingKeyFile or routingKeyEnv (one), the default URL, and errors that never print the key', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pd-key'), `${KEY}\n`);
    writeFileSync(join(dir, 'bad-key'), 'sEcReT-but-short\n');
    expect(load('{ routingKeyFile: ./pd-key }', {}, dir).pagerduty).toMatchObject({
      routingKey: KEY,
      url: PAGERDUTY_URL,
      severityMin: 'info',
    });
    expect(() => load('{ url: "https://x.test/v2/enqueue" }')).toThrow(
      /alerts\.pagerduty\.routingKey: required: give routingKey, routingKeyFile or routingKeyEnv/,
    );
    expect(() => load(`{ routingKey: ${KEY}, routingKeyEnv: PD }`)).toThrow(
      /alerts\.pagerduty\.routingKeyEnv: give one of routingKey, routingKeyFile, routingKeyEnv/,
    );
    expect(() => load(`{ routingKey: ${KEY}, severityMin: high }`)).toThrow(
      /alerts\.pagerduty\.severityMin: expected "info", "warning" or "critical", found "high"/,
    );
    let msg = '';
    try {
      load('{ routingKeyFile: ./bad-key }', {}, dir);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(
      /alerts\.pagerduty\.routingKeyFile: expected a 32-character integration key .* found 16 characters/,
    );
    expect(msg).not.toContain('sEcReT');
  });

  it('renders a test alert as a trigger and its resolve', () => {
    // PagerDuty's test events need nothing of its config (the routing key is added when sending).
    const events = pagerdutyChannel.renderTest({
      id: 'test-1-pagerduty',
      at: NOW.toISOString(),
      file: 'm.yaml',
      channel: 'pagerduty',
    });
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(events[0]!.dedup_key).toBe(events[1]!.dedup_key);
  });
});
