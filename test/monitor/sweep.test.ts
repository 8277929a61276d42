/** Probing faults and per-address findings, against real misbehaving servers on 127.0.0.0/8. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpLikeServer, stallServer, tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { X509Certificate } from 'node:crypto';
import { hasEmbeddedSct, sweep, trustStores } from '../../monitor/sweep.js';
import { loadConfig } from '../../monitor/config.js';
import { Prober, probeTls } from '../../src/net/probe.js';
import { freePort, monitorCli, NOW, pkiFile, tempDir, writeConfig } from './helpers.js';

let good: Running;
let stall: Running;
let http: Running;
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
  stall = await stallServer();
  http = await httpLikeServer();
});
afterAll(async () => {
  await good.close();
  await stall.close();
  await http.close();
});

const PINS = `[${opensslPin('intermediate.pem')}, ${opensslPin('root.pem')}]`;

function cfg(dir: string, endpoints: string, head = 'retries: 2\nretryDelay: 1ms\ntimeout: 300ms\n'): string {
  return writeConfig(dir, `schedule: "* * * * *"\nstate: ./state\n${head}endpoints:\n${endpoints}`);
}
const ep = (port: number, extra = '', host = 'api.pinctl.test') => `  - host: ${host}\n    port: ${port}\n    addresses: [127.0.0.1]\n    caFile: ${pkiFile('root.pem')}\n    pins: ${PINS}\n${extra}`;

describe('monitor sweep', () => {
  it('records errors by reason after retries, and one slow host does not hold up the others', async () => {
    const dir = tempDir();
    const closed = await freePort();
    const config = cfg(dir, [ep(good.port), ep(stall.port, '', 'stall.pinctl.test'), ep(closed, '', 'closed.pinctl.test'), ep(http.port, '', 'http.pinctl.test'), '  - host: nxdomain.pinctl.test\n'].join(''));
    const t0 = Date.now();
    const r = await monitorCli(['monitor', 'once', '--config', config, '--json']);
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    const by = (host: string) => out.observations.find((o: { host: string }) => o.host === host);
    expect(by('api.pinctl.test')).toMatchObject({ error: null, attempts: 1 });
    expect(by('stall.pinctl.test')).toMatchObject({ attempts: 3, error: { reason: 'timeout', code: 'TIMEOUT' } });
    expect(by('closed.pinctl.test')).toMatchObject({ attempts: 3, error: { reason: 'refused', code: 'REFUSED' } });
    expect(by('http.pinctl.test')).toMatchObject({ attempts: 3, error: { reason: 'handshake', code: 'NOT_TLS' } });
    expect(by('nxdomain.pinctl.test')).toMatchObject({ address: '', attempts: 3, error: { reason: 'dns', code: 'DNS' } });
    // 3 attempts × 300 ms for the stalled host, in parallel with the others.
    expect(elapsed).toBeLessThan(5000);
    const unreachable = out.opened.filter((f: { kind: string }) => f.kind === 'unreachable');
    expect(unreachable.map((f: { endpoint: string; severity: string }) => `${f.endpoint}:${f.severity}`).sort()).toEqual([
      `closed.pinctl.test:${closed}:critical`,
      `http.pinctl.test:${http.port}:critical`,
      'nxdomain.pinctl.test:443:critical',
      `stall.pinctl.test:${stall.port}:critical`,
    ]);
    const human = await monitorCli(['monitor', 'once', '--config', config]);
    expect(human.stdout).toMatch(/FAIL 127\.0\.0\.1  timeout after 3 attempt\(s\)/);
    expect(human.stdout).toMatch(/FAIL \(dns\)  dns after 3 attempt\(s\): nxdomain\.pinctl\.test: DNS lookup failed \(ENOTFOUND\)/);
  });

  it('an unreachable address while another answers is a warning; it recovers when the address answers', async () => {
    const dir = tempDir();
    // 127.0.0.2 is loopback on Linux; the server listens on 127.0.0.1 only, so .2 is refused.
    const config = cfg(dir, `  - host: api.pinctl.test\n    port: ${good.port}\n    addresses: [127.0.0.1, 127.0.0.2]\n    caFile: ${pkiFile('root.pem')}\n    pins: ${PINS}\n`);
    const r = await monitorCli(['monitor', 'once', '--config', config, '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.opened.map((f: { kind: string; severity: string; address: string }) => [f.kind, f.severity, f.address])).toEqual([['unreachable', 'warning', '127.0.0.2']]);
    const second = await listenOn('127.0.0.2', good.port, 'chain.pem', 'leaf.key');
    try {
      const r2 = JSON.parse((await monitorCli(['monitor', 'once', '--config', config, '--json'])).stdout);
      expect(r2.recovered.map((f: { of: string; resolution: string }) => [f.of, f.resolution])).toEqual([['unreachable', '127.0.0.2 answers again']]);
      expect(r2.healthy).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('address-disagreement: addresses of one name serving different keys', async () => {
    const dir = tempDir();
    const other = await listenOn('127.0.0.2', good.port, 'chain-new-key.pem', 'leaf-new-key.key');
    try {
      const config = cfg(dir, `  - host: api.pinctl.test\n    port: ${good.port}\n    addresses: [127.0.0.1, 127.0.0.2]\n    caFile: ${pkiFile('root.pem')}\n    pins: ${PINS}\n`);
      const out = JSON.parse((await monitorCli(['monitor', 'once', '--config', config, '--json'])).stdout);
      const f = out.opened.find((x: { kind: string }) => x.kind === 'address-disagreement');
      expect(f).toMatchObject({ severity: 'warning', address: null });
      expect(f.details.groups.map((g: { addresses: string[] }) => g.addresses)).toEqual([['127.0.0.1'], ['127.0.0.2']]);
      expect(f.explanation).toContain('A pin set must contain a key of every one of these chains');
    } finally {
      await other.close();
    }
  });

  it('no-sct: a leaf of a chain anchored in the system store without embedded SCTs; a private caFile is exempt', async () => {
    const dir = tempDir();
    const system = cfg(dir, `  - host: api.pinctl.test\n    port: ${good.port}\n    addresses: [127.0.0.1]\n    pins: ${PINS}\n`);
    // The "system store" is whatever SSL_CERT_FILE names: here the fixture roots.
    const r = await monitorCli(['monitor', 'once', '--config', system, '--json'], { env: { SSL_CERT_FILE: pkiFile('roots.pem') } });
    const out = JSON.parse(r.stdout);
    expect(out.observations[0]).toMatchObject({ anchor: 'system', trusted: true });
    expect(out.opened.map((f: { kind: string; severity: string }) => `${f.kind}:${f.severity}`)).toEqual(['no-sct:warning']);
    expect(out.opened[0].explanation).toContain('Apple platforms');

    const dir2 = tempDir();
    const priv = cfg(dir2, ep(good.port));
    const r2 = JSON.parse((await monitorCli(['monitor', 'once', '--config', priv, '--json'], { env: { SSL_CERT_FILE: pkiFile('roots.pem') } })).stdout);
    expect(r2.observations[0].anchor).toBe('ca-file');
    expect(r2.opened).toEqual([]);
  });

  it('detects the embedded SCT list extension (1.3.6.1.4.1.11129.2.4.2) in a certificate made by openssl', () => {
    const dir = tempDir();
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=sct.pinctl.test', '-addext', '1.3.6.1.4.1.11129.2.4.2=DER:04020000'], { stdio: 'ignore' });
    const der = Buffer.from(readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(hasEmbeddedSct(new Uint8Array(der))).toBe(true);
    expect(hasEmbeddedSct(new Uint8Array(pemDer(readPki('leaf.pem').toString())))).toBe(false);
    expect(hasEmbeddedSct(new Uint8Array(der.subarray(0, 100)))).toBe(false);
  });

  it('one served chain validated once per sweep: the name is still checked per endpoint, the clock per observation', async () => {
    const dir = tempDir();
    const eps = [ep(good.port, '', 'api.pinctl.test'), ep(good.port, '', 'wrong.example.test'), ep(good.port, '    sni: api.pinctl.test\n', 'third.pinctl.test')];
    const config = loadConfig(cfg(dir, eps.join(''), 'concurrency: 1\n'), { env: {}, cwd: dir, now: NOW });
    const notAfter = Date.parse(new X509Certificate(readPki('leaf.pem')).validTo);
    // One endpoint at a time: the clock passes the leaf's expiry after the first two observations.
    let validations = 0;
    const now = () => new Date(validations > 2 ? notAfter + 1000 : NOW.getTime());
    const probe: Prober = async (req) => {
      validations++;
      return probeTls(req);
    };
    const r = await sweep(config, { now, probe, stores: trustStores(config, {}), sleep: async () => {} });
    const problems = r.observations.map((o) => o.problems.map((p) => p.code));
    expect(problems).toEqual([[], ['hostname-mismatch'], ['expired']]);
    expect(r.observations[1]!.error).toMatchObject({ reason: 'verify', code: 'hostname-mismatch' });
    expect(r.observations[1]!.error!.message).toContain('not wrong.example.test');
    expect(r.observations[0]!.chain).toBe(r.observations[1]!.chain);
    expect(r.observations[2]!.chain.map((c) => c.sha256)).toEqual(r.observations[0]!.chain.map((c) => c.sha256));
  });

  it('chain-invalid: a chain that does not validate against the trust store is critical', async () => {
    const dir = tempDir();
    const srv = await tlsServer('example-untrusted-chain.pem', 'example-untrusted-leaf.key');
    try {
      const out = JSON.parse((await monitorCli(['monitor', 'once', '--config', cfg(dir, ep(srv.port)), '--json'])).stdout);
      expect(out.observations[0].error).toMatchObject({ reason: 'verify', code: 'untrusted-root' });
      expect(out.opened.map((f: { kind: string; severity: string }) => `${f.kind}:${f.severity}`).sort()).toEqual(['chain-invalid:critical', 'pin-mismatch:critical']);
      const invalid = out.opened.find((f: { kind: string }) => f.kind === 'chain-invalid');
      expect(invalid.explanation).toContain('is not in the trust store');
      expect(invalid.action).toContain(`pinctl check <your pins file> --resolve api.pinctl.test:${srv.port}:127.0.0.1 --ca-file ${pkiFile('root.pem')}`);
    } finally {
      await srv.close();
    }
  });
});

function pemDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

function listenOn(host: string, port: number, chain: string, key: string): Promise<{ close(): Promise<void> }> {
  const server = tls.createServer({ cert: readPki(chain), key: readPki(key) }, (s) => s.end());
  server.on('tlsClientError', () => {});
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

export { NOW };
