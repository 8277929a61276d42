import { describe, expect, it } from 'vitest';
import { parseInput } from '../../src/core/input.js';
import { buildChain } from '../../src/core/chain.js';
import { makeTrustStore } from '../../src/core/trust-store.js';
import { NOW, opensslPin, readPki } from '../helpers/fixtures.js';

const certs = (f: string) => parseInput(readPki(f), f).map((i) => i.cert!);
const store = makeTrustStore([...certs('roots.pem')], 'roots.pem');
const emptyStore = makeTrustStore([], 'empty');

describe('buildChain', () => {
  it('completes leaf + intermediate with the root from the trust store', () => {
    const r = buildChain(certs('chain.pem'), store, { now: NOW, hostname: 'api.pinctl.test' });
    expect(r.valid).toBe(true);
    expect(r.entries.map((e) => [e.position, e.source])).toEqual([
      ['leaf', 'served'],
      ['intermediate', 'served'],
      ['root', 'trust-store'],
    ]);
    expect(r.entries.map((e) => e.cert.spkiSha256)).toEqual([opensslPin('leaf.pem'), opensslPin('intermediate.pem'), opensslPin('root.pem')]);
  });
  it('orders a reordered chain and says so', () => {
    const r = buildChain(certs('reordered-chain.pem'), store, { now: NOW });
    expect(r.reordered).toBe(true);
    expect(r.entries.map((e) => e.cert.spkiSha256)).toEqual([opensslPin('leaf.pem'), opensslPin('intermediate.pem'), opensslPin('root.pem')]);
    expect(r.entries.every((e) => e.source === 'served')).toBe(true);
    expect(r.valid).toBe(true);
  });
  it('a full chain in order is not reordered', () => {
    expect(buildChain(certs('fullchain.pem'), store, { now: NOW }).reordered).toBe(false);
  });
  it('a leaf-only chain is incomplete', () => {
    const r = buildChain(certs('leaf-only.pem'), store, { now: NOW });
    expect(r.valid).toBe(false);
    expect(r.problems.map((p) => p.code)).toEqual(['incomplete']);
  });
  it('an expired leaf is reported with its date', () => {
    const r = buildChain([...certs('example-expired.pem'), ...certs('intermediate.pem')], store, { now: NOW });
    expect(r.problems.map((p) => p.code)).toEqual(['expired']);
    expect(r.problems[0]!.message).toContain('2021-01-01');
  });
  it('the frozen clock decides validity', () => {
    const r = buildChain(certs('chain.pem'), store, { now: new Date('2036-06-01T00:00:00Z') });
    expect(r.problems.map((p) => p.code)).toEqual(['expired']);
  });
  it('an untrusted root is named', () => {
    const r = buildChain(certs('example-untrusted-chain.pem'), store, { now: NOW });
    expect(r.trusted).toBe(false);
    expect(r.problems.map((p) => p.code)).toEqual(['untrusted-root']);
  });
  it('a self-signed leaf', () => {
    const r = buildChain(certs('example-self-signed.pem'), store, { now: NOW });
    expect(r.problems.map((p) => p.code)).toEqual(['self-signed-leaf']);
  });
  it('the host name must match the leaf', () => {
    const r = buildChain(certs('chain.pem'), store, { now: NOW, hostname: 'other.example' });
    expect(r.problems.map((p) => p.code)).toEqual(['hostname-mismatch']);
    expect(buildChain(certs('chain.pem'), store, { now: NOW, hostname: '127.0.0.1' }).valid).toBe(true);
  });
  it('an empty trust store trusts nothing', () => {
    expect(buildChain(certs('fullchain.pem'), emptyStore, { now: NOW }).problems.map((p) => p.code)).toEqual(['untrusted-root']);
  });
  it('a certificate signed by the wrong key is not linked', () => {
    // leaf-via-intermediate2 with intermediate (same issuer name family but different key) must not chain.
    const r = buildChain([...certs('leaf-via-intermediate2.pem'), ...certs('intermediate.pem')], store, { now: NOW });
    expect(r.entries).toHaveLength(1);
    expect(r.unused).toHaveLength(1);
    expect(r.valid).toBe(false);
  });
});
