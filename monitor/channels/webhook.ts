/**
 * A generic JSON webhook: `alerts.webhook: { url, tokenEnv | tokenFile, timeout }`. The body has a
 * Slack-compatible `text` and the whole finding under `pinctl`; `Idempotency-Key` and
 * `pinctl.alertId` carry the alert id so a receiver can drop a copy.
 */
import type { AlertChannel, ChannelConfigKit } from './types.js';
import { postJson, requireSuccess } from './http.js';
import { testText } from './view.js';

export interface WebhookChannel {
  url: string;
  /** Resolved from tokenEnv or tokenFile: sent as `Authorization: Bearer …`. */
  token: string | null;
  timeoutMs: number;
}

export type WebhookPayload = Record<string, unknown>;

function parse(raw: unknown, kit: ChannelConfigKit): WebhookChannel | undefined {
  const w = kit.section(raw, ['url', 'tokenEnv', 'tokenFile', 'timeout'], ['url']);
  if (!w) return undefined;
  const url = w.url === undefined ? undefined : kit.url(w.url, 'url', ['http:', 'https:']);
  const token = kit.secret(w, 'token');
  const timeoutMs = kit.timeoutMs(w);
  return url ? { url, token, timeoutMs } : undefined;
}

export const webhookChannel = {
  name: 'webhook',
  keys: ['url', 'tokenEnv', 'tokenFile', 'timeout'],
  hint: 'alerts.webhook needs url (http:// or https://); a bearer token comes from tokenFile or tokenEnv',
  parse,
  timeoutMs: (c) => c.timeoutMs,
  render(view, alertId) {
    const { finding: f, type, proposal } = view;
    const sev = type === 'resolved' ? 'RESOLVED' : f.severity.toUpperCase();
    const icon =
      type === 'resolved' ? ':white_check_mark:' : f.severity === 'critical' ? ':rotating_light:' : ':warning:';
    const pins = proposal.length ? `\n*Proposed pins:* ${proposal.map((l) => l.trim()).join(' ')}` : '';
    const what = type === 'resolved' ? (f.resolution ?? '') : `${f.explanation}\n*What to do:* ${f.action}${pins}`;
    const qualifier = type === 'reminder' ? ' (reminder)' : type === 'changed' ? ' (changed)' : '';
    return {
      text: `${icon} *${sev}${qualifier}* ${f.kind}: ${f.title}\n${what}`,
      pinctl: {
        alertId,
        type,
        finding: {
          id: f.id,
          kind: f.kind,
          severity: f.severity,
          endpoint: f.endpoint,
          host: f.host,
          port: f.port,
          addresses: view.addresses,
          title: f.title,
          explanation: f.explanation,
          action: f.action,
          openedAt: f.openedAt,
          resolvedAt: f.resolvedAt,
          resolution: f.resolution,
          details: view.details,
        },
      },
    };
  },
  renderTest: (t) => [
    {
      text: `:information_source: pinctl test alert: ${testText(t.file, t.at, t.channel)}`,
      pinctl: { alertId: t.id, type: 'test' },
    },
  ],
  legacyPayload: (m) => m.webhook,
  async send(ch, payload, attempt) {
    const headers: Record<string, string> = {
      'idempotency-key': attempt.alertId,
      ...(ch.token ? { authorization: `Bearer ${ch.token}` } : {}),
    };
    const answer = await postJson(ch.url, JSON.stringify(payload), headers, ch.timeoutMs, attempt.signal);
    // Classified like Slack and PagerDuty: 408/425/429/5xx retried, another 4xx dead with the receiver's words.
    requireSuccess('webhook', answer);
  },
  describe: (c) => `webhook ${new URL(c.url).origin}`,
} satisfies AlertChannel<'webhook', WebhookChannel, WebhookPayload>;
