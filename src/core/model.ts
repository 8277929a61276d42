/**
 * The pin model shared by the generator, the config writers and readers, the bundle format and
 * the monitor. A PinSet is what an app ships: per domain, the SPKI pins any one of which must
 * appear in the verified chain.
 */

export type PinRole = 'leaf' | 'intermediate' | 'root' | 'backup';

export interface Pin {
  /** base64 SHA-256 of the DER SubjectPublicKeyInfo (exactly 44 characters). */
  spkiSha256: string;
  role: PinRole;
  /** Subject of the certificate the pin was taken from (null for keys and CSRs). */
  subject: string | null;
  /** notAfter of that certificate, ISO 8601 (null for keys and CSRs). */
  notAfter: string | null;
  /** Where the pin came from: "203.0.113.10:443", a file name, ... */
  source: string;
}

export interface Endpoint {
  host: string;
  port: number;
  /** The addresses probed (empty when the chain came from files). */
  addresses: string[];
}

export interface DomainPins {
  domain: string;
  includeSubdomains: boolean;
  pins: Pin[];
  /** Where the generator saw this domain's chain, so the signing service can probe the same. */
  endpoints: Endpoint[];
  /**
   * This domain's own pin expiration, when the config sets one per domain (Android pin-sets,
   * TrustKit): it overrides PinSet.expiration. Absent when the whole set shares one date.
   */
  expiration?: string | null;
}

/** The expiration that applies to a domain: its own when the config gave one, else the set's. */
export function expirationOf(set: PinSet, d: DomainPins): string | null {
  return d.expiration !== undefined ? d.expiration : set.expiration;
}

export interface PinSet {
  /** Pin-set expiration date, YYYY-MM-DD (Android pin-set expiration, TrustKit TSKExpirationDate). */
  expiration: string | null;
  domains: DomainPins[];
}

export type Severity = 'info' | 'warning' | 'danger';

export interface Warning {
  code: string;
  severity: Severity;
  domain?: string;
  message: string;
}

/** Distinct pin values of a domain, in the order first seen. */
export function distinctPins(d: DomainPins): string[] {
  return [...new Set(d.pins.map((p) => p.spkiSha256))];
}

export function pinsWithRole(d: DomainPins, roles: PinRole[]): string[] {
  return [...new Set(d.pins.filter((p) => roles.includes(p.role)).map((p) => p.spkiSha256))];
}
