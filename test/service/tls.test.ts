/** `pinctl serve --tls-cert --tls-key`: real TLS clients (node https, curl --cacert), SIGHUP reload, the plain-HTTP warning. */
import { describe, expect, it } from 'vitest';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { SignalSource, serveCommand, startServe } from '../../cli/commands/serve.js';
import { keyPair, tempDir, testIO } from './helpers.js';

const TOKEN = 'tls-admin-token-0123456789abcdef';
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
const fingerprint = (pem: string) => new X509Certificate(readPki(pem)).fingerprint256;

/** The certificate files serve reads, in a directory of their own (the test replaces them). */
function certFiles(chain: string, key: string): { dir: string; cert: string; key: string } {
  const dir = tempDir('pinctl-tls-');
  copyFileSync(pkiFile(chain), join(dir, 'cert.pem'));
  copyFileSync(pkiFile(key), join(dir, 'key.pem'));
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** GET over a new TLS connection, trusting only the fixture root: status, body and the served leaf's fingerprint. */
function httpsGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; leaf: string }> {
  return new Promise((done, fail) => {
    const req = https.get(url, { ca: readPki('root.pem'), agent: false, headers }, (res) => {
      const leaf = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!.fingerprint256;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => done({ status: res.statusCode!, body, leaf }));
    });
    req.on('error', fail);
  });
}

function bus(): { source: SignalSource; emit: (name: string) => void } {
  const e = new EventEmitter();
  return {
    source: (on) => {
      const h = (n: string) => on(n);
      e.on('signal', h);
      return () => e.off('signal', h);
    },
    emit: (name) => e.emit('signal', name),
  };
}

