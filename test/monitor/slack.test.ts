/** The Slack channel: Block Kit shape and Slack's limits, checked by a local receiver; config secrets. */
import type { StoredFinding } from '../../monitor/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../monitor/config.js';
import { slackChannel, SlackChannel, SlackPayload, slackPayload } from '../../monitor/channels/slack.js';
import { alertView } from '../../monitor/channels/view.js';
import { NOW, tempDir } from './helpers.js';
import { HttpReceiver, slackReceiver, slackViolations } from './channel-receivers.js';
import { FINDING, RESOLVED, viewOf } from './channel-sample.js';

let hook: HttpReceiver;
beforeAll(async () => {
  hook = await slackReceiver();
});
afterAll(async () => hook.close());

const cfg = (): SlackChannel => ({ webhookUrl: hook.url, channel: '#ops', timeoutMs: 5000 });
const send = (p: SlackPayload) =>
  slackChannel.send(cfg(), p, { alertId: 'a1', type: 'new', signal: AbortSignal.timeout(10_000) });
const texts = (p: SlackPayload) =>
  p.blocks.flatMap((b) =>
    ('text' in b && b.text ? [b.text.text] : [])
      .concat('fields' in b && b.fields ? b.fields.map((f) => f.text) : [])
      .concat('elements' in b ? b.elements.map((e) => e.text) : []),
  );

describe('slack', () => {
  it('posts a header, severity/endpoint/kind fields, the action in a code block and a context line, with a text fallback', async () => {
    const p = slackChannel.render(viewOf('new'), 'alert-1', cfg());
    expect(slackViolations(p)).toEqual([]);
    await send(p);
    const got = hook.requests.at(-1)!.body as unknown as SlackPayload;
    expect(got.channel).toBe('#ops');
    expect(got.text).toContain(FINDING.title);
    expect(got.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    const [header, summary, action, , context] = got.blocks as [any, any, any, any, any]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(header.text.text).toContain('CRITICAL');
    expect(header.text.text).toContain(FINDING.title);
    expect(summary.fields.map((f: { text: string }) => f.text)).toEqual([
      '*Severity*\ncritical',
      `*Endpoint*\n${FINDING.endpoint} (127.0.0.1)`,
      '*Kind*\npin-mismatch',
      '*Alert*\nnew',
    ]);
    expect(summary.text.text).toContain('&lt;all&gt; requests fail &amp; users'); // mrkdwn control characters escaped
    expect(action.text.text).toBe(`*What to do*\n\`\`\`\n${FINDING.action.replace(/>/g, '&gt;')}\n\`\`\``);
    expect(context.elements[0].text).toContain(`finding ${FINDING.id} · alert alert-1`);
  });

  it('a resolved alert says how it was resolved and has no action', () => {
    const p = slackChannel.render(viewOf('resolved', RESOLVED), 'alert-2', cfg());
    const all = texts(p).join('\n');
    expect(all).toContain(`Resolved: ${RESOLVED.resolution}`);
    expect(all).not.toContain('What to do');
    expect(p.blocks[0]!.type === 'header' && p.blocks[0].text.text).toMatch(/RESOLVED/);
  });

  it('truncates to Slack limits (header 150, section 3000, field 2000), never fails: a huge finding is delivered', async () => {
    const huge = {
      ...FINDING,
      title: `<${'t'.repeat(5000)}>`,
      explanation: '&'.repeat(10_000),
      action: `run ${'x'.repeat(10_000)}`,
      endpoint: `${'e'.repeat(3000)}:443`,
      details: { ...FINDING.details, reasons: Array.from({ length: 400 }, (_, i) => `reason ${i} ${'r'.repeat(50)}`) } as StoredFinding['details'],
    };
    const p = slackChannel.render(alertView(huge, 'changed', NOW), 'alert-3', cfg());
    expect(slackViolations(p)).toEqual([]);
    const header = p.blocks[0]!;
    expect(header.type === 'header' && header.text.text.length).toBe(150);
    for (const t of texts(p)) expect(t).not.toMatch(/&[a-z]*…/); // no entity cut in half
    const before = hook.requests.length;
    await send(p);
    expect(hook.requests.length).toBe(before + 1);
    expect(hook.violations).toEqual([]);
  });

  it('caps the blocks at 50 and the fallback text at 3000 characters', () => {
    const blocks = Array.from({ length: 60 }, (_, i) => ({
      type: 'section' as const,
      text: { type: 'mrkdwn' as const, text: `block ${i}` },
    }));
    const p = slackPayload('y'.repeat(5000), blocks, cfg());
    expect(p.blocks).toHaveLength(50);
    expect(p.text).toHaveLength(3000);
    expect(slackViolations(p)).toEqual([]);
  });

  it('reads the webhook URL from webhookUrl, webhookUrlFile or webhookUrlEnv (one of them), never printing it', () => {
    const dir = tempDir();
    const load = (section: string, env: Record<string, string> = {}) =>
      parseConfig(
        `schedule: "*/5 * * * *"\nalerts:\n  slack: ${section}\nendpoints:\n  - host: api.pinctl.test\n`,
        'x.yaml',
        { env, cwd: dir, now: NOW },
      ).alerts.slack;
    writeFileSync(join(dir, 'url'), 'https://hooks.slack.test/services/T/B/secret-part\n');
    writeFileSync(join(dir, 'junk'), 'not-a-url-secret-part\n');
    expect(load('{ webhookUrlFile: ./url }')?.webhookUrl).toBe('https://hooks.slack.test/services/T/B/secret-part');
    expect(
      load('{ webhookUrlEnv: SLACK_URL, channel: "#ops" }', { SLACK_URL: 'https://hooks.slack.test/x' }),
    ).toMatchObject({ webhookUrl: 'https://hooks.slack.test/x', channel: '#ops' });
    expect(() => load('{ channel: "#ops" }')).toThrow(
      /alerts\.slack\.webhookUrl: required: give webhookUrl, webhookUrlFile or webhookUrlEnv/,
    );
    expect(() => load('{ webhookUrlEnv: SLACK_URL }')).toThrow(
      /alerts\.slack\.webhookUrlEnv: the environment variable SLACK_URL is not set/,
    );
    let msg = '';
    try {
      load('{ webhookUrlFile: ./junk }');
    } catch (e) {
      msg = String((e as Error).message);
    }
    expect(msg).toMatch(/alerts\.slack\.webhookUrlFile: holds something that is not an http\(s\) URL/);
    expect(msg).not.toContain('secret-part');
    expect(() => load('{ webhookUrl: "https://h.test/x", chanel: "#ops" }')).toThrow(
      /alerts\.slack\.chanel: unknown key \(did you mean "channel"\?\)/,
    );
  });
});
