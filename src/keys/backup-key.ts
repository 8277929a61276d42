/**
 * A spare key pair for a backup pin: an ECDSA P-256 key (what every platform and CA accepts) and a
 * PKCS#10 request for it, so the day the current key is lost or rotated a CA can certify this
 * one and apps already trust it. Randomness and files are the caller's; @peculiar/x509 builds the
 * CSR (node:crypto cannot) and is loaded only here.
 */
import { webcrypto } from 'node:crypto';
import { spkiSha256 } from '../core/pin.js';

export interface BackupKeyMaterial {
  privateKeyPem: string;
  csrPem: string;
  publicKeyPem: string;
  spkiSha256: string;
}

export async function createBackupKey(commonName: string): Promise<BackupKeyMaterial> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName.replace(/[,+="\\<>;#]/g, '\\$&')}`,
    keys: keys as any,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return {
    privateKeyPem: pem('PRIVATE KEY', pkcs8),
    publicKeyPem: pem('PUBLIC KEY', Buffer.from(spki)),
    csrPem: csr.toString('pem') + '\n',
    spkiSha256: spkiSha256(spki),
  };
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
