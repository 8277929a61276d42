/**
 * Building payloads for the signing side (SPEC §3) from what operators have: the pinctl.pins.v1
 * JSON that `pinctl generate --format json` writes, a PEM file of root certificates, public keys.
 * Every payload is checked with the clients' own validator (decodePayload) before it is signed, so
 * the service never signs a bundle that a client would refuse for its shape.
 */
import { InputError, ParseError } from '../errors.js';
import { PinSet, distinctPins } from '../core/model.js';
import { parseInput } from '../core/input.js';
import { shortName } from '../core/certificate.js';
import { readJson } from '../formats/json.js';
import { keyIdOf } from '../bundle/ed25519.js';
import { serializeEnvelope } from '../bundle/envelope.js';
import { PayloadError } from '../bundle/errors.js';
import { decodePayload, encodePayload } from '../bundle/payload.js';
import { Signer, signEnvelope } from '../bundle/sign.js';
import { KeysetPayload, PAYLOAD_TYPES, Payload, PinsPayload, TrustRoot, TrustRootsPayload } from '../bundle/types.js';

export interface Common {
  audience: string;
  version: number;
  issuedAt: string;
  expiresAt: string;
}

export const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export function parseAudience(value: unknown, flag = '--audience'): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InputError('USAGE', `${flag}: expected the app or account the bundle is for (e.g. com.example.app), found ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) throw new InputError('USAGE', `${flag}: expected at most 256 printable characters`);
  return value;
}

export function parseVersion(value: string | number, flag = '--version'): number {
  const n = typeof value === 'number' ? value : /^[1-9]\d{0,15}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError('USAGE', `${flag} ${value}: expected an integer from 1 to 2^53-1`, { hint: 'versions only go up: use the last published version + 1' });
  return n;
}

/** pinctl.pins.v1 JSON → PinSet (InputError naming the path on anything malformed). */
export function parsePinsJson(text: string, source: string): PinSet {
  return readJson(text, source);
}

/** SPEC §3.1: at least two distinct pins per domain, so a key change never bricks the app. */
export function pinsPayload(pinSet: PinSet, common: Common, source: string): PinsPayload {
  for (const d of pinSet.domains) {
    const n = distinctPins(d).length;
    if (n < 2) {
      throw new InputError('NO_PINS', `${source}: domain ${d.domain} has ${n} distinct pin${n === 1 ? '' : 's'}, a signed pin set needs at least two per domain`, {
        hint: `add a backup pin for ${d.domain}: pinctl generate ${d.domain} --backup-key spare.key (or --new-backup-key DIR) --format json`,
      });
    }
  }
  const payload: PinsPayload = {
    type: 'pins',
    ...common,
    domains: pinSet.domains.map((d) => ({ domain: d.domain, includeSubdomains: d.includeSubdomains, pins: distinctPins(d) })),
  };
  return checked(payload, source);
}

/**
 * `POST /v1/bundles/pins?merge=1`: the posted domains replace the same domains of the current pin
 * set and every other current domain is kept, so a client that knows one domain (the monitor's
 * proposals) cannot drop the others from the bundle. Without a current set: the posted one.
 */
export function mergePinsPayload(posted: PinsPayload, current: PinsPayload | undefined, source: string): PinsPayload {
  if (!current) return posted;
  const replaced = new Set(posted.domains.map((d) => d.domain.toLowerCase()));
  const kept = current.domains.filter((d) => !replaced.has(d.domain.toLowerCase()));
  return checked({ ...posted, domains: [...kept, ...posted.domains] }, source);
}

/** SPEC §3.2 from PEM (or DER) certificates: each must be a self-issued CA certificate. */
export function trustRootsFromCertificates(bytes: Uint8Array, source: string): TrustRoot[] {
  let items;
  try {
    items = parseInput(bytes, source);
  } catch (e) {
    if (e instanceof ParseError) throw e;
    throw new InputError('CONFIG_MALFORMED', `${source}: expected PEM root certificates`);
  }
  const roots: TrustRoot[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const where = `${source} #${item.index + 1}`;
    if (item.kind !== 'certificate' || !item.cert) throw new InputError('CONFIG_MALFORMED', `${where}: expected a root certificate, found a ${item.kind}`, { hint: 'give only CERTIFICATE blocks of the roots apps may chain to' });
    const c = item.cert;
    if (!c.isCA || !c.selfIssued) {
      throw new InputError('CONFIG_MALFORMED', `${where}: expected a root (self-issued CA) certificate, found ${c.isCA ? 'a CA' : 'a non-CA'} certificate "${c.subject}" issued by "${c.issuer}"`, {
        hint: 'a trust-roots bundle lists roots the chain ends in; pin intermediates in a pins bundle instead',
      });
    }
    if (seen.has(item.spkiSha256)) continue; // the same root key twice: the first certificate stands for it
    seen.add(item.spkiSha256);
    roots.push({ name: shortName(c), spkiSha256: item.spkiSha256, certificate: Buffer.from(c.der).toString('base64') });
  }
  return roots;
}

export function trustRootsPayload(roots: TrustRoot[], common: Common, source: string): TrustRootsPayload {
  return checked({ type: 'trust-roots', ...common, roots }, source);
}

/** SPEC §3.3: distinct keys, 1 ≤ threshold ≤ keys. */
export function keysetPayload(publicKeys: Uint8Array[], threshold: number, common: Common, source = 'keyset'): KeysetPayload {
  const keys = publicKeys.map((raw) => ({ keyid: keyIdOf(raw), publicKey: Buffer.from(raw).toString('base64') }));
  const ids = keys.map((k) => k.keyid);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new InputError('USAGE', `${source}: key ${dup} is given twice`);
  if (keys.length === 0) throw new InputError('USAGE', `${source}: expected at least one public key`);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new InputError('USAGE', `--threshold ${threshold}: expected an integer from 1 to ${keys.length} (the number of keys)`);
  }
  return checked({ type: 'keyset', ...common, threshold, keys }, source);
}

/** Round-trip through the clients' validator: what a client would refuse is never signed. */
function checked<T extends Payload>(payload: T, source: string): T {
  try {
    decodePayload(encodePayload(payload), payload.type);
  } catch (e) {
    if (e instanceof PayloadError) throw new InputError('CONFIG_MALFORMED', `${source}: ${e.message}`, { hint: 'fix the input; clients would refuse a bundle holding this' });
    throw e;
  }
  return payload;
}

/** Sign a payload with every signer and serialise the DSSE envelope (SPEC §1). */
export function signPayload(payload: Payload, signers: Signer[]): Uint8Array {
  if (signers.length === 0) throw new InputError('USAGE', 'expected at least one signing key (--key)');
  const env = signEnvelope(PAYLOAD_TYPES[payload.type], encodePayload(payload), signers);
  return new Uint8Array(Buffer.from(serializeEnvelope(env), 'utf8'));
}

/** One line describing a payload, for logs and CLI notes. */
export function describePayload(p: Payload): string {
  const what = p.type === 'pins' ? `${p.domains.length} domain${p.domains.length === 1 ? '' : 's'}` : p.type === 'trust-roots' ? `${p.roots.length} root${p.roots.length === 1 ? '' : 's'}` : `${p.keys.length} key${p.keys.length === 1 ? '' : 's'}, threshold ${p.threshold}`;
  return `${p.type} v${p.version} for ${p.audience}: ${what}, expires ${p.expiresAt}`;
}
