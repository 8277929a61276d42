/**
 * Slack incoming webhook with Block Kit:
 * `alerts.slack: { webhookUrl | webhookUrlFile | webhookUrlEnv, channel?, timeout? }`.
 * A header, a section with severity / endpoint / kind fields, the action in a code block, what
 * changed, and a context line with the finding and alert ids; `text` is the notification
 * fallback. Slack's limits (header 150 characters, section text 3000, field 2000, 50 blocks) are
 * met by truncating: a long finding is never a failed delivery.
 */
import type { AlertChannel, AlertView, ChannelConfigKit } from './types.js';
import { clip, SEVERITY_WORD } from './types.js';
import { postJson, requireSuccess } from './http.js';
import { testText } from './view.js';

export interface SlackChannel {
  /** Resolved from webhookUrl, webhookUrlFile or webhookUrlEnv; a secret (never printed). Null only when secrets are optional. */
  webhookUrl: string | null;
  /** Overrides the webhook's default channel (legacy webhooks honour it). */
  channel: string | null;
  timeoutMs: number;
}

type Text = { type: 'plain_text' | 'mrkdwn'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: Text }
  | { type: 'section'; text?: Text; fields?: Text[] }
  | { type: 'context'; elements: Text[] };
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
  channel?: string;
}

export const SLACK_LIMITS = {
  header: 150,
  sectionText: 3000,
  field: 2000,
  fields: 10,
  blocks: 50,
  context: 2000,
  text: 3000,
};

/** Slack mrkdwn control characters. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Escaped, then clipped to `max` without cutting an entity in half. */
function mrkdwn(s: string, max: number): string {
  const e = esc(s);
  return e.length <= max ? e : `${e.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/** `*title*` and the body in a code block, within the section limit. */
function codeSection(title: string, body: string): SlackBlock {
  const head = `*${title}*\n\`\`\`\n`;
  const inner = mrkdwn(body.replace(/```/g, "'''"), SLACK_LIMITS.sectionText - head.length - 4);
  return { type: 'section', text: { type: 'mrkdwn', text: `${head}${inner}\n\`\`\`` } };
}

const field = (name: string, value: string): Text => ({
  type: 'mrkdwn',
  text: `*${name}*\n${mrkdwn(value, SLACK_LIMITS.field - name.length - 3)}`,
});

function render(view: AlertView, alertId: string, cfg: SlackChannel): SlackPayload {
  const { finding: f, type } = view;
  const icon = type === 'resolved' ? '✅' : f.severity === 'critical' ? '🚨' : f.severity === 'warning' ? '⚠️' : 'ℹ️';
  const word =
    type === 'resolved' ? 'RESOLVED' : `${SEVERITY_WORD[f.severity]}${type === 'new' ? '' : ` ${type.toUpperCase()}`}`;
  const where = view.addresses.length ? `${f.endpoint} (${view.addresses.join(', ')})` : f.endpoint;
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`${icon} ${word}: ${f.kind} ${f.title}`.replace(/\s+/g, ' '), SLACK_LIMITS.header),
        emoji: true,
      },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: mrkdwn(f.explanation, SLACK_LIMITS.sectionText) },
      fields: [field('Severity', f.severity), field('Endpoint', where), field('Kind', f.kind), field('Alert', type)],
    },
  ];
  if (type === 'resolved')
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: mrkdwn(`Resolved: ${f.resolution ?? 'cleared'}`, SLACK_LIMITS.sectionText) },
    });
  else blocks.push(codeSection('What to do', f.action));
  if (view.changed.length) blocks.push(codeSection('What changed', view.changed.join('\n')));
  if (type !== 'resolved' && view.proposal.length)
    blocks.push(codeSection('Proposed pins', view.proposal.map((l) => l.trim()).join('\n')));
  const since = type === 'reminder' ? ` · still open at ${view.at}` : '';
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: mrkdwn(
          `pinctl monitor · finding ${f.id} · alert ${alertId} · open since ${f.openedAt}${since}`,
          SLACK_LIMITS.context,
        ),
      },
    ],
  });
  return slackPayload(`${icon} ${view.subject}`, blocks, cfg);
}

