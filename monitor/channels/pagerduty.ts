/**
 * PagerDuty Events API v2:
 * `alerts.pagerduty: { routingKey | routingKeyFile | routingKeyEnv, url?, severityMin?, timeout? }`.
 * new / changed / reminder send `trigger`, resolved sends `resolve`, all with `dedup_key` = the
 * finding id, so PagerDuty keeps one incident per finding and the resolve closes it. The routing
 * key is added when sending (it is a secret: never stored in the outbox).
 */
import { atLeast, Severity } from '../types.js';
import type { AlertChannel, AlertView, ChannelConfigKit } from './types.js';
import { clip, SEVERITY_WORD } from './types.js';
import { postJson, requireSuccess } from './http.js';
import { testText } from './view.js';

export const PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';

export interface PagerDutyChannel {
  /** Resolved from routingKey, routingKeyFile or routingKeyEnv. Null only when secrets are optional. */
  routingKey: string | null;
  url: string;
  /** Findings below this severity do not trigger (resolves are always sent: unknown keys are ignored by PagerDuty). */
  severityMin: Severity;
  timeoutMs: number;
}

export interface PagerDutyEvent {
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  client?: string;
}

function render(view: AlertView, alertId: string): PagerDutyEvent {
  const { finding: f, type } = view;
  if (type === 'resolved') return { event_action: 'resolve', dedup_key: f.id };
  const word = `${SEVERITY_WORD[f.severity]}${type === 'new' ? '' : ` (${type})`}`;
  return {
    event_action: 'trigger',
    dedup_key: f.id,
    payload: {
      summary: clip(`${word} ${f.kind}: ${f.title}`.replace(/\s+/g, ' '), 1024),
      source: f.host || f.endpoint, // the v2 schema requires a non-empty source
      severity: f.severity,
      timestamp: view.at,
      component: f.endpoint,
      group: 'pinctl',
      class: f.kind,
      custom_details: {
        alert: type,
        alert_id: alertId,
        finding_id: f.id,
        endpoint: f.endpoint,
        addresses: view.addresses,
        opened_at: f.openedAt,
        explanation: f.explanation,
        action: f.action,
        ...(view.changed.length ? { what_changed: view.changed.map((l) => l.trim()) } : {}),
        ...(view.proposal.length ? { proposed_pins: view.proposal.map((l) => l.trim()) } : {}),
      },
    },
    client: 'pinctl monitor',
  };
}

function parse(raw: unknown, kit: ChannelConfigKit): PagerDutyChannel | undefined {
  const s = kit.section(raw, ['routingKey', 'routingKeyFile', 'routingKeyEnv', 'url', 'severityMin', 'timeout']);
  if (!s) return undefined;
  const given = ['routingKey', 'routingKeyFile', 'routingKeyEnv'].filter((k) => s[k] !== undefined);
  if (given.length === 0)
    return kit.say(
      'routingKey',
      'required: give routingKey, routingKeyFile or routingKeyEnv (the integration key of an Events API v2 service)',
    );
  if (given.length > 1)
    return kit.say(given[1]!, `give one of routingKey, routingKeyFile, routingKeyEnv, not ${given.join(' and ')}`);
  let routingKey =
    s.routingKey !== undefined
      ? (kit.str(s.routingKey, 'routingKey', 'a 32-character integration key') ?? null)
      : kit.secret(s, 'routingKey');
  if (routingKey !== null && !/^[A-Za-z0-9]{32}$/.test(routingKey)) {
    routingKey =
      kit.say(
        given[0]!,
        `expected a 32-character integration key (letters and digits), found ${routingKey.length} characters` +
          ' (value not shown: it is a secret)',
      ) ?? null;
  }
  const url = s.url === undefined ? PAGERDUTY_URL : kit.url(s.url, 'url', ['https:', 'http:']);
  let severityMin: Severity = 'info';
  if (s.severityMin !== undefined) {
    if (s.severityMin === 'info' || s.severityMin === 'warning' || s.severityMin === 'critical')
      severityMin = s.severityMin;
    else kit.add('severityMin', '"info", "warning" or "critical"', s.severityMin);
  }
  const timeoutMs = kit.timeoutMs(s);
  return url && (routingKey !== null || kit.secretsOptional) ? { routingKey, url, severityMin, timeoutMs } : undefined;
}

/** 202 sent; 408/425/429 and 5xx retried; 400 (and any other 4xx) dead, with PagerDuty's own message. */
async function send(ch: PagerDutyChannel, event: PagerDutyEvent, attempt: { signal: AbortSignal }): Promise<void> {
  if (!ch.routingKey) throw new Error('alerts.pagerduty: the routing key was not available when the config was loaded');
  const answer = await postJson(
    ch.url,
    JSON.stringify({ routing_key: ch.routingKey, ...event }),
    {},
    ch.timeoutMs,
    attempt.signal,
  );
  if (answer.status >= 200 && answer.status <= 299) return;
  let said = answer.body;
  try {
    const j = JSON.parse(answer.body) as { message?: unknown; errors?: unknown };
    said =
      [j.message, ...(Array.isArray(j.errors) ? j.errors : [])].filter((x) => typeof x === 'string').join('; ') || said;
  } catch {
    // not JSON: the raw text
  }
  requireSuccess('pagerduty', answer, said);
}

export const pagerdutyChannel = {
  name: 'pagerduty',
  keys: ['routingKey', 'routingKeyFile', 'routingKeyEnv', 'url', 'severityMin', 'timeout'],
  hint:
    'alerts.pagerduty needs the integration key of an Events API v2 service in routingKey, ' +
    'routingKeyFile (a file) or routingKeyEnv (a variable)',
  parse,
  timeoutMs: (c) => c.timeoutMs,
  accepts: (c, view) => view.type === 'resolved' || atLeast(view.finding.severity, c.severityMin),
  render,
  renderTest(t) {
    const dedup = `pinctl-${t.id}`;
    const summary = `pinctl test alert (nothing is wrong): resolved right away`;
    return [
      {
        event_action: 'trigger',
        dedup_key: dedup,
        payload: {
          summary,
          source: 'pinctl-monitor',
          severity: 'info',
          timestamp: t.at,
          component: 'alerts',
          group: 'pinctl',
          class: 'test',
          custom_details: { text: testText(t.file, t.at, t.channel) },
        },
        client: 'pinctl monitor',
      },
      { event_action: 'resolve', dedup_key: dedup },
    ];
  },
  send,
  describe: (c) => `pagerduty ${new URL(c.url).host}${c.severityMin === 'info' ? '' : ` (${c.severityMin} and above)`}`,
} satisfies AlertChannel<'pagerduty', PagerDutyChannel, PagerDutyEvent>;
