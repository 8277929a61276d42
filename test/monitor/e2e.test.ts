/**
 * End to end through `pinctl monitor once`: a real TLS server on 127.0.0.1 whose chain the test
 * rotates, a real SMTP server (smtp-server) and an HTTP webhook receiver on 127.0.0.1, a frozen clock.
 */
import { storedDetails } from '../../monitor/lifecycle.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Store } from '../../monitor/store.js';
import type { StoredFinding } from '../../monitor/types.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki, OPENSSL_PINS } from '../helpers/fixtures.js';
import { monitorCli, pkiFile, smtpReceiver, SmtpReceiver, tempDir, webhookReceiver, WebhookReceiver, writeConfig, NOW } from './helpers.js';

const HOST = 'api.pinctl.test';
let server: Running & { server: import('node:tls').Server };
let smtp: SmtpReceiver;
let hook: WebhookReceiver;

beforeAll(async () => {
  server = await tlsServer('chain.pem', 'leaf.key');
  smtp = await smtpReceiver();
  hook = await webhookReceiver();
});
afterAll(async () => {
  await server.close();
  await smtp.close();
  await hook.close();
});
beforeEach(() => {
  smtp.mails.length = 0;
  hook.requests.length = 0;
  hook.status = 200;
  serve('chain.pem', 'leaf.key');
});

function serve(chain: string | Buffer, key: string) {
  server.server.setSecureContext({ cert: typeof chain === 'string' ? readPki(chain) : chain, key: readPki(key) });
}

function config(dir: string, pins: string[], extra = ''): string {
  return writeConfig(
    dir,
    `schedule: "*/30 * * * * *"
state: ./state
retries: 1
retryDelay: 1ms
timeout: 2s
alerts:
  email: { smtp: "smtp://127.0.0.1:${smtp.port}", from: "pinctl@example.test", to: ["ops@example.test"] }
  webhook: { url: "${hook.url}" }
endpoints:
  - host: ${HOST}
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: [${pins.map((p) => `"${p}"`).join(', ')}]
${extra}`,
  );
}

/**
 * One `monitor once`. With --json, also checks that the open findings it prints (computed from the
 * cycle's plan, not read back) are exactly what the committed state store holds.
 */
async function once(cfg: string, now = NOW, json = false) {
  const r = await monitorCli(['monitor', 'once', '--config', cfg, ...(json ? ['--json'] : [])], { now });
  if (json) {
    const store = await Store.open(join(dirname(cfg), 'state'));
    try {
      const stored = (await store.openFindings()).map((f) => ({ id: f.id, severity: f.severity, title: f.title, details: storedDetails(f), resolvedAt: f.resolvedAt }));
      const printed = (JSON.parse(r.stdout).open as StoredFinding[]).map((f) => ({ id: f.id, severity: f.severity, title: f.title, details: f.details, resolvedAt: f.resolvedAt }));
      expect(printed).toEqual(stored);
    } finally {
      store.close();
    }
  }
  return r;
}
const LEAF = opensslPin('leaf.pem');
const LEAF_NEW = opensslPin('leaf-new-key.pem');
const INTERMEDIATE = opensslPin('intermediate.pem');
const INTERMEDIATE2 = opensslPin('intermediate2.pem');
const ROOT = opensslPin('root.pem');
const BACKUP = opensslPin('backup.key');
const fp = (name: string) => OPENSSL_PINS[name]![0]!.sha256Fingerprint!;

