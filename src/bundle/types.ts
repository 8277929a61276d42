/** Payload types and their DSSE payloadType strings (SPEC §1.4). */
export type BundleType = 'pins' | 'trust-roots' | 'keyset';

export const PAYLOAD_TYPES: Record<BundleType, string> = {
  pins: 'application/vnd.pinctl.pins.v1+json',
  'trust-roots': 'application/vnd.pinctl.trust-roots.v1+json',
  keyset: 'application/vnd.pinctl.keyset.v1+json',
};

export function typeOfPayloadType(payloadType: string): BundleType | null {
  for (const [t, p] of Object.entries(PAYLOAD_TYPES)) if (p === payloadType) return t as BundleType;
  return null;
}

interface Common {
  audience: string;
  version: number;
  issuedAt: string;
  expiresAt: string;
}

export interface PinsDomain {
  domain: string;
  includeSubdomains: boolean;
  pins: string[];
}

export interface PinsPayload extends Common {
  type: 'pins';
  domains: PinsDomain[];
}

export interface TrustRoot {
  name: string;
  spkiSha256: string;
  /** base64 DER */
  certificate: string;
}

export interface TrustRootsPayload extends Common {
  type: 'trust-roots';
  roots: TrustRoot[];
}

export interface KeysetKey {
  keyid: string;
  /** base64 of the 32 raw bytes */
  publicKey: string;
}

/** SPEC §7.3.4: a keyset may rotate the root role (roles mode). */
export interface RootRoleSpec {
  keys: KeysetKey[];
  threshold: number;
  expiresAt: string;
}

export interface KeysetPayload extends Common {
  type: 'keyset';
  threshold: number;
  keys: KeysetKey[];
  root?: RootRoleSpec;
}

export type Payload = PinsPayload | TrustRootsPayload | KeysetPayload;
export type PayloadFor<T extends BundleType> = T extends 'pins' ? PinsPayload : T extends 'trust-roots' ? TrustRootsPayload : KeysetPayload;
