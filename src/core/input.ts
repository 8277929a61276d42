/**
 * Turns the bytes of a user's file into pinnable items: certificates, public keys, private keys
 * (their public half: how a backup pin is made for a key not yet in service), CSRs and PKCS#7
 * bundles, in PEM (any number of blocks) or DER.
 */
import { KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { ParseError } from '../errors.js';
import { CertInfo, KeyDescription, REENCODED_HINT, REENCODED_WHY, describeKey, parseCertificate, sameAsReencoded } from './certificate.js';
import { DerError, berToDer, hasIndefiniteLength, leadingElement, readTlv } from './der.js';
import { hasPem, parsePem, PemBlock } from './pem.js';
import { spkiSha256 } from './pin.js';
import { csrSpki, looksLikePkcs12, looksLikePkcs7, pkcs7Certificates } from './x509-structure.js';

export type ItemKind = 'certificate' | 'public-key' | 'private-key' | 'csr';

export interface InputItem extends KeyDescription {
  source: string;
  /** Position among the items of this source, from 0. */
  index: number;
  kind: ItemKind;
  spkiDer: Uint8Array;
  spkiSha256: string;
  cert?: CertInfo;
}

type Partial = Omit<InputItem, 'source' | 'index'>;

/** Refuse absurd inputs before doing any work on them. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

export function parseInput(bytes: Uint8Array, source: string): InputItem[] {
  if (bytes.length > MAX_INPUT_BYTES) {
    throw new ParseError('TOO_LARGE', `${source}: ${bytes.length} bytes is larger than the ${MAX_INPUT_BYTES}-byte limit for certificate files`);
  }
  if (bytes.length === 0) throw new ParseError('NOTHING_FOUND', `${source}: the file is empty`);
  const utf16 = utf16Text(bytes);
  const text = utf16 ?? (isProbablyText(bytes) ? Buffer.from(bytes).toString('latin1') : null);
  let partials: Partial[];
  if (text !== null && hasPem(text)) {
    partials = parsePem(text, source).flatMap((b) => fromPemBlock(b, source));
  } else if (text !== null) {
    throw new ParseError('NOTHING_FOUND', `${source}: expected PEM blocks (-----BEGIN CERTIFICATE-----) or DER, found text without any`, {
      hint: 'to pin a live server, pass its host name to `pinctl generate` instead',
    });
  } else {
    partials = fromDer(bytes, source);
  }
  if (partials.length === 0) {
    throw new ParseError('NOTHING_FOUND', `${source}: no certificate, key or CSR found`);
  }
  return partials.map((p, index) => ({ ...p, source, index }));
}

/** PEM saved as UTF-16 (Windows editors, PowerShell's `>`): a byte-order mark, or every other byte zero. */
function utf16Text(bytes: Uint8Array): string | null {
  const le = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0x2d && bytes[1] === 0 && bytes[2] === 0x2d && bytes[3] === 0);
  const be = (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0 && bytes[1] === 0x2d && bytes[2] === 0 && bytes[3] === 0x2d);
  if (!le && !be) return null;
  const text = new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(bytes);
  return hasPem(text) ? text : null;
}

function isProbablyText(bytes: Uint8Array): boolean {
  // DER always starts with a SEQUENCE (0x30) followed by a length byte; PEM starts with text.
  if (bytes[0] === 0x30 && bytes.length > 1 && (bytes[1]! >= 0x80 || bytes[1]! < 0x20)) return false;
  const n = Math.min(bytes.length, 512);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 0x09) || (b > 0x0d && b < 0x20)) return false;
  }
  return true;
}

const SKIPPED_LABELS = new Set(['EC PARAMETERS', 'DH PARAMETERS', 'X509 CRL']);

