/** `pinctl serve` with real servers on 127.0.0.1: publishing, caching, the store, the guard, reports, static export. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { closedPort, tlsServer } from '../helpers/servers.js';
import { ServeOptions, SignalSource, serveCommand, startServe } from '../../cli/commands/serve.js';
import { keyPair, NOW, pinsJson, PIN, tempDir, testIO } from './helpers.js';

const TOKEN = 'test-admin-token-0123456789abcdef';
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;

let tls: Awaited<ReturnType<typeof tlsServer>>;
beforeAll(async () => {
  tls = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(async () => {
  await tls.close();
});

/** Pins the local TLS server (leaf + intermediate of chain.pem) matches, plus a backup. */
const servedPins = () => pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: tls.port, addresses: ['127.0.0.1'] }] }]);
/** Pins it does not serve (a new leaf key and a backup). */
const unservedPins = () => pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.newLeaf, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: tls.port, addresses: ['127.0.0.1'] }] }]);

function serveOptions(data: string, key: string, extra: Partial<ServeOptions> = {}): ServeOptions {
  return { listen: '127.0.0.1:0', key: [key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', caFile: pkiFile('roots.pem'), ...extra };
}

async function start(data: string, key: string, extra: Partial<ServeOptions> = {}) {
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
  const s = await startServe(serveOptions(data, key, extra), io);
  return { ...s, io };
}

const admin = { Authorization: `Bearer ${TOKEN}` };

async function post(url: string, body: string, headers: Record<string, string> = admin) {
  const r = await fetch(url, { method: 'POST', body, headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()), headers: r.headers };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const payloadOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(JSON.parse(Buffer.from(bytes).toString()).payload, 'base64').toString());

describe('pinctl serve: start-up', () => {
  it('refuses to start without PINCTL_ADMIN_TOKEN (exit 2, with a hint)', async () => {
    const k = keyPair();
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--key', k.key, '--data', tempDir(), '--audience', 'app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: PINCTL_ADMIN_TOKEN is not set/m);
    expect(r.stderr).toMatch(/^hint: export PINCTL_ADMIN_TOKEN=/m);
  });

  it('needs --audience on the first start, then keeps it; refuses another audience for the same data', async () => {
    const k = keyPair();
    const data = tempDir();
    let r = await cli(['serve', '--listen', '127.0.0.1:0', '--key', k.key, '--data', data], { env: { PINCTL_ADMIN_TOKEN: TOKEN } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --audience: expected the app/m);
    const s = await start(data, k.key);
    await s.stop();
    expect(JSON.parse(readFileSync(join(data, 'config.json'), 'utf8'))).toEqual({ audience: 'com.example.app' });
    const again = await start(data, k.key, { audience: undefined });
    expect(again.service.audience).toBe('com.example.app');
    await again.stop();
    r = await cli(['serve', '--listen', '127.0.0.1:0', '--key', k.key, '--data', data, '--audience', 'other'], { env: { PINCTL_ADMIN_TOKEN: TOKEN } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/belongs to audience "com\.example\.app"/);
  });

  it('refuses a second server on the same data directory', async () => {
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key);
    await expect(start(data, k.key)).rejects.toThrow(/already in use/);
    await s.stop();
    const again = await start(data, k.key);
    await again.stop();
  });

  it('shuts down cleanly on SIGTERM/SIGINT and returns 0', async () => {
    const k = keyPair();
    const data = tempDir();
    const bus = new EventEmitter();
    const signals: SignalSource = (on) => {
      const h = (n: string) => on(n);
      bus.on('signal', h);
      return () => bus.off('signal', h);
    };
    const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
    const running = serveCommand(serveOptions(data, k.key), io, signals);
    for (let i = 0; i < 100 && !io.out().includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const url = /listening on (\S+)/.exec(io.out())![1]!;
    expect((await get(`${url}/healthz`)).status).toBe(200);
    bus.emit('signal', 'SIGTERM');
    expect(await running).toBe(0);
    expect(io.err()).toMatch(/SIGTERM: shutting down/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(existsSync(join(data, '.lock'))).toBe(false);
  });
});

describe('pinctl serve: publishing and GET', () => {
  it('404 before publish; 401 without or with a wrong token; versions 1, 2; ETag, 304, Cache-Control', async () => {
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key);
    try {
      for (const p of ['/v1/bundles/pins', '/v1/bundles/trust-roots', '/v1/keyset', '/v1/keyset/1']) expect((await get(`${s.url}${p}`)).status, p).toBe(404);
      const keys = await get(`${s.url}/v1/keys`);
      expect(keys.status).toBe(200);
      expect(JSON.parse(keys.bytes.toString()).keys).toEqual([{ keyid: k.keyid, publicKey: Buffer.from(k.publicKey).toString('base64'), pem: readFileSync(k.pubPem, 'utf8') }]);

      expect((await post(`${s.url}/v1/bundles/pins`, servedPins(), {})).status).toBe(401);
      expect((await post(`${s.url}/v1/bundles/pins`, servedPins(), { Authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await post(`${s.url}/v1/bundles/pins`, servedPins(), { Authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await get(`${s.url}/v1/bundles/pins`)).status).toBe(404);

      const p1 = await post(`${s.url}/v1/bundles/pins`, servedPins());
      expect(p1.status, JSON.stringify(p1.body)).toBe(200);
      expect(p1.body).toMatchObject({ type: 'pins', version: 1, audience: 'com.example.app', forced: false, guard: { checked: 1 }, domains: ['api.pinctl.test'] });

      const g1 = await get(`${s.url}/v1/bundles/pins`);
      expect(g1.status).toBe(200);
      expect(g1.headers.get('etag')).toBe(`"${sha256(g1.bytes)}"`);
      expect(g1.headers.get('cache-control')).toBe('public, max-age=60');
      expect(g1.headers.get('content-type')).toBe('application/json');
      expect(payloadOf(g1.bytes)).toMatchObject({ type: 'pins', version: 1, issuedAt: '2026-06-01T00:00:00Z', expiresAt: '2026-06-08T00:00:00Z' });
      const notModified = await get(`${s.url}/v1/bundles/pins`, { 'If-None-Match': g1.headers.get('etag')! });
      expect(notModified.status).toBe(304);
      expect(notModified.bytes).toHaveLength(0);
      expect(notModified.headers.get('etag')).toBe(g1.headers.get('etag'));
      expect((await get(`${s.url}/v1/bundles/pins`, { 'If-None-Match': '"stale"' })).status).toBe(200);

      // What was served verifies as a client would.
      const f = join(tempDir(), 'served.json');
      writeFileSync(f, g1.bytes);
      const v = await cli(['bundle', 'verify', f, '--public-key', k.pubPem, '--audience', 'com.example.app', '--type', 'pins']);
      expect(v.code, v.stderr).toBe(0);

      const p2 = await post(`${s.url}/v1/bundles/pins`, servedPins());
      expect(p2.body.version).toBe(2);
      const g2 = await get(`${s.url}/v1/bundles/pins`);
      expect(payloadOf(g2.bytes).version).toBe(2);
      expect(g2.headers.get('etag')).not.toBe(g1.headers.get('etag'));
      expect((await get(`${s.url}/v1/bundles/pins`, { 'If-None-Match': g1.headers.get('etag')! })).status).toBe(200);

      // Every publish is a JSON line in publish.log.
      const log = readFileSync(join(data, 'publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log).toHaveLength(2);
      expect(log[1]).toMatchObject({ type: 'pins', version: 2, audience: 'com.example.app', domains: ['api.pinctl.test'], remote: '127.0.0.1', forced: false });
      expect(typeof log[1].time).toBe('string');
      expect(s.io.err()).toContain('"type":"pins","version":2');
      expect(readdirSync(join(data, 'history', 'pins'))).toEqual(['000001.json', '000002.json']);
      expect(readFileSync(join(data, 'history', 'pins', '000002.json'))).toEqual(g2.bytes);

      // Bad input is a 400 that names the problem; nothing is spent.
      const bad = await post(`${s.url}/v1/bundles/pins`, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate] }]));
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/domain api\.pinctl\.test has 1 distinct pin/);
      expect((await post(`${s.url}/v1/bundles/pins`, 'not json')).status).toBe(400);
      expect((await get(`${s.url}/healthz`)).bytes.toString()).toContain('"pins": 2');

      // Trust roots from PEM.
      const tr = await post(`${s.url}/v1/bundles/trust-roots`, readPki('roots.pem').toString());
      expect(tr.status, JSON.stringify(tr.body)).toBe(200);
      expect(tr.body).toMatchObject({ type: 'trust-roots', version: 1, roots: ['pinctl Test Root CA', 'pinctl Test Root CA RSA'] });
      expect((await get(`${s.url}/v1/bundles/trust-roots`)).status).toBe(200);
      expect((await fetch(`${s.url}/v1/bundles/pins`, { method: 'DELETE' })).status).toBe(405);
    } finally {
      await s.stop();
    }
  });

  it('publishes one at a time: concurrent publishes get distinct, consecutive versions', async () => {
    const k = keyPair();
    const s = await start(tempDir(), k.key);
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => post(`${s.url}/v1/bundles/pins?force=1`, servedPins())));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(results.map((r) => r.body.version as number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(6);
    } finally {
      await s.stop();
    }
  });
});

describe('pinctl serve: versions survive restarts', () => {
  it('continues after a restart, and never reuses a version when the current file (or counter) is lost', async () => {
    const k = keyPair();
    const data = tempDir();
    let s = await start(data, k.key);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(1);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(2);
    await s.stop();

    s = await start(data, k.key);
    expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(2);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(3);
    await s.stop();

    // The current file is lost: the history still says 3 was used.
    rmSync(join(data, 'current', 'pins.json'));
    s = await start(data, k.key);
    expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(3);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(4);
    await s.stop();

    // Current file and the newest history entry lost: the counter still says 4 was used.
    rmSync(join(data, 'current', 'pins.json'));
    rmSync(join(data, 'history', 'pins', '000004.json'));
    s = await start(data, k.key);
    expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(3);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(5);
    await s.stop();

    // The counter lost: history and current still hold 5.
    rmSync(join(data, 'counters', 'pins.json'));
    s = await start(data, k.key);
    expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(6);
    await s.stop();
    expect(JSON.parse(readFileSync(join(data, 'counters', 'pins.json'), 'utf8'))).toEqual({ type: 'pins', version: 6 });
    expect(readdirSync(join(data, 'history', 'pins'))).toEqual(['000001.json', '000002.json', '000003.json', '000005.json', '000006.json']);
    const versions = readFileSync(join(data, 'publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).version);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('pinctl serve: pre-publish guard', () => {
  it('409 naming domain, address and served pins when no new pin is served; nothing signed, no version spent; force publishes', async () => {
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key);
    try {
      expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body.version).toBe(1);
      const refused = await post(`${s.url}/v1/bundles/pins`, unservedPins());
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatch(/^pre-publish guard: api\.pinctl\.test at 127\.0\.0\.1:\d+ serves .* none of the new pins; nothing was signed/);
      expect(refused.body.failures).toEqual([{ domain: 'api.pinctl.test', host: 'api.pinctl.test', port: tls.port, address: '127.0.0.1', served: [PIN.leaf, PIN.intermediate] }]);
      expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(1);
      expect(JSON.parse(readFileSync(join(data, 'counters', 'pins.json'), 'utf8')).version).toBe(1);
      expect(readdirSync(join(data, 'history', 'pins'))).toEqual(['000001.json']);

      // An endpoint that cannot be probed fails the guard too.
      const port = await closedPort();
      const down = await post(`${s.url}/v1/bundles/pins`, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port, addresses: ['127.0.0.1'] }] }]));
      expect(down.status).toBe(409);
      expect((down.body.failures as { error: string; code: string }[])[0]).toMatchObject({ code: 'REFUSED', address: '127.0.0.1' });

      const forced = await post(`${s.url}/v1/bundles/pins?force=1`, unservedPins());
      expect(forced.status).toBe(200);
      expect(forced.body).toMatchObject({ version: 2, forced: true, guard: { skipped: true } });
      const log = readFileSync(join(data, 'publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log.map((l) => [l.version, l.forced])).toEqual([[1, false], [2, true]]);
      // The force flag needs the token as much as any publish.
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, unservedPins(), {})).status).toBe(401);
    } finally {
      await s.stop();
    }
  });
});

