/**
 * Malformed input never crashes and never hangs: every mutated or truncated DER/PEM either parses
 * (a flipped bit in a signature is still a certificate) or raises a typed PinctlError.
 */
import { describe, expect, it } from 'vitest';
import { parseInput } from '../../src/core/input.js';
import { parsePem } from '../../src/core/pem.js';
import { PinctlError } from '../../src/errors.js';
import { readPki } from '../helpers/fixtures.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const derOf = (file: string) => parsePem(readPki(file).toString('latin1'), file)[0]!.der;
const DER_SEEDS: Record<string, Uint8Array> = {
  'leaf.der': new Uint8Array(readPki('leaf.der')),
  'chain.p7c': new Uint8Array(readPki('chain.p7c')),
  'leaf-pub.der': new Uint8Array(readPki('leaf-pub.der')),
  'root-rsa.der': derOf('root-rsa.pem'),
  'backup.csr.der': derOf('backup.csr'),
  'leaf.key.der': derOf('leaf.key'),
};
const PEM_SEEDS = ['fullchain.pem', 'mixed.pem', 'chain.p7b', 'root-trusted.pem', 'leaf-rsa-traditional.key'];

interface Case {
  name: string;
  bytes: Uint8Array;
}

function cases(): Case[] {
  const out: Case[] = [];
  const rand = rng(20261122);
  for (const [name, der] of Object.entries(DER_SEEDS)) {
    for (let i = 0; i < 40; i++) {
      const cut = Math.floor((der.length * i) / 40);
      out.push({ name: `${name} truncated to ${cut}`, bytes: der.subarray(0, cut) });
    }
    for (let i = 0; i < 60; i++) {
      const m = new Uint8Array(der);
      const kind = i % 4;
      const at = Math.floor(rand() * m.length);
      if (kind === 0) m[at] = m[at]! ^ (1 << Math.floor(rand() * 8));
      if (kind === 1) m[at] = Math.floor(rand() * 256);
      // Corrupt a length byte near the start, where the outer structure lives.
      if (kind === 2) m[1 + Math.floor(rand() * Math.min(12, m.length - 1))] = [0x80, 0x84, 0xff, 0x00, 0x7f][i % 5]!;
      const bytes = kind === 3 ? Uint8Array.from([...m.subarray(0, at), ...m.subarray(at + 1 + Math.floor(rand() * 8))]) : m;
      out.push({ name: `${name} mutation ${i} (kind ${kind} at ${at})`, bytes });
    }
  }
  for (const name of PEM_SEEDS) {
    const text = readPki(name).toString('latin1');
    for (let i = 1; i <= 30; i++) {
      const cut = Math.floor((text.length * i) / 31);
      out.push({ name: `${name} truncated to ${cut} chars`, bytes: Buffer.from(text.slice(0, cut), 'latin1') });
    }
    for (let i = 0; i < 20; i++) {
      const chars = [...text];
      const at = Math.floor(rand() * chars.length);
      chars[at] = 'A+/=-!\n x'[i % 9]!;
      out.push({ name: `${name} char ${at} replaced`, bytes: Buffer.from(chars.join(''), 'latin1') });
    }
  }
  const junk: [string, string | Uint8Array][] = [
    ['empty', ''],
    ['only BEGIN', '-----BEGIN CERTIFICATE-----\n'],
    ['mismatched END', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n'],
    ['empty block', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
    ['bad base64', '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'],
    ['unknown label', '-----BEGIN SOMETHING-----\nAAAA\n-----END SOMETHING-----\n'],
    ['zeros', new Uint8Array(64)],
    ['0x30 0x80 indefinite', Uint8Array.from([0x30, 0x80, 0, 0])],
    ['huge length', Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 1])],
    ['nested deep', Uint8Array.from(Array.from({ length: 2000 }, (_, i) => (i % 2 ? 0x00 : 0x30)))],
    ['binary noise', Uint8Array.from(Array.from({ length: 500 }, (_, i) => (i * 7919) & 0xff))],
  ];
  for (const [name, v] of junk) out.push({ name, bytes: typeof v === 'string' ? Buffer.from(v) : v });
  return out;
}

describe('malformed input suite', () => {
  const all = cases();
  it('has a few hundred cases', () => expect(all.length).toBeGreaterThan(600));
  it('no case crashes or hangs', () => {
    const outcomes = { parsed: 0, rejected: 0 };
    for (const c of all) {
      const t = performance.now();
      try {
        const items = parseInput(c.bytes, c.name);
        expect(items.length, c.name).toBeGreaterThan(0);
        for (const i of items) expect(i.spkiSha256, c.name).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        outcomes.parsed++;
      } catch (e) {
        if (!(e instanceof PinctlError)) throw new Error(`${c.name}: untyped error ${String(e)}`);
        expect(e.message.length, c.name).toBeGreaterThan(0);
        expect(e.exitCode).toBe(2);
        outcomes.rejected++;
      }
      expect(performance.now() - t, c.name).toBeLessThan(1000);
    }
    // Both outcomes must occur, or the suite is not exercising anything.
    expect(outcomes.rejected).toBeGreaterThan(300);
    expect(outcomes.parsed).toBeGreaterThan(10);
  });
});