describe('monitor once against a rotating server', () => {
  it('a healthy endpoint: exit 0, the whole chain recorded, nothing alerted', async () => {
    const dir = tempDir();
    const r = await once(config(dir, [INTERMEDIATE, ROOT]), NOW, true);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.healthy).toBe(true);
    const o = out.observations[0];
    expect(o).toMatchObject({ endpoint: `${HOST}:${server.port}`, address: '127.0.0.1', protocol: 'TLSv1.3', trusted: true, error: null, attempts: 1 });
    expect(o.chain.map((c: { position: string }) => c.position)).toEqual(['leaf', 'intermediate', 'root']);
    expect(o.chain.map((c: { spkiSha256: string }) => c.spkiSha256)).toEqual([LEAF, INTERMEDIATE, ROOT]);
    expect(o.chain.map((c: { sha256: string }) => c.sha256)).toEqual([fp('leaf.pem'), fp('intermediate.pem'), fp('root.pem')]);
    expect(o.chain[0]).toMatchObject({ subject: 'O=pinctl test, CN=api.pinctl.test', issuer: 'O=pinctl test, CN=pinctl Test Intermediate CA', notAfter: '2036-01-01T00:00:00.000Z', sct: false });
    expect(o.chain[2].source).toBe('trust-store');
    expect(out.open).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
    expect(hook.requests).toHaveLength(0);
    // The certificates are kept for `pinctl generate --backup-key`.
    expect(existsSync(join(dir, 'state', 'certs', `${fp('leaf.pem')}.pem`))).toBe(true);
    const human = await once(config(dir, [INTERMEDIATE, ROOT]));
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`OK   127.0.0.1  TLSv1.3  "api.pinctl.test" → "pinctl Test Intermediate CA" → "pinctl Test Root CA"`);
    expect(human.stdout).toContain('ok: every endpoint is healthy');
  });

  it('classifies drift: same-key renewal is info (no alert); a new leaf key alerts once, with old → new pins and the generate command', async () => {
    const dir = tempDir();
    const cfg = config(dir, [LEAF, INTERMEDIATE]);
    expect((await once(cfg)).code).toBe(0);

    serve('chain-renewed.pem', 'leaf.key');
    let r = await once(cfg, NOW, true);
    expect(r.code, r.stdout).toBe(0);
    let out = JSON.parse(r.stdout);
    expect(out.opened).toHaveLength(1);
    expect(out.opened[0]).toMatchObject({ kind: 'chain-drift', severity: 'info' });
    expect(out.opened[0].details.changes.map((c: { change: string }) => c.change)).toEqual(['leaf-renewed']);
    expect(smtp.mails).toHaveLength(0);

    serve('chain-new-key.pem', 'leaf-new-key.key');
    r = await once(cfg, NOW, true);
    expect(r.code).toBe(1);
    out = JSON.parse(r.stdout);
    const drift = out.opened.find((f: { kind: string }) => f.kind === 'chain-drift');
    expect(drift.severity).toBe('warning');
    expect(drift.details.changes.map((c: { change: string }) => c.change)).toEqual(['leaf-key-changed']);
    expect(out.opened.some((f: { kind: string }) => f.kind === 'pin-mismatch')).toBe(false); // the intermediate pin still matches
    expect(out.alerts).toMatchObject({ queued: 2, sent: 2, failed: [] });

    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.to).toEqual(['ops@example.test']);
    expect(mail.subject).toContain('WARNING chain-drift');
    expect(mail.raw).toContain(`Endpoint:  ${HOST}:${server.port}`);
    expect(mail.raw).toContain('Address:   127.0.0.1');
    expect(mail.raw).toContain(`leaf key changed: ${LEAF} → ${LEAF_NEW}`);
    expect(mail.raw).toMatch(/old: "O=pinctl test, CN=api\.pinctl\.test" pin \S+/);
    const backup = join(dir, 'state', 'certs', `${fp('leaf-renewed-same-key.pem')}.pem`);
    expect(mail.raw).toContain(`pinctl generate ${HOST}:${server.port} --resolve ${HOST}:${server.port}:127.0.0.1 --ca-file ${pkiFile('root.pem')} --pin leaf --pin intermediate --backup-key ${backup} --format json`);
    expect(opensslPinOfFile(backup)).toBe(LEAF); // the backup file really holds the old key
    expect(hook.requests).toHaveLength(1);
    const body = hook.requests[0]!.body as { text: string; pinctl: { alertId: string; finding: { kind: string } } };
    expect(body.text).toMatch(/WARNING\* chain-drift/);
    expect(body.pinctl.finding.kind).toBe('chain-drift');
    expect(hook.requests[0]!.headers['idempotency-key']).toBe(body.pinctl.alertId);
    expect(mail.messageId).toBe(`<${(await messageIds(dir))[0]}@pinctl.monitor>`);

    // The same problem at the next sweep: still open, not alerted again.
    r = await once(cfg);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/WARNING  chain-drift: .*leaf-key-changed/);
    expect(smtp.mails).toHaveLength(1);
    expect(hook.requests).toHaveLength(1);
  });

  it('a new intermediate breaks apps pinning only the intermediate: pin-mismatch is critical; serving the old chain recovers both', async () => {
    const dir = tempDir();
    const cfg = config(dir, [INTERMEDIATE, BACKUP]);
    expect((await once(cfg)).code).toBe(0);

    serve('chain-intermediate2.pem', 'leaf.key');
    let r = await once(cfg, NOW, true);
    expect(r.code).toBe(1);
    let out = JSON.parse(r.stdout);
    const kinds = out.opened.map((f: { kind: string; severity: string }) => `${f.kind}:${f.severity}`).sort();
    expect(kinds).toEqual(['chain-drift:warning', 'pin-mismatch:critical']);
    const drift = out.opened.find((f: { kind: string }) => f.kind === 'chain-drift');
    expect(drift.details.changes.map((c: { change: string }) => c.change)).toEqual(['leaf-renewed', 'intermediate-changed']);
    const mismatch = out.opened.find((f: { kind: string }) => f.kind === 'pin-mismatch');
    expect(mismatch.explanation).toContain('refuse to connect');
    expect(mismatch.explanation).toContain(INTERMEDIATE2);
    expect(smtp.mails).toHaveLength(2);
    const mail = smtp.mails.find((m) => m.subject.includes('pin-mismatch'))!;
    expect(mail.subject).toContain('CRITICAL');
    expect(mail.raw).toContain(`pins the app ships (inline): ${INTERMEDIATE}, ${BACKUP}`);
    expect(mail.raw).toContain('previous chain:');
    expect(mail.raw).toMatch(/new chain:\n\s+leaf\s+"api\.pinctl\.test"\s+pin \S+\s+until 2036-01-01\n\s+intermediate "pinctl Test Intermediate CA 2"  pin /);
    expect(mail.raw).toContain(`--pin intermediate --backup-key ${join(dir, 'state', 'certs', `${fp('intermediate.pem')}.pem`)}`);
    const text = (hook.requests.find((q) => (q.body.text as string).includes('pin-mismatch'))!.body.text as string);
    expect(text).toMatch(/^:rotating_light: \*CRITICAL\* pin-mismatch/);

    serve('chain.pem', 'leaf.key');
    r = await once(cfg, NOW, true);
    expect(r.code, r.stdout).toBe(0);
    out = JSON.parse(r.stdout);
    expect(out.recovered.map((f: { of: string }) => f.of).sort()).toEqual(['chain-drift', 'pin-mismatch']);
    expect(out.recovered.every((f: { kind: string }) => f.kind === 'recovered')).toBe(true);
    expect(smtp.mails).toHaveLength(4);
    const resolved = smtp.mails.filter((m) => m.subject.startsWith('[pinctl] RESOLVED'));
    expect(resolved).toHaveLength(2);
    expect(resolved.map((m) => m.raw).join('\n')).toContain('a shipped pin matches the served chain again');
    expect(resolved.map((m) => m.raw).join('\n')).toContain('the previous chain is served again');

    const h = await monitorCli(['monitor', 'history', HOST, '--config', cfg]);
    expect(h.code).toBe(0);
    const lines = h.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/first-seen .*127\.0\.0\.1/);
    expect(h.stdout).toMatch(/opened\s+pin-mismatch \(critical\)/);
    expect(h.stdout).toMatch(/resolved pin-mismatch .*a shipped pin matches/);
  });

  it('expiry: each threshold alerts once, the lowest is critical, renewal resolves; an expired chain is critical', async () => {
    const dir = tempDir();
    const cfg = config(dir, [ROOT, BACKUP]);
    // The leaf (chain.pem) expires 2036-01-01.
    let r = await once(cfg, new Date('2035-12-10T00:00:00Z'), true);
    let out = JSON.parse(r.stdout);
    expect(r.code).toBe(1);
    expect(out.opened.map((f: { kind: string; severity: string; details: { level: number } }) => [f.kind, f.severity, f.details.level])).toEqual([['expiry', 'warning', 30]]);
    expect(smtp.mails).toHaveLength(1);
    r = await once(cfg, new Date('2035-12-10T12:00:00Z'), true);
    expect(smtp.mails).toHaveLength(1); // same threshold, within the reminder interval: no new mail
    r = await once(cfg, new Date('2035-12-20T00:00:00Z'), true);
    out = JSON.parse(r.stdout);
    expect(out.changed.map((f: { severity: string; details: { level: number } }) => [f.severity, f.details.level])).toEqual([['warning', 14]]);
    r = await once(cfg, new Date('2035-12-27T00:00:00Z'), true);
    out = JSON.parse(r.stdout);
    expect(out.changed.map((f: { severity: string; details: { level: number } }) => [f.severity, f.details.level])).toEqual([['critical', 7]]);
    expect(smtp.mails.map((m) => m.subject)).toEqual([
      expect.stringContaining('WARNING expiry'),
      expect.stringContaining('WARNING CHANGED: expiry'),
      expect.stringContaining('CRITICAL CHANGED: expiry'),
    ]);
    expect(smtp.mails[2]!.raw).toContain('expires in 5 day(s) (2036-01-01)');

    serve('chain-renewed.pem', 'leaf.key'); // renewed until 2037
    r = await once(cfg, new Date('2035-12-28T00:00:00Z'), true);
    out = JSON.parse(r.stdout);
    expect(r.code).toBe(0);
    expect(out.recovered.map((f: { of: string; resolution: string }) => [f.of, f.resolution])).toEqual([['expiry', 'the certificate is no longer served (renewed)']]);

    serve(Buffer.concat([readPki('example-expired.pem'), readPki('intermediate.pem')]), 'example-expired.key');
    r = await once(cfg, new Date('2035-12-29T00:00:00Z'), true);
    out = JSON.parse(r.stdout);
    expect(r.code).toBe(1);
    const o = out.observations[0];
    expect(o.error).toMatchObject({ reason: 'verify', code: 'expired' });
    const expiry = out.opened.find((f: { kind: string }) => f.kind === 'expiry');
    expect(expiry).toMatchObject({ severity: 'critical' });
    expect(expiry.title).toContain('expired');
    expect(out.opened.some((f: { kind: string }) => f.kind === 'chain-invalid')).toBe(false); // expiry says it already
  });

  it('a pinned key whose certificate nears expiry is critical at the first threshold', async () => {
    const dir = tempDir();
    const r = await once(config(dir, [LEAF, ROOT]), new Date('2035-12-10T00:00:00Z'), true);
    const out = JSON.parse(r.stdout);
    expect(out.opened.map((f: { kind: string; severity: string; details: { pinned: boolean } }) => [f.kind, f.severity, f.details.pinned])).toEqual([['expiry', 'critical', true]]);
    expect(out.opened[0].explanation).toContain('Its key is pinned');
  });

  it('a failing mail server does not stop the webhook, and status shows the queue', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, readFileSync(config(dir, [INTERMEDIATE]), 'utf8').replace(`smtp://127.0.0.1:${smtp.port}`, 'smtp://127.0.0.1:1'));
    serve('chain-intermediate2.pem', 'leaf.key');
    const r = await once(cfg, NOW, true);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.alerts.sent).toBe(1);
    expect(out.alerts.failed).toEqual([expect.objectContaining({ channel: 'email', retryAt: new Date(NOW.getTime() + 30_000).toISOString() })]);
    expect(hook.requests).toHaveLength(1);
    const st = await monitorCli(['monitor', 'status', '--config', cfg, '--json']);
    expect(st.code).toBe(1);
    const status = JSON.parse(st.stdout);
    expect(status.alertsQueued).toEqual({ email: 1 });
    expect(status.endpoints[0]).toMatchObject({ status: 'critical', pinMatch: false, addresses: 1, answering: 1 });
    const human = await monitorCli(['monitor', 'status', '--config', cfg]);
    expect(human.stdout).toMatch(/^critical api\.pinctl\.test:\d+ +1\/1 up +PINS FAIL/m);
    expect(human.stdout).toContain('alerts waiting for delivery: 1 email');
  });
});

function opensslPinOfFile(path: string): string {
  // Read the PEM the monitor wrote with pinctl's own parser: it must be a certificate with that key.
  const der = Buffer.from(readFileSync(path, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const { X509Certificate, createHash } = require('node:crypto') as typeof import('node:crypto');
  const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

async function messageIds(dir: string): Promise<string[]> {
  const { Store } = await import('../../monitor/store.js');
  const store = await Store.open(join(dir, 'state'));
  try {
    return (await store.outbox()).filter((r) => r.channel === 'email').map((r) => r.id);
  } finally {
    store.close();
  }
}