describe('pinctl serve: ?merge=1', () => {
  it('replaces only the posted domains, keeps every other domain, guards only what was posted', async () => {
    const k = keyPair();
    const s = await start(tempDir(), k.key);
    const domainsOf = async () => payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).domains as { domain: string; pins: string[] }[];
    try {
      // Nothing to merge into: refused (a one-domain set would unpin every other domain), no version spent.
      const first = await post(`${s.url}/v1/bundles/pins?merge=1`, servedPins());
      expect(first.status).toBe(409);
      expect(first.body).toMatchObject({ code: 'MERGE_REFUSED' });
      expect(first.body.error).toContain('there is no current pin set to merge into');
      expect(first.body.hint).toContain('WHOLE pin set');
      // Merge is for pins only.
      expect((await post(`${s.url}/v1/bundles/trust-roots?merge=1`, readPki('roots.pem').toString())).status).toBe(400);
      // Three domains, published whole (forced: no server for two of them here).
      const whole = pinsJson([
        { domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup] },
        { domain: 'cdn.pinctl.test', pins: [PIN.root, PIN.backup] },
        { domain: 'pay.pinctl.test', pins: [PIN.leaf, PIN.backup] },
      ]);
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, whole)).body).toMatchObject({ version: 1, merged: false });

      // One domain posted with merge: the guard probes it alone (1 address), the others stay as they were.
      const merged = await post(`${s.url}/v1/bundles/pins?merge=1`, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.leaf, PIN.intermediate, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: tls.port, addresses: ['127.0.0.1'] }] }]));
      expect(merged.status, JSON.stringify(merged.body)).toBe(200);
      expect(merged.body).toMatchObject({ version: 2, merged: true, guard: { checked: 1 }, domains: ['cdn.pinctl.test', 'pay.pinctl.test', 'api.pinctl.test'] });
      expect(merged.body.changes).toEqual([{ domain: 'api.pinctl.test', added: [PIN.leaf], removed: [] }]);
      const after = new Map((await domainsOf()).map((d) => [d.domain, [...d.pins].sort()]));
      expect(after).toEqual(
        new Map([
          ['cdn.pinctl.test', [PIN.root, PIN.backup].sort()],
          ['pay.pinctl.test', [PIN.leaf, PIN.backup].sort()],
          ['api.pinctl.test', [PIN.leaf, PIN.intermediate, PIN.backup].sort()],
        ]),
      );
      // Without merge, a post is the whole set (as before).
      expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).body).toMatchObject({ version: 3, merged: false, domains: ['api.pinctl.test'] });
      expect((await domainsOf()).map((d) => d.domain)).toEqual(['api.pinctl.test']);
      // A merged post that fails its guard changes nothing.
      expect((await post(`${s.url}/v1/bundles/pins?merge=1`, unservedPins())).body).toMatchObject({ code: 'GUARD_FAILED' });
      expect(payloadOf((await get(`${s.url}/v1/bundles/pins`)).bytes).version).toBe(3);
    } finally {
      await s.stop();
    }
  });
});

