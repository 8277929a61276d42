/**
 * The service's failure modes (issue 9 item 6), each with real servers and real files: a full
 * disk (a small tmpfs) and a read-only one (tmpfs remounted ro), a crash-truncated keyset history
 * file, a nesting bomb in a report, the reports rate limit per IPv6 /64, the reports log cap.
 * Mounting and adding loopback addresses need root; those tests are skipped with a message otherwise.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { ServeOptions, startServe } from '../../cli/commands/serve.js';
import { BundleStore } from '../../src/service/store.js';
import { PinService } from '../../src/service/service.js';
import { createHandler, listen } from '../../src/service/http.js';
import { TokenBucketLimiter, rateLimitKey } from '../../src/service/rate-limit.js';
import { readSigners } from '../../cli/commands/bundle.js';
import { keyPair, pinsJson, PIN, tempDir, testIO } from './helpers.js';

const TOKEN = 'failure-admin-token-0123456789abcdef';
const admin = { Authorization: `Bearer ${TOKEN}` };
const pins = () => pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup] }]);

async function start(data: string, key: string, extra: Partial<ServeOptions> = {}) {
  const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
  const s = await startServe({ listen: '127.0.0.1:0', key: [key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', ...extra }, io);
  return { ...s, io };
}

async function post(url: string, body: string, headers: Record<string, string> = admin) {
  const r = await fetch(url, { method: 'POST', body, headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const payloadOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(JSON.parse(Buffer.from(bytes).toString()).payload, 'base64').toString());
const servedVersion = async (url: string, path = '/v1/bundles/pins') => payloadOf(Buffer.from(await (await fetch(`${url}${path}`)).arrayBuffer())).version as number;

// ---- tmpfs: root only -------------------------------------------------------------------------
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
});
const IS_ROOT = process.getuid?.() === 0;

/** A fresh tmpfs of this size, or null (with the reason) when this process may not mount. */
function tmpfs(size: string): { dir: string } | { skip: string } {
  if (!IS_ROOT) return { skip: 'not root: cannot mount a tmpfs' };
  const dir = tempDir('pinctl-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `mount -t tmpfs not allowed here: ${r.error?.message ?? r.stderr.trim()}` };
  mounts.push(dir);
  return { dir };
}
function remount(dir: string, mode: 'ro' | 'rw'): void {
  const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -o remount,${mode} ${dir}: ${r.stderr}`);
}
/** Fills the file system holding `dir` until ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const page = Buffer.alloc(4096, 1);
  for (;;) {
    try {
      appendFileSync(filler, page);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return filler;
      throw e;
    }
  }
}

describe('a full disk (tmpfs)', () => {
  it('a publish that cannot be stored is a 500 that never goes live, also after a restart; start-up on the full disk serves GETs read-only', async (ctx) => {
    const fs = tmpfs('1m');
    if ('skip' in fs) return ctx.skip(fs.skip);
    const k = keyPair();
    const data = join(fs.dir, 'data');
    let s = await start(data, k.key);
    expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).body.version).toBe(1);
    // Leave exactly one page free: the counter and the history file of v2 fit, the current file does not.
    writeFileSync(join(fs.dir, 'one-page'), Buffer.alloc(4096));
    const filler = fill(fs.dir);
    rmSync(join(fs.dir, 'one-page'));
    const failed = await post(`${s.url}/v1/bundles/pins?force=1`, pins());
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ code: 'STORE_WRITE_FAILED' });
    expect(failed.body.error).toMatch(/^pins v2 could not be stored \(ENOSPC\); nothing was published$/);
    expect(failed.body.hint).toMatch(/free space/);
    expect(await servedVersion(s.url)).toBe(1);
    // (Here the current file is what no longer fits: v2's history file and publish-log line were
    // written, and the history file removed again. A log line for a version never served is allowed.)
    expect(readdirSync(join(data, 'history', 'pins'))).toEqual(['000001.json']);
    expect(readdirSync(join(data, 'current')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^pinctl_serve_last_publish_success\{type="pins"\} 0$/m);
    await s.stop();

    // Start-up on the full disk (filled again: stopping freed the lock's page): the lock cannot
    // even be written; GETs are served, writes refused.
    const filler2 = fill(join(fs.dir, 'data'));
    s = await start(data, k.key);
    try {
      expect(s.io.err()).toMatch(/^warning: --data .*: cannot be written \(ENOSPC\); serving what is stored, read-only/m);
      expect(await servedVersion(s.url)).toBe(1);
      const refused = await post(`${s.url}/v1/bundles/pins?force=1`, pins());
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: 'STORE_READ_ONLY' });
      expect((await post(`${s.url}/v1/reports`, '{"a":1}', {})).status).toBe(503);
      const health = await fetch(`${s.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ writable: false, versions: { pins: 1 } });
      expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(/^pinctl_serve_read_only 1$/m);
    } finally {
      await s.stop();
    }

    // Space again: v1 is still what is served, and v2 is never reused.
    rmSync(filler);
    rmSync(filler2);
    s = await start(data, k.key);
    try {
      expect(await servedVersion(s.url)).toBe(1);
      // The failed v2 is recorded as never live: a merge into v1 is not mistaken for lost files.
      expect(JSON.parse(readFileSync(join(data, 'counters', 'pins.json'), 'utf8'))).toEqual({ type: 'pins', version: 2, failed: true });
      const merged = await post(`${s.url}/v1/bundles/pins?force=1&merge=1`, pinsJson([{ domain: 'cdn.pinctl.test', pins: [PIN.root, PIN.backup] }]));
      expect(merged.body).toMatchObject({ version: 3, merged: true, domains: ['api.pinctl.test', 'cdn.pinctl.test'] });
      expect(await servedVersion(s.url)).toBe(3);
    } finally {
      await s.stop();
    }
  });
});

