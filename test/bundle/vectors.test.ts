/** The openssl-made vectors of fixtures/bundles against TrustedStore; verdicts written by hand (see its README). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedKeyset } from '../../src/bundle/keys.js';
import { AudienceError, ExpiredError, KeysetError, PayloadError, PayloadTypeError, RollbackError, SignatureError } from '../../src/bundle/errors.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'bundles', 'vectors');
const v = (name: string) => new Uint8Array(readFileSync(join(DIR, `${name}.json`)));
const NOW = new Date('2026-06-01T00:00:00Z');
const key1 = readFileSync(join(DIR, 'key1.pub.pem'), 'utf8');
const store = () => new TrustedStore({ audience: 'com.example.app', keyset: embeddedKeyset([key1]) });

describe('SPEC vectors (signed by openssl)', () => {
  it('a valid bundle is applied', () => {
    const r = store().verify('pins', v('pins-v5'), NOW);
    expect(r.status).toBe('applied');
    expect(r.bundle.payload.version).toBe(5);
    expect(r.bundle.payload.domains[0]!.domain).toBe('api.pinctl.test');
  });
  it.each(['pins-v5-empty-keyid', 'pins-v5-wrong-keyid', 'pins-v5-two-sigs'])('%s: the keyid is only a hint', (name) => {
    expect(store().verify('pins', v(name), NOW).status).toBe('applied');
  });
  it.each([
    ['pins-v5-by-key2', SignatureError],
    ['pins-v5-tampered-payload', SignatureError],
    ['pins-v5-tampered-sig', SignatureError],
    ['pins-as-trust-roots', PayloadTypeError],
    ['pins-v7-other-audience', AudienceError],
    ['pins-v8-expired', ExpiredError],
    ['pins-v9-one-distinct-pin', PayloadError],
  ] as const)('%s is refused with %O', (name, cls) => {
    expect(() => store().verify('pins', v(name), NOW)).toThrow(cls);
  });
  it('a pins payload signed under the trust-roots type is not a trust-roots bundle either', () => {
    expect(() => store().verify('trust-roots', v('pins-as-trust-roots'), NOW)).toThrow(PayloadError);
  });
  it('versions only move forward; the same version must be the same bytes', () => {
    const s = store();
    s.verify('pins', v('pins-v5'), NOW);
    expect(() => s.verify('pins', v('pins-v4'), NOW)).toThrow(RollbackError);
    expect(s.verify('pins', v('pins-v5'), NOW).status).toBe('unchanged');
    expect(() => s.verify('pins', v('pins-v5-other-bytes'), NOW)).toThrow(RollbackError);
    expect(s.current('pins')!.payload.version).toBe(5); // failures left the last good bundle
    expect(s.verify('pins', v('pins-v6'), NOW).bundle.payload.version).toBe(6);
  });
  it('a rotation signed by the old and the new key moves trust to the new key', () => {
    const s = store();
    s.rotate(v('keyset-v1-to-key2'));
    expect(s.keyset.version).toBe(1);
    expect(s.verify('pins', v('pins-v10-by-key2'), NOW).status).toBe('applied');
    expect(() => store().verify('pins', v('pins-v10-by-key2'), NOW)).toThrow(SignatureError);
    expect(() => s.verify('pins', v('pins-v10-by-key1'), NOW)).toThrow(SignatureError);
  });
  it('a rotation signed by only one side is refused and changes nothing', () => {
    const s = store();
    expect(() => s.rotate(v('keyset-v1-new-key-only'))).toThrow(SignatureError);
    expect(() => s.rotate(v('keyset-v1-old-key-only'))).toThrow(SignatureError);
    expect(s.keyset.version).toBe(0);
  });
  it('a keyset that introduces a small-order key is refused', () => {
    const s = store();
    expect(() => s.rotate(v('keyset-v1-small-order-key'))).toThrow(KeysetError);
    expect(s.keyset.version).toBe(0);
  });
  it('a rotation must be exactly one version ahead', () => {
    const s = store();
    s.rotate(v('keyset-v1-to-key2'));
    // key2 signed it too, so the signature passes; replaying version 1 is not version 2.
    expect(() => s.rotate(v('keyset-v1-to-key2'))).toThrow(/expected exactly 2/);
  });
});
