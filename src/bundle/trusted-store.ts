/**
 * TrustedStore holds every trust rule of docs/SPEC.md §4–5 and §7 (roles mode) and takes bytes only (as tuf-js's
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
  TrustExpiredError,
} from './errors.js';
import { RootRole, TrustedKeyset, signingKeys } from './keys.js';
import { MAX_LIFETIME_MS, decodePayload, parsePayload, payloadHeader, readTimestamp } from './payload.js';
import { BundleType, KeysetKey, KeysetPayload, PAYLOAD_TYPES, PayloadFor, typeOfPayloadType } from './types.js';
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
  /** SPEC 1.0 (§4–5): the app embeds the signing keys themselves. */
  keyset?: TrustedKeyset;
  /** SPEC §7 roles mode: the app embeds the root role; signing keys come from root-signed keysets. */
  root?: RootRole;
  /**
   * Roles mode: the version of the keyset trusted before the first rotate() (default 0, a fresh
   * client). A verifier that checks one keyset against the root keys alone starts at its version − 1.
   */
  keysetVersion?: number;
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

/** One accepted keyset rotation; `dropped`: the types whose applied bundle recovery removed (SPEC §7.6). */
export interface Rotation {
  payload: KeysetPayload;
  version: number;
  dropped: ContentType[];
}

export class TrustedStore {
  readonly audience: string;
  readonly skewMs: number;
  readonly maxBytes: number;
  private trusted: TrustedKeyset;
  private rootRole?: RootRole;
  private readonly applied: { pins?: AppliedBundle<'pins'>; 'trust-roots'?: AppliedBundle<'trust-roots'> } = {};