function fromPemBlock(block: PemBlock, source: string): Partial[] {
  const where = `${source}: ${block.label} at line ${block.line + 1}`;
  if (block.headers['Proc-Type']?.includes('ENCRYPTED') || block.label === 'ENCRYPTED PRIVATE KEY') {
    throw new ParseError('PEM_ENCRYPTED', `${where} is encrypted`, {
      hint: `pin its public key instead: openssl pkey -in ${source} -pubout > key.pub.pem`,
    });
  }
  switch (block.label) {
    case 'CERTIFICATE':
    case 'X509 CERTIFICATE':
      return [certItem(block.der, where)];
    case 'TRUSTED CERTIFICATE':
      // OpenSSL's trusted form: the certificate followed by its trust settings.
      return [certItem(firstElement(block.der, where), where)];
    case 'PUBLIC KEY':
      return [publicKeyItem(block.der, 'spki', where)];
    case 'RSA PUBLIC KEY':
      return [publicKeyItem(block.der, 'pkcs1', where)];
    case 'PRIVATE KEY':
      return [privateKeyItem(block.der, 'pkcs8', where)];
    case 'EC PRIVATE KEY':
      return [privateKeyItem(block.der, 'sec1', where)];
    case 'RSA PRIVATE KEY':
      return [privateKeyItem(block.der, 'pkcs1', where)];
    case 'DSA PRIVATE KEY':
      return [dsaPrivateKeyItem(block.der, where)];
    case 'CERTIFICATE REQUEST':
    case 'NEW CERTIFICATE REQUEST':
      return [csrItem(block.der, where)];
    case 'PKCS7':
    case 'CMS':
      return pkcs7Items(block.der, where);
    default:
      if (SKIPPED_LABELS.has(block.label)) return [];
      throw new ParseError('PEM_MALFORMED', `${where}: unsupported PEM block type`, {
        hint: 'pinctl reads CERTIFICATE, TRUSTED CERTIFICATE, PUBLIC KEY, PRIVATE KEY, EC/RSA/DSA PRIVATE KEY, CERTIFICATE REQUEST and PKCS7 blocks',
      });
  }
}

function firstElement(der: Uint8Array, where: string): Uint8Array {
  try {
    return leadingElement(der);
  } catch (e) {
    throw new ParseError('CERT_MALFORMED', `${where}: ${(e as Error).message}`);
  }
}

function certItem(der: Uint8Array, where: string): Partial {
  const cert = parseCertificate(der, where);
  return {
    kind: 'certificate',
    spkiDer: cert.spkiDer,
    spkiSha256: cert.spkiSha256,
    keyType: cert.keyType,
    keyBits: cert.keyBits,
    curve: cert.curve,
    cert,
  };
}

function keyPartial(kind: ItemKind, key: KeyObject, spkiDer?: Uint8Array, where = ''): Partial {
  if (spkiDer && !sameAsReencoded(spkiDer, key)) {
    const code = kind === 'csr' ? 'CSR_MALFORMED' : 'KEY_MALFORMED';
    throw new ParseError(code, `${where}: the SubjectPublicKeyInfo is not in canonical DER: ${REENCODED_WHY}`, { hint: REENCODED_HINT });
  }
  const der = spkiDer ?? new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  return { kind, spkiDer: der, spkiSha256: spkiSha256(der), ...describeKey(key) };
}

function publicKeyItem(der: Uint8Array, type: 'spki' | 'pkcs1', where: string): Partial {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type });
  } catch {
    throw new ParseError('KEY_MALFORMED', `${where}: not a valid ${type === 'spki' ? 'SubjectPublicKeyInfo' : 'PKCS#1 RSA'} public key`);
  }
  // A SubjectPublicKeyInfo is pinned as given; PKCS#1 must be wrapped into one first.
  return keyPartial('public-key', key, type === 'spki' ? checkedWhole(der, where) : undefined, where);
}

function checkedWhole(der: Uint8Array, where: string): Uint8Array {
  try {
    const t = readTlv(der, 0);
    if (t.end !== der.length) throw new DerError(`${der.length - t.end} unexpected bytes after the key`);
    return der;
  } catch (e) {
    throw new ParseError('KEY_MALFORMED', `${where}: ${(e as Error).message}`, { hint: REENCODED_HINT });
  }
}

