/**
 * The pre-publish guard: before a pin set is signed, every endpoint recorded for each domain must
 * serve a chain holding at least one of the new pins. A pin set that today's servers do not match
 * would make every app that applies it fail closed.
 *
 * Only a pin match is required, not a validated chain: the service's trust store is not the apps',
 * so completing the chain against it would prove nothing about the devices.
 */
import { parseCertificate } from '../core/certificate.js';
import { buildChain } from '../core/chain.js';
import { TrustStore, isAnchor, makeTrustStore } from '../core/trust-store.js';
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import type { TrustRoot } from '../bundle/types.js';
import { PinSet, distinctPins } from '../core/model.js';
import { formatAddress } from '../core/target.js';
import { describeError } from '../errors.js';
import { spkiSha256OfCertificate } from '../bundle/payload.js';
import { Prober, probeTls } from '../net/probe.js';
import { Resolver, resolveAll } from '../net/resolve.js';
import { runBounded } from '../net/observe.js';

export const DEFAULT_GUARD_TIMEOUT_MS = 5_000;
/** The guard probes at most this many addresses per publish: a pin set is not a scan list. */
export const MAX_GUARD_ADDRESSES = 64;

export interface GuardTarget {
  domain: string;
  pins: string[];
  host: string;
  port: number;
  /** Empty: resolve `host` (the pins JSON recorded no addresses). */
  addresses: string[];
}

export interface GuardFailure {
  domain: string;
  host: string;
  port: number;
  /** null when the name did not resolve. */
  address: string | null;
  /** The SPKI pins of the chain the address served (empty when it could not be probed). */
  served: string[];
  /** Why the address could not be probed, when it could not. */
  error?: string;
  code?: string;
}

export interface GuardResult {
  ok: boolean;
  /** Addresses probed. */
  checked: number;
  failures: GuardFailure[];
}

export interface GuardOptions {
  timeoutMs?: number;
  probe?: Prober;
  resolve?: Resolver;
  concurrency?: number;
}

/** Where to probe: each endpoint the pins JSON recorded, else the domain itself on port 443. */
export function guardTargets(pinSet: PinSet): GuardTarget[] {
  return pinSet.domains.flatMap((d) => {
    const pins = distinctPins(d);
    const endpoints = d.endpoints.length > 0 ? d.endpoints : [{ host: d.domain, port: 443, addresses: [] }];
    return endpoints.map((e) => ({ domain: d.domain, pins, host: e.host, port: e.port, addresses: [...new Set(e.addresses)] }));
  });
}

/** SPKI pins of every certificate served (unparsable certificates have no pin). */
/**
 * Pins of the served certificates on a signature-checked path from the leaf (the rule the SDK
 * enforces): a decoy certificate that merely carries an issuer's name and key identifier must not
 * let a pin pass the guard that apps would then reject.
 */
export function servedPins(served: Uint8Array[]): string[] {
  const certs = [];
  for (const der of served) {
    try {
      certs.push(parseCertificate(der));
    } catch {
      break; // an unparsable certificate ends the path
    }
  }
  if (certs.length === 0) return served.slice(0, 1).map(spkiSha256OfCertificate).filter((p): p is string => p !== null);
  const path = buildChain(certs, makeTrustStore([], 'none'), { now: new Date() }).entries;
  return path.map((e) => e.cert.spkiSha256);
}

/** A pin anywhere in the served chain (leaf, intermediates, root if sent) is a match. */
export function chainMatches(served: string[], pins: string[]): boolean {
  return served.some((p) => pins.includes(p));
}

const bareName = (h: string) => h.toLowerCase().replace(/\.$/, '');

/**
 * The guard probes only the domains of the posted pin set: an endpoint's host must be the domain
 * itself, a subdomain of it when the entry includes subdomains (the pins apply there too), or a
 * name that resolves only to addresses the domain resolves to. Anything else the request names
 * is refused before a single probe (the admin API must not become a way to reach other hosts).
 */
async function refusedTargets(targets: GuardTarget[], pinSet: PinSet, resolve: Resolver, timeoutMs: number): Promise<string[]> {
  const refused: string[] = [];
  const domainAddresses = new Map<string, Promise<string[]>>();
  const addressesOf = (name: string) => {
    if (!domainAddresses.has(name)) domainAddresses.set(name, resolve(name, { timeoutMs }).catch(() => []));
    return domainAddresses.get(name)!;
  };
  for (const t of targets) {
    const host = bareName(t.host);
    const domain = bareName(t.domain);
    const entry = pinSet.domains.find((d) => bareName(d.domain) === domain);
    for (const a of t.addresses) if (isIP(a) === 0) refused.push(`${t.domain}: endpoint address ${JSON.stringify(a)} is not an IP address`);
    if (host === domain || (entry?.includeSubdomains && host.endsWith(`.${domain}`))) continue;
    const [mine, theirs] = await Promise.all([addressesOf(host), addressesOf(domain)]);
    if (mine.length > 0 && theirs.length > 0 && mine.every((a) => theirs.includes(a))) continue;
    const sub = entry?.includeSubdomains ? ', a subdomain of it,' : '';
    refused.push(`${t.domain}: endpoint host ${t.host} is neither the domain${sub} nor a name resolving to its addresses`);
  }
  return refused;
}

