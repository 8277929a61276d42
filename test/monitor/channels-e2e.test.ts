/**
 * The new channels end to end: `monitor once` queues and delivers a pin mismatch to Slack and
 * PagerDuty (and the resolve when the pinned key is back), `monitor test-alert` sends one test
 * message per configured channel in registry order, and `monitor status` lists the channels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslPin } from '../helpers/fixtures.js';
import { tlsServer, Running } from '../helpers/servers.js';
import {
  NOW,
  monitorCli,
  pkiFile,
  smtpReceiver,
  SmtpReceiver,
  tempDir,
  webhookReceiver,
  WebhookReceiver,
  writeConfig,
} from './helpers.js';
import { HttpReceiver, pagerdutyReceiver, slackReceiver } from './channel-receivers.js';

const KEY = 'abcdefghijklmnopqrstuvwxyz012345';
let tls: Running;
let slack: HttpReceiver;
let pd: HttpReceiver;
let smtp: SmtpReceiver;
let hook: WebhookReceiver;
beforeAll(async () => {
  [tls, slack, pd, smtp, hook] = await Promise.all([
    tlsServer('chain.pem', 'leaf.key'),
    slackReceiver(),
    pagerdutyReceiver(),
    smtpReceiver(),
    webhookReceiver(),
  ]);
});
afterAll(async () => {
  await Promise.all([tls.close(), slack.close(), pd.close(), smtp.close(), hook.close()]);
});

function config(dir: string, pins: string[], channels: string): string {
  writeFileSync(join(dir, 'slack-url'), `${slack.url}\n`);
  return writeConfig(
    dir,
    `schedule: "*/30 * * * * *"
state: ./state
retries: 0
timeout: 2s
alerts:
${channels}
endpoints:
  - host: api.pinctl.test
    port: ${tls.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: [${pins.map((p) => `"${p}"`).join(', ')}]
`,
  );
}

const NEW_CHANNELS = `  slack: { webhookUrlFile: ./slack-url, channel: "#ops" }
  pagerduty: { routingKeyEnv: PD_KEY, url: "${'PD_URL'}" }`;

describe('slack and pagerduty through the monitor', () => {
  it("monitor once alerts both on a pin mismatch, and resolves PagerDuty's incident when the pin is served again", async () => {
    const dir = tempDir();
    const channels = NEW_CHANNELS.replace('PD_URL', pd.url);
    const env = { PD_KEY: KEY };
    const bad = await monitorCli(
      ['monitor', 'once', '--json', '--config', config(dir, [opensslPin('backup.key')], channels)],
      { now: NOW, env },
    );
    expect(bad.code, bad.stderr).toBe(1);
    const finding = (JSON.parse(bad.stdout) as { open: { id: string; kind: string }[] }).open.find(
      (f) => f.kind === 'pin-mismatch',
    )!;
    expect(finding).toBeTruthy();
    expect(slack.violations).toEqual([]);
    expect(slack.requests).toHaveLength(1);
    expect(JSON.stringify(slack.requests[0]!.body)).toContain(`finding ${finding.id}`);
    expect(pd.violations).toEqual([]);
    expect(pd.requests.map((r) => [r.body.event_action, r.body.dedup_key])).toEqual([['trigger', finding.id]]);

    const later = new Date(NOW.getTime() + 60_000);
    const good = await monitorCli(
      ['monitor', 'once', '--json', '--config', config(dir, [opensslPin('leaf.pem')], channels)],
      { now: later, env },
    );
    expect(good.code, good.stderr).toBe(0);
    expect(pd.requests.map((r) => [r.body.event_action, r.body.dedup_key])).toEqual([
      ['trigger', finding.id],
      ['resolve', finding.id],
    ]);
    expect(slack.requests).toHaveLength(2);
    expect(String(slack.requests[1]!.body.text)).toContain('RESOLVED');

    const status = await monitorCli(['monitor', 'status', '--json', '--config', join(dir, 'monitor.yaml')], {
      now: later,
    });
    expect(JSON.parse(status.stdout).alertChannels).toEqual([
      { channel: 'slack', to: 'slack #ops' },
      { channel: 'pagerduty', to: `pagerduty ${new URL(pd.url).host}` },
    ]);
  });

  it('monitor test-alert sends one test message through each of the four channels, in registry order', async () => {
    const dir = tempDir();
    const before = {
      slack: slack.requests.length,
      pd: pd.requests.length,
      mails: smtp.mails.length,
      hook: hook.requests.length,
    };
    const channels = `  email: { smtp: "smtp://127.0.0.1:${smtp.port}", from: pinctl@example.test, to: [ops@example.test] }
  webhook: { url: "${hook.url}" }
${NEW_CHANNELS.replace('PD_URL', pd.url)}`;
    const r = await monitorCli(
      ['monitor', 'test-alert', '--json', '--config', config(dir, [opensslPin('leaf.pem')], channels)],
      { now: NOW, env: { PD_KEY: KEY } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results.map((x: { channel: string; ok: boolean }) => [x.channel, x.ok])).toEqual([
      ['email', true],
      ['webhook', true],
      ['slack', true],
      ['pagerduty', true],
    ]);
    expect(smtp.mails.length - before.mails).toBe(1);
    expect(hook.requests.length - before.hook).toBe(1);
    expect(slack.requests.length - before.slack).toBe(1);
    expect(String(slack.requests.at(-1)!.body.text)).toContain('pinctl test alert');
    // PagerDuty: a trigger and its resolve, so the test leaves no open incident.
    expect(pd.requests.slice(before.pd).map((q) => q.body.event_action)).toEqual(['trigger', 'resolve']);
    expect(pd.violations).toEqual([]);
  });

  it('test-alert names a refused channel and still tries the others', async () => {
    const dir = tempDir();
    pd.force = 400;
    try {
      const r = await monitorCli(
        [
          'monitor',
          'test-alert',
          '--config',
          config(dir, [opensslPin('leaf.pem')], NEW_CHANNELS.replace('PD_URL', pd.url)),
        ],
        { now: NOW, env: { PD_KEY: KEY } },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sent\s+slack/m);
      expect(r.stderr).toMatch(/^failed pagerduty: pagerduty answered HTTP 400: Event object is invalid/m);
    } finally {
      pd.force = null;
    }
  });
});