describe('pinctl serve: reports', () => {
  it('202 and a JSON line in reports.log; 413 beyond 16 KiB; 429 beyond the rate limit', async () => {
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key);
    try {
      const report = { domain: 'api.pinctl.test', served: [PIN.leaf], app: 'com.example.app' };
      const ok = await post(`${s.url}/v1/reports`, JSON.stringify(report), { 'Content-Type': 'application/json' });
      expect(ok.status).toBe(202);
      const lines = readFileSync(join(data, 'reports.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toEqual([{ receivedAt: NOW.toISOString(), remote: '127.0.0.1', report }]);

      const big = await fetch(`${s.url}/v1/reports`, { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(17 * 1024) }) });
      expect(big.status).toBe(413);
      expect((await fetch(`${s.url}/v1/reports`, { method: 'POST', body: '[1,2]' })).status).toBe(400);

      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) statuses.push((await fetch(`${s.url}/v1/reports`, { method: 'POST', body: '{}' })).status);
      expect(statuses.slice(0, 7)).toEqual([202, 202, 202, 202, 202, 202, 202]);
      expect(statuses.slice(7)).toEqual([429, 429]);
      const limited = await fetch(`${s.url}/v1/reports`, { method: 'POST', body: '{}' });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // The limit is per report client, not global: GETs are unaffected.
      expect((await get(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('413 is decided while reading a body sent without Content-Length', async () => {
    const k = keyPair();
    const s = await start(tempDir(), k.key);
    try {
      // Chunked transfer: the size is only known by counting while reading.
      const status = await new Promise<number>((done, fail) => {
        const req = request(`${s.url}/v1/reports`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          done(res.statusCode!);
        });
        req.on('error', fail);
        let sent = 0;
        const pump = () => {
          while (sent < 20 && req.write('x'.repeat(1024))) sent++;
          if (sent < 20) req.once('drain', pump);
          else req.end();
        };
        pump();
      });
      const r = { status };
      expect(r.status).toBe(413);
    } finally {
      await s.stop();
    }
  });
});

describe('pinctl serve: keysets', () => {
  it('accepts a rotation keyset signed by the current and the new keys, serves it at /v1/keyset and /v1/keyset/1', async () => {
    const k = keyPair();
    const next = keyPair();
    const dir = tempDir();
    const s = await start(dir, k.key);
    try {
      const create = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '1', '--audience', 'com.example.app']);
      expect(create.code, create.stderr).toBe(0);
      expect((await post(`${s.url}/v1/keyset`, create.stdout, {})).status).toBe(401);
      const r = await post(`${s.url}/v1/keyset`, create.stdout);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ type: 'keyset', version: 1, threshold: 1 });
      const latest = await get(`${s.url}/v1/keyset`);
      const v1 = await get(`${s.url}/v1/keyset/1`);
      expect(latest.bytes.toString()).toBe(create.stdout);
      expect(v1.bytes).toEqual(latest.bytes);
      expect(v1.headers.get('etag')).toBe(`"${sha256(v1.bytes)}"`);
      expect((await get(`${s.url}/v1/keyset/2`)).status).toBe(404);
      // The same version again, or one that skips a version: refused.
      expect((await post(`${s.url}/v1/keyset`, create.stdout)).status).toBe(409);
      // A keyset without the service's key would strand clients: refused unless forced.
      const without = await cli(['bundle', 'create', '--keyset', next.pub, '--key', k.key, '--key', next.key, '--version', '2', '--audience', 'com.example.app']);
      const refused = await post(`${s.url}/v1/keyset`, without.stdout);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('KEYSET_WITHOUT_SIGNER');
      expect((await post(`${s.url}/v1/keyset`, 'garbage')).status).toBe(400);
    } finally {
      await s.stop();
    }
  });
});

