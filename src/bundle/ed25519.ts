// Strict Ed25519 verification (the behaviour of libsodium's crypto_sign_verify_detached).
//
// Plain RFC 8032 verifiers disagree on edge cases ("Taming the many EdDSAs", Chalkias, Garillot,
// Nikolaenko, 2020). A signed pin bundle must get the same verdict on every client, so every input
// goes through the same strict pre-checks before a backend sees it:
//   - S < L                          RFC 8032 §5.1.7; otherwise (R, S + L) is a second valid signature.
//   - R and A canonical (y < p)      RFC 8032 §5.1.3 requires decoding to fail for y >= p.
//   - R and A not of small order     a small-order key verifies signatures that nobody made
//                                    (e.g. A = identity, sig = 01 00..00 || 00..00, any message).
// The remaining equation is libsodium's cofactorless one: R == [S]B - [k]A, compared as encoded
// bytes, computed with @noble/curves' point arithmetic (audited, maintained, pure JS: the same code
// runs on Node and on Hermes). noble's own ed25519.verify is cofactored, which accepts signatures
// libsodium rejects for mixed-order keys, so it is not used. A runtime may install a native
// equation (primitives.ts; Node: OpenSSL's, also cofactorless); it sees only pre-checked inputs.
//
// All inputs are public (keys, messages, signatures), so none of this needs to be constant time.

import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, fromHex, sha256, sha512, toHex } from './bytes.js';
import { nativePrimitives } from './primitives.js';

/** Who computes the equation after the shared pre-checks: pure JS (every runtime) or a native one a runtime installed. */
export type Ed25519Backend = 'noble' | 'native';

export type PublicKeyCheck = { ok: true } | { ok: false; reason: string };

export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

// L = 2^252 + 27742317777372353535851937790883648493 (order of the base point), little-endian.
const L_BYTES = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

const P = 2n ** 255n - 19n;
// d = -121665/121666 mod p (RFC 8032 §5.1).
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;

// y-coordinates of the 8 small-order points (libsodium's ge25519_has_small_order blocklist),
// compared with the sign bit of x masked so both sign variants are caught. The last two are the
// non-canonical encodings p and p + 1 of y = 0 and y = 1 (already rejected as non-canonical for A
// and R, kept so the list matches libsodium and stands on its own).
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  // y = 0: (±sqrt(-1), 0), order 4
  hexToBytes('0000000000000000000000000000000000000000000000000000000000000000'),
  // y = 1: the identity (0, 1), order 1
  hexToBytes('0100000000000000000000000000000000000000000000000000000000000000'),
  // y of the order-8 points (two y values, each with two signs of x)
  hexToBytes('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
  hexToBytes('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  // y = p - 1: (0, -1), order 2
  hexToBytes('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  // y = p (non-canonical 0) and y = p + 1 (non-canonical 1)
  hexToBytes('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  hexToBytes('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
];

function hexToBytes(hex: string): Uint8Array {
  return fromHex(hex);
}

/** Accept any Uint8Array (also from another realm); anything else is not bytes. */
function asBytes(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]') {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  return null;
}

/** S (little-endian) < L — RFC 8032 §5.1.7 step 1; rejects the S + kL malleability. */
function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! < L_BYTES[i]!) return true;
    if (s[i]! > L_BYTES[i]!) return false;
  }
  return false; // S == L
}

