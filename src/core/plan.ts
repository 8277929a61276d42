/**
 * The generator's decisions, pure: from observed chains (live or from files) to a PinSet and the
 * safety lints a careful engineer would raise before shipping pins to millions of devices.
 */
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import { CertInfo, shortName } from './certificate.js';
import { ChainEntry, ChainReport, isoDate } from './chain.js';
import { DomainPins, Endpoint, Pin, PinRole, PinSet, Warning, distinctPins } from './model.js';

export interface ChainSample {
  /** "127.0.0.1:443" for a live address, the file names for --cert. */
  label: string;
  chain: ChainReport;
  protocol?: string | null;
}

export interface Failure {
  label: string;
  code: string;
  message: string;
  hint?: string;
}

export interface DomainObservation {
  domain: string;
  endpoint: Endpoint;
  samples: ChainSample[];
  failures: Failure[];
}

export interface BackupKey {
  spkiSha256: string;
  source: string;
}

export interface PlanOptions {
  /** Which chain positions to pin. */
  roles: Exclude<PinRole, 'backup'>[];
  backups: BackupKey[];
  includeSubdomains: boolean;
  /** YYYY-MM-DD. */
  expiration: string;
  now: Date;
  /** Pin chains that do not validate (with a loud warning) instead of refusing them. */
  insecure: boolean;
}

export interface Plan {
  pinSet: PinSet;
  warnings: Warning[];
  /** Domains that produced no pins, with why (the CLI exits 2 when there are any). */
  errors: Failure[];
}

/** Default pins: the CA side of the chain. Leaf renewals (every 90 days with ACME) never break apps,
 * and the root pin still matches when the CA rotates to a new intermediate (the 2016 outage). */
export const DEFAULT_ROLES: Exclude<PinRole, 'backup'>[] = ['intermediate', 'root'];

export function defaultExpiration(now: Date): string {
  const d = new Date(now.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return isoDate(d);
}

export function parseExpiration(value: string, now: Date): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || isoDate(d) !== value) {
    throw new InputError('USAGE', `--expiration ${value}: expected a date as YYYY-MM-DD`, { hint: 'example: --expiration 2031-01-31' });
  }
  if (value <= isoDate(now)) {
    throw new InputError('USAGE', `--expiration ${value}: the date has passed, so the pins would never be enforced`, { hint: `use a date after ${isoDate(now)}` });
  }
  return value;
}

function entriesFor(chain: ChainReport, role: Exclude<PinRole, 'backup'>): ChainEntry[] {
  const e = chain.entries;
  if (role === 'leaf') return e.slice(0, 1);
  if (role === 'root') return e.length > 1 && e[e.length - 1]!.position === 'root' ? e.slice(-1) : [];
  return e.filter((x) => x.position === 'intermediate');
}

function pinOf(cert: CertInfo, role: PinRole, source: string): Pin {
  return { spkiSha256: cert.spkiSha256, role, subject: cert.subject, notAfter: cert.notAfter.toISOString(), source };
}

/** One entry per domain: the same name probed on several ports (or listed twice) is one domain
 * in every config format, so its chains, failures and endpoints are pooled. */
export function mergeObservations(observations: DomainObservation[]): (DomainObservation & { endpoints: Endpoint[] })[] {
  const byDomain = new Map<string, DomainObservation & { endpoints: Endpoint[] }>();
  for (const o of observations) {
    const m = byDomain.get(o.domain);
    if (!m) {
      byDomain.set(o.domain, { ...o, samples: [...o.samples], failures: [...o.failures], endpoints: [o.endpoint] });
      continue;
    }
    m.samples.push(...o.samples);
    m.failures.push(...o.failures);
    if (!m.endpoints.some((e) => e.port === o.endpoint.port && e.host === o.endpoint.host)) m.endpoints.push(o.endpoint);
  }
  return [...byDomain.values()];
}

