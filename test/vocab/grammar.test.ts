/**
 * isPin and isHostName were rewritten for speed (a 10,000-domain bundle checks 10,000 names and
 * 20,000 pins): the same languages as the regular expressions they replaced, which stay here as
 * the reference, on fixed cases and on many random and mutated texts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPin } from '../../src/vocab/pin.js';
import { isHostName } from '../../src/vocab/hostname.js';
import { canonicalIpv6, ipVersion } from '../../src/vocab/ip.js';

const REFERENCE_PIN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const REFERENCE_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
function referenceHostName(name: string): boolean {
  if (ipVersion(name) === 6) return canonicalIpv6(name) === name;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => REFERENCE_LABEL.test(l));
}

/** A seeded LCG; the high bits, since its low bits repeat with a short period. */
function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => ((x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff), Math.floor((x / 0x80000000) * n));
}

describe('isPin', () => {
  const pins = Array.from({ length: 64 }, (_, i) => createHash('sha256').update(`pin ${i}`).digest('base64'));
  // Every base64 digit, "=", base64url, whitespace, a non-ASCII letter and a character whose low byte is "A".
  const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .\né\u0141';

  it('accepts what node:crypto writes, and agrees with the reference on every one-character change', () => {
    let accepted = 0;
    let checked = 0;
    for (const p of pins.slice(0, 8)) {
      expect(isPin(p)).toBe(true);
      for (let i = 0; i < p.length; i++) {
        for (const c of CHARS) {
          const m = p.slice(0, i) + c + p.slice(i + 1);
          expect(isPin(m), JSON.stringify(m)).toBe(REFERENCE_PIN.test(m));
          if (isPin(m)) accepted++;
          checked++;
        }
      }
    }
    expect(checked).toBe(8 * 44 * CHARS.length);
    expect(accepted).toBeGreaterThan(8 * 43 * 50); // most digit swaps stay pins; the 43rd digit only 16 of 64
    expect(accepted).toBeLessThan(checked);
  });

  it('agrees with the reference on other lengths, padding, and random texts', () => {
    const texts = ['', '=', pins[0]!.slice(0, 43), `${pins[0]}=`, `${pins[0]!.slice(0, 43)}A`, `${pins[0]!.slice(0, 42)}==`, ` ${pins[0]}`];
    const rnd = random(7);
    for (let n = 0; n < 4000; n++) {
      const len = 40 + rnd(8);
      texts.push(Array.from({ length: len }, (_, i) => (i === len - 1 && rnd(2) ? '=' : CHARS[rnd(CHARS.length)]!)).join(''));
    }
    for (const t of texts) expect(isPin(t), JSON.stringify(t)).toBe(REFERENCE_PIN.test(t));
  });
});

describe('isHostName', () => {
  const FIXED = ['example.com', 'a', 'a.b', 'xn--bcher-kva.example', '1.2.3.4', '999.1.1.1', '-a.com', 'a-.com', 'a..b', '.a', 'a.',
    'A.com', 'a_b.com', '*.a.com', 'a.com:443', '::1', '2001:db8::1', '2001:DB8::1', '2001:db8:0::1', '::ffff:1.2.3.4', 'a:b',
    `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`, `${'a.'.repeat(126)}a`, `${'a.'.repeat(126)}ab`, '', ' a.com', 'é.com'];

  it('agrees with the reference (split into labels) on fixed cases', () => {
    for (const h of FIXED) expect(isHostName(h), JSON.stringify(h)).toBe(referenceHostName(h));
    expect(FIXED.filter((h) => isHostName(h))).toContain('2001:db8::1');
    expect(FIXED.filter((h) => isHostName(h))).toContain(`${'a.'.repeat(126)}a`);
  });

  it('agrees with the reference on random names of letters, digits, hyphens, dots and some strays', () => {
    const rnd = random(11);
    const CHARS = 'abcxyz019-.';
    const STRAY = 'A_:* é';
    let accepted = 0;
    for (let n = 0; n < 6000; n++) {
      const len = rnd(5) === 0 ? 60 + rnd(200) : 1 + rnd(24);
      let h = Array.from({ length: len }, () => CHARS[rnd(CHARS.length)]!).join('');
      if (rnd(4) === 0) h = h.slice(0, rnd(h.length + 1)) + STRAY[rnd(STRAY.length)]! + h.slice(rnd(h.length + 1));
      expect(isHostName(h), JSON.stringify(h)).toBe(referenceHostName(h));
      if (isHostName(h)) accepted++;
    }
    expect(accepted).toBeGreaterThan(500);
    expect(accepted).toBeLessThan(6000);
  });
});
