/**
 * Rules of SPEC §3 that both payload readers apply: the general one (payload.ts, over a strict
 * JSON tree) and the pins fast path (pins-reader.ts, over the bytes).
 */
import type { PinsDomain } from './types.js';
import type { DomainIndex } from './domain-index.js';

export const LIMITS = { domains: 10_000, pinsPerDomain: 64, roots: 1_000, keys: 16 } as const;

/** SPEC §7.4: a yearly signing ceremony; 366 days covers a leap year. */
export const MAX_LIFETIME_MS = 366 * 24 * 3600_000;

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** An RFC 3339 UTC timestamp in milliseconds, or NaN. */
export function timestampMs(s: string): number {
  const t = Date.parse(s);
  // Date.parse rolls 2026-02-30 over to March 2; a date that does not exist is refused, as Go and Swift do.
  if (!RFC3339_UTC.test(s) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 19) !== s.slice(0, 19)) return NaN;
  return t;
}

// The lookup table of a pins payload's domains, made while the reader checked each domain once
// (SPEC §3.1): the SDK's pin index (PinTable) takes it instead of hashing 10,000 names again.
const indexes = new WeakMap<readonly PinsDomain[], DomainIndex<PinsDomain>>();

/** Records `index` (domain → its entry, each domain once) as the lookup table of `domains`. */
export function setDomainIndex(domains: readonly PinsDomain[], index: DomainIndex<PinsDomain>): void {
  indexes.set(domains, index);
}

/** The lookup table a payload reader made for these domains, if this array came from one. */
export function domainIndex(domains: readonly PinsDomain[]): DomainIndex<PinsDomain> | undefined {
  return indexes.get(domains);
}
