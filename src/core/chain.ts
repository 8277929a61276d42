/**
 * Chain ordering, completion and validation, the way a TLS client does it: start at the leaf,
 * follow issuer links through what the server sent, and finish at an anchor of the trust store
 * (adding the root from the store when the server did not send it). Signatures are checked with
 * node:crypto (OpenSSL); the clock is passed in.
 */
import { CertInfo, shortName } from './certificate.js';
import { TrustStore, isAnchor } from './trust-store.js';
import { isIP } from 'node:net';

export type Position = 'leaf' | 'intermediate' | 'root';

export interface ChainEntry {
  cert: CertInfo;
  position: Position;
  /** 'served' when the peer (or the file) provided it; 'trust-store' when we completed the chain. */
  source: 'served' | 'trust-store';
}

export type ChainProblemCode =
  | 'expired'
  | 'not-yet-valid'
  | 'untrusted-root'
  | 'incomplete'
  | 'not-a-ca'
  | 'hostname-mismatch'
  | 'self-signed-leaf';

export interface ChainProblem {
  code: ChainProblemCode;
  message: string;
}

export interface ChainReport {
  entries: ChainEntry[];
  /** True when the served certificates were not in leaf → issuer order. */
  reordered: boolean;
  /** Served certificates that are not on the path (extra or unrelated). */
  unused: CertInfo[];
  /** The path ends at an anchor of the trust store. */
  trusted: boolean;
  problems: ChainProblem[];
  /** Trusted and without problems: what a strict client would accept. */
  valid: boolean;
}

const MAX_DEPTH = 10;

/** Did `issuer` sign `child`? Names and key identifiers first (cheap), then the signature. */
const verified = new Map<string, boolean>();
export function issued(issuer: CertInfo, child: CertInfo): boolean {
  return child.x509.checkIssued(issuer.x509) && signedBy(issuer, child);
}

function signedBy(issuer: CertInfo, child: CertInfo): boolean {
  const key = `${issuer.sha256Fingerprint}>${child.sha256Fingerprint}`;
  let ok = verified.get(key);
  if (ok === undefined) {
    try {
      ok = child.x509.verify(issuer.x509.publicKey);
    } catch {
      ok = false;
    }
    if (verified.size > 20000) verified.clear();
    verified.set(key, ok);
  }
  return ok;
}

/** Self-signed: issuer = subject and its own key verifies it. (OpenSSL's checkIssued would also
 * demand keyCertSign, which a self-signed leaf does not have.) */
function selfSigned(c: CertInfo): boolean {
  return c.selfIssued && signedBy(c, c);
}

/** The leaf is the first certificate that issued none of the others (servers put it first). */
function pickLeaf(certs: CertInfo[]): number {
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i]!;
    const issuesAnother = certs.some((o, j) => j !== i && !selfSigned(o) && issued(c, o));
    if (!issuesAnother) return i;
  }
  return 0;
}

export interface ChainOptions {
  now: Date;
  /** Host name (or IP) the leaf must be valid for; omitted when checking files. */
  hostname?: string;
}

export function buildChain(served: CertInfo[], store: TrustStore, opts: ChainOptions): ChainReport {
  if (served.length === 0) throw new Error('buildChain needs at least one certificate');
  const remaining = [...served];
  const leafIndex = pickLeaf(remaining);
  const path: ChainEntry[] = [{ cert: remaining.splice(leafIndex, 1)[0]!, position: 'leaf', source: 'served' }];
  let trusted = false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const current = path[path.length - 1]!.cert;
    if (isAnchor(store, current)) {
      trusted = true;
      break;
    }
    if (selfSigned(current)) break;
    const fromServed = remaining.findIndex((c) => issued(c, current));
    if (fromServed >= 0) {
      path.push({ cert: remaining.splice(fromServed, 1)[0]!, position: 'intermediate', source: 'served' });
      continue;
    }
    const anchor = (store.bySubject.get(current.issuerKey) ?? []).find((a) => issued(a, current));
    if (anchor) {
      path.push({ cert: anchor, position: 'intermediate', source: 'trust-store' });
      trusted = true;
    }
    break;
  }
  const last = path[path.length - 1]!;
  if (path.length > 1 && last.cert.selfIssued) last.position = 'root';

  const served0 = served.map((c) => c.sha256Fingerprint);
  const pathServed = path.filter((e) => e.source === 'served').map((e) => e.cert.sha256Fingerprint);
  const reordered = pathServed.some((fp, i) => served0[i] !== fp);

  // The walk stopped at the depth limit, not for want of an issuer.
  const depthLimited = !trusted && path.length > MAX_DEPTH && !selfSigned(last.cert);
  const problems = validate(path, trusted, store, opts, depthLimited);
  return { entries: path, reordered, unused: remaining, trusted, problems, valid: problems.length === 0 };
}

