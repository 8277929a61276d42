/**
 * Payload rules (SPEC §3): decode, validate every member with an error naming its path, and build
 * payloads for the signing side. Unknown members are rejected (§3).
 */
import { certificateSpki } from '../core/x509-structure.js';
import { base64DecodeStrict, base64Encode, sha256, toHex, utf8Encode } from './bytes.js';
import { PayloadError } from './errors.js';
import { isPin } from '../vocab/pin.js';
import { isHostName } from '../vocab/hostname.js';
import { StrictJsonError, parseStrictJson } from './strict-json.js';
import { LIMITS, MAX_LIFETIME_MS, setDomainIndex, timestampMs } from './payload-rules.js';
import { readPins } from './pins-reader.js';
import { DomainIndex, hashName } from './domain-index.js';
import { BundleType, KeysetPayload, Payload, PayloadFor, PinsDomain, PinsPayload, TrustRoot, TrustRootsPayload, KeysetKey, RootRoleSpec } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;

export { LIMITS, MAX_LIFETIME_MS };

type Obj = Record<string, unknown>;

function fail(path: string, expected: string, found: unknown): never {
  const f = typeof found === 'string' ? JSON.stringify(found.length > 60 ? `${found.slice(0, 60)}…` : found) : found === null ? 'null' : Array.isArray(found) ? 'an array' : typeof found;
  throw new PayloadError(`payload ${path}: expected ${expected}, found ${f}`);
}

