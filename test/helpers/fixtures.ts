import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PKI = join(import.meta.dirname, '..', '..', 'fixtures', 'pki');
export const pkiFile = (name: string) => join(PKI, name);
export const readPki = (name: string) => readFileSync(pkiFile(name));

/** Pins and fingerprints computed by the openssl command line when the fixtures were made. */
export const OPENSSL_PINS: Record<string, { spkiSha256: string; sha256Fingerprint: string | null }[]> = JSON.parse(
  readFileSync(join(PKI, 'openssl-pins.json'), 'utf8'),
);
export const opensslPin = (name: string, i = 0) => OPENSSL_PINS[name]![i]!.spkiSha256;

/** A frozen clock inside every fixture's validity (leaves: 2025-06-01 → 2036-01-01). */
export const NOW = new Date('2026-06-01T00:00:00Z');
