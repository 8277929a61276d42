import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { linkIssuers, probeTls } from '../../src/net/probe.js';
import { closedPort, httpLikeServer, midHandshakeStallServer, stallServer, tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, pkiFile, readPki } from '../helpers/fixtures.js';
import { spkiSha256 } from '../../src/core/pin.js';
import { certificateSpki } from '../../src/core/x509-structure.js';

const servers: Running[] = [];
const keep = <T extends Running>(r: T) => (servers.push(r), r);
afterAll(async () => Promise.all(servers.map((s) => s.close())));

const pinsOf = (served: Uint8Array[]) => served.map((d) => spkiSha256(certificateSpki(d)));

/** Counts getPeerX509Certificate() calls (the read that leaks issuer certificates in Node 20). */
function spyOnX509Reads() {
  const original = tls.TLSSocket.prototype.getPeerX509Certificate;
  let calls = 0;
  tls.TLSSocket.prototype.getPeerX509Certificate = function (this: tls.TLSSocket) {
    calls++;
    return original.call(this);
  };
  return { calls: () => calls, restore: () => void (tls.TLSSocket.prototype.getPeerX509Certificate = original) };
}

describe('probeTls against real servers on 127.0.0.1', () => {
  it('returns exactly the served chain, not completed from any store', async () => {
    const s = keep(await tlsServer('chain.pem', 'leaf.key'));
    const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(pinsOf(r.served)).toEqual([opensslPin('leaf.pem'), opensslPin('intermediate.pem')]);
    expect(r.protocol).toMatch(/TLSv1\.[23]/);
  });
  it('includes the root when the server sends it', async () => {
    const s = keep(await tlsServer('fullchain.pem', 'leaf.key'));
    const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
    expect(r.ok && pinsOf(r.served)).toEqual([opensslPin('leaf.pem'), opensslPin('intermediate.pem'), opensslPin('root.pem')]);
  });
  it('sends SNI: the server picks the certificate by name', async () => {
    // No default certificate: OpenSSL keeps a default EC certificate even when SNI picks an RSA context.
    const ctx = (chain: string, key: string) => tls.createSecureContext({ cert: readPki(chain), key: readPki(key) });
    const byName: Record<string, tls.SecureContext> = { 'rsa.pinctl.test': ctx('chain-rsa.pem', 'leaf-rsa.key'), 'api.pinctl.test': ctx('chain.pem', 'leaf.key') };
    const s = keep(await tlsServer('chain.pem', 'leaf.key', { cert: undefined, key: undefined, SNICallback: (name, cb) => cb(null, byName[name]) }));
    const r = await probeTls({ host: 'rsa.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
    expect(r.ok && pinsOf(r.served)[0]).toBe(opensslPin('leaf-rsa.pem'));
  });
  it('probes IPv6 loopback', async () => {
    let s: Running;
    try {
      s = keep(await tlsServer('chain.pem', 'leaf.key', {}, '::1'));
    } catch {
      return; // no IPv6 on this machine
    }
    const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '::1', timeoutMs: 3000 });
    expect(r.ok).toBe(true);
  });
  it('refused', async () => {
    const r = await probeTls({ host: 'x.test', port: await closedPort(), address: '127.0.0.1', timeoutMs: 3000 });
    expect(!r.ok && r.error.code).toBe('REFUSED');
  });
  it('a silent port times out within the deadline', async () => {
    const s = keep(await stallServer());
    const t = Date.now();
    const r = await probeTls({ host: 'x.test', port: s.port, address: '127.0.0.1', timeoutMs: 300 });
    expect(!r.ok && r.error.code).toBe('TIMEOUT');
    expect(Date.now() - t).toBeLessThan(2000);
  });
  it('a server that stalls mid-handshake times out', async () => {
    const s = keep(await midHandshakeStallServer());
    const r = await probeTls({ host: 'x.test', port: s.port, address: '127.0.0.1', timeoutMs: 300 });
    expect(!r.ok && r.error.code).toBe('TIMEOUT');
  });
  it('plain HTTP is reported as not TLS', async () => {
    const s = keep(await httpLikeServer());
    const r = await probeTls({ host: 'x.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
    expect(!r.ok && r.error.code).toMatch(/NOT_TLS|HANDSHAKE/);
    expect(!r.ok && r.error.message).toContain('x.test at 127.0.0.1');
  });
  it('a TLS alert is named', async () => {
    // A server demanding a client certificate over TLS 1.2 ends the handshake with alert 40.
    const s = keep(await tlsServer('chain.pem', 'leaf.key', { requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2', ca: [readPki('root.pem')] }));
    const r = await probeTls({ host: 'unknown.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
    expect(!r.ok && r.error.code).toBe('TLS_ALERT');
    expect(!r.ok && r.error.message).toContain('handshake failure');
    expect(!r.ok && r.error.message).not.toContain('deps/openssl');
  });
  it('reports what was sent, in the order sent: a repeated certificate once, extras and reordering kept', async () => {
    const pem = (f: string) => readFileSync(pkiFile(f), 'utf8');
    const cases: [string, string[], string[]][] = [
      ['leaf sent twice', ['leaf.pem', 'leaf.pem', 'intermediate.pem'], ['leaf.pem', 'intermediate.pem']],
      ['intermediate sent twice', ['leaf.pem', 'intermediate.pem', 'intermediate.pem', 'root.pem'], ['leaf.pem', 'intermediate.pem', 'root.pem']],
      ['root before intermediate', ['leaf.pem', 'root.pem', 'intermediate.pem'], ['leaf.pem', 'root.pem', 'intermediate.pem']],
      ['an unrelated certificate in between', ['leaf.pem', 'intermediate2.pem', 'intermediate.pem'], ['leaf.pem', 'intermediate2.pem', 'intermediate.pem']],
    ];
    for (const [what, sent, expected] of cases) {
      const s = keep(await tlsServer('chain.pem', 'leaf.key', { cert: sent.map(pem).join('') }));
      const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000, asSent: true });
      expect(r.ok, what).toBe(true);
      expect(r.ok && pinsOf(r.served), what).toEqual(expected.map((f) => opensslPin(f)));
    }
  });
  it('by default reads the issuer-linked chain: leaf then each issuer sent, duplicates and unrelated certificates left out', async () => {
    const pem = (f: string) => readFileSync(pkiFile(f), 'utf8');
    const cases: [string, string[], string[]][] = [
      ['in order with the root', ['leaf.pem', 'intermediate.pem', 'root.pem'], ['leaf.pem', 'intermediate.pem', 'root.pem']],
      ['intermediate sent twice', ['leaf.pem', 'intermediate.pem', 'intermediate.pem', 'root.pem'], ['leaf.pem', 'intermediate.pem', 'root.pem']],
      // Node's issuer walk stops once it has taken the last-listed certificate: a root sent before
      // its intermediate is not returned (src/core/chain.ts completes it from the trust store).
      ['root before intermediate', ['leaf.pem', 'root.pem', 'intermediate.pem'], ['leaf.pem', 'intermediate.pem']],
      ['an unrelated certificate in between', ['leaf.pem', 'intermediate2.pem', 'intermediate.pem'], ['leaf.pem', 'intermediate.pem']],
      ['the leaf alone', ['leaf.pem'], ['leaf.pem']],
    ];
    for (const [what, sent, expected] of cases) {
      const s = keep(await tlsServer('chain.pem', 'leaf.key', { cert: sent.map(pem).join('') }));
      const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
      expect(r.ok, what).toBe(true);
      expect(r.ok && pinsOf(r.served), what).toEqual(expected.map((f) => opensslPin(f)));
    }
  });
  it('links issuers exactly as getPeerCertificate(true) does, from the certificates as sent (linkIssuers)', async () => {
    const pem = (f: string) => readFileSync(pkiFile(f), 'utf8');
    const sends = [
      ['leaf.pem', 'intermediate.pem', 'root.pem'],
      ['leaf.pem', 'intermediate.pem', 'intermediate.pem', 'root.pem'],
      ['leaf.pem', 'root.pem', 'intermediate.pem'],
      ['leaf.pem', 'intermediate2.pem', 'intermediate.pem'],
      ['leaf.pem', 'leaf.pem', 'intermediate.pem'],
      ['leaf.pem', 'intermediate2.pem'],
      ['leaf.pem'],
      ['example-self-signed.pem', 'example-self-signed.pem'],
      ['leaf.pem', 'root.pem'],
      ['leaf.pem', 'intermediate.pem', 'root.pem', 'intermediate2.pem', 'root.pem'],
    ];
    const read = (port: number, f: (s: tls.TLSSocket) => Buffer[]) =>
      new Promise<string[]>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'api.pinctl.test', rejectUnauthorized: false, secureContext: tls.createSecureContext({ ca: [] }) }, () => {
          resolve(f(s).map((b) => b.toString('base64')));
          s.destroy();
        });
        s.once('error', reject);
      });
    for (const sent of sends) {
      const key = sent[0]!.startsWith('example') ? 'example-self-signed.key' : 'leaf.key';
      const s = keep(await tlsServer('chain.pem', key, { cert: sent.map(pem).join(''), key: readPki(key) }));
      const byNode = await read(s.port, (sock) => {
        const out: Buffer[] = [];
        const seen = new Set<object>();
        for (let c: tls.DetailedPeerCertificate | undefined = sock.getPeerCertificate(true); c?.raw && !seen.has(c); c = c.issuerCertificate) {
          seen.add(c);
          out.push(c.raw);
        }
        return out;
      });
      const ours = await read(s.port, (sock) => {
        const sentCerts: X509Certificate[] = [];
        for (let c = sock.getPeerX509Certificate(); c; c = c.issuerCertificate) sentCerts.push(c);
        return linkIssuers(sentCerts).map((c) => c.raw);
      });
      expect(ours, sent.join(' ')).toEqual(byNode);
    }
  });
  it('reads a leaf sent alone with getPeerX509Certificate (nothing after the first to leak), and nothing else with it', async () => {
    const pem = (f: string) => readFileSync(pkiFile(f), 'utf8');
    const spy = spyOnX509Reads();
    try {
      const alone = keep(await tlsServer('leaf.pem', 'leaf.key'));
      const r = await probeTls({ host: 'api.pinctl.test', port: alone.port, address: '127.0.0.1', timeoutMs: 3000 });
      expect(r.ok && pinsOf(r.served)).toEqual([opensslPin('leaf.pem')]);
      expect(spy.calls()).toBe(1);
      // OpenSSL found no issuer of the leaf, yet an unrelated certificate came with it: the result
      // is still the issuer-linked one, and that endpoint is not read with the leaking call again.
      const extra = keep(await tlsServer('chain.pem', 'leaf.key', { cert: ['leaf.pem', 'intermediate2.pem'].map(pem).join('') }));
      for (let i = 0; i < 3; i++) {
        const again = await probeTls({ host: 'api.pinctl.test', port: extra.port, address: '127.0.0.1', timeoutMs: 3000 });
        expect(again.ok && pinsOf(again.served)).toEqual([opensslPin('leaf.pem')]);
      }
      expect(spy.calls()).toBe(2);
    } finally {
      spy.restore();
    }
  });
  it('by default never calls getPeerX509Certificate when the leaf came with its issuers (it leaks them natively in Node 20)', async () => {
    const s = keep(await tlsServer('fullchain.pem', 'leaf.key'));
    const spy = spyOnX509Reads();
    try {
      const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000 });
      expect(r.ok && r.served.length).toBe(3);
      expect(spy.calls()).toBe(0);
      await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 3000, asSent: true });
      expect(spy.calls()).toBe(1); // the spy works
    } finally {
      spy.restore();
    }
  });
  it('a server sending 500 certificates fails cleanly', async () => {
    const leaf = readFileSync(pkiFile('chain.pem'), 'utf8');
    const inter = readFileSync(pkiFile('intermediate.pem'), 'utf8');
    const huge = leaf + inter.repeat(500);
    const s = keep(await tlsServer('chain.pem', 'leaf.key', { cert: huge }));
    const r = await probeTls({ host: 'api.pinctl.test', port: s.port, address: '127.0.0.1', timeoutMs: 5000 });
    if (r.ok) {
      expect(r.served.length).toBeLessThanOrEqual(32);
    } else {
      expect(r.error.code).toBe('CHAIN_TOO_LONG');
    }
  });
});
