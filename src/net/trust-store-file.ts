/**
 * Loads a trust store: --ca-file, else $SSL_CERT_FILE, else the system bundle, else Node's bundled
 * Mozilla roots. Certificates that fail to parse are skipped and counted, never fatal for a bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import tls from 'node:tls';
import { InputError } from '../errors.js';
import { CertInfo, parseCertificate } from '../core/certificate.js';
import { parsePem } from '../core/pem.js';
import { leadingElement } from '../core/der.js';
import { parseInput } from '../core/input.js';
import { TrustStore, makeTrustStore } from '../core/trust-store.js';

export const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/ssl/cert.pem', // macOS, BSD
];

export function loadCaFile(path: string): TrustStore {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError('INPUT_NOT_FOUND', `--ca-file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const certs = parseInput(bytes, path).flatMap((i) => (i.cert ? [i.cert] : []));
  if (certs.length === 0) throw new InputError('NOTHING_FOUND', `--ca-file ${path}: expected CA certificates, found only keys or requests`);
  return makeTrustStore(certs, path);
}

export function systemBundlePath(env: Record<string, string | undefined>): string | null {
  if (env.SSL_CERT_FILE && existsSync(env.SSL_CERT_FILE)) return env.SSL_CERT_FILE;
  return SYSTEM_BUNDLES.find((p) => existsSync(p)) ?? null;
}

/** The system store, tolerant of the odd certificate OpenSSL cannot parse. */
export function loadSystemStore(env: Record<string, string | undefined>): TrustStore {
  const path = systemBundlePath(env);
  const pems = path ? readFileSync(path, 'latin1') : tls.rootCertificates.join('\n');
  const certs: CertInfo[] = [];
  for (const b of parsePem(pems, path ?? 'node:tls.rootCertificates')) {
    if (b.label !== 'CERTIFICATE' && b.label !== 'TRUSTED CERTIFICATE') continue;
    try {
      certs.push(parseCertificate(b.label === 'TRUSTED CERTIFICATE' ? leadingElement(b.der) : b.der));
    } catch {
      /* one broken anchor must not disable the whole store */
    }
  }
  return makeTrustStore(certs, path ?? "Node's bundled Mozilla roots");
}
