/**
 * src/vocab/ip.ts (pure JavaScript, for the SDK core on Hermes) against Node's own answers:
 * node:net's isIP for what is an IP literal, WHATWG URL for the canonical IPv6 text.
 */
import { describe, expect, it } from 'vitest';
import { isIP } from 'node:net';
import { canonicalIpv6, ipVersion } from '../../src/vocab/ip.js';
import { isHostName, normalizeHostName } from '../../src/vocab/hostname.js';

const node = (s: string) => (s.includes('%') ? 0 : isIP(s)); // zone ids: not literals for pinctl
const whatwg = (s: string) => new URL(`http://[${s}]/`).hostname.slice(1, -1);

const FIXED = ['::', '::1', '1::', '1:2:3:4:5:6:7:8', '2001:DB8:0:0:1:0:0:1', '2001:db8:0000:0:1::1', '::ffff:1.2.3.4', '::1.2.3.4',
  '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:::2', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1',
  '1.2.3.4', '256.1.1.1', '01.2.3.4', '1.2.3', '::ffff:256.1.1.1', '0:0:0:0:0:ffff:7f00:1', '1:0:0:2:0:0:0:3', '0:0:1:0:0:1:0:0',
  'abc', '', ':', '1::2::3', '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%eth0'];

/** Random IPv6 texts: groups of 0–4 hex digits, zeros often, one run compressed at random. */
function randomIpv6(seed: number): string {
  let x = seed;
  const rnd = (n: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
  const groups = Array.from({ length: 8 }, () => (rnd(3) === 0 ? '0' : rnd(0x10000).toString(16).padStart(rnd(2) ? 4 : 1, '0')));
  if (rnd(2)) {
    const a = rnd(8);
    const b = a + 1 + rnd(8 - a);
    return `${groups.slice(0, a).join(':')}::${groups.slice(b).join(':')}`;
  }
  return groups.join(':');
}

describe('IP literals without node:net', () => {
  it.each(FIXED)('%j: same verdict and canonical text as Node', (s) => {
    expect(ipVersion(s)).toBe(node(s));
    if (node(s) === 6) expect(canonicalIpv6(s)).toBe(whatwg(s));
  });
  it('agrees with Node on 2,000 random IPv6 texts', () => {
    const wrong: string[] = [];
    for (let i = 1; i <= 2000; i++) {
      const s = randomIpv6(i);
      if (ipVersion(s) !== node(s) || (node(s) === 6 && canonicalIpv6(s) !== whatwg(s))) wrong.push(s);
    }
    expect(wrong).toEqual([]);
  });
  it('host names: IPv6 only in canonical form, never with a zone id', () => {
    expect(normalizeHostName('[2001:DB8::0:1]')).toBe('2001:db8::1');
    expect(isHostName('2001:db8::1')).toBe(true);
    expect(isHostName('2001:db8:0::1')).toBe(false);
    expect(isHostName(normalizeHostName('fe80::1%eth0'))).toBe(false);
  });
});
