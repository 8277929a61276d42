/**
 * IP literals without node:net or URL (the SDK core runs on Hermes, which has neither): which
 * version a string is (as node:net's isIP answers), and the RFC 5952 canonical text of an IPv6
 * address (lower case, leading zeros dropped, the longest run of two or more zero groups as "::",
 * the first such run on a tie; an embedded IPv4 tail written as hex groups, as WHATWG URL writes
 * it). Zone ids ("fe80::1%eth0") are not literals here: a host name never carries one.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** 4, 6, or 0 when the string is not an IP literal. */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (IPV4.test(s)) return 4;
  return ipv6Groups(s) ? 6 : 0;
}

/** The eight 16-bit groups of an IPv6 literal (zone ids are not literals here), or null. */
function ipv6Groups(s: string): number[] | null {
  if (!s.includes(':') || s.length > 45) return null;
  let text = s;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (!IPV4.test(v4[2]!)) return null;
    const o = v4[2]!.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    text = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1); // "a:b:" → "a:b"; "a::" stays
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (part: string) => (part === '' ? [] : part.split(':'));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  if (![...head, ...rest].every((w) => HEX_GROUP.test(w))) return null;
  const total = head.length + rest.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const hex = (w: string) => parseInt(w, 16);
  return [...head.map(hex), ...new Array<number>(8 - total).fill(0), ...rest.map(hex), ...tail];
}

/** RFC 5952 text of an IPv6 literal, or null when it is not one. */
export function canonicalIpv6(s: string): string | null {
  const g = ipv6Groups(s);
  if (!g) return null;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
