/**
 * TrustedStore holds every trust rule of docs/SPEC.md §4–5 and takes bytes only (as tuf-js's
 * TrustedMetadataStore does): no network, no files, the clock passed in. It changes state only
 * after a bundle passed every step, so a failure always leaves the last good bundle in force.
 */
import { Envelope, parseEnvelope } from './envelope.js';
import {
  AudienceError,
  ExpiredError,
  KeysetError,
  NotYetValidError,
  PayloadError,
  PayloadTypeError,
  RollbackError,
  SignatureError,
  TooLargeError,
} from './errors.js';
import { TrustedKeyset, signingKeys } from './keys.js';
import { decodePayload, payloadHeader, readTimestamp } from './payload.js';
import { BundleType, KeysetPayload, PAYLOAD_TYPES, PayloadFor, typeOfPayloadType } from './types.js';
import { checkPublicKey } from './ed25519.js';
import { base64DecodeStrict, bytesEqual } from './bytes.js';

export type ContentType = Exclude<BundleType, 'keyset'>;

export interface AppliedBundle<T extends BundleType = BundleType> {
  type: T;
  payload: PayloadFor<T>;
  /** The exact envelope bytes, persisted as the last good bundle. */
  envelope: Uint8Array;
  payloadBytes: Uint8Array;
}

export interface StoreOptions {
  audience: string;
  keyset: TrustedKeyset;
  /** SPEC §4.8 tolerance; default 5 minutes. */
  skewMs?: number;
  /** SPEC §4.1; default 1 MiB. */
  maxBytes?: number;
}

export const DEFAULT_SKEW_MS = 5 * 60_000;
export const DEFAULT_MAX_BYTES = 1024 * 1024;
/** SPEC §5.7 */
export const MAX_ROTATIONS = 8;

export type VerifyResult<T extends ContentType> = { status: 'applied' | 'unchanged'; bundle: AppliedBundle<T> };

export class TrustedStore {
  readonly audience: string;
  readonly skewMs: number;
  readonly maxBytes: number;
  private trusted: TrustedKeyset;
  private readonly applied: { pins?: AppliedBundle<'pins'>; 'trust-roots'?: AppliedBundle<'trust-roots'> } = {};

