/**
 * The one pin grammar: base64(SHA-256(DER SubjectPublicKeyInfo)), RFC 7469 — exactly 32 bytes in
 * canonical standard base64 (43 characters and one "="). Where a user types a pin, OkHttp's
 * "sha256/" prefix is accepted and removed (normalizePin); stored forms never carry it.
 */
const PIN = /^[A-Za-z0-9+/]{43}=$/;

/** Canonical base64 of 32 bytes ("…AB=" and "…AA=" decode alike; only the canonical one is a pin). */
export function isPin(value: string): boolean {
  if (!PIN.test(value)) return false;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 32 && bytes.toString('base64') === value;
}

/** A typed pin: trimmed, "sha256/" removed; the bare pin or null. */
export function normalizePin(value: string): string | null {
  const v = value.trim().replace(/^sha256\//i, '');
  return isPin(v) ? v : null;
}

export const PIN_EXPECTED = 'a pin: base64 of a 32-byte SHA-256 (43 characters and "=")';
