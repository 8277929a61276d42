/** TrustedStore's roles mode (SPEC §7) beyond the manifest's verdicts: what rotate() returns, codes, the decoder. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedKeyset, embeddedRootRole } from '../../src/bundle/keys.js';
import { decodePayload } from '../../src/bundle/payload.js';
import { KeysetError, PayloadError, TrustExpiredError } from '../../src/bundle/errors.js';
import { utf8Encode } from '../../src/bundle/bytes.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'bundles', 'vectors');
const v = (name: string) => new Uint8Array(readFileSync(join(DIR, `${name}.json`)));
const pem = (name: string) => readFileSync(join(DIR, `${name}.pub.pem`), 'utf8');
const NOW = new Date('2026-06-01T00:00:00Z');
const roles = (trustExpires = '2027-06-01T00:00:00Z') =>
  new TrustedStore({ audience: 'com.example.app', root: embeddedRootRole([pem('root1')], 1, Date.parse(trustExpires)) });

describe('TrustedStore in roles mode (SPEC §7)', () => {
  it('rotate() names the types recovery dropped (§7.6), and only those', () => {
    const s = roles();
    expect(s.rotate(v('roles-keyset-v1'), NOW)).toMatchObject({ version: 1, dropped: [] });
    s.verify('pins', v('roles-pins-vmax-stolen-key1'), NOW);
    s.verify('trust-roots', v('trust-roots-v1'), NOW);
    const r = s.rotate(v('roles-keyset-v2-recovery'), NOW);
    expect(r.version).toBe(2);
    expect(r.dropped.sort()).toEqual(['pins', 'trust-roots']);
    expect(s.current('pins')).toBeUndefined();
    // The floor is gone: a lower version by the new key applies.
    expect(s.verify('pins', v('pins-v10-by-key2'), NOW).status).toBe('applied');
  });

  it('a rotation keeping the signing key drops nothing', () => {
    const s = roles();
    s.rotate(v('roles-keyset-v1'), NOW);
    s.verify('pins', v('pins-v5'), NOW);
    expect(s.rotate(v('roles-keyset-v2-root-rotation'), NOW).dropped).toEqual([]);
    expect(s.root!.expiresAt).toBe(Date.parse('2027-06-01T00:00:00Z'));
  });

  it('TrustExpiredError has the stable code BUNDLE_TRUST_EXPIRED and a hint', () => {
    const s = roles('2026-05-01T00:00:00Z');
    let err: unknown;
    try {
      s.rotate(v('roles-keyset-v1'), NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrustExpiredError);
    expect((err as TrustExpiredError).code).toBe('BUNDLE_TRUST_EXPIRED');
    expect((err as TrustExpiredError).hint).toMatch(/trustExpires/);
    // Replaying stored keysets at start-up (no clock) is not a freeze; the next verify reports it.
    expect(s.rotate(v('roles-keyset-v1')).version).toBe(1);
    expect(() => s.verify('pins', v('pins-v5'), NOW)).toThrow(TrustExpiredError);
  });

  it('keys mode refuses a keyset that rotates a root role', () => {
    const s = new TrustedStore({ audience: 'com.example.app', keyset: { ...embeddedKeyset([pem('root1')]), version: 1 } });
    expect(() => s.rotate(v('roles-keyset-v2-root-rotation'), NOW)).toThrow(/rotates a root role, but this client embeds signing keys/);
  });

  it('needs root keys or signing keys, not both and not neither', () => {
    const root = embeddedRootRole([pem('root1')], 1, Date.parse('2027-01-01T00:00:00Z'));
    expect(() => new TrustedStore({ audience: 'a', root, keyset: embeddedKeyset([pem('key1')]) })).toThrow(KeysetError);
    expect(() => new TrustedStore({ audience: 'a' })).toThrow(KeysetError);
    expect(() => embeddedRootRole([pem('root1')], 2, Date.parse('2027-01-01T00:00:00Z'))).toThrow(/from 1 to 1/);
  });
});

describe('the payload decoder and §7.4', () => {
  const body = (o: object) => utf8Encode(JSON.stringify(o));
  const common = { audience: 'a', version: 1, issuedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-06-01T00:00:00Z' };
  const key = readFileSync(join(DIR, 'key1.pub.b64'), 'utf8').trim();
  const keyid = readFileSync(join(DIR, 'key1.keyid'), 'utf8').trim();
  const keys = [{ keyid, publicKey: key }];
  it('accepts `root` on keysets only', () => {
    const root = { keys, threshold: 1, expiresAt: '2027-01-01T00:00:00Z' };
    expect(decodePayload(body({ type: 'keyset', ...common, threshold: 1, keys, root }), 'keyset').root).toEqual(root);
    const domains = [{ domain: 'a.test', includeSubdomains: false, pins: ['A'.repeat(42) + 'E=', 'A'.repeat(42) + 'I='] }];
    expect(() => decodePayload(body({ type: 'pins', ...common, domains, root }), 'pins')).toThrow(/\.root: expected no such member/);
    expect(() => decodePayload(body({ type: 'keyset', ...common, threshold: 1, keys, root: { ...root, threshold: 2 } }), 'keyset')).toThrow(PayloadError);
  });
  it('refuses pins valid for 367 days, accepts 366', () => {
    const domains = [{ domain: 'a.test', includeSubdomains: false, pins: ['A'.repeat(42) + 'E=', 'A'.repeat(42) + 'I='] }];
    const at = (expiresAt: string) => body({ type: 'pins', ...common, issuedAt: '2026-01-01T00:00:00Z', expiresAt, domains });
    expect(decodePayload(at('2027-01-02T00:00:00Z'), 'pins').version).toBe(1);
    expect(() => decodePayload(at('2027-01-02T00:00:01Z'), 'pins')).toThrow(/at most 366 days/);
  });
});