  constructor(opts: StoreOptions) {
    this.audience = opts.audience;
    this.trusted = opts.keyset;
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  get keyset(): TrustedKeyset {
    return this.trusted;
  }

  current<T extends ContentType>(type: T): AppliedBundle<T> | undefined {
    return this.applied[type] as AppliedBundle<T> | undefined;
  }

  /** SPEC §4 steps 1–9, then step 10's in-memory half (persisting is the caller's I/O). */
  verify<T extends ContentType>(type: T, bytes: Uint8Array, now: Date): VerifyResult<T> {
    const env = this.checkEnvelope(type, bytes); // steps 1–3
    this.checkSignatures(env, this.trusted, 'trusted'); // step 4
    const header = payloadHeader(env.payload); // step 5
    if (header.type !== type) throw new PayloadError(`payload .type: expected "${type}" (the payloadType says so), found ${JSON.stringify(header.type)}`);
    this.checkAudience(header.audience); // step 6
    const last = this.applied[type];
    if (last) {
      // step 7
      if (typeof header.version !== 'number' || header.version < last.payload.version) {
        throw new RollbackError(`version ${String(header.version)} is older than the applied version ${last.payload.version}`);
      }
      if (header.version === last.payload.version) {
        if (bytesEqual(env.payload, last.payloadBytes)) {
          // A freeze (the same bytes served forever) must still surface once they expire (step 8).
          this.assertFresh(type, now);
          return { status: 'unchanged', bundle: last as AppliedBundle<T> };
        }
        throw new RollbackError(`version ${header.version} was already applied with other content: a replayed or forged version number`);
      }
    }
    this.checkFreshness(readTimestamp(header.issuedAt, 'issuedAt'), readTimestamp(header.expiresAt, 'expiresAt'), now); // step 8
    this.checkKeysetFresh(now); // SPEC §5.7: rotation may pass through expired keysets, bundles may not
    const payload = decodePayload(env.payload, type); // step 9
    const bundle: AppliedBundle<T> = { type, payload: payload as PayloadFor<T>, envelope: bytes, payloadBytes: env.payload };
    (this.applied as Record<string, AppliedBundle>)[type] = bundle;
    return { status: 'applied', bundle };
  }

  /**
   * Restores a persisted last good bundle at start-up: signature, audience and shape are checked
   * again (the file may have been tampered with); freshness is not, since the SDK's policy decides
   * what a stale bundle means.
   */
  restore<T extends ContentType>(type: T, bytes: Uint8Array): AppliedBundle<T> {
    const env = this.checkEnvelope(type, bytes);
    this.checkSignatures(env, this.trusted, 'trusted');
    const payload = decodePayload(env.payload, type);
    this.checkAudience(payload.audience);
    const bundle: AppliedBundle<T> = { type, payload: payload as PayloadFor<T>, envelope: bytes, payloadBytes: env.payload };
    (this.applied as Record<string, AppliedBundle>)[type] = bundle;
    return bundle;
  }

  /**
   * SPEC §4.7–4.8 for a refresh that brought nothing new (same bytes, or HTTP 304): the applied
   * bundle stays in force, but a client frozen on it is told once it is stale.
   */
  assertFresh(type: ContentType, now: Date): void {
    const cur = this.applied[type];
    if (!cur) return;
    this.checkFreshness(Date.parse(cur.payload.issuedAt), Date.parse(cur.payload.expiresAt), now);
    this.checkKeysetFresh(now);
  }

  /** SPEC §5 steps 2–6: one rotation to exactly version v+1, signed by the old and the new keys. */
  rotate(bytes: Uint8Array): KeysetPayload {
    const env = this.checkEnvelope('keyset', bytes);
    this.checkSignatures(env, this.trusted, 'currently trusted');
    const next = decodePayload(env.payload, 'keyset');
    this.checkAudience(next.audience);
    if (next.version !== this.trusted.version + 1) {
      throw new KeysetError(`keyset version ${next.version}: expected exactly ${this.trusted.version + 1} (one rotation at a time)`);
    }
    const keys = new Map<string, Uint8Array>();
    for (const k of next.keys) {
      const raw = base64DecodeStrict(k.publicKey)!; // decodePayload checked it is 32 bytes of base64
      const check = checkPublicKey(raw);
      if (!check.ok) throw new KeysetError(`keyset version ${next.version}: key ${k.keyid} is unsafe: ${check.reason}`);
      keys.set(k.keyid, raw);
    }
    const candidate: TrustedKeyset = { version: next.version, threshold: next.threshold, keys, expiresAt: Date.parse(next.expiresAt) };
    this.checkSignatures(env, candidate, 'new keyset');
    this.trusted = candidate;
    return next;
  }

  /** Steps 1–3. */
  private checkEnvelope(type: BundleType, bytes: Uint8Array): Envelope {
    if (bytes.length > this.maxBytes) throw new TooLargeError(`bundle of ${bytes.length} bytes exceeds the ${this.maxBytes}-byte limit`);
    const env = parseEnvelope(bytes);
    if (env.payloadType !== PAYLOAD_TYPES[type]) {
      const other = typeOfPayloadType(env.payloadType);
      throw new PayloadTypeError(`expected payloadType ${PAYLOAD_TYPES[type]}, found ${other ? `a ${other} bundle` : JSON.stringify(env.payloadType)}`);
    }
    return env;
  }

  private checkSignatures(env: Envelope, keyset: TrustedKeyset, which: string): void {
    const signed = signingKeys(env, keyset);
    if (signed.size < keyset.threshold) {
      throw new SignatureError(
        `expected valid signatures by ${keyset.threshold} of the ${which} key(s) (${[...keyset.keys.keys()].map((k) => k.slice(0, 16)).join(', ')}), found ${signed.size}`,
        'the bundle was altered, or signed by a key this client does not trust',
      );
    }
  }

  private checkAudience(audience: unknown): void {
    if (audience !== this.audience) throw new AudienceError(`expected audience ${JSON.stringify(this.audience)}, found ${JSON.stringify(audience)}`);
  }

  private checkKeysetFresh(now: Date): void {
    const exp = this.trusted.expiresAt;
    if (exp !== undefined && exp + this.skewMs <= now.getTime()) {
      const v = this.trusted.version;
      throw new ExpiredError(`the trusted keyset version ${v} expired at ${new Date(exp).toISOString()}; bundles are refused until keyset ${v + 1} is published`);
    }
  }

  private checkFreshness(issuedAt: number, expiresAt: number, now: Date): void {
    const t = now.getTime();
    if (expiresAt + this.skewMs <= t) throw new ExpiredError(`bundle expired at ${new Date(expiresAt).toISOString()}`);
    if (issuedAt - this.skewMs > t) throw new NotYetValidError(`bundle is issued in the future (${new Date(issuedAt).toISOString()}); check the clock`);
  }
}
