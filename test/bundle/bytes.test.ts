/** The runtime-neutral byte helpers agree with Node's own codecs (the reference) on edge cases. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Utf8Error, base64DecodeStrict, base64Encode, sha256, toHex, utf8DecodePortable, utf8Encode } from '../../src/bundle/bytes.js';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const reference = (b: Uint8Array): string | 'error' => {
  try {
    return fatal.decode(b);
  } catch {
    return 'error';
  }
};
const portable = (b: Uint8Array): string | 'error' => {
  try {
    return utf8DecodePortable(b);
  } catch (e) {
    return e instanceof Utf8Error ? 'error' : `unexpected ${String(e)}`;
  }
};

describe('UTF-8 without TextDecoder', () => {
  it('agrees with the fatal TextDecoder on every 1- and 2-byte input and on 3/4-byte edge forms', () => {
    const inputs: Uint8Array[] = [];
    for (let a = 0; a < 256; a++) {
      inputs.push(Uint8Array.of(a));
      for (let b = 0; b < 256; b++) inputs.push(Uint8Array.of(a, b));
    }
    const leads = [0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5];
    const conts = [0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0];
    for (const l of leads) for (const x of conts) for (const y of conts) {
      inputs.push(Uint8Array.of(l, x, y));
      for (const z of conts) inputs.push(Uint8Array.of(l, x, y, z));
    }
    const disagree = inputs.filter((b) => portable(b) !== reference(b)).map((b) => Buffer.from(b).toString('hex'));
    expect(disagree).toEqual([]);
    expect(inputs.filter((b) => reference(b) === 'error').length).toBeGreaterThan(1000);
  });
  it('keeps a byte-order mark and round-trips text with astral characters', () => {
    const text = '\uFEFF{"a":"é ✓ 😀"}';
    expect(utf8DecodePortable(utf8Encode(text))).toBe(text);
    expect(Buffer.from(utf8Encode(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });
});

describe('strict base64', () => {
  it('round-trips every length and matches Buffer', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const text = base64Encode(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(base64DecodeStrict(text)).toEqual(bytes);
    }
  });
  it('refuses what Buffer.from would silently accept', () => {
    for (const bad of ['QR==', 'QUJ=', 'QQ', 'QQ=', 'Q===', 'QQ==QQ==', 'Q Q==', 'QQ-_', 'QUJD\n', '====']) {
      expect(base64DecodeStrict(bad), bad).toBeNull();
    }
    expect(base64DecodeStrict('')).toEqual(new Uint8Array(0));
  });
});

it('sha256 matches node:crypto', () => {
  for (const n of [0, 1, 55, 56, 64, 1000]) {
    const b = new Uint8Array(n).fill(n & 0xff);
    expect(toHex(sha256(b))).toBe(createHash('sha256').update(b).digest('hex'));
  }
});

it('node:crypto hashes installed by src/bundle/node-primitives.ts give the same bytes as @noble/hashes', async () => {
  const { sha256: n256, sha512: n512 } = await import('@noble/hashes/sha2.js');
  const { sha512 } = await import('../../src/bundle/bytes.js');
  await import('../../src/bundle/node-primitives.js');
  for (const n of [0, 3, 111, 112, 128, 5000]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    expect(sha256(b)).toEqual(n256(b));
    expect(sha512(b)).toEqual(n512(b));
  }
});