function privateKeyItem(der: Uint8Array, type: 'pkcs8' | 'sec1' | 'pkcs1', where: string): Partial {
  let key: KeyObject;
  try {
    key = createPublicKey(createPrivateKey({ key: Buffer.from(der), format: 'der', type }));
  } catch {
    throw new ParseError('KEY_MALFORMED', `${where}: not a valid ${type.toUpperCase()} private key`);
  }
  return keyPartial('private-key', key);
}

/**
 * OpenSSL's traditional DSA key (SEQUENCE of version, p, q, g, y, x): node:crypto has no DER type
 * name for it, but reads it as PEM, which is what it is.
 */
function dsaPrivateKeyItem(der: Uint8Array, where: string): Partial {
  const pem = `-----BEGIN DSA PRIVATE KEY-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END DSA PRIVATE KEY-----\n`;
  let key: KeyObject;
  try {
    key = createPublicKey(createPrivateKey(pem));
  } catch {
    throw new ParseError('KEY_MALFORMED', `${where}: not a valid DSA private key`);
  }
  return keyPartial('private-key', key);
}

function csrItem(der: Uint8Array, where: string): Partial {
  let spki: Uint8Array;
  let key: KeyObject;
  try {
    spki = csrSpki(der);
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    const why = e instanceof DerError ? `: ${e.message}` : '';
    throw new ParseError('CSR_MALFORMED', `${where}: not a valid PKCS#10 certificate request${why}`);
  }
  return keyPartial('csr', key, spki, where);
}

function pkcs7Items(der: Uint8Array, where: string): Partial[] {
  let certs: Uint8Array[];
  try {
    certs = pkcs7Certificates(der);
  } catch (e) {
    throw new ParseError('PKCS7_MALFORMED', `${where}: not a valid PKCS#7 certificate bundle: ${(e as Error).message}`);
  }
  return certs.map((c, i) => certItem(c, `${where}, certificate ${i + 1}`));
}

const ENCODING_REFUSAL = /BER, not DER|not in canonical DER/;

/** Binary input: try each DER structure a user is likely to have, most common first. */
function fromDer(bytes: Uint8Array, source: string): Partial[] {
  if (looksLikePkcs12(bytes)) {
    throw new ParseError('NOTHING_FOUND', `${source}: this is a PKCS#12 (.p12/.pfx) bundle; pinctl does not read PKCS#12 (it is usually password-protected)`, {
      hint: `extract the certificates first: openssl pkcs12 -in ${source} -nokeys -out certs.pem (add -legacy for old RC2-encrypted files), then run pinctl on certs.pem`,
    });
  }
  // PKCS#7 from Windows and Java tools is often BER (indefinite lengths): re-encoded as DER first.
  const der = hasIndefiniteLength(bytes) ? berToDer(bytes) ?? bytes : bytes;
  if (looksLikePkcs7(der)) return pkcs7Items(der, source);
  const attempts: Array<() => Partial> = [
    () => certItem(der, source),
    () => csrItem(der, source),
    () => publicKeyItem(der, 'spki', source),
    () => privateKeyItem(der, 'pkcs8', source),
    () => privateKeyItem(der, 'sec1', source),
    () => privateKeyItem(der, 'pkcs1', source),
    () => dsaPrivateKeyItem(der, source),
    () => publicKeyItem(der, 'pkcs1', source),
  ];
  let encodingRefusal: unknown;
  for (const attempt of attempts) {
    try {
      return [attempt()];
    } catch (e) {
      // The right structure in a wrong (BER) encoding: that reason beats "none of these".
      if (!encodingRefusal && e instanceof ParseError && ENCODING_REFUSAL.test(e.message)) encodingRefusal = e;
    }
  }
  if (encodingRefusal) throw encodingRefusal;
  throw new ParseError('DER_MALFORMED', `${source}: expected a DER certificate, key, CSR or PKCS#7 bundle, found ${der.length} bytes that are none of these`, {
    hint: 'a truncated or corrupted file? `openssl asn1parse -inform DER -in FILE` shows where it breaks',
  });
}