describe('pinctl publish --out', () => {
  it('writes the bytes serve returns, at the same paths', async () => {
    const k = keyPair();
    const next = keyPair();
    const data = tempDir();
    const site = tempDir();
    const s = await start(data, k.key);
    try {
      expect((await post(`${s.url}/v1/bundles/pins`, servedPins())).status).toBe(200);
      expect((await post(`${s.url}/v1/bundles/trust-roots`, readPki('roots.pem').toString())).status).toBe(200);
      const ks = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '1', '--audience', 'com.example.app']);
      expect((await post(`${s.url}/v1/keyset`, ks.stdout)).status).toBe(200);

      const r = await cli(['publish', '--out', site, '--data', data, '--key', k.key, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const files = JSON.parse(r.stdout).files as { path: string; file: string; etag: string }[];
      expect(files.map((f) => f.path).sort()).toEqual(['/v1/bundles/pins', '/v1/bundles/trust-roots', '/v1/keys', '/v1/keyset', '/v1/keyset/1']);
      for (const f of files) {
        const served = await get(`${s.url}${f.path}`);
        expect(served.status, f.path).toBe(200);
        expect(readFileSync(join(site, f.file)), f.path).toEqual(served.bytes);
        expect(f.etag).toBe(served.headers.get('etag'));
      }
      expect(readFileSync(join(site, 'v1', 'bundles', 'pins'))).toEqual((await get(`${s.url}/v1/bundles/pins`)).bytes);
      expect(readFileSync(join(site, 'v1', 'keyset', 'index.json'))).toEqual((await get(`${s.url}/v1/keyset`)).bytes);
      // Without --key, the keys document serve wrote to the data directory is used.
      const site2 = tempDir();
      expect((await cli(['publish', '--out', site2, '--data', data])).code).toBe(0);
      expect(readFileSync(join(site2, 'v1', 'keys'))).toEqual((await get(`${s.url}/v1/keys`)).bytes);
    } finally {
      await s.stop();
    }
  });

  it('signs --pins directly into a static site that verifies', async () => {
    const k = keyPair();
    const site = tempDir();
    const pins = join(tempDir(), 'pins.json');
    writeFileSync(pins, servedPins());
    const r = await cli(['publish', '--out', site, '--pins', pins, '--trust-roots', pkiFile('roots.pem'), '--key', k.key, '--audience', 'app', '--version', '12']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\/v1\/bundles\/pins {2}v1\/bundles\/pins {2}\d+ bytes {2}ETag "[0-9a-f]{64}"$/m);
    const v = await cli(['bundle', 'verify', join(site, 'v1', 'bundles', 'pins'), '--public-key', join(site, 'v1', 'keys'), '--audience', 'app']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/pins v12/);
    expect((await cli(['publish', '--out', site, '--pins', pins])).code).toBe(2);
    expect((await cli(['publish', '--out', site])).code).toBe(2);
  });
});

