/**
 * What react-native-ssl-public-key-pinning's native sides accept, checked before the call: on
 * iOS TrustKit throws (the app crashes) for a domain that is a public suffix or for fewer than two
 * pins, and App Transport Security never pins IP addresses or local names. A domain that would
 * break is left out and named, so one bad entry does not take pinning down for every other domain.
 * Public suffixes come from tldts (the Public Suffix List, ICANN and private sections), which runs
 * on Hermes.
 */
import { parse } from 'tldts';
// The package's own types file: its index.d.ts loads react-native's global types (setTimeout: number).
import type { PinningOptions } from 'react-native-ssl-public-key-pinning/lib/typescript/src/types.js';
import { isPinValue } from '../../bundle/payload.js';
import type { ReactNativePinningOptions } from '../core/engine.js';

export interface SkippedDomain {
  domain: string;
  reason: 'ip-address' | 'local-name' | 'public-suffix' | 'too-few-pins' | 'bad-pin' | 'bad-expiration';
  message: string;
}

const LOCAL = /(^|\.)(localhost|local|localdomain|internal|home\.arpa)$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Why `domain` cannot be pinned through TrustKit, or null. */
export function unpinnableReason(domain: string, hashes: string[], expirationDate?: string): SkippedDomain | null {
  const skip = (reason: SkippedDomain['reason'], message: string) => ({ domain, reason, message: `${domain}: ${message}` });
  const parsed = parse(domain, { allowPrivateDomains: true });
  if (parsed.isIp || domain.includes(':')) return skip('ip-address', 'an IP address: iOS does not pin IP addresses');
  if (!domain.includes('.') || LOCAL.test(domain)) return skip('local-name', 'a local name without a public suffix: iOS does not pin it');
  if (parsed.publicSuffix === domain || parsed.domain === null) return skip('public-suffix', `a public suffix (${parsed.publicSuffix}): TrustKit refuses to pin it`);
  if (!hashes.every((h) => isPinValue(h))) return skip('bad-pin', 'a pin is not base64 of a SHA-256 (44 characters)');
  if (new Set(hashes).size < 2) return skip('too-few-pins', 'fewer than two distinct pins: TrustKit requires a backup pin');
  if (expirationDate !== undefined && !DAY.test(expirationDate)) return skip('bad-expiration', `expirationDate ${expirationDate} is not yyyy-MM-dd`);
  return null;
}

/** The config split into what the native library accepts and what was left out (and why). */
export function pinningOptions(config: ReactNativePinningOptions): { options: PinningOptions; skipped: SkippedDomain[] } {
  const options: PinningOptions = {};
  const skipped: SkippedDomain[] = [];
  for (const [domain, d] of Object.entries(config)) {
    const reason = unpinnableReason(domain, d.publicKeyHashes, d.expirationDate);
    if (reason) skipped.push(reason);
    else options[domain] = { includeSubdomains: d.includeSubdomains, publicKeyHashes: [...new Set(d.publicKeyHashes)], ...(d.expirationDate ? { expirationDate: d.expirationDate } : {}) };
  }
  return { options, skipped };
}
