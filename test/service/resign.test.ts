/**
 * Bundles that never lapse while serve runs: automatic re-signing at half of each bundle's
 * validity (derived from the stored bundle, so it survives restarts), GET /metrics (checked with
 * promtool), /healthz 503 near expiry, and `publish --out` saying when a static copy must be
 * refreshed. The clock is the test's.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { startServe } from '../../cli/commands/serve.js';
import { keyPair, NOW, pinsJson, PIN, tempDir, testIO } from './helpers.js';

const TOKEN = 'resign-admin-token-0123456789abcdef';
const admin = { Authorization: `Bearer ${TOKEN}` };
const HAVE_PROMTOOL = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
const DAY = 86_400_000;
const pins = () => pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup] }, { domain: 'cdn.pinctl.test', pins: [PIN.root, PIN.backup], includeSubdomains: true }]);

/** serve with a clock the test moves. */
async function start(data: string, key: string, clock: { t: number }) {
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
  io.now = () => new Date(clock.t);
  const s = await startServe({ listen: '127.0.0.1:0', key: [key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', caFile: pkiFile('roots.pem') }, io);
  return { ...s, io };
}

const post = async (url: string, body: string) => {
  const r = await fetch(url, { method: 'POST', body, headers: admin });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const envelope = async (url: string) => (await (await fetch(url)).json()) as { payload: string; signatures: unknown[] };
const payload = async (url: string) => JSON.parse(Buffer.from((await envelope(url)).payload, 'base64').toString()) as Record<string, unknown>;
const sample = (text: string, line: RegExp) => {
  const m = line.exec(text);
  return m ? Number(m[1]) : undefined;
};
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('automatic re-signing', () => {
  it('re-signs pins and trust roots once half of their validity is gone: same content, new version, full validity', async () => {
    const k = keyPair();
    const data = tempDir();
    const clock = { t: NOW.getTime() };
    const s = await start(data, k.key, clock);
    try {
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).body.version).toBe(1);
      expect((await post(`${s.url}/v1/bundles/trust-roots`, readPki('roots.pem').toString())).body.version).toBe(1);
      const before = { pins: await payload(`${s.url}/v1/bundles/pins`), roots: await payload(`${s.url}/v1/bundles/trust-roots`) };

      clock.t = NOW.getTime() + 3.5 * DAY - 1000;
      await s.resigner.kick();
      expect((await payload(`${s.url}/v1/bundles/pins`)).version).toBe(1);

      clock.t = NOW.getTime() + 3.5 * DAY;
      await s.resigner.kick();
      const after = { pins: await payload(`${s.url}/v1/bundles/pins`), roots: await payload(`${s.url}/v1/bundles/trust-roots`) };
      expect(after.pins).toEqual({ ...before.pins, version: 2, issuedAt: iso(clock.t), expiresAt: iso(clock.t + 7 * DAY) });
      expect(after.roots).toEqual({ ...before.roots, version: 2, issuedAt: iso(clock.t), expiresAt: iso(clock.t + 7 * DAY) });
      expect(s.io.err()).toMatch(/^note: re-signed pins as v2 \(same content\), valid until /m);

      // What was re-signed verifies as a client would; the log says it was automatic.
      const f = join(tempDir(), 'pins.json');
      writeFileSync(f, JSON.stringify(await envelope(`${s.url}/v1/bundles/pins`)));
      const v = await cli(['bundle', 'verify', f, '--public-key', k.pubPem, '--audience', 'com.example.app', '--type', 'pins'], { now: new Date(clock.t) });
      expect(v.code, v.stderr).toBe(0);
      const log = readFileSync(join(data, 'publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log.filter((l) => l.resigned).map((l) => [l.type, l.version, l.remote])).toEqual([['pins', 2, 'resign'], ['trust-roots', 2, 'resign']]);
      expect(readFileSync(join(data, 'history', 'pins', '000002.json'), 'utf8')).toBe(await (await fetch(`${s.url}/v1/bundles/pins`)).text());

      // Nothing more is due until half of the new validity.
      await s.resigner.kick();
      expect((await payload(`${s.url}/v1/bundles/pins`)).version).toBe(2);
    } finally {
      await s.stop();
    }
  });

  it('the schedule survives a restart (from the stored bundle, not from uptime); an expired bundle is not revived', async () => {
    const k = keyPair();
    const data = tempDir();
    const clock = { t: NOW.getTime() };
    let s = await start(data, k.key, clock);
    expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).body.version).toBe(1);
    await s.stop();

    // Restarted before the half-life: nothing happens, whatever the process's age.
    clock.t = NOW.getTime() + 3 * DAY;
    s = await start(data, k.key, clock);
    await s.resigner.kick();
    expect((await payload(`${s.url}/v1/bundles/pins`)).version).toBe(1);
    const m = await (await fetch(`${s.url}/metrics`)).text();
    expect(sample(m, /^pinctl_serve_next_resign_timestamp_seconds\{type="pins"\} (\d+)$/m)).toBe((NOW.getTime() + 3.5 * DAY) / 1000);
    await s.stop();

    // Restarted past it: the timer armed at start-up re-signs at once, on its own.
    clock.t = NOW.getTime() + 4 * DAY;
    s = await start(data, k.key, clock);
    try {
      for (let i = 0; i < 200 && (await payload(`${s.url}/v1/bundles/pins`)).version === 1; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await payload(`${s.url}/v1/bundles/pins`)).toMatchObject({ version: 2, issuedAt: iso(clock.t) });
    } finally {
      await s.stop();
    }

    // Down past the expiry: the lapsed set is not re-signed (publish it again), and /healthz says so.
    clock.t = NOW.getTime() + 20 * DAY;
    s = await start(data, k.key, clock);
    try {
      await s.resigner.kick();
      expect((await payload(`${s.url}/v1/bundles/pins`)).version).toBe(2);
      const h = await fetch(`${s.url}/healthz`);
      expect(h.status).toBe(503);
      expect(((await h.json()) as { problems: string[] }).problems).toEqual([`pins v2 expired at ${iso(NOW.getTime() + 11 * DAY)}: clients refuse it`]);
    } finally {
      await s.stop();
    }
  });
});

describe('GET /metrics and /healthz', () => {
  it('exposes per type version, seconds until expiry, last publish time and result; promtool accepts it', async () => {
    const k = keyPair();
    const next = keyPair();
    const clock = { t: NOW.getTime() };
    const s = await start(tempDir(), k.key, clock);
    try {
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).status).toBe(200);
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).status).toBe(200);
      const ks = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '1', '--audience', 'com.example.app', '--expires-in', '30d']);
      expect((await post(`${s.url}/v1/keyset`, ks.stdout)).status).toBe(200);
      clock.t += 3_600_000;
      const r = await fetch(`${s.url}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      const pinsP = await payload(`${s.url}/v1/bundles/pins`);
      const ksP = await payload(`${s.url}/v1/keyset`);
      expect(sample(text, /^pinctl_serve_bundle_version\{type="pins"\} (\d+)$/m)).toBe(pinsP.version);
      expect(sample(text, /^pinctl_serve_bundle_version\{type="keyset"\} (\d+)$/m)).toBe(1);
      expect(sample(text, /^pinctl_serve_bundle_seconds_until_expiry\{type="pins"\} (-?\d+)$/m)).toBe((Date.parse(pinsP.expiresAt as string) - clock.t) / 1000);
      expect(sample(text, /^pinctl_serve_bundle_seconds_until_expiry\{type="keyset"\} (-?\d+)$/m)).toBe((Date.parse(ksP.expiresAt as string) - clock.t) / 1000);
      expect(sample(text, /^pinctl_serve_last_publish_timestamp_seconds\{type="pins"\} (\d+)$/m)).toBe(NOW.getTime() / 1000);
      expect(sample(text, /^pinctl_serve_last_publish_success\{type="pins"\} (\d+)$/m)).toBe(1);
      expect(text).not.toMatch(/type="trust-roots"/); // nothing published: no sample rather than a made-up one
      expect(sample(text, /^pinctl_serve_reports_dropped_total\{reason="log_full"\} (\d+)$/m)).toBe(0);
      if (HAVE_PROMTOOL) {
        const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
        expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
      }
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${s.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await s.stop();
    }
  });

  it.skipIf(!HAVE_PROMTOOL)('promtool is installed (CI installs Debian prometheus)', () => {
    expect(HAVE_PROMTOOL).toBe(true);
  });

  it('/healthz is 503 while a served bundle or keyset is within 24 h of its expiry', async () => {
    const k = keyPair();
    const next = keyPair();
    const clock = { t: NOW.getTime() };
    const s = await start(tempDir(), k.key, clock);
    try {
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).status).toBe(200);
      // A keyset valid 2 days: fine now, 503 within its last 24 h.
      const ks = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '1', '--audience', 'com.example.app', '--expires-in', '2d']);
      expect((await post(`${s.url}/v1/keyset`, ks.stdout)).status).toBe(200);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      clock.t = NOW.getTime() + DAY + 1000;
      const h = await fetch(`${s.url}/healthz`);
      expect(h.status).toBe(503);
      const body = (await h.json()) as { status: string; problems: string[] };
      expect(body.status).toBe('expiring');
      expect(body.problems).toEqual([expect.stringMatching(/^keyset v1 expires at 2026-06-03T00:00:00Z, in 1440 min$/)]);
      // The pins: 503 in their last day too (the re-signer, not run here, would have renewed them at 3.5 d).
      clock.t = NOW.getTime() + 6.5 * DAY;
      const later = (await (await fetch(`${s.url}/healthz`)).json()) as { problems: string[] };
      expect(later.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^pins v1 expires at 2026-06-08T00:00:00Z/)]));
      await s.resigner.kick();
      expect(((await (await fetch(`${s.url}/healthz`)).json()) as { problems: string[] }).problems.filter((p) => p.startsWith('pins'))).toEqual([]);
    } finally {
      await s.stop();
    }
  });
});

describe('publish --out: when to refresh the static copy', () => {
  it('prints the time half of the validity is gone, and the expiry (JSON: refreshBy, expiresAt)', async () => {
    const k = keyPair();
    const f = join(tempDir(), 'pins.json');
    writeFileSync(f, pins());
    const site = tempDir();
    const r = await cli(['publish', '--out', site, '--pins', f, '--key', k.key, '--audience', 'app', '--version', '3', '--expires-in', '4d']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('note: refresh this copy by 2026-06-03T00:00:00Z (half of the validity of pins v3, which expires at 2026-06-05T00:00:00Z)');
    const j = await cli(['publish', '--out', tempDir(), '--pins', f, '--key', k.key, '--audience', 'app', '--version', '3', '--expires-in', '4d', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ refreshBy: '2026-06-03T00:00:00Z', expiresAt: '2026-06-05T00:00:00Z' });
  });

  it('warns when the exported bundles are past half of their validity', async () => {
    const k = keyPair();
    const data = tempDir();
    const clock = { t: NOW.getTime() };
    const s = await start(data, k.key, clock);
    expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).status).toBe(200);
    await s.stop();
    const r = await cli(['publish', '--out', tempDir(), '--data', data], { now: new Date(NOW.getTime() + 4 * DAY) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: pins v1 is past half of its validity \(expires 2026-06-08T00:00:00Z\): publish a fresher copy soon$/m);
  });
});