export function planPins(observations: DomainObservation[], opts: PlanOptions): Plan {
  const warnings: Warning[] = [];
  const errors: Failure[] = [];
  const domains: DomainPins[] = [];
  for (const obs of mergeObservations(observations)) {
    const w = (code: string, severity: Warning['severity'], message: string) => warnings.push({ code, severity, domain: obs.domain, message });
    if (obs.samples.length === 0) {
      const why = obs.failures.map((f) => f.message).join('; ') || 'no address answered';
      errors.push({ label: obs.domain, code: obs.failures[0]?.code ?? 'NETWORK', message: why, hint: obs.failures[0]?.hint });
      continue;
    }
    for (const f of obs.failures) w('unreachable-address', 'warning', `${f.message} (other addresses answered, so their chains are used)`);

    // A name mismatch does not change which keys the server holds (and users probe by address),
    // so it is a danger warning; an untrusted, incomplete or expired chain is refused.
    for (const s of obs.samples) {
      const m = s.chain.problems.find((p) => p.code === 'hostname-mismatch');
      if (m) w('hostname-mismatch', 'danger', `${s.label}: ${m.message}; apps connecting to ${obs.domain} will reject this certificate`);
    }
    const fatal = (s: ChainSample) => s.chain.problems.filter((p) => p.code !== 'hostname-mismatch');
    const invalid = obs.samples.filter((s) => fatal(s).length > 0);
    if (invalid.length > 0 && !opts.insecure) {
      const s = invalid[0]!;
      errors.push({
        label: obs.domain,
        code: 'UNTRUSTED',
        message: `${obs.domain} (${s.label}): the chain does not validate: ${fatal(s).map((p) => p.message).join('; ')}`,
        hint: 'for a private CA pass --ca-file ROOT.pem; to pin this chain anyway pass --insecure',
      });
      continue;
    }
    for (const s of invalid) {
      w('insecure', 'danger', `--insecure: pinning a chain that does not validate at ${s.label}: ${fatal(s).map((p) => p.message).join('; ')}. Apps will reject it unless they trust its root.`);
    }

    const pins: Pin[] = [];
    const add = (p: Pin) => {
      if (!pins.some((q) => q.spkiSha256 === p.spkiSha256 && q.role === p.role)) pins.push(p);
    };
    for (const role of opts.roles) {
      let found = false;
      for (const s of obs.samples) {
        for (const e of entriesFor(s.chain, role)) {
          add(pinOf(e.cert, role, e.source === 'trust-store' ? `trust store (${s.label})` : s.label));
          found = true;
        }
      }
      if (!found) w(`no-${role}`, 'warning', `--pin ${role}: the chain has no ${role} certificate, so none was pinned`);
    }
    for (const b of opts.backups) add({ spkiSha256: b.spkiSha256, role: 'backup', subject: null, notAfter: null, source: b.source });
    if (pins.length === 0) {
      // An empty pin-set would switch pinning off on Android: refuse rather than write one.
      errors.push({ label: obs.domain, code: 'NO_PINS', message: `${obs.domain}: nothing to pin: the chain has no ${opts.roles.join(' or ')} certificate`, hint: 'choose other positions with --pin, or add --backup-key' });
      continue;
    }

    const domain: DomainPins = { domain: obs.domain, includeSubdomains: opts.includeSubdomains, pins, endpoints: obs.endpoints };
    if (isIP(obs.domain)) {
      w('ip-literal', 'warning', `${obs.domain} is an IP address: Android and OkHttp match it as a name, but iOS App Transport Security does not pin IP addresses, and apps normally call a host name. Pin the name (use --resolve NAME:PORT:${obs.domain} to reach it)`);
    }
    domains.push(domain);
    lintDomain(domain, obs, opts, w);
  }
  if (opts.includeSubdomains && domains.length > 0) {
    warnings.push({
      code: 'subdomain-semantics',
      severity: 'info',
      message:
        'include-subdomains means different things per platform: Android and TrustKit cover every subdomain; OkHttp gets "**.domain" (the domain and any depth); iOS NSIncludesSubdomains covers one extra label only. Check every host your app calls is covered where you expect.',
    });
  }
  return { pinSet: { expiration: opts.expiration, domains }, warnings, errors };
}