describe('a read-only disk (tmpfs remounted ro)', () => {
  it('a publish is a 500 (EROFS) and changes nothing; a restart on it serves GETs read-only', async (ctx) => {
    const fs = tmpfs('4m');
    if ('skip' in fs) return ctx.skip(fs.skip);
    const k = keyPair();
    const data = join(fs.dir, 'data');
    let s = await start(data, k.key);
    expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).body.version).toBe(1);
    remount(fs.dir, 'ro');
    try {
      const failed = await post(`${s.url}/v1/bundles/pins?force=1`, pins());
      expect(failed.status).toBe(500);
      expect(failed.body.error).toMatch(/\(EROFS\); nothing was published/);
      expect(failed.body.hint).toMatch(/read-only: remount it read-write/);
      expect(await servedVersion(s.url)).toBe(1);
      await s.stop(); // cannot remove its lock on a read-only file system: the next start must cope

      s = await start(data, k.key);
      expect(s.io.err()).toMatch(/^warning: --data .*: cannot be written \(EROFS\); serving what is stored, read-only/m);
      expect(s.io.err()).toMatch(/published pins 1, .*; READ-ONLY/);
      expect(await servedVersion(s.url)).toBe(1);
      const etag = (await fetch(`${s.url}/v1/bundles/pins`)).headers.get('etag')!;
      expect((await fetch(`${s.url}/v1/bundles/pins`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
      expect((await post(`${s.url}/v1/bundles/trust-roots`, 'x')).status).toBe(400); // input is still checked first
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).status).toBe(503);
      await s.stop();
    } finally {
      remount(fs.dir, 'rw');
    }
    s = await start(data, k.key);
    try {
      expect(s.io.err()).not.toMatch(/read-only/);
      expect((await post(`${s.url}/v1/bundles/pins?force=1`, pins())).body.version).toBe(2);
    } finally {
      await s.stop();
    }
  });
});

describe('crash leftovers', () => {
  it('an empty keyset history file (a crash mid-write) does not block the rotation to that version', async () => {
    const k = keyPair();
    const next = keyPair();
    const data = tempDir();
    let s = await start(data, k.key);
    const ks1 = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '1', '--audience', 'com.example.app']);
    expect((await post(`${s.url}/v1/keyset`, ks1.stdout)).status).toBe(200);
    await s.stop();
    writeFileSync(join(data, 'history', 'keyset', '000002.json'), '');

    s = await start(data, k.key);
    try {
      expect(s.io.err()).toMatch(/000002\.json: keyset v2 never went live|000002\.json: not a keyset envelope/);
      expect((await fetch(`${s.url}/v1/keyset/2`)).status).toBe(404);
      const ks2 = await cli(['bundle', 'create', '--keyset', k.pub, next.pub, '--key', k.key, '--key', next.key, '--version', '2', '--audience', 'com.example.app']);
      const r = await post(`${s.url}/v1/keyset`, ks2.stdout);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.version).toBe(2);
      expect(await (await fetch(`${s.url}/v1/keyset/2`)).text()).toBe(ks2.stdout);
      // The damaged file was set aside, not overwritten or deleted.
      expect(readdirSync(join(data, 'history', 'keyset')).filter((n) => n.startsWith('000002.json.not-live-'))).toHaveLength(1);
    } finally {
      await s.stop();
    }
  });

  it('temporary files left by a killed writer are removed at start-up', async () => {
    const k = keyPair();
    const data = tempDir();
    let s = await start(data, k.key);
    await s.stop();
    // Named as durable writes name them, with the pid of a process that has exited.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const left = [join(data, 'current', `.pins.json.${dead}.0a1b2c3d4e5f.tmp`), join(data, 'counters', `.pins.json.${dead}.0a1b2c3d4e5f.tmp`), join(data, `.lock.${dead}.0a1b2c3d4e5f.tmp`)];
    // A live process's lock attempt (a server starting at this moment) is left alone.
    const live = join(data, `.lock.${process.ppid}.0a1b2c3d4e5f.tmp`);
    for (const f of [...left, live]) writeFileSync(f, 'partial');
    s = await start(data, k.key);
    await s.stop();
    for (const f of left) expect(() => statSync(f), f).toThrow(/ENOENT/);
    expect(statSync(live).isFile()).toBe(true);
    expect(s.io.err()).toContain('temporary file left by a stopped process; removed');
  });
});

