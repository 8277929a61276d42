/**
 * Trusted Ed25519 keys (SPEC §2): parsing public keys given as PEM SubjectPublicKeyInfo or base64
 * raw bytes, key ids, and counting the distinct trusted keys that signed an envelope (§4.4).
 */
import { EnvelopeError, KeysetError } from './errors.js';
import { Envelope } from './envelope.js';
import { pae } from './pae.js';
import { checkPublicKey, keyIdOf, verifySignature } from './ed25519.js';
import { base64DecodeStrict, base64Encode, bytesEqual, concatBytes, fromHex } from './bytes.js';

export interface TrustedKeyset {
  version: number;
  threshold: number;
  /** key id → 32 raw public-key bytes */
  keys: Map<string, Uint8Array>;
  /** expiresAt of the keyset document (ms); absent for keys embedded in the app (SPEC §5.7). */
  expiresAt?: number;
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { AlgId 1.3.101.112, BIT STRING }. */
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

/** A public key from PEM (`PUBLIC KEY`), base64 SPKI DER, or base64 of the 32 raw bytes. */
export function parsePublicKey(input: string | Uint8Array): Uint8Array {
  let raw: Uint8Array;
  if (typeof input !== 'string') {
    raw = input.length === 44 && bytesEqual(input.subarray(0, 12), SPKI_PREFIX) ? input.subarray(12) : input;
  } else {
    const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(input);
    const der = base64Lenient((pem ? pem[1]! : input).replace(/\s+/g, ''));
    if (der.length === 44 && bytesEqual(der.subarray(0, 12), SPKI_PREFIX)) raw = der.slice(12);
    else if (der.length === 32 && !pem) raw = der;
    else throw new EnvelopeError(`expected an Ed25519 public key (PEM PUBLIC KEY or base64 of 32 bytes), found ${pem ? 'a PEM key of another type' : `${der.length} bytes`}`);
  }
  if (raw.length !== 32) throw new EnvelopeError(`expected an Ed25519 public key of 32 bytes, found ${raw.length}`);
  const check = checkPublicKey(raw);
  if (!check.ok) throw new KeysetError(`refusing public key ${keyIdOf(raw)}: ${check.reason}`);
  return raw;
}

export function publicKeyPem(raw: Uint8Array): string {
  const b64 = base64Encode(concatBytes(SPKI_PREFIX, raw));
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/**
 * Keys typed or pasted by people: base64 or base64url, with or without padding; anything else decodes to no
 * bytes (the length check then names what was found). The bytes, not the text, are then checked.
 */
function base64Lenient(text: string): Uint8Array {
  const body = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'); // base64url too, as Buffer took it
  return base64DecodeStrict(body + '='.repeat((4 - (body.length % 4)) % 4)) ?? new Uint8Array(0);
}

/** The keys an app embeds: version 0, threshold 1 (SPEC §4). */
export function embeddedKeyset(publicKeys: (string | Uint8Array)[], threshold = 1): TrustedKeyset {
  const keys = new Map<string, Uint8Array>();
  for (const k of publicKeys) {
    const raw = parsePublicKey(k);
    keys.set(keyIdOf(raw), raw);
  }
  if (keys.size === 0) throw new KeysetError('expected at least one trusted public key');
  return { version: 0, threshold: Math.min(threshold, keys.size), keys };
}

/** SPEC §7.1: the root role, kept offline; it signs keysets only. */
export interface RootRole {
  threshold: number;
  /** key id → 32 raw public-key bytes */
  keys: Map<string, Uint8Array>;
  /** ms; `trustExpires`, or the `expiresAt` of the last rotated root (SPEC §7.5). */
  expiresAt: number;
}

/** SPEC §7.1: root keys as the app embeds them; threshold from 1 to the number of distinct keys. */
export function embeddedRootRole(rootKeys: (string | Uint8Array)[], threshold: number, expiresAt: number): RootRole {
  const { keys } = embeddedKeyset(rootKeys);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys.size) {
    throw new KeysetError(`root threshold: expected an integer from 1 to ${keys.size} (the distinct root keys), found ${String(threshold)}`);
  }
  if (Number.isNaN(expiresAt)) throw new KeysetError('trustExpires: expected a date (SPEC §7.1)');
  return { threshold, keys, expiresAt };
}

/**
 * SPEC §4.4: the distinct trusted keys with a valid strict signature over PAE. The keyid is only a
 * hint for which key to try first (§1.3): a wrong or empty keyid never hides a valid signature.
 */
export function signingKeys(env: Envelope, keyset: TrustedKeyset): Set<string> {
  const message = pae(env.payloadType, env.payload);
  const signed = new Set<string>();
  for (const sig of env.signatures) {
    const hinted = keyset.keys.get(sig.keyid);
    const order = hinted ? [[sig.keyid, hinted] as const, ...[...keyset.keys].filter(([id]) => id !== sig.keyid)] : [...keyset.keys];
    for (const [id, key] of order) {
      if (signed.has(id)) continue;
      if (verifySignature(key, message, sig.sig)) {
        signed.add(id);
        break;
      }
    }
  }
  return signed;
}
