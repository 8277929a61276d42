/**
 * The one pin grammar: base64(SHA-256(DER SubjectPublicKeyInfo)), RFC 7469 — exactly 32 bytes in
 * canonical standard base64 (43 characters and one "="). Where a user types a pin, OkHttp's
 * "sha256/" prefix is accepted and removed (normalizePin); stored forms never carry it.
 */
// 32 bytes are 43 base64 digits and "="; the 43rd digit carries 4 bits and 2 unused ones, which
// must be zero in the canonical form ("…AB=" and "…AA=" decode alike; only "…AA=" is a pin). Not a
// decoder (this module runs in the SDK core on Hermes too: no Buffer), and not the regular
// expression /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/ it replaces (same language, test/vocab/pin.test.ts):
// a 10,000-domain bundle holds 20,000 pins or more, and a table lookup per character is faster.
const DIGIT = new Uint8Array(256).fill(255); // 256 entries: a byte indexes it without a mask
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

/** Canonical base64 of 32 bytes. */
export function isPin(value: string): boolean {
  if (typeof value !== 'string' || value.length !== 44 || value.charCodeAt(43) !== 61 /* = */) return false;
  // No branch per character: a non-digit sets a bit above 63 (its table entry, or its code above 127).
  let bits = 0;
  for (let i = 0; i < 43; i++) {
    const c = value.charCodeAt(i);
    bits |= DIGIT[c & 127]! | (c & 0xff80);
  }
  return bits < 64 && (DIGIT[value.charCodeAt(42)]! & 3) === 0;
}

/**
 * isPin over the 44 bytes from `start` (the pins fast path checks a pin where it lies in a payload,
 * before making a string of it). Past the end of `bytes` is not a pin.
 */
export function isPinAt(bytes: Uint8Array, start: number): boolean {
  if (bytes[start + 43] !== 61 /* = */) return false;
  let bits = 0;
  // In bounds: the "=" at start + 43 was there. A byte above 127 has 255 in the table.
  for (let i = start; i < start + 43; i++) bits |= DIGIT[bytes[i]!]!;
  return bits < 64 && (DIGIT[bytes[start + 42]!]! & 3) === 0;
}

/** A typed pin: trimmed, "sha256/" removed; the bare pin or null. */
export function normalizePin(value: string): string | null {
  const v = value.trim().replace(/^sha256\//i, '');
  return isPin(v) ? v : null;
}

export const PIN_EXPECTED = 'a pin: base64 of a 32-byte SHA-256 (43 characters and "=")';