/** The message: fallback text and blocks within Slack's limits (exported for the limit test). */
export function slackPayload(text: string, blocks: SlackBlock[], cfg: SlackChannel): SlackPayload {
  return {
    text: clip(text, SLACK_LIMITS.text),
    blocks: blocks.slice(0, SLACK_LIMITS.blocks),
    ...(cfg.channel ? { channel: cfg.channel } : {}),
  };
}

function parse(raw: unknown, kit: ChannelConfigKit): SlackChannel | undefined {
  const s = kit.section(raw, ['webhookUrl', 'webhookUrlFile', 'webhookUrlEnv', 'channel', 'timeout']);
  if (!s) return undefined;
  const given = ['webhookUrl', 'webhookUrlFile', 'webhookUrlEnv'].filter((k) => s[k] !== undefined);
  if (given.length === 0)
    return kit.say(
      'webhookUrl',
      'required: give webhookUrl, webhookUrlFile or webhookUrlEnv (the incoming-webhook URL)',
    );
  if (given.length > 1)
    return kit.say(given[1]!, `give one of webhookUrl, webhookUrlFile, webhookUrlEnv, not ${given.join(' and ')}`);
  let webhookUrl: string | null = null;
  if (s.webhookUrl !== undefined) webhookUrl = kit.url(s.webhookUrl, 'webhookUrl', ['https:', 'http:']) ?? null;
  else {
    webhookUrl = kit.secret(s, 'webhookUrl');
    if (webhookUrl !== null && !isHttpUrl(webhookUrl))
      webhookUrl =
        kit.say(given[0]!, 'holds something that is not an http(s) URL (value not shown: it is a secret)') ?? null;
  }
  let channel: string | null = null;
  if (s.channel !== undefined) {
    const c = kit.str(s.channel, 'channel', 'a Slack channel such as "#ops" or a channel id');
    if (c !== undefined && /\s/.test(c)) kit.add('channel', 'a Slack channel such as "#ops" (no spaces)', c);
    else channel = c ?? null;
  }
  const timeoutMs = kit.timeoutMs(s);
  return webhookUrl !== null || kit.secretsOptional ? { webhookUrl, channel, timeoutMs } : undefined;
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export const slackChannel = {
  name: 'slack',
  keys: ['webhookUrl', 'webhookUrlFile', 'webhookUrlEnv', 'channel', 'timeout'],
  hint: 'alerts.slack needs the incoming-webhook URL from webhookUrl, webhookUrlFile (a file holding it) or webhookUrlEnv (a variable)',
  parse,
  timeoutMs: (c) => c.timeoutMs,
  render,
  renderTest: (t, cfg) => [
    slackPayload(
      'ℹ️ pinctl test alert',
      [
        { type: 'header', text: { type: 'plain_text', text: 'ℹ️ pinctl test alert', emoji: true } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: mrkdwn(testText(t.file, t.at, t.channel), SLACK_LIMITS.sectionText) },
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: mrkdwn(`pinctl monitor · test ${t.id}`, SLACK_LIMITS.context) }],
        },
      ],
      cfg,
    ),
  ],
  async send(ch, payload, attempt) {
    if (!ch.webhookUrl) throw new Error('alerts.slack: the webhook URL was not available when the config was loaded');
    const answer = await postJson(ch.webhookUrl, JSON.stringify(payload), {}, ch.timeoutMs, attempt.signal);
    // Slack answers 400 invalid_blocks / no_text, 403, 404 channel_not_found, 410: the message is refused.
    requireSuccess('slack', answer);
  },
  describe: (c) => `slack${c.channel ? ` ${c.channel}` : ''}`,
} satisfies AlertChannel<'slack', SlackChannel, SlackPayload>;