/** y (sign bit masked) < p — RFC 8032 §5.1.3 step 1 (same test as libsodium's ge25519_is_canonical). */
function isCanonicalPointEncoding(e: Uint8Array): boolean {
  if ((e[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i > 0; i--) if (e[i] !== 0xff) return true;
  return e[0]! < 0xed;
}

/** Encoding (sign bit masked) is one of the blocklisted small-order y values. */
function hasSmallOrder(e: Uint8Array): boolean {
  return SMALL_ORDER_Y.some((y) => {
    for (let i = 0; i < 31; i++) if (e[i] !== y[i]) return false;
    return (e[31]! & 0x7f) === y[31];
  });
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/**
 * Does the canonical encoding decode to a curve point (RFC 8032 §5.1.3 steps 2-4)? x^2 = u/v with
 * u = y^2 - 1, v = d*y^2 + 1 must be a square; the x = 0 / sign-bit-set case only occurs for
 * y = ±1, which the small-order check has already rejected.
 */
function decodesToPoint(e: Uint8Array): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? e[i]! & 0x7f : e[i]!);
  const y2 = (y * y) % P;
  const u = (y2 - 1n + P) % P;
  const v = (D * y2 + 1n) % P; // never 0: -1/d is not a square
  if (u === 0n) return true;
  // u/v is a square iff u*v = (u/v)*v^2 is: one Euler-criterion exponentiation, no inversion.
  return modPow(u * v, (P - 1n) / 2n) === 1n;
}

/**
 * Validate a raw Ed25519 public key the way libsodium's verifier does before using it: 32 bytes,
 * canonical y, not one of the 8 small-order points (in any encoding), and an actual curve point.
 * Mixed-order keys are accepted, as in libsodium (speccheck case 3 must verify). The verdict is
 * cached per key, so embedding a key and then verifying with it checks it once.
 */
export function checkPublicKey(publicKey: Uint8Array): PublicKeyCheck {
  const pk = asBytes(publicKey);
  if (pk === null) return { ok: false, reason: 'public key is not a Uint8Array' };
  if (pk.length !== PUBLIC_KEY_LENGTH) {
    return { ok: false, reason: `public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${pk.length}` };
  }
  return checkedKey(pk).check;
}

function uncachedCheck(pk: Uint8Array): PublicKeyCheck {
  if (!isCanonicalPointEncoding(pk)) {
    return { ok: false, reason: 'public key is not canonically encoded (y >= 2^255-19)' };
  }
  if (hasSmallOrder(pk)) return { ok: false, reason: 'public key is a small-order point' };
  if (!decodesToPoint(pk)) return { ok: false, reason: 'public key is not a point on Ed25519' };
  return { ok: true };
}

type Point = ReturnType<typeof ed25519.Point.fromBytes>;

/** A key's check; the pure-JS equation adds the decoded, negated point of a key that passed. */
interface CheckedKey {
  check: PublicKeyCheck;
  negA?: Point;
}

// The strict check costs a BigInt exponentiation (about 0.2 ms on Node, far more on Hermes), so
// it runs once per key, not once per signature.
const KEY_CACHE_MAX = 64;
const keyCache = new Map<string, CheckedKey>();

/** The cached check of 32 key bytes. */
function checkedKey(pk: Uint8Array): CheckedKey {
  const id = toHex(pk);
  const cached = keyCache.get(id);
  if (cached !== undefined) {
    keyCache.delete(id); // Map iteration order doubles as LRU order
    keyCache.set(id, cached);
    return cached;
  }
  const key: CheckedKey = { check: uncachedCheck(pk) };
  if (keyCache.size >= KEY_CACHE_MAX) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(id, key);
  return key;
}

// L as a BigInt, for k = SHA-512(R || A || M) mod L (RFC 8032 §5.1.7 step 2).
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** The cofactorless equation in pure JS: R == [S]B - [k]A, compared as encoded bytes. */
function nobleEquation(key: CheckedKey, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  // A small wNAF table per trusted key makes [k]A about 4x faster on every later verification.
  key.negA ??= ed25519.Point.fromBytes(pk, false).negate().precompute(4);
  const r = sig.subarray(0, 32);
  const k = littleEndian(sha512(concatBytes(r, pk, msg))) % L;
  const sB = ed25519.Point.BASE.multiplyUnsafe(littleEndian(sig.subarray(32, 64)));
  const check = k === 0n ? sB : sB.add(key.negA.multiplyUnsafe(k));
  const encoded = check.toBytes();
  for (let i = 0; i < 32; i++) if (encoded[i] !== r[i]) return false;
  return true;
}

/** SPEC §2.3: the pre-checks every backend shares, then the equation. pk and sig are private copies. */
function strictVerify(backend: Ed25519Backend, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const native = nativePrimitives().ed25519Verify;
  if (backend === 'native' && !native) return false;
  const r = sig.subarray(0, 32);
  if (!isCanonicalScalar(sig.subarray(32, 64))) return false;
  if (!isCanonicalPointEncoding(r) || hasSmallOrder(r)) return false;
  const key = checkedKey(pk);
  if (!key.check.ok) return false;
  return backend === 'native' ? native!(pk, msg, sig) : nobleEquation(key, pk, msg, sig);
}

// ---- public API ----------------------------------------------------------------------------

/** The backend verifySignature uses: the native one when a runtime installed it, else pure JS. */
export function activeBackend(): Ed25519Backend {
  return nativePrimitives().ed25519Verify ? 'native' : 'noble';
}

/** Strict verification naming the backend; never throws: wrong lengths, non-bytes, an unknown or absent backend give false. */
export function verifySignatureWith(
  backend: Ed25519Backend,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (backend !== 'noble' && backend !== 'native') return false;
  try {
    const pkIn = asBytes(publicKey);
    const msg = asBytes(message);
    const sigIn = asBytes(signature);
    if (pkIn === null || msg === null || sigIn === null) return false;
    if (pkIn.length !== PUBLIC_KEY_LENGTH || sigIn.length !== SIGNATURE_LENGTH) return false;
    // Private copies of key and signature: the bytes checked are the bytes verified, whatever the
    // caller does meanwhile. The message is not pre-checked, and the equation reads it once.
    return strictVerify(backend, Uint8Array.from(pkIn), msg, Uint8Array.from(sigIn));
  } catch {
    return false;
  }
}

/** Strict Ed25519 verification (libsodium crypto_sign_verify_detached semantics). Never throws. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifySignatureWith(activeBackend(), publicKey, message, signature);
}

/**
 * The project's key id: lowercase hex SHA-256 of the 32 raw public-key bytes. It hashes whatever
 * bytes it is given (callers name rejected keys in error messages), so validate with
 * checkPublicKey first.
 */
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}
