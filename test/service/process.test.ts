/**
 * `pinctl serve` as real processes (the CLI compiled with tsc): two servers started together on
 * one data directory (exactly one runs), kill -9 in the middle of publishing (every version
 * served afterwards is in publish.log, no temporary file is left), and SIGHUP reloading the TLS
 * certificate for new connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { startServe } from '../../cli/commands/serve.js';
import { keyPair, pinsJson, PIN, tempDir, testIO } from './helpers.js';
import { compileForChildren, compiledDir } from '../helpers/compile.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
// Under node_modules so the compiled files resolve the project's packages.
const OUT = compiledDir('serve-process');
const TOKEN = 'process-admin-token-0123456789abcdef';

beforeAll(() => {
  compileForChildren('serve-process', ['cli', 'src', 'monitor']);
}, 240_000);

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(OUT, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function serve(args: string[]): Served {
  const child = spawn(process.execPath, [join(OUT, 'cli', 'main.js'), 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, PINCTL_ADMIN_TOKEN: TOKEN, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The URL once the server listens, or null if it exited first. */
async function listening(s: Served, timeoutMs = 60_000): Promise<string | null> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const m = /listening on (\S+)/.exec(s.stdout());
    if (m) return m[1]!;
    if (s.child.exitCode !== null) return null;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`serve did not start: ${s.stderr()}`);
}

/** A pid no process has now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('two servers started together on one data directory', () => {
  it('exactly one runs, also when both race to take over a stale lock', async () => {
    const k = keyPair();
    for (let round = 0; round < 4; round++) {
      const data = tempDir();
      const args = ['--key', k.key, '--data', data, '--audience', 'com.example.app'];
      if (round % 2 === 1) {
        mkdirSync(data, { recursive: true });
        writeFileSync(join(data, '.lock'), `${deadPid()}\n`);
      }
      const both = [serve(args), serve(args)];
      const urls = await Promise.all(both.map((s) => listening(s)));
      const running = both.filter((_, i) => urls[i] !== null);
      const refused = both.filter((_, i) => urls[i] === null);
      expect(running, `round ${round}: ${both.map((s) => s.stderr()).join(' | ')}`).toHaveLength(1);
      expect(await refused[0]!.exited).toBe(2);
      expect(refused[0]!.stderr()).toMatch(new RegExp(`^error: --data .*: in use by process ${running[0]!.child.pid}`, 'm'));
      expect(readFileSync(join(data, '.lock'), 'utf8').trim()).toBe(String(running[0]!.child.pid));
      running[0]!.child.kill('SIGTERM');
      expect(await running[0]!.exited).toBe(0);
    }
  });
});

describe('kill -9 while publishing', () => {
  it('every version served after the restart, and every version answered 200, is in publish.log; no temp file is left', async () => {
    const k = keyPair();
    const pins = pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup] }]);
    for (const delay of [30, 120, 300]) {
      const data = tempDir();
      const s = serve(['--key', k.key, '--data', data, '--audience', 'com.example.app']);
      const url = (await listening(s))!;
      const answered: number[] = [];
      let stop = false;
      const publisher = (async () => {
        while (!stop) {
          try {
            const r = await fetch(`${url}/v1/bundles/pins?force=1`, { method: 'POST', body: pins, headers: { Authorization: `Bearer ${TOKEN}` } });
            if (r.status === 200) answered.push(((await r.json()) as { version: number }).version);
          } catch {
            return; // the server is gone
          }
        }
      })();
      // Killed at some moment after the first publish, in the middle of later ones.
      for (let i = 0; i < 1000 && answered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, delay));
      s.child.kill('SIGKILL');
      await s.exited;
      stop = true;
      await publisher;

      const logged = new Set(readFileSync(join(data, 'publish.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).version as number));
      for (const v of answered) expect(logged.has(v), `v${v} answered 200 but not in publish.log`).toBe(true);
      // Restart in this process: the stale lock is taken over, leftovers cleaned, the current version served.
      const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
      const again = await startServe({ listen: '127.0.0.1:0', key: [k.key], data, expiresIn: '7d', reportsRate: '10/min' }, io);
      try {
        const r = await fetch(`${again.url}/v1/bundles/pins`);
        expect(answered.length).toBeGreaterThan(0);
        expect(r.status).toBe(200);
        const served = JSON.parse(Buffer.from(((await r.json()) as { payload: string }).payload, 'base64').toString()).version as number;
        expect(logged.has(served), `v${served} served after restart but not in publish.log`).toBe(true);
        expect(served).toBeGreaterThanOrEqual(Math.max(...answered));
        for (const d of [data, join(data, 'current'), join(data, 'counters')]) expect(readdirSync(d).filter((n) => n.endsWith('.tmp')), d).toEqual([]);
      } finally {
        await again.stop();
      }
    }
  });
});

describe('SIGHUP', () => {
  const leafOf = (url: string) =>
    new Promise<string>((done, fail) => {
      https
        .get(`${url}/healthz`, { ca: readPki('root.pem'), agent: false }, (res) => {
          done((res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!.fingerprint256);
          res.resume();
        })
        .on('error', fail);
    });

  it('reloads --tls-cert/--tls-key: new connections get the new certificate', async () => {
    const k = keyPair();
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    copyFileSync(pkiFile('chain.pem'), cert);
    copyFileSync(pkiFile('leaf.key'), key);
    const s = serve(['--key', k.key, '--data', join(dir, 'data'), '--audience', 'com.example.app', '--tls-cert', cert, '--tls-key', key]);
    const url = (await listening(s))!;
    expect(url).toMatch(/^https:/);
    expect(await leafOf(url)).toBe(new X509Certificate(readPki('leaf.pem')).fingerprint256);
    copyFileSync(pkiFile('chain-new-key.pem'), cert);
    copyFileSync(pkiFile('leaf-new-key.key'), key);
    s.child.kill('SIGHUP');
    for (let i = 0; i < 500 && !/SIGHUP: reloaded/.test(s.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.stderr()).toMatch(/note: SIGHUP: reloaded/);
    expect(await leafOf(url)).toBe(new X509Certificate(readPki('leaf-new-key.pem')).fingerprint256);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
