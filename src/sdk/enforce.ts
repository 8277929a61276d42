/**
 * The connection-time check shared by the https.Agent and the undici dispatcher. It runs inside
 * tls `checkServerIdentity`, i.e. only after OpenSSL validated the chain and the session was not
 * resumed (the agents disable session caching so every connection gets here).
 */
import tls, { type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { certificateSpki } from '../core/x509-structure.js';
import { spkiSha256 } from '../core/pin.js';
import { PinningError } from './errors.js';
import type { PinReport } from './report.js';

/** What the agents need from a PinClient, kept off its public surface. */
export interface Enforcer {
  /** Changes whenever the pins or trust roots in force change: older pooled connections are dropped. */
  generation(): number;
  pinsFor(host: string): string[];
  /** Listed root pins while a trust-root bundle is in force, else null. */
  trustRootPins(): ReadonlySet<string> | null;
  report(r: Pick<PinReport, 'type' | 'domain' | 'port' | 'chainPins' | 'expectedPins'>): void;
  watch(agent: { dropIdle(): void }): void;
}

const MAX_CHAIN = 16;

/**
 * SPKI pins along issuerCertificate from the leaf. Node builds that list by issuer *name* from the
 * served certificates and the trust store, so a link counts only if its issuer's key really signed
 * it: a served decoy certificate carrying a pinned key cannot satisfy a pin.
 */
export function verifiedChainPins(peer: PeerCertificate): string[] {
  const pins: string[] = [];
  const seen = new Set<object>();
  let cert = peer as DetailedPeerCertificate | undefined;
  let child: X509Certificate | undefined;
  while (cert?.raw && !seen.has(cert) && pins.length < MAX_CHAIN) {
    seen.add(cert);
    try {
      const x = new X509Certificate(cert.raw);
      if (child && !(child.checkIssued(x) && child.verify(x.publicKey))) break;
      pins.push(spkiSha256(certificateSpki(cert.raw)));
      child = x;
    } catch {
      break;
    }
    cert = cert.issuerCertificate;
  }
  return pins;
}

/** Pins of the certificates the connection trusts: the agent's `ca`, else Node's root store. */
export function platformTrust(ca: tls.SecureContextOptions['ca']): () => ReadonlySet<string> {
  let pins: Set<string> | undefined;
  return () => {
    if (pins) return pins;
    const sources = ca === undefined ? [...tls.rootCertificates] : Array.isArray(ca) ? ca : [ca];
    pins = new Set();
    for (const source of sources) {
      const text = Buffer.isBuffer(source) ? source.toString('latin1') : source;
      const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
      for (const c of pems ?? [source]) {
        try {
          pins.add(spkiSha256(certificateSpki(new X509Certificate(c).raw)));
        } catch {
          /* not a certificate: it cannot anchor anything either */
        }
      }
    }
    return pins;
  };
}

/** checkServerIdentity with pins: hostname first, then pins (SPEC §3.1), then trust roots (§3.2). */
export function checkPeer(e: Enforcer, host: string, port: number, cert: PeerCertificate, platform: () => ReadonlySet<string>): Error | undefined {
  const identity = tls.checkServerIdentity(host, cert);
  if (identity) return identity;
  const expected = e.pinsFor(host);
  const roots = e.trustRootPins();
  if (expected.length === 0 && !roots) return undefined;
  const chainPins = verifiedChainPins(cert);
  if (expected.length > 0 && !chainPins.some((p) => expected.includes(p))) return fail(e, { host, port, reason: 'pin-mismatch', chainPins, expectedPins: expected });
  if (roots) {
    // The anchor is a key: a cross-signed copy of a trusted root carries the same SPKI.
    const trusted = platform();
    if (!chainPins.some((p) => roots.has(p) && trusted.has(p))) return fail(e, { host, port, reason: 'untrusted-root', chainPins, expectedPins: [...roots] });
  }
  return undefined;
}

function fail(e: Enforcer, f: ConstructorParameters<typeof PinningError>[0]): PinningError {
  e.report({ type: f.reason, domain: f.host, port: f.port, chainPins: f.chainPins, expectedPins: f.expectedPins });
  return new PinningError(f);
}
