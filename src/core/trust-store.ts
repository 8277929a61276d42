/**
 * A trust store: the anchors a client would accept. Built from certificates (pure); loading a
 * file or the system bundle is the caller's I/O (see src/net/trust-store-file.ts).
 */
import { CertInfo } from './certificate.js';

export interface TrustStore {
  /** Where the anchors came from, for messages: a file path or "Node's bundled Mozilla store". */
  label: string;
  certs: CertInfo[];
  /** Raw subject string (node's form) → anchors with that subject. */
  bySubject: Map<string, CertInfo[]>;
  /** SPKI pins of all anchors. */
  spkiPins: Set<string>;
}

export function makeTrustStore(certs: CertInfo[], label: string): TrustStore {
  const bySubject = new Map<string, CertInfo[]>();
  for (const c of certs) {
    const list = bySubject.get(c.subjectKey) ?? [];
    list.push(c);
    bySubject.set(c.subjectKey, list);
  }
  return { label, certs, bySubject, spkiPins: new Set(certs.map((c) => c.spkiSha256)) };
}

/** Is this certificate itself an anchor (same subject and same key as one in the store)? */
export function isAnchor(store: TrustStore, cert: CertInfo): boolean {
  return (store.bySubject.get(cert.subjectKey) ?? []).some((a) => a.spkiSha256 === cert.spkiSha256);
}