describe('reports', () => {
  it('a nesting bomb is a 400, not a 500; nothing is written', async () => {
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key);
    try {
      const depth = 8000;
      const bomb = `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      expect(bomb.length).toBeLessThan(16 * 1024);
      const r = await post(`${s.url}/v1/reports`, bomb, {});
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'REPORT_TOO_DEEP' });
      // Brackets inside strings are not nesting.
      expect((await post(`${s.url}/v1/reports`, JSON.stringify({ a: '['.repeat(5000) }), {})).status).toBe(202);
      const lines = readFileSync(join(data, 'reports.log'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('the log cap counts bytes (UTF-8), drops and counts beyond it, and resumes once the log is rotated', async () => {
    const k = keyPair();
    const data = tempDir();
    const store = BundleStore.open(data, { lock: true });
    const service = new PinService({ store, signers: readSigners([k.key], testIO()), audience: 'com.example.app', validityMs: 7 * 86_400_000, maxReportsLogBytes: 2000 });
    const server = await listen(createHandler({ service, adminToken: TOKEN, reportLimiter: TokenBucketLimiter.perMinute(1000) }), '127.0.0.1', 0);
    try {
      // 150 two-byte characters: a line is ~400 bytes but only ~250 UTF-16 units.
      const report = JSON.stringify({ note: 'é'.repeat(150) });
      for (let i = 0; i < 8; i++) expect((await post(`${server.url}/v1/reports`, report, {})).status).toBe(202);
      const size = statSync(store.reportsLogPath).size;
      const lineBytes = Buffer.byteLength(readFileSync(store.reportsLogPath, 'utf8').split('\n')[0]!, 'utf8') + 1;
      expect(lineBytes).toBeGreaterThan(300);
      expect(size).toBeLessThanOrEqual(2000);
      expect(size + lineBytes).toBeGreaterThan(2000);
      const kept = size / lineBytes;
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`^pinctl_serve_reports_received_total ${kept}$`, 'm'));
      expect(metrics).toMatch(new RegExp(`^pinctl_serve_reports_dropped_total\\{reason="log_full"\\} ${8 - kept}$`, 'm'));

      // The operator rotates the log: reports are written again.
      renameSync(store.reportsLogPath, `${store.reportsLogPath}.1`);
      expect((await post(`${server.url}/v1/reports`, report, {})).status).toBe(202);
      expect(readFileSync(store.reportsLogPath, 'utf8').trim().split('\n')).toHaveLength(1);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(new RegExp(`^pinctl_serve_reports_received_total ${kept + 1}$`, 'm'));
    } finally {
      await server.close();
      store.close();
    }
  });

  it('rate-limit keys: IPv4 per address, IPv6 per /64', () => {
    expect(rateLimitKey('192.0.2.7')).toBe('192.0.2.7');
    expect(rateLimitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(rateLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitKey('fe80::1%lo')).toBe('fe80:0:0:0::/64');
    expect(rateLimitKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});

describe('reports rate limit over real IPv6 connections', () => {
  // A random unique-local prefix, written as Node prints it (no leading zeros).
  const group = () => (0x1000 + (randomBytes(2).readUInt16BE() % 0xe000)).toString(16);
  const prefix = `fd${randomBytes(1).toString('hex')}:${group()}:${group()}`;
  const addrs = { server: `${prefix}:1::1`, a: `${prefix}:1::a`, b: `${prefix}:1::b`, other: `${prefix}:2::a` };
  const added: string[] = [];
  afterAll(() => {
    for (const a of added) spawnSync('ip', ['-6', 'addr', 'del', `${a}/128`, 'dev', 'lo']);
  });

  it('two addresses of one /64 share a bucket; another /64 has its own', async (ctx) => {
    if (!IS_ROOT) return ctx.skip('not root: cannot add IPv6 addresses to lo');
    for (const a of Object.values(addrs)) {
      const r = spawnSync('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad'], { encoding: 'utf8' });
      if (r.status !== 0) return ctx.skip(`ip -6 addr add not allowed here: ${r.error?.message ?? r.stderr.trim()}`);
      added.push(a);
    }
    const k = keyPair();
    const data = tempDir();
    const s = await start(data, k.key, { listen: `[${addrs.server}]:0`, reportsRate: '2/min' });
    const report = (from: string) =>
      new Promise<number>((done, fail) => {
        const req = request(`${s.url}/v1/reports`, { method: 'POST', localAddress: from, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          done(res.statusCode!);
        });
        req.on('error', fail);
        req.end('{"a":1}');
      });
    try {
      expect([await report(addrs.a), await report(addrs.b), await report(addrs.a)]).toEqual([202, 202, 429]);
      expect(await report(addrs.b)).toBe(429);
      expect(await report(addrs.other)).toBe(202);
      const remotes = readFileSync(join(data, 'reports.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).remote);
      expect(remotes).toEqual([addrs.a, addrs.b, addrs.other]);
      expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(/^pinctl_serve_reports_dropped_total\{reason="rate_limited"\} 2$/m);
    } finally {
      await s.stop();
    }
  });
});
