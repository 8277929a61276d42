/** The signing side: Ed25519 over PAE with node:crypto (SPEC §1.2). Used by the CLI and the service. */
import { KeyObject, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { Envelope } from './envelope.js';
import { pae } from './pae.js';
import { keyIdOf } from './ed25519.js';
import { EnvelopeError } from './errors.js';

export interface Signer {
  keyid: string;
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

export function signerFromPem(pem: string | Uint8Array): Signer {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
  } catch {
    throw new EnvelopeError('expected an Ed25519 private key in PEM (BEGIN PRIVATE KEY)', 'make one with: pinctl keys generate --out DIR');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new EnvelopeError(`expected an Ed25519 private key, found ${privateKey.asymmetricKeyType ?? 'an unknown'} key`, 'make one with: pinctl keys generate --out DIR');
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  return { keyid: keyIdOf(publicKey), privateKey, publicKey };
}

export function signEnvelope(payloadType: string, payload: Uint8Array, signers: Signer[]): Envelope {
  const message = pae(payloadType, payload);
  return {
    payloadType,
    payload,
    signatures: signers.map((s) => ({ keyid: s.keyid, sig: new Uint8Array(sign(null, message, s.privateKey)) })),
  };
}