function object(v: unknown, path: string, keys: string[], optional: string[] = []): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
  const o = v as Obj;
  const allowed = [...keys, ...optional];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${path}.${k}`, `no such member (allowed: ${allowed.join(', ')})`, o[k]);
  for (const k of keys) if (!(k in o)) fail(`${path}.${k}`, 'a value', undefined);
  return o;
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, 'a non-empty string', v);
  return v as string;
}

function array(v: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) fail(path, `an array of ${min} to ${max} entries`, Array.isArray(v) ? `${v.length} entries` : v);
  return v as unknown[];
}

/** SPEC §3.1 pin: canonical base64 of 32 bytes (src/vocab/pin.ts, the one pin grammar). */
export function isPinValue(v: string): boolean {
  return isPin(v);
}

/**
 * SPEC §3.1 domain: a host name in normal form (src/vocab/hostname.ts, the grammar generate, the
 * service and the SDK share). Decision when the grammars merged: IPv6 literals in canonical form
 * are now accepted here (IPv4 already passed as digit labels); generate writes them for apps that
 * dial an address, and a pin set generate wrote must be publishable. Still refused: "_", wildcards,
 * upper case, a trailing dot.
 */
export function isBundleDomain(v: string): boolean {
  return isHostName(v);
}

function timestamp(v: unknown, path: string): number {
  const t = timestampMs(string(v, path));
  if (Number.isNaN(t)) fail(path, 'an RFC 3339 UTC timestamp such as 2026-11-22T12:00:00Z', v);
  return t;
}

const COMMON = ['type', 'audience', 'version', 'issuedAt', 'expiresAt'];
const EXTRA: Record<BundleType, string[]> = { pins: ['domains'], 'trust-roots': ['roots'], keyset: ['threshold', 'keys'] };

/**
 * A payload parsed once (SPEC §3), read by steps 5–8 and then shaped by step 9: a valid pins
 * payload the fast path read (pins-reader.ts), or else the strict JSON tree.
 */
export interface ParsedPayload {
  readonly bytes: Uint8Array;
  readonly pins: PinsPayload | null;
  /** The strict JSON tree when `pins` is null (read it with treeOf). */
  readonly json: unknown;
}

/**
 * Strict JSON of a payload, or PayloadError. With `expected` 'pins' the fast path reads it first;
 * it gives up on anything but a valid pins payload, which the general reader then judges.
 */
export function parsePayload(bytes: Uint8Array, expected?: BundleType): ParsedPayload {
  const pins = expected === 'pins' ? readPins(bytes) : null;
  if (pins) return { bytes, pins, json: undefined };
  try {
    return { bytes, pins: null, json: parseStrictJson(bytes) };
  } catch (e) {
    throw new PayloadError(`payload: expected a UTF-8 JSON object without a byte-order mark or repeated members${e instanceof StrictJsonError ? ` (${e.message})` : ''}`);
  }
}

/** The strict JSON tree (built now if the fast path read the payload: only for a type other than pins). */
function treeOf(p: ParsedPayload): unknown {
  return p.pins ? parsePayload(p.bytes).json : p.json;
}

/** SPEC §3 and §4.5/§4.9: bytes (or a payload parsed once) → a payload of the expected type, or PayloadError. */
export function decodePayload<T extends BundleType>(input: Uint8Array | ParsedPayload, type: T): PayloadFor<T> {
  const parsed = input instanceof Uint8Array ? parsePayload(input, type) : input;
  if (parsed.pins && type === 'pins') return parsed.pins as PayloadFor<T>;
  const doc = treeOf(parsed);
  // SPEC §7.3.4: `root` is an optional member of keysets only.
  const o = object(doc, '', [...COMMON, ...EXTRA[type]], type === 'keyset' ? ['root'] : []);
  if (o.type !== type) fail('.type', JSON.stringify(type), o.type);
  return validatePayload(o, type) as PayloadFor<T>;
}

/** The common members only, for steps 5–8, which run before the type-specific shape (step 9). */
export function payloadHeader(input: Uint8Array | ParsedPayload): { type: unknown; audience: unknown; version: unknown; issuedAt: unknown; expiresAt: unknown } {
  if (!(input instanceof Uint8Array) && input.pins) return input.pins;
  const d = input instanceof Uint8Array ? parsePayload(input).json : treeOf(input);
  if (typeof d === 'object' && d !== null && !Array.isArray(d)) {
    const o = d as Record<string, unknown>;
    return { type: o.type, audience: o.audience, version: o.version, issuedAt: o.issuedAt, expiresAt: o.expiresAt };
  }
  throw new PayloadError('payload: expected a UTF-8 JSON object');
}

/** An RFC 3339 UTC timestamp in milliseconds, or PayloadError naming the member. */
export function readTimestamp(v: unknown, member: string): number {
  return timestamp(v, `.${member}`);
}

function validatePayload(o: Obj, type: BundleType): Payload {
  const audience = string(o.audience, '.audience');
  if (!Number.isSafeInteger(o.version) || (o.version as number) < 1) fail('.version', 'an integer from 1 to 2^53-1', o.version);
  const issued = timestamp(o.issuedAt, '.issuedAt');
  const expires = timestamp(o.expiresAt, '.expiresAt');
  if (expires <= issued) fail('.expiresAt', `a time after issuedAt (${o.issuedAt})`, o.expiresAt);
  const common = { audience, version: o.version as number, issuedAt: o.issuedAt as string, expiresAt: o.expiresAt as string };
  // SPEC §7.4 for pins and trust roots (keysets: KeysetError, checked where keysets are trusted).
  if (type !== 'keyset' && expires - issued > MAX_LIFETIME_MS) {
    fail('.expiresAt', `at most 366 days after issuedAt (${o.issuedAt}), SPEC §7.4`, o.expiresAt);
  }
  if (type === 'pins') return { type, ...common, domains: validateDomains(o.domains) };
  if (type === 'trust-roots') return { type, ...common, roots: validateRoots(o.roots) };
  const keys = validateKeys(o.keys);
  if (!Number.isSafeInteger(o.threshold) || (o.threshold as number) < 1 || (o.threshold as number) > keys.length) fail('.threshold', `an integer from 1 to ${keys.length}`, o.threshold);
  const keyset = { type, ...common, threshold: o.threshold as number, keys };
  return 'root' in o ? { ...keyset, root: validateRoot(o.root) } : keyset;
}

/** SPEC §7.3.4: `{ keys, threshold, expiresAt }`, the next root role. */
function validateRoot(v: unknown): RootRoleSpec {
  const o = object(v, '.root', ['keys', 'threshold', 'expiresAt']);
  const keys = validateKeys(o.keys, '.root.keys');
  if (!Number.isSafeInteger(o.threshold) || (o.threshold as number) < 1 || (o.threshold as number) > keys.length) {
    fail('.root.threshold', `an integer from 1 to ${keys.length}`, o.threshold);
  }
  timestamp(o.expiresAt, '.root.expiresAt');
  return { keys, threshold: o.threshold as number, expiresAt: o.expiresAt as string };
}

// Up to 10,000 domains a bundle: paths are built only for the message of a failure, and the
// pins array JSON.parse made (private to this call) is kept rather than copied.
const DOMAIN_MEMBERS = ['domain', 'includeSubdomains', 'pins'];

function validateDomains(v: unknown): PinsDomain[] {
  const list = array(v, '.domains', 1, LIMITS.domains);
  const seen = new DomainIndex<PinsDomain>(list.length); // each domain once, and the pin index's table
  const out = new Array<PinsDomain>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = validateDomain(list[i], i, seen);
  setDomainIndex(out, seen);
  return out;
}

function validateDomain(d: unknown, i: number, seen: DomainIndex<PinsDomain>): PinsDomain {
  const o = hasExactly(d, DOMAIN_MEMBERS) ? (d as Obj) : object(d, `.domains[${i}]`, DOMAIN_MEMBERS);
  const domain = o.domain;
  if (typeof domain !== 'string' || !isBundleDomain(domain)) {
    string(domain, `.domains[${i}].domain`);
    fail(`.domains[${i}].domain`, 'a lower-case host name without wildcard or trailing dot', domain);
  }
  // The entry is made now to be indexed (each domain once); a later check that fails discards it.
  const entry: PinsDomain = { domain, includeSubdomains: o.includeSubdomains as boolean, pins: o.pins as string[] };
  if (!seen.add(entry, hashName(domain))) fail(`.domains[${i}].domain`, 'each domain once', domain);
  if (typeof o.includeSubdomains !== 'boolean') fail(`.domains[${i}].includeSubdomains`, 'true or false', o.includeSubdomains);
  const pins = o.pins as unknown[];
  if (!Array.isArray(pins) || pins.length < 2 || pins.length > LIMITS.pinsPerDomain) array(pins, `.domains[${i}].pins`, 2, LIMITS.pinsPerDomain);
  for (let j = 0; j < pins.length; j++) {
    const pin: unknown = pins[j];
    if (typeof pin !== 'string' || !isPinValue(pin)) fail(`.domains[${i}].pins[${j}]`, 'base64 of 32 bytes (44 characters)', pin);
  }
  const distinct = pins.length === 2 ? (pins[0] === pins[1] ? 1 : 2) : new Set(pins).size;
  if (distinct < 2) fail(`.domains[${i}].pins`, 'at least two distinct pins (a backup)', `${distinct} distinct`);
  return entry;
}

/**
 * A plain object with exactly these members (the common case; object() explains any other).
 * for-in counts without allocating a key array; it also counts inherited enumerable members,
 * which only sends a polluted object to object(), the reference check.
 */
function hasExactly(v: unknown, members: string[]): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  let n = 0;
  for (const _ in v) n++;
  if (n !== members.length) return false;
  for (const m of members) if (!Object.prototype.hasOwnProperty.call(v, m)) return false;
  return true;
}

/** The pin of a DER certificate's exact SPKI bytes (the same rule as every other pin in pinctl). */
export function spkiSha256OfCertificate(der: Uint8Array): string | null {
  try {
    return base64Encode(sha256(certificateSpki(der)));
  } catch {
    return null;
  }
}

function validateRoots(v: unknown): TrustRoot[] {
  const seen = new Set<string>();
  return array(v, '.roots', 1, LIMITS.roots).map((r, i) => {
    const p = `.roots[${i}]`;
    const o = object(r, p, ['name', 'spkiSha256', 'certificate']);
    const name = string(o.name, `${p}.name`);
    const spki = string(o.spkiSha256, `${p}.spkiSha256`);
    if (!isPinValue(spki)) fail(`${p}.spkiSha256`, 'base64 of 32 bytes', spki);
    const certB64 = string(o.certificate, `${p}.certificate`);
    const der = base64DecodeStrict(certB64);
    if (der === null) fail(`${p}.certificate`, 'standard base64 of a DER certificate', certB64);
    const actual = spkiSha256OfCertificate(der!);
    if (actual === null) fail(`${p}.certificate`, 'a DER X.509 certificate', 'bytes that do not parse');
    if (actual !== spki) fail(`${p}.spkiSha256`, `the SPKI SHA-256 of its certificate (${actual})`, spki);
    if (seen.has(spki)) fail(`${p}.spkiSha256`, 'each root once', spki);
    seen.add(spki);
    return { name, spkiSha256: spki, certificate: certB64 };
  });
}

function validateKeys(v: unknown, path = '.keys'): KeysetKey[] {
  const seen = new Set<string>();
  return array(v, path, 1, LIMITS.keys).map((k, i) => {
    const p = `${path}[${i}]`;
    const o = object(k, p, ['keyid', 'publicKey']);
    const keyid = string(o.keyid, `${p}.keyid`);
    if (!HEX64.test(keyid)) fail(`${p}.keyid`, '64 lower-case hex characters', keyid);
    const pk = string(o.publicKey, `${p}.publicKey`);
    const raw = base64DecodeStrict(pk);
    if (raw?.length !== 32) fail(`${p}.publicKey`, 'base64 of 32 bytes', pk);
    const expected = toHex(sha256(raw!));
    if (keyid !== expected) fail(`${p}.keyid`, `the SHA-256 of its key (${expected})`, keyid);
    if (seen.has(keyid)) fail(`${p}.keyid`, 'each key once', keyid);
    seen.add(keyid);
    return { keyid, publicKey: pk };
  });
}

/** Signing side: serialise a payload deterministically (member order as in the spec). */
export function encodePayload(p: Payload): Uint8Array {
  return utf8Encode(JSON.stringify(p));
}

export type { PinsPayload, TrustRootsPayload, KeysetPayload };
