/** Regressions for problems found in review: each names the failure it guards against. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { opensslPin, pkiFile, readPki } from '../helpers/fixtures.js';
import { closedPort, tlsServer, Running } from '../helpers/servers.js';
import { parseInput } from '../../src/core/input.js';
import { run } from '../../cli/run.js';
import { NOW } from '../helpers/fixtures.js';

const HOST = 'api.pinctl.test';
const servers: Running[] = [];
let good: Running;
let dir: string;
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
  servers.push(good);
  dir = mkdtempSync(join(tmpdir(), 'pinctl-review-'));
});
afterAll(async () => Promise.all(servers.map((s) => s.close())));

describe('PEM tolerance', () => {
  it('a UTF-8 byte-order mark does not hide the first certificate', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readPki('chain.pem')]);
    expect(parseInput(bom, 'bom.pem').map((i) => i.spkiSha256)).toEqual([opensslPin('leaf.pem'), opensslPin('intermediate.pem')]);
  });
  it('blanks inside base64 lines are ignored, as openssl does', () => {
    const spaced = readPki('leaf.pem').toString('latin1').replace(/^([A-Za-z0-9+/]{10})/m, '$1 \t');
    expect(parseInput(Buffer.from(spaced, 'latin1'), 'spaced.pem')[0]!.spkiSha256).toBe(opensslPin('leaf.pem'));
  });
});

describe('one host on several ports', () => {
  it('a refused port beside a good one is a warning, and the good chain is pinned', async () => {
    const dead = await closedPort();
    for (const order of [[good.port, dead], [dead, good.port]]) {
      const r = await cli(['generate', ...order.map((p) => `${HOST}:${p}`), ...order.flatMap((p) => ['--resolve', `${HOST}:${p}:127.0.0.1`]), '--ca-file', pkiFile('root.pem'), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.pinSet.domains).toHaveLength(1);
      expect(out.pinSet.domains[0].endpoints.map((e: { port: number }) => e.port)).toEqual(order);
      expect(out.warnings.map((w: { code: string }) => w.code)).toContain('unreachable-address');
    }
  });
  it('two ports serving different leaf keys are both pinned and the disagreement is named', async () => {
    const other = await tlsServer('chain-new-key.pem', 'leaf-new-key.key');
    servers.push(other);
    const ports = [good.port, other.port];
    const r = await cli(['generate', ...ports.map((p) => `${HOST}:${p}`), ...ports.flatMap((p) => ['--resolve', `${HOST}:${p}:127.0.0.1`]), '--ca-file', pkiFile('root.pem'), '--pin', 'leaf', '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.pinSet.domains[0].pins.map((p: { spkiSha256: string }) => p.spkiSha256)).toEqual([opensslPin('leaf.pem'), opensslPin('leaf-new-key.pem')]);
    expect(out.warnings.map((w: { code: string }) => w.code)).toContain('address-disagreement');
  });
});

describe('targets and --resolve', () => {
  it('an IPv6 literal host is pinned, with a warning that iOS does not pin addresses', async () => {
    let v6: Running;
    try {
      v6 = await tlsServer('chain.pem', 'leaf.key', {}, '::1');
    } catch {
      return; // no IPv6 loopback here
    }
    servers.push(v6);
    const r = await cli(['generate', `[::1]:${v6.port}`, '--ca-file', pkiFile('root.pem'), '--format', 'android,okhttp', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).warnings.map((w: { code: string }) => w.code)).toContain('ip-literal');
  });
  it('a trailing dot in --resolve still matches the host', async () => {
    const r = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}.:${good.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem'), '--json']);
    expect(r.code, r.stderr).toBe(0);
  });
  it('a --resolve that matches nothing is called out', async () => {
    const r = await cli(['generate', HOST, '--resolve', `${HOST}:${good.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem'), '--json']);
    expect(r.stderr).toMatch(/warning: --resolve api.pinctl.test:\d+:127.0.0.1 matched no host:port probed \(api.pinctl.test:443\)/);
  });
  it('sub-millisecond timeouts are refused rather than rounded to zero', async () => {
    const r = await cli(['generate', HOST, '--timeout', '0.4ms']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--timeout 0.4ms');
  });
});

describe('output directories', () => {
  it('--out naming a file is an input error with a hint, before anything is probed', async () => {
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    const r = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}:${good.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem'), '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --out .*afile: expected a directory, found a file/);
    expect(r.stderr).toContain('hint:');
  });
  it('an uncreatable --out fails at once (Node recursive mkdir spins under /proc)', async () => {
    const t = Date.now();
    const r = await cli(['generate', HOST, '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--out', '/proc/pinctl-out/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --out \/proc\/pinctl-out\/x: cannot create/);
    expect(Date.now() - t).toBeLessThan(2000);
  });
});

describe('colour', () => {
  const tty = async (argv: string[], env: Record<string, string>, stdoutTty: boolean) => {
    let stdout = '';
    let stderr = '';
    await run(argv, {
      stdout: { write: (s: string) => (stdout += s), isTTY: stdoutTty },
      stderr: { write: (s: string) => (stderr += s), isTTY: true },
      readStdin: async () => new Uint8Array(),
      env,
      cwd: process.cwd(),
      now: () => NOW,
    });
    return { stdout, stderr };
  };
  it('no escape codes on a redirected stdout even when stderr is a terminal', async () => {
    expect((await tty(['pins', pkiFile('leaf.pem')], {}, false)).stdout).not.toContain('\x1b[');
    expect((await tty(['pins', pkiFile('leaf.pem')], {}, true)).stdout).toContain('\x1b[');
  });
  it('NO_COLOR disables colour only when set to a non-empty value', async () => {
    expect((await tty(['pins', pkiFile('leaf.pem')], { NO_COLOR: '1' }, true)).stdout).not.toContain('\x1b[');
    expect((await tty(['pins', pkiFile('leaf.pem')], { NO_COLOR: '' }, true)).stdout).toContain('\x1b[');
  });
});

describe('check hints', () => {
  it('a pin mismatch suggests the generate command with the same --resolve and --ca-file', async () => {
    const cfgRun = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}:${good.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem'), '--pin', 'leaf', '--backup-key', pkiFile('backup.key'), '--format', 'android']);
    const cfg = join(dir, 'leaf.xml');
    writeFileSync(cfg, cfgRun.stdout);
    const other = await tlsServer('chain-new-key.pem', 'leaf-new-key.key');
    servers.push(other);
    const r = await cli(['check', cfg, '--resolve', `${HOST}:${other.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`pinctl generate ${HOST}:${other.port} --resolve ${HOST}:${other.port}:127.0.0.1 --ca-file ${pkiFile('root.pem')} --format android`);
    const dead = await closedPort();
    const u = await cli(['check', cfg, '--resolve', `${HOST}:${dead}:127.0.0.1`, '--ca-file', pkiFile('root.pem')]);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('no address answered');
    expect(u.stderr).not.toContain('intercepting');
  });
});