type Emit = (code: string, severity: Warning['severity'], message: string) => void;

function lintDomain(d: DomainPins, obs: DomainObservation, opts: PlanOptions, w: Emit): void {
  const all = distinctPins(d);
  if (all.length < 2) {
    w('too-few-pins', 'danger', `only ${all.length} distinct pin: one key change bricks the app. Pin another position (--pin) or add a backup (--backup-key / --new-backup-key)`);
  }
  const live = new Set(obs.samples.flatMap((s) => s.chain.entries.map((e) => e.cert.spkiSha256)));
  for (const b of d.pins.filter((p) => p.role === 'backup')) {
    if (live.has(b.spkiSha256)) w('backup-in-service', 'danger', `backup pin ${b.spkiSha256} (${b.source}) is a key the server uses today, so it is no backup`);
  }
  if (!d.pins.some((p) => p.role === 'backup' || !live.has(p.spkiSha256))) {
    w('no-backup', 'warning', 'every pin is a key in the live chain; add a backup key kept offline (--new-backup-key DIR) so a compromised or lost key can be replaced without an app update');
  }
  for (const p of d.pins) {
    if (p.notAfter && p.notAfter.slice(0, 10) < opts.expiration) {
      const extra = p.role === 'leaf' ? ' (the pin survives only if the certificate is renewed with the same key)' : '';
      w('expires-before-pin-set', 'warning', `the pinned ${p.role} "${p.subject}" expires on ${p.notAfter.slice(0, 10)}, before the pin-set expiration ${opts.expiration}${extra}`);
    }
  }
  const fingerprints = new Map<string, string[]>();
  for (const s of obs.samples) {
    const key = s.chain.entries.map((e) => e.cert.spkiSha256).join(',');
    fingerprints.set(key, [...(fingerprints.get(key) ?? []), s.label]);
  }
  if (fingerprints.size > 1) {
    const groups = [...fingerprints.values()].map((labels) => labels.join(' ')).join(' | ');
    w('address-disagreement', 'warning', `the addresses serve different keys (${groups}); pins were taken from all of them. A CDN or geo-distributed service: make sure every region's chain is covered`);
  }
  for (const s of obs.samples) {
    const served = s.chain.entries.filter((e) => e.source === 'served');
    const leaf = s.chain.entries[0]!.cert;
    if (served.length === 1 && !leaf.selfIssued) {
      w('leaf-only-chain', 'warning', `${s.label} sends only its leaf certificate; clients that do not fetch missing intermediates fail. Configure the server to send the full chain`);
    }
    const last = s.chain.entries[s.chain.entries.length - 1]!;
    if (!s.chain.trusted && last.cert.selfIssued && s.chain.entries.length > 1) {
      w('root-not-in-store', 'warning', `${s.label}: the root "${shortName(last.cert)}" is not in the trust store; devices without it reject the chain before pins are checked`);
    } else if (!s.chain.trusted) {
      w('root-not-in-store', 'warning', `${s.label}: the chain does not reach a root of the trust store`);
    }
    if (s.chain.reordered) w('reordered-chain', 'info', `${s.label} sends its certificates out of order (leaf → issuer expected)`);
    if (s.chain.unused.length > 0) w('unused-certificates', 'info', `${s.label} sends ${s.chain.unused.length} certificate(s) not on the path`);
    for (const e of s.chain.entries) {
      if ((e.cert.keyType === 'rsa' || e.cert.keyType === 'rsa-pss') && (e.cert.keyBits ?? 0) < 2048) {
        w('weak-key', 'warning', `${e.position} "${shortName(e.cert)}" has a ${e.cert.keyBits}-bit RSA key (2048 at least)`);
      }
    }
  }
}
