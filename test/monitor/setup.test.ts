/**
 * `monitor init --from CONFIG` (a config that then loads and compares the app's own pins) and
 * `monitor test-alert` (one message per channel, to a real SMTP server and webhook receiver).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../monitor/config.js';
import { opensslPin } from '../helpers/fixtures.js';
import { NOW, freePort, monitorCli, smtpReceiver, SmtpReceiver, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';

const GOLDEN = resolve(import.meta.dirname, '..', 'golden', 'expiring');

describe('monitor init --from', () => {
  it('writes one endpoint per pinned domain of an Android config, reading the pins from it', async () => {
    const dir = tempDir();
    copyFileSync(join(GOLDEN, 'network_security_config.xml'), join(dir, 'nsc.xml'));
    const r = await monitorCli(['monitor', 'init', '--from', 'nsc.xml', '--out', 'mon/monitor.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/next: .*\n\s+pinctl monitor test-alert --config mon\/monitor.yaml/);
    const cfg = loadConfig(join(dir, 'mon', 'monitor.yaml'), { env: {}, cwd: dir, now: NOW });
    const xml = readFileSync(join(dir, 'nsc.xml'), 'utf8');
    const domains = [...xml.matchAll(/<domain[^>]*>([^<]+)<\/domain>/g)].map((m) => m[1]!.trim());
    expect(cfg.endpoints.map((e) => e.host)).toEqual(domains);
    const firstEntry = xml.slice(xml.indexOf('<domain-config>'), xml.indexOf('</domain-config>'));
    const pins = [...firstEntry.matchAll(/<pin digest="SHA-256">([^<]+)<\/pin>/g)].map((m) => m[1]!.trim());
    expect(pins.length).toBeGreaterThan(1);
    expect(cfg.endpoints[0]!.pins!.pins.map((p) => p.spkiSha256).sort()).toEqual([...new Set(pins)].sort());
    expect(cfg.endpoints[0]!.pins!.source).toBe('../nsc.xml');
  });

  it('refuses to overwrite, and says what a file without pins is', async () => {
    const dir = tempDir();
    copyFileSync(join(GOLDEN, 'pins.json'), join(dir, 'pins.json'));
    writeFileSync(join(dir, 'monitor.yaml'), 'mine\n');
    const r = await monitorCli(['monitor', 'init', '--from', 'pins.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: monitor.yaml exists/m);
    expect(r.stderr).toMatch(/^hint: .*--force/m);
    expect(readFileSync(join(dir, 'monitor.yaml'), 'utf8')).toBe('mine\n');
    expect((await monitorCli(['monitor', 'init', '--from', 'pins.json', '--force'], { cwd: dir })).code).toBe(0);
    writeFileSync(join(dir, 'empty.xml'), '<network-security-config/>');
    const empty = await monitorCli(['monitor', 'init', '--from', 'empty.xml', '--out', 'x.yaml'], { cwd: dir });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^error: empty\.xml .*pins no domain/m);
  });
});

describe('monitor test-alert', () => {
  let smtp: SmtpReceiver;
  let hook: WebhookReceiver;
  beforeAll(async () => {
    smtp = await smtpReceiver();
    hook = await webhookReceiver();
  });
  afterAll(async () => {
    await smtp.close();
    await hook.close();
  });
  const config = (email: string) =>
    writeConfig(
      tempDir(),
      `schedule: "*/5 * * * *"
alerts:
  email: { smtp: "${email}", from: pinctl@example.test, to: [ops@example.test] }
  webhook: { url: "${hook.url}" }
endpoints:
  - host: api.pinctl.test
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]
`,
    );

  it('sends one message through each channel', async () => {
    const r = await monitorCli(['monitor', 'test-alert', '--config', config(`smtp://127.0.0.1:${smtp.port}`), '--json'], { now: NOW });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results).toEqual([
      { channel: 'email', ok: true, error: null },
      { channel: 'webhook', ok: true, error: null },
    ]);
    expect(smtp.mails.map((m) => m.subject)).toEqual(['[pinctl] test alert']);
    expect(hook.requests).toHaveLength(1);
    expect(String(hook.requests[0]!.body.text)).toContain('pinctl test alert');
  });

  it('exits 1 and names the channel that failed; the other one is still tried', async () => {
    const before = hook.requests.length;
    const r = await monitorCli(['monitor', 'test-alert', '--config', config(`smtp://127.0.0.1:${await freePort()}`)], { now: NOW });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^failed email: .*ECONNREFUSED/m);
    expect(r.stderr).toMatch(/^sent\s+webhook/m);
    expect(hook.requests.length).toBe(before + 1);
  });
});
