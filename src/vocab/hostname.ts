/**
 * The one host-name grammar of pinctl: what generate writes, check reads, bundles carry, the
 * service publishes, the SDK enforces and the monitor probes. A name one part accepts, every part
 * accepts (test/formats/vocabulary.test.ts holds them to it).
 *
 * Decisions taken when four grammars were merged into this one:
 * - No "_": generate and the config readers accepted it, bundle create, serve and the SDK refused
 *   it, so a pin set generate wrote could not be published. A host name is letters, digits and
 *   hyphens (RFC 1123 §2.1); "_" names are DNS service labels, not hosts a certificate names.
 * - IP literals are accepted (IPv4 dotted quads already passed every grammar as digit labels;
 *   IPv6 is added to bundles): Android and OkHttp 4 match an address as a name, and an app that
 *   dials an address can only pin it that way. Per-client warnings say which clients refuse them
 *   (TrustKit, OkHttp 3 for IPv6). IPv6 is held in its canonical compressed lower-case form.
 * - Lower case, no trailing dot, no wildcard: "*.example.com" is includeSubdomains.
 * Pure JavaScript (no node:net, no URL, no regex lookbehind): the SDK core runs it on Hermes.
 */
import { canonicalIpv6, ipVersion } from './ip.js';

// Labels of 1 to 63 letters, digits and hyphens, no hyphen first or last, joined by dots: one
// expression for the whole name (splitting into labels first cost more than the test itself).
const LABELS = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
export const MAX_HOST_NAME = 253;

/** The compared form: trimmed, lower case, IPv6 brackets and one trailing dot removed. */
export function normalizeHostName(raw: string): string {
  const h = raw
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return ipVersion(h) === 6 ? (canonicalIpv6(h) ?? h) : h;
}

/** An IP literal (v4 or v6), as opposed to a DNS name. */
export function isIpLiteral(name: string): boolean {
  return ipVersion(name) !== 0;
}

/** True for a host name already in normal form (see normalizeHostName). */
export function isHostName(name: string): boolean {
  // Only a name with ":" can be IPv6; labels never hold one. IPv4 literals are digit labels.
  if (name.includes(':')) return ipVersion(name) === 6 && canonicalIpv6(name) === name;
  return name.length > 0 && name.length <= MAX_HOST_NAME && LABELS.test(name);
}

/**
 * isHostName over bytes, for the pins fast path: the index of the closing quote (") when the bytes
 * from `start` up to it are a DNS name LABELS accepts, else -1 (then the caller asks isHostName of
 * the string: an IPv6 literal, or a name that is refused). One pass, no string, no regex.
 */
export function hostNameEnd(bytes: Uint8Array, start: number): number {
  let label = 0; // characters of the current label so far
  let prev = 46; // as if after a ".": no "-" or "." may come first
  for (let i = start; ; i++) {
    const c = bytes[i];
    if (c === 34) return label > 0 && prev !== 45 && i - start <= MAX_HOST_NAME ? i : -1;
    if (c === 46) {
      if (label === 0 || prev === 45) return -1; // an empty label, or one ending in "-"
      label = 0;
    } else if ((c! >= 97 && c! <= 122) || (c! >= 48 && c! <= 57) || (c === 45 && label > 0)) {
      if (++label > 63) return -1;
    } else return -1; // anything else, "-" first in a label, or the end of the bytes
    prev = c;
  }
}

/** Why a raw value is not a host name, or null when its normal form is one. */
export function hostNameProblem(raw: string): string | null {
  const h = normalizeHostName(raw);
  if (isHostName(h)) return null;
  if (h.includes('*')) return 'a wildcard: pin the parent name with includeSubdomains instead';
  if (h.includes('_')) return 'an "_": host names are letters, digits, hyphens and dots (RFC 1123)';
  if (/[/:]/.test(h)) return 'a scheme, port or path: give the name alone';
  if (h.length > MAX_HOST_NAME) return `more than ${MAX_HOST_NAME} characters`;
  return 'a character or label a host name cannot have';
}
