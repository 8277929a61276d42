/**
 * The status page over HTTP, without a browser: `/api/status` (JSON) and `/` (HTML) from a real
 * `monitor run` runner after an intermediate swap, the basic-auth guard, the served bundle's
 * version and expiry (read back from `pinctl serve` independently), and HTML escaping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { opensslPin, pkiFile, readPki } from '../helpers/fixtures.js';
import { NOW } from './helpers.js';
import { LATER, PIN_SET_EXPIRATION, Rig, startRig, sweepWithIntermediateSwap } from './status-page-rig.js';
import type { StatusDocument } from '../../monitor/status-page/model.js';
import { renderStatusPage } from '../../monitor/status-page/html.js';
import { parseConfig } from '../../monitor/config.js';
import { authorized } from '../../monitor/status-page/auth.js';
import { tempDir } from './helpers.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
  await sweepWithIntermediateSwap(rig);
}, 60_000);
afterAll(async () => rig?.close());

/** notAfter as openssl prints it, as an ISO timestamp: not computed by pinctl. */
function opensslNotAfter(file: string, index = 0): string {
  const pems = readPki(file)
    .toString('utf8')
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
  const out = execFileSync('openssl', ['x509', '-noout', '-enddate'], { input: pems[index] }).toString();
  return new Date(out.replace('notAfter=', '').trim()).toISOString();
}

async function getStatus(): Promise<StatusDocument> {
  const res = await fetch(`${rig.base}/api/status`, { headers: { authorization: rig.auth } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as StatusDocument;
}

async function servedPayload(): Promise<{ version: number; expiresAt: string; audience: string }> {
  const envelope = (await (await fetch(`${rig.service.url}/v1/bundles/pins`)).json()) as { payload: string };
  return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
}

describe('status page: access', () => {
  it('asks for the configured basic auth on / and /api/status; /metrics and /healthz stay open', async () => {
    for (const path of ['/', '/api/status']) {
      const none = await fetch(`${rig.base}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="pinctl monitor"/);
      const wrong = await fetch(`${rig.base}${path}`, {
        headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` },
      });
      expect(wrong.status).toBe(401);
      const bearer = await fetch(`${rig.base}${path}`, {
        headers: { authorization: 'Bearer status-page-password-42' },
      });
      expect(bearer.status).toBe(401);
    }
    expect((await fetch(`${rig.base}/metrics`)).status).toBe(200);
    expect((await fetch(`${rig.base}/healthz`)).status).toBe(200);
  });
});

