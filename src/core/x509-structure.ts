/**
 * Locates structures inside DER without interpreting the cryptography: the exact
 * SubjectPublicKeyInfo bytes of a certificate or CSR (pins are a hash of these bytes as encoded by
 * the issuer, not a re-encoding) and the certificates carried by a PKCS#7 SignedData.
 */
import { DerError, TAG, berToDer, children, expectTag, hasIndefiniteLength, oidToString, readWhole, slice } from './der.js';

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature } (RFC 5280 4.1). */
export function certificateSpki(der: Uint8Array): Uint8Array {
  const cert = expectTag(readWhole(der), TAG.SEQUENCE, 'Certificate SEQUENCE');
  const [tbs] = children(der, cert);
  const fields = children(der, expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate SEQUENCE'));
  // version [0] EXPLICIT is optional; then serial, signature, issuer, validity, subject, SPKI.
  const base = fields[0]?.tag === TAG.CONTEXT_0 ? 1 : 0;
  const spki = expectTag(fields[base + 5], TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  return slice(der, spki);
}

/** CertificationRequest ::= SEQUENCE { certificationRequestInfo, ... } (RFC 2986 4). */
export function csrSpki(der: Uint8Array): Uint8Array {
  const req = expectTag(readWhole(der), TAG.SEQUENCE, 'CertificationRequest SEQUENCE');
  const [info] = children(der, req);
  const fields = children(der, expectTag(info, TAG.SEQUENCE, 'CertificationRequestInfo SEQUENCE'));
  expectTag(fields[0], TAG.INTEGER, 'CSR version');
  expectTag(fields[1], TAG.SEQUENCE, 'CSR subject');
  return slice(der, expectTag(fields[2], TAG.SEQUENCE, 'CSR SubjectPublicKeyInfo'));
}

/** The subject Name of a CSR, as raw DER (for display we let node:crypto handle certificates). */
export function csrSubjectDer(der: Uint8Array): Uint8Array {
  const req = readWhole(der);
  const [info] = children(der, req);
  const fields = children(der, info!);
  return slice(der, expectTag(fields[1], TAG.SEQUENCE, 'CSR subject'));
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';

/**
 * ContentInfo { contentType signedData, [0] EXPLICIT SignedData { version, digestAlgorithms,
 * encapContentInfo, [0] IMPLICIT certificates OPTIONAL, ... } } (RFC 5652 5.1). Returns the DER of
 * each certificate in the order stored. Other CertificateChoices (attribute certificates) are skipped.
 */
export function pkcs7Certificates(der: Uint8Array): Uint8Array[] {
  const ci = expectTag(readWhole(der), TAG.SEQUENCE, 'PKCS#7 ContentInfo');
  const [type, content] = children(der, ci);
  const oid = oidToString(der, expectTag(type, TAG.OID, 'PKCS#7 content type'));
  if (oid !== OID_SIGNED_DATA) throw new DerError(`expected PKCS#7 signedData (${OID_SIGNED_DATA}), found ${oid}`);
  const explicit = expectTag(content, TAG.CONTEXT_0, 'PKCS#7 [0] content');
  const [sd] = children(der, explicit);
  const fields = children(der, expectTag(sd, TAG.SEQUENCE, 'SignedData'));
  const certSet = fields.find((f, i) => i >= 3 && f.tag === TAG.CONTEXT_0_IMPLICIT_SET);
  if (!certSet) return [];
  return children(der, certSet)
    .filter((c) => c.tag === TAG.SEQUENCE)
    .map((c) => slice(der, c));
}

/** Quick sniff: is this DER a PKCS#7 ContentInfo (starts with SEQUENCE then the signedData OID)? */
export function looksLikePkcs7(der: Uint8Array): boolean {
  try {
    const ci = readWhole(der);
    const [type] = children(der, ci);
    return type?.tag === TAG.OID && oidToString(der, type) === OID_SIGNED_DATA;
  } catch {
    return false;
  }
}

const OID_DATA = '1.2.840.113549.1.7.1';

/** PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (data or signedData), macData OPTIONAL } (RFC 7292 4). */
export function looksLikePkcs12(der: Uint8Array): boolean {
  try {
    const whole = hasIndefiniteLength(der) ? berToDer(der) : der;
    if (!whole) return false;
    const pfx = readWhole(whole);
    const [version, authSafe] = children(whole, pfx);
    if (version?.tag !== TAG.INTEGER || version.end - version.contentStart !== 1 || whole[version.contentStart] !== 3) return false;
    const [type] = children(whole, expectTag(authSafe, TAG.SEQUENCE, 'AuthenticatedSafe ContentInfo'));
    const oid = type?.tag === TAG.OID ? oidToString(whole, type) : '';
    return oid === OID_DATA || oid === OID_SIGNED_DATA;
  } catch {
    return false;
  }
}
