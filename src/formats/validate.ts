/**
 * What every writer needs to be true of a PinSet before it produces a file that millions of
 * devices will enforce: pins that are pins, domains that are host names, each domain once, no
 * domain without pins (an empty Android pin-set silently disables pinning).
 */
import { DomainPins, Pin, PinRole, PinSet } from '../core/model.js';
import { isPin } from '../vocab/pin.js';
import { hostNameProblem, isHostName as isNormalHostName, normalizeHostName } from '../vocab/hostname.js';
import { InputError } from '../errors.js';

export const ROLES: readonly PinRole[] = ['leaf', 'intermediate', 'root', 'backup'];
export const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day in YYYY-MM-DD (rejects 2027-02-30). */
export function isDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

/**
 * Host names are case-insensitive; every format gets (and every reader returns) the normal form.
 * The grammar is src/vocab/hostname.ts (one for generate, bundles, the service, the SDK, the monitor).
 */
export function isHostName(domain: string): boolean {
  return isNormalHostName(normalizeHostName(domain)) && !domain.trim().endsWith('.');
}

export function assertWritable(pinSet: PinSet): void {
  if (pinSet.expiration !== null && !isDate(pinSet.expiration)) {
    throw new InputError('CONFIG_MALFORMED', `expected the pin-set expiration as YYYY-MM-DD, found "${pinSet.expiration}"`, {
      hint: 'pass a calendar date such as 2027-06-30',
    });
  }
  if (pinSet.domains.length === 0) {
    throw new InputError('NO_PINS', 'expected at least one domain to pin, found none');
  }
  const seen = new Set<string>();
  for (const d of pinSet.domains) {
    if (!isHostName(d.domain)) {
      throw new InputError('CONFIG_MALFORMED', `expected a host name such as api.example.com, found "${d.domain}": ${hostNameProblem(d.domain) ?? 'a trailing dot'}`, {
        hint: 'no scheme, port, path or wildcard: use includeSubdomains for subdomains',
      });
    }
    const key = d.domain.toLowerCase();
    if (seen.has(key)) {
      throw new InputError('CONFIG_MALFORMED', `expected each domain once, found ${key} twice`, {
        hint: 'merge its pins into one entry',
      });
    }
    seen.add(key);
    if (d.pins.length === 0) {
      throw new InputError('NO_PINS', `${key}: expected at least one pin, found none`, {
        hint: 'an empty pin set disables pinning on Android; drop the domain or add pins',
      });
    }
    for (const p of d.pins) {
      if (!isPin(p.spkiSha256)) {
        throw new InputError('CONFIG_MALFORMED', `${key}: expected a pin (44-character base64 SHA-256), found "${p.spkiSha256}"`);
      }
      if (!ROLES.includes(p.role)) {
        throw new InputError('CONFIG_MALFORMED', `${key}: expected a pin role (${ROLES.join(', ')}), found "${String(p.role)}"`);
      }
    }
  }
}

/** Each distinct pin of a domain once, in first-seen order, described by its first record. */
export function uniquePins(d: DomainPins, roles?: readonly PinRole[]): Pin[] {
  const out = new Map<string, Pin>();
  for (const p of d.pins) {
    if (roles && !roles.includes(p.role)) continue;
    if (!out.has(p.spkiSha256)) out.set(p.spkiSha256, p);
  }
  return [...out.values()];
}
