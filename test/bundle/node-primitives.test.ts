/**
 * The Node adapter's primitives (src/bundle/node-primitives.ts: node:crypto hashes and Ed25519,
 * Buffer base64) give the verdicts of the pure-JS ones the React Native adapter keeps: every
 * conformance case on both paths, and the base64 decoder against the portable one on every short
 * text of a hostile alphabet. The 163 Ed25519 vectors run on both backends in ed25519.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { usePrimitives, type NativePrimitives } from '../../src/bundle/primitives.js';
import { nodePrimitives } from '../../src/bundle/node-primitives.js';
import { activeBackend } from '../../src/bundle/ed25519.js';
import { Utf8Error, base64DecodeBytes, base64DecodePortable, base64DecodeStrict, base64Encode, utf8Decode } from '../../src/bundle/bytes.js';
import { loadManifest, publicKeyPem, runCase, storeTarget } from './conformance.js';

afterAll(() => usePrimitives(nodePrimitives));

const PATHS: [string, NativePrimitives, string][] = [
  ['pure JS (the Hermes path)', {}, 'noble'],
  ['node:crypto and Buffer (the Node SDK path)', nodePrimitives, 'native'],
];

describe.each(PATHS)('conformance on %s', (_name, primitives, backend) => {
  beforeAll(() => usePrimitives(primitives));

  it('verifies with the expected Ed25519 backend', () => {
    expect(activeBackend()).toBe(backend);
  });
  for (const file of ['vectors.json', 'vectors-roles.json'] as const) {
    const m = loadManifest(file);
    it(`${file}: every case gives the verdicts the manifest states (${m.cases.length} cases)`, () => {
      expect(m.cases.length).toBeGreaterThanOrEqual(18);
      const failures = m.cases.flatMap((c) => runCase(m, c, storeTarget(m, c, (k) => publicKeyPem(m, k))).map((f) => `${c.name}: ${f}`));
      expect(failures).toEqual([]);
    });
  }
});

describe('Buffer base64 decoder (canonical only)', () => {
  beforeAll(() => usePrimitives(nodePrimitives));
  const native = nodePrimitives.base64Decode!;
  const same = (text: string) => {
    const a = native(text);
    const b = base64DecodePortable(text);
    return a === null || b === null ? a === b : Buffer.from(a).equals(Buffer.from(b));
  };

  it('is the decoder base64DecodeStrict uses once installed', () => {
    expect(base64DecodeStrict('QUJD')).toEqual(native('QUJD'));
    expect(base64DecodeStrict(42 as unknown as string)).toBeNull();
  });

  it('agrees with the portable decoder on every text of up to 4 characters over a hostile alphabet', () => {
    // Digits with zero and non-zero unused bits, padding, base64url, whitespace, and characters
    // outside Latin-1 (whose low byte is a base64 digit).
    const CHARS = ['A', 'B', 'Q', 'g', 'w', '/', '+', '=', '-', '_', ' ', '\n', 'é', '\u0141', '\u0100'];
    let texts = [''];
    let checked = 0;
    let accepted = 0;
    for (let len = 1; len <= 4; len++) {
      texts = texts.flatMap((t) => CHARS.map((c) => t + c));
      for (const t of texts) {
        expect(same(t), JSON.stringify(t)).toBe(true);
        if (native(t) !== null) accepted++;
        checked++;
      }
    }
    expect(checked).toBe(15 + 15 ** 2 + 15 ** 3 + 15 ** 4);
    expect(accepted).toBeGreaterThan(100);
  });

  it('base64DecodeBytes (an envelope payload read in place) gives the verdicts of both decoders on the text of its bytes', () => {
    const CHARS = ['A', 'Q', 'w', '/', '=', '-', ' ', '\\', '"', '\u00e9', '\u00ff', '\u0000'];
    let texts = [''];
    for (let len = 1; len <= 4; len++) {
      texts = texts.flatMap((t) => CHARS.map((c) => t + c));
      for (const t of texts) {
        const b = new Uint8Array(Buffer.from(t, 'latin1'));
        const expected = base64DecodePortable(t);
        usePrimitives({});
        const portable = base64DecodeBytes(b);
        usePrimitives(nodePrimitives);
        expect([portable, base64DecodeBytes(b)], JSON.stringify(t)).toEqual([expected, expected]);
      }
    }
  });

  it('agrees on texts of several re-encoded slices (48 KiB each), changed in any slice', () => {
    const bytes = Uint8Array.from({ length: 3 * 49152 + 2 }, (_, i) => (i * 7919) & 0xff);
    const text = base64Encode(bytes);
    expect(native(text)).toEqual(bytes);
    for (const i of [0, 65535, 65536, 65537, 100_000, 131072, text.length - 3, text.length - 1]) {
      for (const c of ['-', '=', 'A', ' ']) {
        const t = text.slice(0, i) + c + text.slice(i + 1);
        expect(same(t), `${i} ${c}`).toBe(true);
      }
    }
    expect(same(`${text}AAAA`)).toBe(true);
    expect(same(text.slice(0, -4))).toBe(true);
  });

  it('agrees on long texts: canonical ones of every length mod 3, and each with one character changed', () => {
    let accepted = 0;
    for (let n = 1000; n < 1003; n++) {
      const bytes = createHash('sha512').update(String(n)).digest();
      const text = base64Encode(Uint8Array.from({ length: n }, (_, i) => bytes[i % 64]! ^ i));
      expect(native(text)).toEqual(base64DecodePortable(text));
      for (const [i, c] of [[0, '-'], [500, ' '], [text.length - 1, 'B'], [text.length - 2, '='], [text.length - 3, 'é']] as const) {
        const t = text.slice(0, i) + c + text.slice(i + 1);
        expect(same(t), `${n} ${i} ${c}`).toBe(true);
      }
      expect(same(`${text}\n`)).toBe(true);
      expect(same(text.replace(/=+$/, ''))).toBe(true);
      if (native(text) !== null) accepted++;
    }
    expect(accepted).toBe(3);
  });

  it('hands out private bytes, never a view of Node\'s shared Buffer pool', () => {
    const a = native('QUJD')!;
    const b = native('REVG')!;
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(3);
    expect(Buffer.isBuffer(a)).toBe(false);
  });
});

describe('ASCII fast path of strict UTF-8', () => {
  beforeAll(() => usePrimitives(nodePrimitives));
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const reference = (b: Uint8Array) => {
    try {
      return fatal.decode(b);
    } catch {
      return 'error';
    }
  };
  const ours = (b: Uint8Array) => {
    try {
      return utf8Decode(b);
    } catch (e) {
      return e instanceof Utf8Error ? 'error' : `unexpected ${String(e)}`;
    }
  };

  it('decodes like the fatal TextDecoder on every 1- and 2-byte input, a BOM, and a long text', () => {
    const inputs: Uint8Array[] = [Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d), new TextEncoder().encode('{"a":"é ✓"}')];
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) inputs.push(Uint8Array.of(a, b));
    const long = new Uint8Array(100_000).map((_, i) => 32 + (i % 95));
    inputs.push(long, Uint8Array.of(...long.subarray(0, 999), 0x80), long.subarray(5, 70_000));
    const disagree = inputs.filter((b) => ours(b) !== reference(b)).map((b) => Buffer.from(b.subarray(0, 8)).toString('hex'));
    expect(disagree).toEqual([]);
    expect(nodePrimitives.asciiDecode!(long)).toBe(reference(long));
    expect(nodePrimitives.asciiDecode!(Uint8Array.of(0x41, 0x80))).toBeUndefined();
  });
});
