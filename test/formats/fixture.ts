/**
 * Pin sets for the format tests, built from real pins: fixtures/pki/openssl-pins.json is computed
 * with the openssl CLI alone, so these tests never depend on pinctl's own pin code.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PinSet } from '../../src/core/model.js';

type OpensslPins = Record<string, { spkiSha256: string; sha256Fingerprint: string | null }[]>;

const pinsFile = fileURLToPath(new URL('../../fixtures/pki/openssl-pins.json', import.meta.url));
const openssl = JSON.parse(readFileSync(pinsFile, 'utf8')) as OpensslPins;

/** The first SPKI pin openssl computed for a fixture file. */
export function pinOf(file: string): string {
  const entry = openssl[file]?.[0];
  if (!entry) throw new Error(`fixtures/pki/openssl-pins.json has no entry for ${file}; regenerate the fixtures`);
  return entry.spkiSha256;
}

const LEAF_UNTIL = '2036-01-01T00:00:00.000Z';
const RENEWED_UNTIL = '2037-01-01T00:00:00.000Z';
const CA_UNTIL = '2040-12-31T23:59:59.000Z';
const ROOT_UNTIL = '2050-12-31T23:59:59.000Z';

/**
 * Four domains that exercise every format rule:
 * - api.pinctl.test: leaf + intermediate + backup (iOS: both lists → ios-leaf-and-ca),
 * - cdn.pinctl.test: includeSubdomains, leaf + backup (iOS: leaf list only),
 * - rsa.pinctl.test: intermediate + root + backup, no leaf (iOS: backup omitted),
 * - single.pinctl.test: one pin (TrustKit / React Native refuse it).
 */
export function multiDomainPinSet(expiration: string | null): PinSet {
  return {
    expiration,
    domains: [
      {
        domain: 'api.pinctl.test',
        includeSubdomains: false,
        pins: [
          { spkiSha256: pinOf('leaf.pem'), role: 'leaf', subject: 'O=pinctl test, CN=api.pinctl.test', notAfter: LEAF_UNTIL, source: '203.0.113.10:443' },
          { spkiSha256: pinOf('intermediate.pem'), role: 'intermediate', subject: 'O=pinctl test, CN=pinctl Test Intermediate CA', notAfter: CA_UNTIL, source: '203.0.113.10:443' },
          { spkiSha256: pinOf('backup.key'), role: 'backup', subject: null, notAfter: null, source: 'backup.key' },
        ],
        endpoints: [{ host: 'api.pinctl.test', port: 443, addresses: ['203.0.113.10', '2001:db8::10'] }],
      },
      {
        domain: 'cdn.pinctl.test',
        includeSubdomains: true,
        pins: [
          { spkiSha256: pinOf('leaf-rsa.pem'), role: 'leaf', subject: 'O=pinctl test, CN=rsa.pinctl.test', notAfter: LEAF_UNTIL, source: 'chain-rsa.pem' },
          { spkiSha256: pinOf('backup-rsa.key'), role: 'backup', subject: null, notAfter: null, source: 'backup-rsa.key' },
        ],
        endpoints: [],
      },
      {
        domain: 'rsa.pinctl.test',
        includeSubdomains: false,
        pins: [
          { spkiSha256: pinOf('intermediate-rsa.pem'), role: 'intermediate', subject: 'O=pinctl test, CN=pinctl Test Intermediate CA RSA', notAfter: CA_UNTIL, source: '198.51.100.7:8443' },
          { spkiSha256: pinOf('root-rsa.pem'), role: 'root', subject: 'O=pinctl test, CN=pinctl Test Root CA RSA', notAfter: ROOT_UNTIL, source: 'trust store (198.51.100.7:8443)' },
          { spkiSha256: pinOf('backup-rsa.key'), role: 'backup', subject: null, notAfter: null, source: 'backup-rsa.key' },
        ],
        endpoints: [{ host: 'rsa.pinctl.test', port: 8443, addresses: ['198.51.100.7'] }],
      },
      {
        domain: 'single.pinctl.test',
        includeSubdomains: false,
        pins: [
          { spkiSha256: pinOf('leaf-new-key.pem'), role: 'leaf', subject: 'O=pinctl test, CN=api.pinctl.test', notAfter: RENEWED_UNTIL, source: 'chain-new-key.pem' },
        ],
        endpoints: [],
      },
    ],
  };
}
