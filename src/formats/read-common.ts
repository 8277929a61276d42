/** What the config readers share: pin checks, domain checks, and folding several expirations into one. */
import { Pin, PinRole, PinSet, Warning } from '../core/model.js';
import { isPin } from '../vocab/pin.js';
import { hostNameProblem, normalizeHostName } from '../vocab/hostname.js';
import { InputError } from '../errors.js';
import { isHostName } from './validate.js';

export interface ReadOutput {
  pinSet: PinSet;
  warnings: Warning[];
}

export function where(source: string, line: number | undefined): string {
  return line === undefined ? source : `${source}: line ${line}`;
}

export function checkPin(value: string, domain: string, at: string): string {
  const v = value.trim();
  if (isPin(v)) return v;
  const hint = /^sha(1|256)\//i.test(v)
    ? 'write the bare base64 value: the "sha256/" prefix is OkHttp notation, not part of this format'
    : 'a pin is base64(SHA-256(SubjectPublicKeyInfo)): 44 characters ending in "="; compute one with `pinctl pins CERT.pem`';
  throw new InputError('CONFIG_MALFORMED', `${at}: ${domain}: expected a pin (base64 of 32 bytes), found "${v.length > 60 ? `${v.slice(0, 60)}…` : v}" (${v.length} characters)`, { hint });
}

export function checkDomain(raw: string, seen: Map<string, string>, at: string): string {
  const domain = normalizeHostName(raw);
  if (!isHostName(domain)) {
    throw new InputError('CONFIG_MALFORMED', `${at}: expected a host name such as api.example.com, found "${raw.slice(0, 80)}": ${hostNameProblem(raw) ?? 'not a host name'}`, {
      hint: 'no scheme, port, path or wildcard',
    });
  }
  const before = seen.get(domain);
  if (before !== undefined) {
    throw new InputError('CONFIG_MALFORMED', `${at}: expected each domain once, found ${domain} again (first at ${before})`, {
      hint: 'the platform refuses duplicate domains; merge the two entries',
    });
  }
  seen.set(domain, at);
  return domain;
}

/**
 * Android, TrustKit and other readers of formats without roles: the platform matches these pins
 * against any certificate of the chain, so the role is not recorded in the file. The model has no
 * "unknown" role; 'leaf' is a placeholder that checkers must not read as "leaf position only" for
 * these formats (they key off ReadResult.format).
 */
export function anyPositionPins(values: string[], source: string): Pin[] {
  return values.map((v) => rolePin(v, 'leaf', source));
}

export function rolePin(value: string, role: PinRole, source: string): Pin {
  return { spkiSha256: value, role, subject: null, notAfter: null, source };
}

/**
 * A file may set one expiration per domain: each domain keeps its own (DomainPins.expiration, which
 * checkers apply), and the set's summary date is the earliest, the first day some pins stop being
 * enforced. The difference is reported.
 */
export function foldExpirations(byDomain: Map<string, string | null>, source: string, warnings: Warning[]): string | null {
  const values = [...new Set(byDomain.values())];
  const dates = values.filter((v): v is string => v !== null).sort();
  if (values.length > 1) {
    warnings.push({
      code: 'read-mixed-expiration',
      severity: 'warning',
      message: `${source}: domains have different pin expirations (${[...byDomain].map(([d, e]) => `${d}: ${e ?? 'none'}`).join(', ')}); each domain is checked against its own date`,
    });
  }
  return dates[0] ?? null;
}