function validate(path: ChainEntry[], trusted: boolean, store: TrustStore, opts: ChainOptions, depthLimited: boolean): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const now = opts.now.getTime();
  for (const e of path) {
    const name = `${e.position} "${shortName(e.cert)}"`;
    if (e.cert.notAfter.getTime() < now) {
      problems.push({ code: 'expired', message: `${name} expired on ${isoDate(e.cert.notAfter)}` });
    } else if (e.cert.notBefore.getTime() > now) {
      problems.push({ code: 'not-yet-valid', message: `${name} is not valid before ${isoDate(e.cert.notBefore)}` });
    }
  }
  for (const e of path.slice(1)) {
    if (e.source === 'served' && !e.cert.isCA) {
      problems.push({ code: 'not-a-ca', message: `${e.position} "${shortName(e.cert)}" signs another certificate but is not a CA (basicConstraints)` });
    }
  }
  const leaf = path[0]!.cert;
  const last = path[path.length - 1]!;
  if (!trusted) {
    if (path.length === 1 && selfSigned(leaf)) {
      problems.push({ code: 'self-signed-leaf', message: `the leaf "${shortName(leaf)}" is self-signed and not in the trust store (${store.label})` });
    } else if (selfSigned(last.cert)) {
      problems.push({ code: 'untrusted-root', message: `the root "${shortName(last.cert)}" is not in the trust store (${store.label})` });
    } else if (depthLimited) {
      problems.push({
        code: 'incomplete',
        message: `the path from the leaf reached the depth limit of ${MAX_DEPTH + 1} certificates at "${shortName(last.cert)}" before any trust anchor: chains that long are not real PKI (clients stop at a similar depth)`,
      });
    } else {
      problems.push({
        code: 'incomplete',
        message: `no issuer found for "${shortName(last.cert)}" (issuer "${last.cert.issuer || '(empty)'}") among the served certificates or in the trust store (${store.label})`,
      });
    }
  }
  const mismatch = opts.hostname === undefined ? null : hostnameProblem(leaf, opts.hostname);
  if (mismatch) problems.push(mismatch);
  return problems;
}

/** The one problem that depends on the name asked for (always the last in a report's list). */
export function hostnameProblem(leaf: CertInfo, h: string): ChainProblem | null {
  const ok = isIP(h) ? leaf.x509.checkIP(h) !== undefined : leaf.x509.checkHost(h) !== undefined;
  if (ok) return null;
  const names = leaf.subjectAltNames.join(', ') || leaf.subject || 'an empty subject';
  return { code: 'hostname-mismatch', message: `the leaf is for ${names}, not ${h}` };
}

/**
 * What the clock decides in a report: per path entry, expired, not yet valid or neither. Two
 * reports of one served chain with the same signature differ at most in the name checked.
 */
export function validitySignature(entries: ChainEntry[], now: Date): string {
  const t = now.getTime();
  const status = (c: CertInfo) => (c.notAfter.getTime() < t ? 'x' : c.notBefore.getTime() > t ? 'y' : '.');
  return entries.map((e) => status(e.cert)).join('');
}

export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}
