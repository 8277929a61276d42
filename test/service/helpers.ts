/** Shared by the service tests: a fake terminal, temp dirs, key pairs, pins.json documents. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { NOW, opensslPin } from '../helpers/fixtures.js';
import { generateSigningKey, PRIVATE_KEY_FILE, PUBLIC_FILE, PUBLIC_PEM_FILE, publicKeyFileText } from '../../src/service/keys.js';
import { writeFileSync } from 'node:fs';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'pinctl-service-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export { testIO, type TestIO } from '../helpers/cli.js';

/** A key pair written the way `pinctl keys generate` writes it (without going through the CLI). */
export function keyPair(dir = tempDir('pinctl-key-')): { dir: string; key: string; pubPem: string; pub: string; keyid: string; publicKey: Uint8Array } {
  const k = generateSigningKey();
  writeFileSync(join(dir, PRIVATE_KEY_FILE), k.privatePem, { mode: 0o600 });
  writeFileSync(join(dir, PUBLIC_PEM_FILE), k.publicPem);
  writeFileSync(join(dir, PUBLIC_FILE), publicKeyFileText(k.publicKey));
  return { dir, key: join(dir, PRIVATE_KEY_FILE), pubPem: join(dir, PUBLIC_PEM_FILE), pub: join(dir, PUBLIC_FILE), keyid: k.keyid, publicKey: k.publicKey };
}

/** Pins of fixtures/pki, computed by openssl when the fixtures were made. */
export const PIN = {
  leaf: opensslPin('leaf.pem'),
  intermediate: opensslPin('intermediate.pem'),
  root: opensslPin('root.pem'),
  backup: opensslPin('backup.key'),
  newLeaf: opensslPin('leaf-new-key.pem'),
};

export interface DomainSpec {
  domain: string;
  pins: string[];
  endpoints?: { host: string; port: number; addresses: string[] }[];
  includeSubdomains?: boolean;
}

/** A pinctl.pins.v1 document, as `pinctl generate --format json` writes it. */
export function pinsJson(domains: DomainSpec[]): string {
  return `${JSON.stringify(
    {
      format: 'pinctl.pins.v1',
      expiration: '2027-06-01',
      domains: domains.map((d) => ({
        domain: d.domain,
        includeSubdomains: d.includeSubdomains ?? false,
        pins: d.pins.map((p, i) => ({ spkiSha256: p, role: i === d.pins.length - 1 ? 'backup' : 'intermediate', subject: null, notAfter: null, source: 'test' })),
        endpoints: d.endpoints ?? [],
      })),
    },
    null,
    2,
  )}\n`;
}

export { NOW };
