/** SPKI pins: base64(SHA-256(DER SubjectPublicKeyInfo)), the form every platform uses (RFC 7469). */
import { createHash } from 'node:crypto';

export function spkiSha256(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('base64');
}

export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

const PIN = /^[A-Za-z0-9+/]{43}=$/;

/** A pin is exactly 32 bytes of base64: 43 characters and one '=' of padding. */
export function isPin(value: string): boolean {
  return PIN.test(value) && Buffer.from(value, 'base64').length === 32;
}

/** Accepts `sha256/<b64>` (OkHttp, HPKP style) as well as the bare form; returns the bare pin or null. */
export function normalizePin(value: string): string | null {
  const v = value.trim().replace(/^sha256\//i, '');
  return isPin(v) ? v : null;
}