describe('/api/status', () => {
  it('endpoints with status, chain positions with notAfter (as openssl reads them), findings, timeline', async () => {
    const doc = await getStatus();
    expect(doc.generatedAt).toBe(LATER.toISOString());
    expect(doc.healthy).toBe(false);
    expect(doc.endpoints.map((e) => e.endpoint)).toEqual([rig.apiId, rig.rsaId]);
    const [api, rsa] = doc.endpoints;

    expect(api!.status).toBe('critical');
    expect(api!.pinMatch).toBe(false);
    expect(api!.vantages).toEqual([expect.objectContaining({ address: '127.0.0.1', ok: true, protocol: 'TLSv1.3' })]);
    const apiChain = api!.chain.map((c) => ({
      position: c.position,
      spki: c.spkiSha256,
      notAfter: c.notAfter,
      pinned: c.pinned,
    }));
    expect(apiChain).toEqual([
      { position: 'leaf', spki: opensslPin('leaf.pem'), notAfter: opensslNotAfter('leaf.pem'), pinned: false },
      {
        position: 'intermediate',
        spki: opensslPin('intermediate2.pem'),
        notAfter: opensslNotAfter('intermediate2.pem'),
        pinned: false,
      },
      { position: 'root', spki: opensslPin('root.pem'), notAfter: opensslNotAfter('root.pem'), pinned: false },
    ]);
    const leafDays = Math.floor((Date.parse(opensslNotAfter('leaf.pem')) - LATER.getTime()) / 86_400_000);
    expect(api!.chain[0]!.daysToExpiry).toBe(leafDays);
    expect(api!.pins).toEqual({ source: 'app-pins.json', format: 'json', expiration: PIN_SET_EXPIRATION, count: 2 });

    expect(rsa!.status).toBe('ok');
    expect(rsa!.pinMatch).toBe(true);
    expect(rsa!.chain.find((c) => c.position === 'intermediate')).toMatchObject({
      spkiSha256: opensslPin('intermediate-rsa.pem'),
      notAfter: opensslNotAfter('intermediate-rsa.pem'),
      pinned: true,
    });

    expect(doc.findings.map((f) => [f.endpoint, f.kind, f.severity]).sort()).toEqual([
      [rig.apiId, 'chain-drift', 'warning'],
      [rig.apiId, 'pin-mismatch', 'critical'],
    ]);
    expect(api!.findings).toHaveLength(2);
    expect(rsa!.findings).toEqual([]);

    const t = api!.timeline;
    expect(t[0]).toMatchObject({ at: NOW.toISOString(), type: 'first-seen' });
    const swap = t.find((e) => e.type === 'opened' && e.kind === 'chain-drift');
    expect(swap).toMatchObject({ at: LATER.toISOString(), severity: 'warning' });
    expect(swap!.summary).toContain('intermediate-changed');
    expect(t.some((e) => e.type === 'opened' && e.kind === 'pin-mismatch' && e.severity === 'critical')).toBe(true);
    // Both findings were alerted by webhook: the receiver got them, and the timeline says so.
    expect(rig.hook.requests.length).toBe(2);
    expect(
      t
        .filter((e) => e.type === 'alerted')
        .map((e) => e.kind)
        .sort(),
    ).toEqual(['chain-drift', 'pin-mismatch']);
    expect(t.some((e) => e.type === 'pins-proposed')).toBe(true);
    expect(rsa!.timeline.map((e) => e.type)).toEqual(['first-seen']);
  });

  it('pin-set expirations, the dynamic-pinning overlap window (30d from the proposal) and the served bundle', async () => {
    const doc = await getStatus();
    expect(doc.pinSetExpirations).toEqual([
      { endpoint: rig.apiId, source: 'app-pins.json', expiration: PIN_SET_EXPIRATION },
    ]);
    expect(doc.overlaps).toEqual([
      {
        endpoint: rig.apiId,
        domain: 'api.pinctl.test',
        from: LATER.toISOString(),
        until: new Date(LATER.getTime() + 30 * 86_400_000).toISOString(),
      },
    ]);
    const served = await servedPayload();
    expect(doc.bundle).toEqual({
      url: `${rig.service.url}/v1/bundles/pins`,
      version: served.version,
      issuedAt: expect.any(String),
      expiresAt: served.expiresAt,
      audience: 'com.example.app',
      error: null,
    });
    const metrics = await (await fetch(`${rig.base}/metrics`)).text();
    const sample = (name: string) =>
      Number(new RegExp(`^${name}\\{type="pins",service="[^"]+"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(sample('pinctl_bundle_expiry_timestamp_seconds')).toBe(Date.parse(served.expiresAt) / 1000);
    expect(sample('pinctl_bundle_version')).toBe(served.version);
    expect(sample('pinctl_bundle_fetch_success')).toBe(1);
  });
});

describe('/ (HTML)', () => {
  it('is one self-contained page: table, timeline, chart; no script; a CSP that forbids loading anything', async () => {
    const res = await fetch(`${rig.base}/`, { headers: { authorization: rig.auth } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<script|src=|https?:\/\/(?!127\.0\.0\.1)/i);
    expect(html).toContain(`<tr data-endpoint="${rig.apiId}">`);
    expect(html).toMatch(/<li class="event warning" data-type="opened" data-kind="chain-drift">.*intermediate-changed/);
    expect(html).toContain(
      `data-kind="cert" data-position="intermediate" data-spki="${opensslPin('intermediate2.pem')}"`,
    );
    expect(html).toContain(
      `data-kind="pin-set-expiration" data-endpoint="${rig.apiId}" data-expiration="${PIN_SET_EXPIRATION}"`,
    );
    expect(html).toContain('data-kind="overlap" data-domain="api.pinctl.test"');
  });

  it('escapes what servers and configs put on the page', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const html = renderStatusPage(
      {
        generatedAt: NOW.toISOString(),
        healthy: false,
        lastSweep: null,
        bundle: {
          url: 'http://127.0.0.1:1/v1/bundles/pins',
          version: null,
          issuedAt: null,
          expiresAt: null,
          audience: null,
          error: evil,
        },
        endpoints: [
          {
            endpoint: 'x.test:443',
            vantage: 'default',
            host: 'x.test',
            port: 443,
            status: 'warning',
            addresses: 1,
            answering: 1,
            pinMatch: null,
            daysToExpiry: 1,
            distinctChains: 1,
            lastSeen: null,
            lastChange: null,
            problems: [{ severity: 'warning', kind: 'expiry', title: evil }],
            pins: null,
            vantages: [],
            findings: [],
            chain: [
              {
                position: 'leaf',
                subject: `CN=${evil}`,
                issuer: 'CN=i',
                notBefore: '2026-01-01T00:00:00.000Z',
                notAfter: '2026-06-02T00:00:00.000Z',
                daysToExpiry: 1,
                spkiSha256: 'k',
                sha256: 's',
                pinned: false,
                addresses: ['1.2.3.4'],
              },
            ],
            timeline: [{ at: NOW.toISOString(), type: 'opened', kind: 'expiry', severity: 'warning', summary: evil }],
          },
        ],
        findings: [],
        pinSetExpirations: [],
        overlaps: [],
      },
      evil,
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('after recovery', () => {
  it('the timeline shows the pin mismatch resolved', async () => {
    rig.api.server.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
    rig.setNow(new Date(LATER.getTime() + 3_600_000));
    await rig.runner.sweepNow();
    const api = (await getStatus()).endpoints[0]!;
    expect(api.timeline.some((e) => e.type === 'resolved' && e.kind === 'pin-mismatch')).toBe(true);
    expect(api.chain.find((c) => c.position === 'intermediate')!.spkiSha256).toBe(opensslPin('intermediate.pem'));
    expect(pkiFile('chain.pem')).toBeTruthy();
  });
});

describe('metrics.auth in the config', () => {
  const MIN = (auth: string) =>
    `schedule: "*/5 * * * *"\nmetrics: { listen: "127.0.0.1:0", auth: ${auth} }\nendpoints:\n  - host: api.pinctl.test\n    addresses: [127.0.0.1]\n`;
  const parse = (auth: string, env: Record<string, string> = {}) =>
    parseConfig(MIN(auth), 'monitor.yaml', { cwd: tempDir(), env, now: NOW });
  const problem = (auth: string, env: Record<string, string> = {}) => {
    try {
      parse(auth, env);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected a config error');
  };

  it('takes a bearer token or basic credentials from the environment', () => {
    expect(parse('{ tokenEnv: PAGE_TOKEN }', { PAGE_TOKEN: 't0k3n' }).metrics!.auth).toEqual({
      kind: 'bearer',
      token: 't0k3n',
    });
    expect(parse('{ user: ops, passwordEnv: PAGE_PW }', { PAGE_PW: 'pw' }).metrics!.auth).toEqual({
      kind: 'basic',
      user: 'ops',
      password: 'pw',
    });
    expect(parse('{ tokenEnv: PAGE_TOKEN }', { PAGE_TOKEN: 't0k3n' }).metrics).toMatchObject({
      host: '127.0.0.1',
      port: 0,
    });
  });

  it('refuses an unset variable (the page would be open), both kinds at once, and unknown keys', () => {
    expect(problem('{ tokenEnv: PAGE_TOKEN }')).toContain(
      'metrics.auth.tokenEnv: the environment variable PAGE_TOKEN is not set',
    );
    expect(problem('{ tokenEnv: A, user: ops, passwordEnv: B }', { A: 'x', B: 'y' })).toContain(
      'metrics.auth: give either tokenEnv (bearer) or user + passwordEnv (basic), not both',
    );
    expect(problem('{ token: abc }')).toContain('metrics.auth.token: unknown key');
  });

  it('bearer and basic checks accept exactly the configured secret', () => {
    const bearer = { kind: 'bearer' as const, token: 'secret-token' };
    expect(authorized(bearer, { authorization: 'Bearer secret-token' })).toBe(true);
    expect(authorized(bearer, { authorization: 'Bearer secret-tokenX' })).toBe(false);
    expect(authorized(bearer, {})).toBe(false);
    const basic = { kind: 'basic' as const, user: 'ops', password: 'p:w' };
    const b64 = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(authorized(basic, { authorization: b64('ops:p:w') })).toBe(true);
    expect(authorized(basic, { authorization: b64('ops:p') })).toBe(false);
    expect(authorized(basic, { authorization: b64('Ops:p:w') })).toBe(false);
    expect(authorized(undefined, {})).toBe(true);
  });
});