const baseOptions = (data: string, key: string) => ({ listen: '127.0.0.1:0', key: [key], data, audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min', caFile: pkiFile('roots.pem') });

describe('pinctl serve over TLS', () => {
  it('serves HTTPS to a node client trusting the fixture root; admin publishing works over it', async () => {
    const k = keyPair();
    const files = certFiles('chain.pem', 'leaf.key');
    const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
    const s = await startServe({ ...baseOptions(tempDir(), k.key), tlsCert: files.cert, tlsKey: files.key }, io);
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(io.out()).toContain(`listening on ${s.url}`);
      expect(io.err()).not.toMatch(/warning:/);
      const h = await httpsGet(`${s.url}/healthz`);
      expect(h.status).toBe(200);
      expect(JSON.parse(h.body).status).toBe('ok');
      expect(h.leaf).toBe(fingerprint('leaf.pem'));
      // The published GET path (no raw fast path under TLS) and an admin POST over TLS.
      const posted = await new Promise<number>((done, fail) => {
        const req = https.request(`${s.url}/v1/bundles/trust-roots`, { method: 'POST', ca: readPki('root.pem'), agent: false, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
          res.resume();
          done(res.statusCode!);
        });
        req.on('error', fail);
        req.end(readPki('roots.pem'));
      });
      expect(posted).toBe(200);
      const got = await httpsGet(`${s.url}/v1/bundles/trust-roots`);
      expect(got.status).toBe(200);
      expect(JSON.parse(got.body).payloadType).toMatch(/trust-roots/);
      // A client that does not trust the root refuses the connection.
      await expect(new Promise((done, fail) => https.get(`${s.url}/healthz`, { agent: false }, done).on('error', fail))).rejects.toThrow(/certificate/);
    } finally {
      await s.stop();
    }
  });

  it.skipIf(!HAVE_CURL)('answers curl --cacert', async () => {
    const k = keyPair();
    const files = certFiles('chain.pem', 'leaf.key');
    const s = await startServe({ ...baseOptions(tempDir(), k.key), tlsCert: files.cert, tlsKey: files.key }, testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } }));
    try {
      const out = await new Promise<string>((done, fail) =>
        execFile('curl', ['-sS', '--max-time', '10', '--noproxy', '*', '--cacert', pkiFile('root.pem'), '-w', '\n%{http_code}', `${s.url}/healthz`], { encoding: 'utf8' }, (e, stdout, stderr) =>
          e ? fail(new Error(stderr)) : done(stdout),
        ),
      );
      expect(out.trim().split('\n').pop()).toBe('200');
      expect(out).toContain('"status": "ok"');
    } finally {
      await s.stop();
    }
  });

  it('SIGHUP: new connections get the new certificate; a bad pair keeps the old one', async () => {
    const k = keyPair();
    const files = certFiles('chain.pem', 'leaf.key');
    const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
    const stop = bus();
    const hup = bus();
    const running = serveCommand({ ...baseOptions(tempDir(), k.key), tlsCert: files.cert, tlsKey: files.key }, io, stop.source, hup.source);
    for (let i = 0; i < 200 && !io.out().includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const url = /listening on (\S+)/.exec(io.out())![1]!;
    expect((await httpsGet(`${url}/healthz`)).leaf).toBe(fingerprint('leaf.pem'));

    copyFileSync(pkiFile('chain-new-key.pem'), files.cert);
    copyFileSync(pkiFile('leaf-new-key.key'), files.key);
    hup.emit('SIGHUP');
    expect(io.err()).toMatch(/note: SIGHUP: reloaded .*cert\.pem and .*key\.pem/);
    const after = await httpsGet(`${url}/healthz`);
    expect(after.status).toBe(200);
    expect(after.leaf).toBe(fingerprint('leaf-new-key.pem'));
    expect(after.leaf).not.toBe(fingerprint('leaf.pem'));

    // A key that does not match the certificate: refused, the served pair stays.
    copyFileSync(pkiFile('leaf.key'), files.key);
    hup.emit('SIGHUP');
    expect(io.err()).toMatch(/warning: SIGHUP: TLS not reloaded, still serving the previous certificate/);
    expect((await httpsGet(`${url}/healthz`)).leaf).toBe(fingerprint('leaf-new-key.pem'));

    stop.emit('SIGTERM');
    expect(await running).toBe(0);
  });

  it('refuses a certificate without its key, a mismatched pair and an unreadable file (exit 2)', async () => {
    const k = keyPair();
    const env = { PINCTL_ADMIN_TOKEN: TOKEN };
    const common = ['serve', '--listen', '127.0.0.1:0', '--key', k.key, '--data', tempDir(), '--audience', 'app'];
    let r = await cli([...common, '--tls-cert', pkiFile('chain.pem')], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --tls-cert given alone: expected both --tls-cert FILE and --tls-key FILE/m);
    r = await cli([...common, '--tls-cert', pkiFile('chain.pem'), '--tls-key', pkiFile('leaf-new-key.key')], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --tls-cert .* expected a PEM certificate chain and its private key/m);
    expect(r.stderr).toMatch(/^hint: /m);
    const missing = join(tempDir(), 'nope.pem');
    r = await cli([...common, '--tls-cert', missing, '--tls-key', pkiFile('leaf.key')], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read \(ENOENT\)/);
  });

  it('warns when a non-loopback --listen serves plain HTTP, not on loopback or with TLS', async () => {
    const k = keyPair();
    const files = certFiles('chain.pem', 'leaf.key');
    const run = async (listen: string, tls: boolean) => {
      const io = testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } });
      const s = await startServe({ ...baseOptions(tempDir(), k.key), listen, ...(tls ? { tlsCert: files.cert, tlsKey: files.key } : {}) }, io);
      await s.stop();
      return io.err();
    };
    expect(await run('0.0.0.0:0', false)).toMatch(/^warning: --listen 0\.0\.0\.0:0 is reachable from the network and serves plain HTTP: .*reverse proxy/m);
    expect(await run('0.0.0.0:0', true)).not.toMatch(/warning:/);
    expect(await run('127.0.0.1:0', false)).not.toMatch(/warning:/);
    expect(await run('[::1]:0', false)).not.toMatch(/warning:/);
  });
});
