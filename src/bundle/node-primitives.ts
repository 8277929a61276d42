/**
 * Node processes verify with node:crypto and Buffer: import this module once for its effect (the
 * Node SDK does; the CLI and the service may). Never imported by the runtime-neutral path; see
 * primitives.ts. Each function gives the pure-JS verdicts (test/bundle/node-primitives.test.ts).
 */
import { isAscii } from 'node:buffer';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { usePrimitives, type NativePrimitives } from './primitives.js';

const digest = (algorithm: string) => (bytes: Uint8Array) => {
  const d = createHash(algorithm).update(bytes).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

/** One native pass to check, one copy: faster than TextDecoder's strict UTF-8 on the ASCII of a bundle. */
function asciiDecode(bytes: Uint8Array): string | undefined {
  return isAscii(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') : undefined;
}

/**
 * Buffer's decoder is lenient (it skips what is not base64, takes base64url, needs no padding), so
 * its result counts only when the text is canonical, which is checked without a JS loop or a second
 * copy of a 2 MiB text: every character ASCII and none of base64url's "-" and "_"; then, as each
 * digit carries 6 bits, L characters with p trailing "=" decode to 3L/4 - p bytes only if every
 * one before the padding was read as a digit (one fewer gives fewer bytes); and the last group,
 * re-encoded, gives its 4 characters back (padding and zero unused bits).
 */
function base64Decode(text: string): Uint8Array | null {
  const n = text.length;
  if (n % 4 !== 0 || Buffer.byteLength(text, 'utf8') !== n || text.includes('-') || text.includes('_')) return null;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const b = Buffer.from(text, 'base64');
  if (b.byteLength !== (n / 4) * 3 - pad) return null;
  if (n > 0 && b.toString('base64', (n / 4 - 1) * 3) !== text.slice(n - 4)) return null;
  // A small Buffer is a view of Node's shared pool: hand out a private copy, never the pool.
  return b.byteLength === b.buffer.byteLength ? new Uint8Array(b.buffer, 0, b.byteLength) : new Uint8Array(b);
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_CACHE_MAX = 64;
const keyObjects = new Map<string, KeyObject>();

function keyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
  let key = keyObjects.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (keyObjects.size >= KEY_CACHE_MAX) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(id, key);
  }
  return key;
}

/**
 * OpenSSL's Ed25519 verify is cofactorless and compares encoded R, as the pure-JS equation does;
 * ed25519.ts runs the SPEC §2.3 pre-checks first, where verifiers differ.
 */
function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, keyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** What importing this module installs (exported for tests that compare both paths). */
export const nodePrimitives: NativePrimitives = {
  sha256: digest('sha256'),
  sha512: digest('sha512'),
  asciiDecode,
  base64Decode,
  ed25519Verify,
};

usePrimitives(nodePrimitives);
