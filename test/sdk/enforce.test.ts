import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls, { type DetailedPeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { checkPeer, platformTrust, verifiedChainPins, type Enforcer } from '../../src/sdk/enforce.js';
import { PinningError } from '../../src/sdk/index.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { PIN, startAppServer, tempDir } from './helpers.js';

const der = (pem: Buffer | string) => new X509Certificate(pem).raw;

/** A stand-in for getPeerCertificate(true): raw DER linked by issuerCertificate. */
function chain(...ders: Buffer[]): DetailedPeerCertificate {
  const certs = ders.map((raw) => ({ raw }) as DetailedPeerCertificate);
  certs.forEach((c, i) => (c.issuerCertificate = certs[i + 1] ?? c));
  return certs[0]!;
}

const enforcer = (pins: string[], roots: string[] | null): Enforcer & { reports: unknown[] } => {
  const reports: unknown[] = [];
  return { reports, generation: () => 0, pinsFor: () => pins, trustRootPins: () => roots && new Set(roots), report: (r) => void reports.push(r), watch: () => {} };
};

describe('verifiedChainPins', () => {
  it('walks leaf → intermediate → root and stops at the self-issued root', () => {
    expect(verifiedChainPins(chain(der(readPki('leaf.pem')), der(readPki('intermediate.pem')), der(readPki('root.pem'))))).toEqual([PIN.leaf, PIN.intermediate, PIN.root]);
  });

  it('does not count a decoy issuer that carries a pinned key but did not sign the leaf', () => {
    const dir = tempDir();
    try {
      // Same subject name as the real intermediate, the (pinned) backup key, no key identifiers.
      const cfg = join(dir, 'decoy.cnf');
      writeFileSync(cfg, '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:true\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n');
      const decoy = execFileSync('openssl', ['req', '-x509', '-new', '-key', pkiFile('backup.key'), '-subj', '/O=pinctl test/CN=pinctl Test Intermediate CA', '-days', '1', '-config', cfg, '-extensions', 'ext']);
      expect(verifiedChainPins(chain(der(readPki('leaf.pem')), der(decoy)))).toEqual([PIN.leaf]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on a certificate that does not parse', () => {
    expect(verifiedChainPins(chain(der(readPki('leaf.pem')), Buffer.from('not a certificate')))).toEqual([PIN.leaf]);
  });
});

describe('platformTrust', () => {
  it('reads the pins of a PEM bundle given as ca, and Node’s root store otherwise', () => {
    expect([...platformTrust(readPki('roots.pem'))()]).toEqual([PIN.root, PIN.rootRsa]);
    expect([...platformTrust([readPki('root.pem').toString(), der(readPki('root-rsa.pem'))])()]).toEqual([PIN.root, PIN.rootRsa]);
    const system = platformTrust(undefined)();
    expect(system.size).toBeGreaterThan(50);
    expect(system.has(PIN.root)).toBe(false);
  });
});

describe('checkPeer on a real handshake', () => {
  it('needs the listed root to be trusted by the connection as well as listed', async () => {
    const app = await startAppServer();
    try {
      const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: app.port, servername: 'api.pinctl.test', ca: readPki('root.pem') }, () => {
          resolve(s.getPeerCertificate(true));
          s.destroy();
        });
        s.on('error', reject);
      });
      const trusted = platformTrust(readPki('root.pem'));
      expect(checkPeer(enforcer([], [PIN.root]), 'api.pinctl.test', 443, peer, trusted)).toBeUndefined();
      const e = enforcer([], [PIN.root]);
      const err = checkPeer(e, 'api.pinctl.test', 443, peer, () => new Set());
      expect(err).toBeInstanceOf(PinningError);
      expect(err).toMatchObject({ reason: 'untrusted-root' });
      expect(e.reports).toHaveLength(1);
      // Hostname verification still comes first.
      expect(checkPeer(enforcer([PIN.leaf, PIN.backup], null), 'other.test', 443, peer, trusted)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      await app.close();
    }
  });
});