describe.skipIf(!HAVE_CURL)('with curl', () => {
  it('publishes with a bearer token, then GETs with ETag, Cache-Control and a 304', async () => {
    const k = keyPair();
    const s = await start(tempDir(), k.key);
    try {
      const pins = join(tempDir(), 'pins.json');
      writeFileSync(pins, servedPins());
      // Asynchronous: the server runs in this process, so a synchronous spawn would deadlock it.
      const curl = (...args: string[]) =>
        new Promise<{ stdout: string }>((done, fail) =>
          execFile('curl', ['-sS', '--max-time', '10', '--noproxy', '*', ...args], { encoding: 'utf8' }, (e, stdout) => (e && !stdout ? fail(e) : done({ stdout }))),
        );
      const unauth = await curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '--data-binary', `@${pins}`, `${s.url}/v1/bundles/pins`);
      expect(unauth.stdout).toBe('401');
      const pub = await curl('-w', '\n%{http_code}', '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: application/json', '--data-binary', `@${pins}`, `${s.url}/v1/bundles/pins`);
      expect(pub.stdout.trim().split('\n').pop()).toBe('200');
      const head = await curl('-D', '-', '-o', '/dev/null', `${s.url}/v1/bundles/pins`);
      expect(head.stdout).toMatch(/^HTTP\/1\.1 200/);
      expect(head.stdout).toMatch(/^Content-Type: application\/json\r$/m);
      expect(head.stdout).toMatch(/^Cache-Control: public, max-age=60\r$/m);
      const etag = /^ETag: ("[0-9a-f]{64}")\r$/m.exec(head.stdout)![1]!;
      const body = await curl(`${s.url}/v1/bundles/pins`);
      expect(etag).toBe(`"${sha256(Buffer.from(body.stdout))}"`);
      const cond = await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `${s.url}/v1/bundles/pins`);
      expect(cond.stdout).toBe('304');
      // curl sends Expect: 100-continue for a larger body: the report is refused before it is sent.
      const big = join(tempDir(), 'big.json');
      writeFileSync(big, JSON.stringify({ pad: 'x'.repeat(17 * 1024) }));
      expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '--data-binary', `@${big}`, `${s.url}/v1/reports`)).stdout).toBe('413');
    } finally {
      await s.stop();
    }
  });
});
