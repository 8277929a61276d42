/**
 * Signing keys on disk (SPEC §2): Ed25519 key pairs made by `pinctl keys generate`, private keys
 * read with a permission check, public keys in every form pinctl writes (PEM, base64 raw, the
 * `pinctl-signing.pub` JSON), and the `/v1/keys` document.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { keyIdOf } from '../bundle/ed25519.js';
import { parsePublicKey, publicKeyPem } from '../bundle/keys.js';
import { Signer, signerFromPem } from '../bundle/sign.js';

export const PRIVATE_KEY_FILE = 'pinctl-signing.key';
export const PUBLIC_PEM_FILE = 'pinctl-signing.pub.pem';
export const PUBLIC_FILE = 'pinctl-signing.pub';

/** Key files are small; anything larger is not a key. */
const MAX_KEY_FILE = 64 * 1024;

export interface GeneratedKey {
  /** PKCS#8 PEM (BEGIN PRIVATE KEY). */
  privatePem: string;
  /** SubjectPublicKeyInfo PEM (BEGIN PUBLIC KEY). */
  publicPem: string;
  publicKey: Uint8Array;
  keyid: string;
}

export function generateSigningKey(): GeneratedKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = rawOf(publicKey.export({ format: 'jwk' }).x!);
  return { privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicPem: publicKeyPem(raw), publicKey: raw, keyid: keyIdOf(raw) };
}

function rawOf(x: string): Uint8Array {
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** `pinctl-signing.pub`: one JSON object, the same shape as a keyset entry (SPEC §3.3). */
export function publicKeyFileText(raw: Uint8Array): string {
  return `${JSON.stringify({ keyid: keyIdOf(raw), publicKey: Buffer.from(raw).toString('base64') })}\n`;
}

function readSmall(path: string, shown: string, what: string): Buffer {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new InputError('INPUT_UNREADABLE', `${shown}: is a directory, expected ${what}`);
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw unreadable(e, shown);
  }
  if (size > MAX_KEY_FILE) throw new InputError('KEY_MALFORMED', `${shown}: expected ${what}, found a ${size}-byte file`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw unreadable(e, shown);
  }
}

function unreadable(e: unknown, shown: string): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  return new InputError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `${shown}: cannot read it (${code ?? 'error'})`, {
    hint: code === 'ENOENT' ? 'check the path, or make a key pair with: pinctl keys generate --out DIR' : undefined,
  });
}

/**
 * A private signing key. Refused when group or others may read it (mode & 0o077), as ssh does:
 * a signing key that others can read is no longer a secret.
 */
export function readPrivateKeyFile(path: string, shown = path): Signer {
  if (process.platform !== 'win32') {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch (e) {
      throw unreadable(e, shown);
    }
    if ((mode & 0o077) !== 0) {
      throw new InputError('KEY_UNSAFE', `${shown}: private key is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}), expected 0600`, {
        hint: `chmod 600 ${shown}`,
      });
    }
  }
  const bytes = readSmall(path, shown, 'an Ed25519 private key');
  try {
    return signerFromPem(bytes);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new InputError('KEY_MALFORMED', `${shown}: ${message}`, { hint: 'make one with: pinctl keys generate --out DIR' });
  }
}

/**
 * A public key: PEM `PUBLIC KEY`, base64 of the 32 raw bytes, the `pinctl-signing.pub` JSON
 * ({keyid, publicKey}; the keyid must match), or a `/v1/keys` document with exactly one key.
 */
export function parsePublicKeyText(text: string, shown: string): Uint8Array {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (/-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----/.test(trimmed)) {
    throw new InputError('KEY_MALFORMED', `${shown}: expected a public key, found a private key`, { hint: `give the public half: openssl pkey -in ${shown} -pubout` });
  }
  let value = trimmed;
  let keyid: string | undefined;
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      throw new InputError('KEY_MALFORMED', `${shown}: expected a public key, found text that starts like JSON but does not parse`);
    }
    const o = doc as Record<string, unknown>;
    const entry = Array.isArray(o?.keys) && o.keys.length === 1 ? (o.keys[0] as Record<string, unknown>) : o;
    if (typeof entry?.publicKey !== 'string') {
      throw new InputError('KEY_MALFORMED', `${shown}: expected {"keyid", "publicKey"} (pinctl-signing.pub), found JSON without a publicKey string`);
    }
    value = entry.publicKey;
    if (typeof entry.keyid === 'string') keyid = entry.keyid;
  }
  let raw: Uint8Array;
  try {
    raw = parsePublicKey(value);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new InputError('KEY_MALFORMED', `${shown}: ${message}`, { hint: 'expected pinctl-signing.pub.pem or pinctl-signing.pub from pinctl keys generate' });
  }
  if (keyid !== undefined && keyid !== keyIdOf(raw)) {
    throw new InputError('KEY_MALFORMED', `${shown}: keyid ${keyid} does not match its key (SHA-256 is ${keyIdOf(raw)})`, { hint: 'the file was edited; take it again from pinctl keys generate or GET /v1/keys' });
  }
  return raw;
}

export function readPublicKeyFile(path: string, shown = path): Uint8Array {
  return parsePublicKeyText(readSmall(path, shown, 'an Ed25519 public key').toString('utf8'), shown);
}

export interface PublicKeyInfo {
  keyid: string;
  /** base64 of the 32 raw bytes */
  publicKey: string;
  /** SubjectPublicKeyInfo PEM */
  pem: string;
}

export function publicKeyInfo(raw: Uint8Array): PublicKeyInfo {
  return { keyid: keyIdOf(raw), publicKey: Buffer.from(raw).toString('base64'), pem: publicKeyPem(raw) };
}

/** The `GET /v1/keys` body: deterministic, so serve and publish --out produce the same bytes. */
export function keysDocument(publicKeys: Uint8Array[]): Uint8Array {
  const seen = new Set<string>();
  const keys = publicKeys.map(publicKeyInfo).filter((k) => (seen.has(k.keyid) ? false : (seen.add(k.keyid), true)));
  return new Uint8Array(Buffer.from(`${JSON.stringify({ keys }, null, 2)}\n`, 'utf8'));
}