export async function runGuard(pinSet: PinSet, opts: GuardOptions = {}): Promise<GuardResult> {
  const probe = opts.probe ?? probeTls;
  const resolve = opts.resolve ?? resolveAll;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GUARD_TIMEOUT_MS;
  const failures: GuardFailure[] = [];
  const jobs: { t: GuardTarget; address: string }[] = [];
  const targets = guardTargets(pinSet);
  const refused = await refusedTargets(targets, pinSet, resolve, timeoutMs);
  if (refused.length > 0) {
    throw new InputError('USAGE', `pre-publish guard: ${refused[0]}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}; nothing was probed or signed`, {
      hint: 'list endpoints under the domain they serve (host = the domain, or a subdomain when includeSubdomains); the guard probes nothing else',
    });
  }
  for (const t of targets) {
    let addresses = t.addresses;
    if (addresses.length === 0) {
      try {
        addresses = await resolve(t.host, { timeoutMs }); // a silent resolver costs the guard's deadline, no more
      } catch (e) {
        failures.push({ domain: t.domain, host: t.host, port: t.port, address: null, served: [], error: describeError(e), code: 'DNS' });
        continue;
      }
    }
    for (const address of addresses) jobs.push({ t, address });
    if (jobs.length > MAX_GUARD_ADDRESSES) {
      throw new InputError('USAGE', `pre-publish guard: the pin set names more than ${MAX_GUARD_ADDRESSES} addresses to probe; nothing was probed or signed`, {
        hint: `publish at most ${MAX_GUARD_ADDRESSES} endpoint addresses (e.g. one per region), or publish in parts with ?merge=1`,
      });
    }
  }
  await runBounded(jobs, opts.concurrency ?? 16, async ({ t, address }) => {
    const r = await probe({ host: t.host, port: t.port, address, timeoutMs });
    if (!r.ok) {
      failures.push({ domain: t.domain, host: t.host, port: t.port, address, served: [], error: r.error.message, code: r.error.code });
      return;
    }
    const served = servedPins(r.served);
    if (!chainMatches(served, t.pins)) failures.push({ domain: t.domain, host: t.host, port: t.port, address, served });
  });
  const order = (f: GuardFailure) => `${f.domain}\u0000${f.host}\u0000${String(f.port).padStart(5, '0')}\u0000${f.address ?? ''}`;
  failures.sort((a, b) => order(a).localeCompare(order(b)));
  return { ok: failures.length === 0, checked: jobs.length, failures };
}

/** One line per failure, for error messages and logs. */
export function describeGuardFailure(f: GuardFailure): string {
  const where = f.address === null ? `${f.host}:${f.port}` : formatAddress(f.address, f.port);
  if (f.error) return `${f.domain} at ${where}: could not be probed (${f.error})`;
  return `${f.domain} at ${where} serves ${f.served.length ? f.served.join(', ') : 'no parsable certificate'}, none of the new pins`;
}

export interface RootFailure {
  name: string;
  subject: string;
  spkiSha256: string;
  reason: 'not-yet-valid' | 'expired' | 'unknown';
  message: string;
}

/**
 * The trust-roots guard: every root (already a self-issued CA certificate, payloads.ts) must be
 * valid now and be an anchor of the configured trust store (same subject and key). A root apps
 * would trust that the operator's own store does not is a typo or an injection.
 */
export function checkTrustRoots(roots: TrustRoot[], store: TrustStore, now: Date): RootFailure[] {
  const failures: RootFailure[] = [];
  for (const r of roots) {
    const c = parseCertificate(Buffer.from(r.certificate, 'base64'));
    const base = { name: r.name, subject: c.subject, spkiSha256: r.spkiSha256 };
    const t = now.getTime();
    if (c.notBefore.getTime() > t) failures.push({ ...base, reason: 'not-yet-valid', message: `${r.name}: not valid before ${c.notBefore.toISOString()}` });
    else if (c.notAfter.getTime() < t) failures.push({ ...base, reason: 'expired', message: `${r.name}: expired at ${c.notAfter.toISOString()}` });
    if (!isAnchor(store, c)) failures.push({ ...base, reason: 'unknown', message: `${r.name}: not in the trust store (${store.label})` });
  }
  return failures;
}
