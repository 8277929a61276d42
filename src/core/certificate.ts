/**
 * Certificate model. Parsing uses node:crypto's X509Certificate (OpenSSL underneath: the same
 * answers as `openssl x509`, about twice as fast as @peculiar/x509 and without its start-up cost);
 * the SPKI bytes come straight from the DER so a pin is a hash of exactly what the CA signed.
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import { ParseError } from '../errors.js';
import { certificateSpki } from './x509-structure.js';
import { sha256Hex, spkiSha256 } from './pin.js';
import { DerError } from './der.js';

export interface KeyDescription {
  /** rsa, ec, ed25519, ed448, rsa-pss, dsa, or unknown when node:crypto cannot load the key. */
  keyType: string;
  /** Modulus size for RSA, field size for EC and EdDSA. */
  keyBits: number | null;
  /** Named curve for EC keys (NIST names where there is one). */
  curve: string | null;
}

export interface CertInfo extends KeyDescription {
  der: Uint8Array;
  x509: X509Certificate;
  /** "CN=a, O=b"; '' for an empty Name (valid in a subject when a critical SAN names the entity). */
  subject: string;
  issuer: string;
  /** The Names in node's one-attribute-per-line form, '' when empty: keys for issuer look-ups. */
  subjectKey: string;
  issuerKey: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Uint8Array;
  spkiSha256: string;
  sha256Fingerprint: string;
  isCA: boolean;
  selfIssued: boolean;
  subjectAltNames: string[];
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  secp256k1: { name: 'secp256k1', bits: 256 },
};

export function describeKey(key: KeyObject | undefined): KeyDescription {
  if (!key) return { keyType: 'unknown', keyBits: null, curve: null };
  const type = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss' || type === 'dsa') return { keyType: type, keyBits: d.modulusLength ?? null, curve: null };
  if (type === 'ec') {
    const c = d.namedCurve ? CURVES[d.namedCurve] : undefined;
    return { keyType: 'ec', keyBits: c?.bits ?? null, curve: c?.name ?? d.namedCurve ?? null };
  }
  if (type === 'ed25519' || type === 'x25519') return { keyType: type, keyBits: 256, curve: null };
  if (type === 'ed448' || type === 'x448') return { keyType: type, keyBits: 448, curve: null };
  return { keyType: type, keyBits: null, curve: null };
}

/** "CN=a\nO=b" (node's form) → "CN=a, O=b". Node gives undefined for an empty Name. */
export function formatName(name: string | undefined): string {
  return (name ?? '').split('\n').filter(Boolean).join(', ');
}

export const REENCODED_WHY = 'OpenSSL re-encodes it to different bytes, so the pin of the bytes as sent would differ from openssl\'s and from what apps compute';
export const REENCODED_HINT = 'ask the issuer for a correctly encoded certificate; `openssl asn1parse -i` shows the encoding';

/**
 * The cross-check behind every pin of a stored SPKI: its bytes must be what the platform writes
 * back for the key it loads from them. A key OpenSSL cannot load has no re-encoding to compare.
 */
export function sameAsReencoded(spkiDer: Uint8Array, key: KeyObject | undefined): boolean {
  if (!key) return true;
  let again: Buffer;
  try {
    again = key.export({ type: 'spki', format: 'der' });
  } catch {
    return true;
  }
  return Buffer.compare(again, spkiDer) === 0;
}

const cache = new Map<string, CertInfo>();
const CACHE_LIMIT = 4096;

/**
 * Parses one DER certificate. Results are cached by fingerprint: a sweep sees the same
 * intermediates and roots thousands of times.
 */
export function parseCertificate(der: Uint8Array, source = 'certificate'): CertInfo {
  const fingerprint = sha256Hex(der);
  const hit = cache.get(fingerprint);
  if (hit) return hit;
  let spkiDer: Uint8Array;
  let x509: X509Certificate;
  try {
    spkiDer = certificateSpki(der);
    x509 = new X509Certificate(der);
  } catch (e) {
    const why = e instanceof DerError ? e.message : 'OpenSSL could not decode it';
    const ber = e instanceof DerError && /BER, not DER/.test(why);
    throw new ParseError('CERT_MALFORMED', `${source}: not a valid X.509 certificate: ${why}`, {
      hint: ber ? REENCODED_HINT : 'check the file is a complete certificate (openssl x509 -in FILE -noout -text)',
    });
  }
  let key: KeyObject | undefined;
  try {
    key = x509.publicKey;
  } catch {
    key = undefined; // an algorithm OpenSSL cannot load: still pinnable from the raw SPKI bytes
  }
  if (!sameAsReencoded(spkiDer, key)) {
    throw new ParseError('CERT_MALFORMED', `${source}: the certificate's SubjectPublicKeyInfo is not in canonical DER: ${REENCODED_WHY}`, {
      hint: REENCODED_HINT,
    });
  }
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new ParseError('CERT_MALFORMED', `${source}: the certificate's validity dates cannot be read`);
  }
  const info: CertInfo = {
    der,
    x509,
    subject: formatName(x509.subject),
    issuer: formatName(x509.issuer),
    subjectKey: x509.subject ?? '',
    issuerKey: x509.issuer ?? '',
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore,
    notAfter,
    spkiDer,
    spkiSha256: spkiSha256(spkiDer),
    sha256Fingerprint: fingerprint,
    isCA: x509.ca,
    selfIssued: (x509.subject ?? '') === (x509.issuer ?? ''),
    subjectAltNames: (x509.subjectAltName ?? '').split(', ').filter(Boolean),
    ...describeKey(key),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(fingerprint, info);
  return info;
}

/** For benchmarks that must measure parsing, not the cache. */
export function clearCertificateCache(): void {
  cache.clear();
}

/** The certificate's common name, or its whole subject when it has no CN. */
export function shortName(cert: CertInfo): string {
  const cn = /(?:^|, )CN=([^,]+)/.exec(cert.subject);
  return cn ? cn[1]! : cert.subject || '(empty subject)';
}
