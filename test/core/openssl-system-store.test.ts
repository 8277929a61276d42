/**
 * Cross-check with an independent implementation: openssl's own pipeline over every certificate
 * of the system CA store (RSA and EC alike) must give the pins and fingerprints pinctl gives.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseInput } from '../../src/core/input.js';

const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

describe.runIf(existsSync(BUNDLE))('system CA store vs openssl', () => {
  it('every certificate has the pin openssl computes', () => {
    const script = `
      set -e
      tmp=$(mktemp -d)
      awk -v d="$tmp" '/-----BEGIN CERTIFICATE-----/{n++; f=sprintf("%s/%04d.pem", d, n)} n{print > f}' "$1"
      for f in "$tmp"/*.pem; do
        pin=$(openssl x509 -in "$f" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
        fp=$(openssl x509 -in "$f" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
        echo "$pin $fp"
      done
      rm -rf "$tmp"`;
    const lines = execFileSync('bash', ['-c', script, 'x', BUNDLE], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n');
    const items = parseInput(readFileSync(BUNDLE), BUNDLE);
    expect(items.length).toBe(lines.length);
    expect(items.length).toBeGreaterThan(100);
    const ours = items.map((i) => `${i.spkiSha256} ${i.cert!.sha256Fingerprint}`);
    expect(ours).toEqual(lines);
    expect(new Set(items.map((i) => i.keyType))).toEqual(new Set(['rsa', 'ec']));
  }, 120_000);
});