  constructor(opts: StoreOptions) {
    this.audience = opts.audience;
    if (opts.root && opts.keyset) throw new KeysetError('expected root keys (SPEC §7) or signing keys (SPEC 1.0), not both');
    if (!opts.root && !opts.keyset) throw new KeysetError('expected root keys (SPEC §7) or signing keys (SPEC 1.0)');
    this.rootRole = opts.root;
    // SPEC §7.2: until a root-signed keyset is trusted there are no signing keys.
    this.trusted = opts.keyset ?? { version: opts.keysetVersion ?? 0, threshold: 1, keys: new Map() };
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  get keyset(): TrustedKeyset {
    return this.trusted;
  }

  /** SPEC §7.1: the root role in force (roles mode), or undefined (SPEC 1.0). */
  get root(): RootRole | undefined {
    return this.rootRole;
  }

  current<T extends ContentType>(type: T): AppliedBundle<T> | undefined {
    return this.applied[type] as AppliedBundle<T> | undefined;
  }

  /** SPEC §4 steps 1–9, then step 10's in-memory half (persisting is the caller's I/O). */
  verify<T extends ContentType>(type: T, bytes: Uint8Array, now: Date): VerifyResult<T> {
    const env = this.checkEnvelope(type, bytes); // steps 1–3
    this.checkTrustFresh(now); // SPEC §7.5
    this.checkSignatures(env, this.trusted, this.rootRole ? 'signing' : 'trusted'); // step 4 (§7.2: signing keys only)
    const parsed = parsePayload(env.payload, type); // parsed once: steps 5–8 read it, step 9 shapes it
    const header = payloadHeader(parsed); // step 5
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
    const payload = decodePayload(parsed, type); // step 9
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
    this.checkTrustFresh(now);
  }

  /**
   * One rotation to exactly version v+1. SPEC 1.0 (§5 steps 2–6): signed by the old and the new
   * keys. Roles mode (§7.3): signed by the root threshold, and by the new root when `root` rotates
   * it. Then recovery (§7.6). `now` checks the root's expiry (§7.5); it is omitted only when stored
   * keysets are replayed at start-up, which a freeze must not undo.
   */
  rotate(bytes: Uint8Array, now?: Date): Rotation {
    const env = this.checkEnvelope('keyset', bytes);
    if (this.rootRole) {
      if (now) this.checkTrustFresh(now);
      this.checkSignatures(env, this.rootAsKeyset(this.rootRole), 'root'); // §7.3.2
    } else {
      this.checkSignatures(env, this.trusted, 'currently trusted');
    }
    const next = decodePayload(env.payload, 'keyset');
    this.checkAudience(next.audience);
    if (next.version !== this.trusted.version + 1) {
      throw new KeysetError(`keyset version ${next.version}: expected exactly ${this.trusted.version + 1} (one rotation at a time)`);
    }
    if (next.root && !this.rootRole) {
      throw new KeysetError(`keyset version ${next.version} rotates a root role, but this client embeds signing keys (SPEC 1.0), not root keys`);
    }
    const lifetime = Date.parse(next.expiresAt) - Date.parse(next.issuedAt);
    if (lifetime > MAX_LIFETIME_MS) {
      throw new KeysetError(`keyset version ${next.version} is valid for ${Math.ceil(lifetime / 86_400_000)} days: expected at most 366 (SPEC §7.4)`);
    }
    const candidate: TrustedKeyset = { version: next.version, threshold: next.threshold, keys: checkedKeys(next.keys, next.version), expiresAt: Date.parse(next.expiresAt) };
    const newRoot = this.rootRole ? this.nextRoot(env, next) : undefined;
    if (!this.rootRole) this.checkSignatures(env, candidate, 'new keyset'); // §5.5
    this.trusted = candidate;
    if (newRoot) this.rootRole = newRoot;
    return { payload: next, version: next.version, dropped: this.recover() };
  }

  /** SPEC §7.2 and §7.3.4: no root key signs bundles; a `root` member must be signed by the new root too. */
  private nextRoot(env: Envelope, next: KeysetPayload): RootRole {
    const current = this.rootRole!;
    const root: RootRole = next.root
      ? { keys: checkedKeys(next.root.keys, next.version), threshold: next.root.threshold, expiresAt: Date.parse(next.root.expiresAt) }
      : current;
    for (const k of next.keys) {
      if (current.keys.has(k.keyid) || root.keys.has(k.keyid)) {
        throw new KeysetError(`keyset version ${next.version} names root key ${k.keyid.slice(0, 16)} as a signing key: an online key must never be an offline one (SPEC §7.2)`);
      }
    }
    if (next.root) this.checkSignatures(env, this.rootAsKeyset(root), 'new root');
    return root;
  }

  /**
   * SPEC §7.6 (roles mode): applied bundles that no longer reach the new keyset's threshold are
   * dropped, floor and all. SPEC 1.0 keeps them (§5; a 1.0 client cannot tell a theft from a rotation).
   */
  private recover(): ContentType[] {
    const dropped: ContentType[] = [];
    if (!this.rootRole) return dropped;
    for (const type of ['pins', 'trust-roots'] as const) {
      const cur = this.applied[type];
      if (!cur) continue;
      if (signingKeys(parseEnvelope(cur.envelope), this.trusted).size >= this.trusted.threshold) continue;
      delete this.applied[type];
      dropped.push(type);
    }
    return dropped;
  }

  private rootAsKeyset(root: RootRole): TrustedKeyset {
    return { version: this.trusted.version, threshold: root.threshold, keys: root.keys };
  }

  /** SPEC §7.5: an expired root role refuses keysets and bundles. */
  private checkTrustFresh(now: Date): void {
    const exp = this.rootRole?.expiresAt;
    if (exp !== undefined && exp + this.skewMs <= now.getTime()) {
      throw new TrustExpiredError(`the trusted root keys expired at ${new Date(exp).toISOString()} (trustExpires, or the last rotated root); new keysets and bundles are refused`);
    }
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

/** SPEC §2.3 and §5.4: every key of a keyset (or of a rotated root) is safe to trust. */
function checkedKeys(list: KeysetKey[], version: number): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const k of list) {
    const raw = base64DecodeStrict(k.publicKey)!; // decodePayload checked it is 32 bytes of base64
    const check = checkPublicKey(raw);
    if (!check.ok) throw new KeysetError(`keyset version ${version}: key ${k.keyid} is unsafe: ${check.reason}`);
    keys.set(k.keyid, raw);
  }
  return keys;
}
