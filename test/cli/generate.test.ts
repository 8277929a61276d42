import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { opensslPin, pkiFile } from '../helpers/fixtures.js';
import { closedPort, stallServer, tlsServer, Running } from '../helpers/servers.js';

const HOST = 'api.pinctl.test';
let good: Running;
const servers: Running[] = [];
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
  servers.push(good);
});
afterAll(async () => Promise.all(servers.map((s) => s.close())));

const net = (port: number) => ['--resolve', `${HOST}:${port}:127.0.0.1`, '--ca-file', pkiFile('root.pem')];
const LEAF = () => opensslPin('leaf.pem');
const INTER = () => opensslPin('intermediate.pem');
const ROOT = () => opensslPin('root.pem');
const BACKUP = () => opensslPin('backup.key');

describe('pinctl generate (acceptance spellings)', () => {
  const base = () => [`${HOST}:${good.port}`, ...net(good.port), '--pin', 'leaf', '--pin', 'intermediate', '--backup-key', pkiFile('backup.key'), '--expiration', '2031-01-31'];

  it('android: one domain-config, the three pins, the expiration', async () => {
    const r = await cli(['generate', ...base(), '--format', 'android']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('<pin-set expiration="2031-01-31">');
    for (const p of [LEAF(), INTER(), BACKUP()]) expect(r.stdout).toContain(`<pin digest="SHA-256">${p}</pin>`);
    expect(r.stdout).not.toContain(ROOT());
    expect(r.stdout.match(/<domain-config/g)).toHaveLength(1);
    expect(r.stdout).toContain(`>${HOST}</domain>`);
  });
  it('ios: leaf and backup as leaf identities, intermediate as CA identity', async () => {
    const r = await cli(['generate', ...base(), '--format', 'ios']);
    expect(r.code, r.stderr).toBe(0);
    const leafPart = r.stdout.slice(r.stdout.indexOf('NSPinnedLeafIdentities'));
    const caPart = r.stdout.slice(r.stdout.indexOf('NSPinnedCAIdentities'));
    const section = (s: string) => s.slice(0, s.indexOf('</array>'));
    expect(section(leafPart)).toContain(LEAF());
    expect(section(leafPart)).toContain(BACKUP());
    expect(section(leafPart)).not.toContain(INTER());
    expect(section(caPart)).toContain(INTER());
    expect(section(caPart)).not.toContain(LEAF());
    expect(r.stderr).toContain('ios-leaf-and-ca');
  });
  it('okhttp: sha256/ pins', async () => {
    const r = await cli(['generate', ...base(), '--format', 'okhttp']);
    expect(r.code, r.stderr).toBe(0);
    for (const p of [LEAF(), INTER(), BACKUP()]) expect(r.stdout).toContain(`.add("${HOST}", "sha256/${p}")`);
  });
  it('json: the pin set with roles and the endpoint it came from', async () => {
    const r = await cli(['generate', ...base(), '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.expiration).toBe('2031-01-31');
    expect(doc.domains).toHaveLength(1);
    expect(doc.domains[0].pins.map((p: { spkiSha256: string; role: string }) => [p.role, p.spkiSha256])).toEqual([
      ['leaf', LEAF()],
      ['intermediate', INTER()],
      ['backup', BACKUP()],
    ]);
    expect(doc.domains[0].endpoints).toEqual([{ host: HOST, port: good.port, addresses: ['127.0.0.1'] }]);
  });
  it('an IP literal target works without --resolve (SNI off, IP SAN checked)', async () => {
    const r = await cli(['generate', `127.0.0.1:${good.port}`, '--ca-file', pkiFile('root.pem'), '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).domains[0].domain).toBe('127.0.0.1');
  });
  it('default pins are intermediate + root, root taken from the trust store', async () => {
    const r = await cli(['generate', `${HOST}:${good.port}`, ...net(good.port), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.pinSet.domains[0].pins.map((p: { role: string }) => p.role)).toEqual(['intermediate', 'root']);
    expect(out.pinSet.domains[0].pins[1].spkiSha256).toBe(ROOT());
    expect(out.pinSet.domains[0].pins[1].source).toContain('trust store');
    expect(out.warnings.map((w: { code: string }) => w.code)).toContain('no-backup');
    expect(r.stderr).toContain('(from trust store)');
  });
  it('--out writes every format and says what to run next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-out-'));
    const r = await cli(['generate', ...base(), '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toHaveLength(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/next: pinctl check /);
  });
});

describe('safety lints', () => {
  const codes = async (args: string[]) => {
    const r = await cli(['generate', `${HOST}:${good.port}`, ...net(good.port), '--json', ...args]);
    return (JSON.parse(r.stdout).warnings as { code: string }[]).map((w) => w.code);
  };
  it('fewer than two pins', async () => expect(await codes(['--pin', 'leaf'])).toContain('too-few-pins'));
  it('backup equal to a key in service', async () => expect(await codes(['--backup-key', pkiFile('leaf.key')])).toContain('backup-in-service'));
  it('pinned certificate expiring before the pin-set', async () => expect(await codes(['--pin', 'leaf', '--expiration', '2036-06-01'])).toContain('expires-before-pin-set'));
  it('include-subdomains semantics differ', async () => expect(await codes(['--include-subdomains'])).toContain('subdomain-semantics'));
  it('a live server sending its chain out of order, or with an extra certificate, gets the notes', async () => {
    const pem = (f: string) => readFileSync(pkiFile(f), 'utf8');
    const odd = await tlsServer('chain.pem', 'leaf.key', { cert: ['leaf.pem', 'intermediate2.pem', 'root.pem', 'intermediate.pem'].map(pem).join('') });
    servers.push(odd);
    const r = await cli(['generate', `${HOST}:${odd.port}`, ...net(odd.port), '--json', '--backup-key', pkiFile('backup.key')]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.warnings.map((w: { code: string }) => w.code)).toEqual(expect.arrayContaining(['reordered-chain', 'unused-certificates']));
    // The path is still leaf → intermediate → root, and the pins are the default intermediate + root.
    expect(out.pinSet.domains[0].pins.filter((p: { role: string }) => p.role !== 'backup').map((p: { spkiSha256: string }) => p.spkiSha256)).toEqual([INTER(), ROOT()]);
  });
  it('a clean config has no danger', async () => {
    const r = await cli(['generate', `${HOST}:${good.port}`, ...net(good.port), '--json', '--backup-key', pkiFile('backup.key'), '--expiration', '2030-01-01']);
    expect((JSON.parse(r.stdout).warnings as { severity: string }[]).filter((w) => w.severity !== 'info')).toEqual([]);
  });
  it('addresses of one name serving different keys', async () => {
    // Two servers on one port, at 127.0.0.1 and 127.0.0.2: one name, two addresses, two leaf keys.
    const a = await tlsServer('chain.pem', 'leaf.key');
    servers.push(a);
    const b = await new Promise<Running | null>((resolve) => {
      import('node:tls').then(({ default: tls }) => {
        const srv = tls.createServer({ cert: readFileSync(pkiFile('chain-new-key.pem')), key: readFileSync(pkiFile('leaf-new-key.key')) }, (s) => s.end());
        srv.once('error', () => resolve(null));
        srv.listen(a.port, '127.0.0.2', () => resolve({ port: a.port, close: () => new Promise<void>((r) => srv.close(() => r())) }));
      });
    });
    if (!b) return; // 127.0.0.2 not routable here
    servers.push(b);
    const r = await cli(['generate', `${HOST}:${a.port}`, '--resolve', `${HOST}:${a.port}:127.0.0.1,127.0.0.2`, '--ca-file', pkiFile('root.pem'), '--pin', 'leaf', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.warnings.map((w: { code: string }) => w.code)).toContain('address-disagreement');
    expect(out.pinSet.domains[0].pins.map((p: { spkiSha256: string }) => p.spkiSha256).sort()).toEqual([LEAF(), opensslPin('leaf-new-key.pem')].sort());
  });
  it('a leaf-only chain with --insecure', async () => {
    const leafOnly = await tlsServer('leaf-only.pem', 'leaf.key');
    servers.push(leafOnly);
    const refused = await cli(['generate', `${HOST}:${leafOnly.port}`, ...net(leafOnly.port), '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('no issuer found');
    const r = await cli(['generate', `${HOST}:${leafOnly.port}`, ...net(leafOnly.port), '--json', '--insecure', '--pin', 'leaf']);
    expect(r.code).toBe(0);
    const c = (JSON.parse(r.stdout).warnings as { code: string }[]).map((w) => w.code);
    expect(c).toContain('leaf-only-chain');
    expect(c).toContain('insecure');
  });
});

describe('failures', () => {
  it('an untrusted chain is refused with a hint, and pinned loudly with --insecure', async () => {
    const r = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}:${good.port}:127.0.0.1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: .*does not validate/);
    expect(r.stderr).toContain('hint: for a private CA pass --ca-file ROOT.pem');
    const ins = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}:${good.port}:127.0.0.1`, '--insecure']);
    expect(ins.code).toBe(0);
    expect(ins.stderr).toMatch(/danger: .*--insecure/);
  });
  it('one bad host does not stop the others', async () => {
    const dead = await closedPort();
    const r = await cli(['generate', `${HOST}:${good.port}`, `dead.pinctl.test:${dead}`, ...net(good.port), '--resolve', `dead.pinctl.test:${dead}:127.0.0.1`, '--format', 'json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).domains.map((d: { domain: string }) => d.domain)).toEqual([HOST]);
    expect(r.stderr).toMatch(/error: dead.pinctl.test at 127.0.0.1:\d+: connection refused/);
  });
  it('--timeout 500ms bounds a stalled endpoint', async () => {
    const stall = await stallServer();
    servers.push(stall);
    const t = Date.now();
    const r = await cli(['generate', `${HOST}:${stall.port}`, '--resolve', `${HOST}:${stall.port}:127.0.0.1`, '--timeout', '500ms']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no TLS handshake within 500 ms');
    expect(Date.now() - t).toBeLessThan(3000);
  });
  it('an address that fails is a warning when another answered', async () => {
    const dead = await closedPort();
    // Same port on two loopback addresses: one serves, one refuses.
    const r = await cli(['generate', `${HOST}:${good.port}`, '--resolve', `${HOST}:${good.port}:127.0.0.1,127.0.0.9`, '--ca-file', pkiFile('root.pem'), '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout).warnings as { code: string }[]).map((w) => w.code)).toContain('unreachable-address');
    void dead;
  });
  it('a DNS failure names the host (resolver stubbed: no query leaves the machine)', async () => {
    const r = await cli(['generate', 'no-such-host.invalid', '--timeout', '1s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: no-such-host.invalid: DNS lookup failed \(ENOTFOUND\)\nhint: /);
  });
  it('usage errors', async () => {
    expect((await cli(['generate', HOST, '--pin', 'middle'])).stderr).toContain('--pin middle: expected leaf, intermediate or root');
    expect((await cli(['generate', HOST, '--format', 'pdf'])).code).toBe(2);
    expect((await cli(['generate', HOST, '--expiration', '2020-01-01'])).stderr).toContain('has passed');
    expect((await cli(['generate', HOST, '--expiration', '2031-02-30'])).stderr).toContain('YYYY-MM-DD');
    expect((await cli(['generate', 'bad host!'])).code).toBe(2);
    expect((await cli(['generate'])).code).toBe(2);
  });
});

describe('offline and key material', () => {
  it('--cert reads the chain from files; domains from the leaf when no host is given', async () => {
    const r = await cli(['generate', '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.domains.map((d: { domain: string }) => d.domain)).toEqual(['api.pinctl.test', 'localhost']);
    expect(doc.domains[0].pins.map((p: { spkiSha256: string }) => p.spkiSha256)).toEqual([INTER(), ROOT()]);
  });
  it('several hosts make one config holding every domain', async () => {
    const r = await cli(['generate', HOST, 'localhost', '--cert', pkiFile('fullchain.pem'), '--ca-file', pkiFile('root.pem'), '--format', 'android']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/<domain-config/g)).toHaveLength(2);
  });
  it('--new-backup-key writes a 0600 key and a CSR whose pin openssl agrees with', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-keys-'));
    const r = await cli(['generate', HOST, '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--new-backup-key', dir, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const key = readdirSync(dir).find((f) => f.endsWith('.key'))!;
    const csr = readdirSync(dir).find((f) => f.endsWith('.csr'))!;
    expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);
    const pin = execFileSync('bash', ['-c', `openssl req -in "${join(dir, csr)}" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], { encoding: 'utf8' }).trim();
    execFileSync('openssl', ['req', '-in', join(dir, csr), '-verify', '-noout'], { stdio: 'ignore' });
    const backup = JSON.parse(r.stdout).domains[0].pins.find((p: { role: string }) => p.role === 'backup');
    expect(backup.spkiSha256).toBe(pin);
    expect(readFileSync(join(dir, key), 'utf8')).toContain('BEGIN PRIVATE KEY');
  });
});

describe('--json reports what was observed', () => {
  it('each address with its validated chain', async () => {
    const r = await cli(['generate', `${HOST}:${good.port}`, ...net(good.port), '--json']);
    const o = JSON.parse(r.stdout).observations[0];
    expect(o.domain).toBe(HOST);
    expect(o.addresses[0].address).toBe(`127.0.0.1:${good.port}`);
    expect(o.addresses[0].chain.valid).toBe(true);
    expect(o.addresses[0].chain.certificates.map((c: { position: string; source: string }) => `${c.position}/${c.source}`)).toEqual(['leaf/served', 'intermediate/served', 'root/trust-store']);
    expect(r.stderr).toMatch(/127\.0\.0\.1:\d+: chain valid/);
  });
});
