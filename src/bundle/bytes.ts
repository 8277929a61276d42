/**
 * Byte helpers every runtime has: UTF-8, strict base64, hex, SHA-256. No Buffer and no node:
 * import, so the verification path runs unchanged on Node, in browsers and on Hermes (React
 * Native), where TextEncoder/TextDecoder and atob may be missing.
 */
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { nativePrimitives, usePrimitives, type HashFunction } from './primitives.js';

export type { HashFunction };

/**
 * Installs native hashes (the Node SDK installs node:crypto's, about 20x faster than pure JS on a
 * 2 MiB bundle, with the other primitives of primitives.ts); every other runtime keeps @noble/hashes.
 * Same function, same bytes: verdicts cannot differ.
 */
export function useHashes(h: { sha256: HashFunction; sha512: HashFunction }): void {
  usePrimitives({ ...nativePrimitives(), sha256: h.sha256, sha512: h.sha512 });
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return (nativePrimitives().sha256 ?? nobleSha256)(bytes);
}

export function sha512(bytes: Uint8Array): Uint8Array {
  return (nativePrimitives().sha512 ?? nobleSha512)(bytes);
}

// ---- UTF-8 ---------------------------------------------------------------------------------

type Decoder = { decode(b: Uint8Array): string };
const g = globalThis as { TextDecoder?: new (l: string, o: object) => Decoder; TextEncoder?: new () => { encode(s: string): Uint8Array } };
const nativeEncoder = g.TextEncoder ? new g.TextEncoder() : undefined;

export function utf8Encode(text: string): Uint8Array {
  if (nativeEncoder) return nativeEncoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate, as TextEncoder does
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export class Utf8Error extends Error {}

let decoder: Decoder | undefined;

/** Strict UTF-8 (WHATWG "fatal"): overlong forms, surrogates and values above U+10FFFF are errors; a BOM is kept. */
export function utf8Decode(bytes: Uint8Array): string {
  // ASCII is its own UTF-8: a runtime's native ASCII check and copy skip the decoder (2 MiB bundles).
  const ascii = nativePrimitives().asciiDecode?.(bytes);
  if (ascii !== undefined) return ascii;
  if (g.TextDecoder) {
    try {
      // One decoder for every call: without { stream: true } decode() keeps no state between calls.
      decoder ??= new g.TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      return decoder.decode(bytes);
    } catch {
      throw new Utf8Error('expected UTF-8');
    }
  }
  return utf8DecodePortable(bytes);
}

/** The decoder used where TextDecoder is missing (exported so tests compare it with TextDecoder). */
export function utf8DecodePortable(bytes: Uint8Array): string {
  const units: number[] = [];
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      // A run of ASCII (a whole bundle, usually) is turned into text by the engine, 8 KiB at a time.
      let j = i + 1;
      while (j < bytes.length && bytes[j]! < 0x80 && j - i < 8192) j++;
      const run = bytes.subarray(i, j) as unknown as number[];
      out += String.fromCharCode.apply(null, units) + String.fromCharCode.apply(null, run);
      units.length = 0;
      i = j;
      continue;
    }
    let cp: number;
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [cp, need, min] = [b & 0x1f, 1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [cp, need, min] = [b & 0x0f, 2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [cp, need, min] = [b & 0x07, 3, 0x10000];
    else throw new Utf8Error('expected UTF-8');
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) throw new Utf8Error('expected UTF-8');
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Utf8Error('expected UTF-8');
    if (cp >= 0x10000) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    i += need + 1;
    if (units.length >= 8192) {
      out += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode.apply(null, units);
}

// ---- base64 (RFC 4648 §4, standard alphabet, padded) -----------------------------------------

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// 255 for every code that is not in the alphabet: the decode loop validates as it goes (a regular
// expression over a 2.8 MB payload string cost more than the decoding itself).
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Standard base64 with canonical padding: length a multiple of 4, "=" only as the last one or two
 * characters, and zero unused bits before the padding. null for anything else.
 */
export function base64DecodeStrict(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const native = nativePrimitives().base64Decode;
  return native ? native(text) : base64DecodePortable(text);
}

/**
 * base64DecodeStrict of the text these bytes hold, one character a byte (an envelope's payload,
 * decoded where it lies in the envelope); a byte of 0x80 or above is no base64 digit.
 */
export function base64DecodeBytes(bytes: Uint8Array): Uint8Array | null {
  const p = nativePrimitives();
  const text = p.base64Decode && p.asciiDecode ? p.asciiDecode(bytes) : undefined;
  return text !== undefined ? p.base64Decode!(text) : base64DecodeBytesPortable(bytes);
}

/** The pure-JS decoder (exported so tests hold a native one installed by an adapter to its verdicts). */
export function base64DecodePortable(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c < 0x80 ? c : 0xff; // 0xff: not a digit, not "="
  }
  return base64DecodeBytesPortable(bytes);
}

/** The one pure-JS base64 decoder, over bytes. */
function base64DecodeBytesPortable(text: Uint8Array): Uint8Array | null {
  const len = text.length;
  if (len % 4 !== 0) return null;
  const pad = text[len - 1] === 61 ? (text[len - 2] === 61 ? 2 : 1) : 0;
  const out = new Uint8Array((len / 4) * 3 - pad);
  const full = pad ? len - 4 : len;
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const a = DECODE[text[i]!]!;
    const b = DECODE[text[i + 1]!]!;
    const c = DECODE[text[i + 2]!]!;
    const d = DECODE[text[i + 3]!]!;
    if ((a | b | c | d) > 63) return null; // outside the alphabet ("=" included)
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (!pad) return out;
  // The last group: 2 or 3 characters carry 1 or 2 bytes and 4 or 2 unused bits, which must be zero.
  const a = DECODE[text[full]!]!;
  const b = DECODE[text[full + 1]!]!;
  const c = pad === 1 ? DECODE[text[full + 2]!]! : 0;
  if ((a | b | c) > 63) return null;
  const n = (a << 18) | (b << 12) | (c << 6);
  out[o++] = n >> 16;
  if (pad === 1) out[o++] = (n >> 8) & 0xff;
  if ((pad === 1 ? n & 0xff : n & 0xffff) !== 0) return null;
  return out;
}

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63]! : '=';
  }
  return out;
}

// ---- hex and comparison --------------------------------------------------------------------

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`expected hex, found ${hex.length} characters`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
