/**
 * The signing service without HTTP: publishing (validate → guard → reserve a version → sign →
 * store), one publish at a time, and the in-memory table of GET responses. src/service/http.ts
 * puts it on a socket; tests and other front ends can drive it directly.
 */
import { appendFile, stat } from 'node:fs/promises';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { PinctlError, describeError } from '../errors.js';
import { PinSet } from '../core/model.js';
import { BundleError, EnvelopeError, SignatureError } from '../bundle/errors.js';
import { decodePayload, encodePayload } from '../bundle/payload.js';
import { parseEnvelope } from '../bundle/envelope.js';
import { RootRole, TrustedKeyset, signingKeys } from '../bundle/keys.js';
import { InputError } from '../errors.js';
import { checkRootKeyset } from './root-keyset.js';
import { Signer } from '../bundle/sign.js';
import { TrustedStore } from '../bundle/trusted-store.js';
import { KeysetPayload, Payload, PinsPayload } from '../bundle/types.js';
import { BundleStore } from './store.js';
import { GuardOptions, GuardResult, checkTrustRoots, describeGuardFailure, runGuard } from './guard.js';
import type { TrustStore } from '../core/trust-store.js';
import { Common, mergePinsPayload, parsePinsJson, pinsPayload, signPayload, trustRootsFromCertificates, trustRootsPayload } from './payloads.js';
import { Entry, PublishType, etagOf, makeEntry, publicPaths } from './routes.js';
import { keysDocument } from './keys.js';
import { validity } from './time.js';
import { MetricsSnapshot, Served } from './metrics.js';

export interface ServiceOptions {
  store: BundleStore;
  signers: Signer[];
  audience: string;
  validityMs: number;
  now?: () => Date;
  guard?: GuardOptions;
  /** Each publish-log line (JSON, no newline), e.g. to stderr. */
  log?: (line: string) => void;
  /** The store published trust roots must be anchors of (loaded on first use). */
  trustStore?: () => TrustStore;
  /** reports.log stops growing at this many bytes (default MAX_REPORTS_LOG_BYTES). */
  maxReportsLogBytes?: number;
  /**
   * SPEC §7 (`--root-key`): the current root public keys and threshold. With them, a keyset posted
   * or given with --root-keyset is verified as a roles-mode app verifies it (§7.3); without them the
   * admin API keeps SPEC 1.0's rule (signed by the current and the new keys).
   */
  root?: RootRole;
}

export interface PublishRequest {
  force?: boolean;
  /** Pins only: the posted domains replace those of the current set, the others are kept. */
  merge?: boolean;
  /** Who asked (remote address), for the publish log. */
  remote?: string;
}

export type PublishOutcome =
  | { ok: true; status: 200; body: Record<string, unknown> }
  | { ok: false; status: 400 | 409 | 500 | 503; body: Record<string, unknown> };

/** What /metrics says about the last publish of a type (in this process). */
export interface PublishRecord {
  /** Unix seconds. */
  time: number;
  ok: boolean;
  /** A re-signing by the service itself, not an admin publish. */
  automatic: boolean;
}

export interface PublishLogLine {
  time: string;
  type: string;
  version: number;
  audience: string;
  domains: string[];
  remote: string;
  forced: boolean;
  /** Pins: published with ?merge=1 (the other domains of the previous version kept). */
  merged?: boolean;
  /** Re-signed by the service before expiry (same content, new version). */
  resigned?: boolean;
  expiresAt: string;
  etag: string;
  keyids: string[];
  roots?: string[];
}

function errorBody(e: unknown): Record<string, unknown> {
  if (e instanceof PinctlError) return { error: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}) };
  return { error: describeError(e) };
}

/** After a failed re-signing, the next attempt waits this long. */
export const RESIGN_RETRY_MS = 60_000;

/** reports.log stops growing here; later reports are counted and dropped (rotate the file to resume). */
export const MAX_REPORTS_LOG_BYTES = 256 * 1024 * 1024;

export class PinService {
  private reportsBytes: number | undefined;
  private readonly maxReportsBytes: number;
  /** Reports accepted into reports.log. */
  reportsReceived = 0;
  /** Reports not written, by reason: the log cap (`log_full`), the per-client rate limit, a read-only store. */
  readonly reportsDropped = { log_full: 0, rate_limited: 0, read_only: 0 };
  /** The last publish per type (success or failure), for /metrics. */
  readonly lastPublish = new Map<string, PublishRecord>();
  readonly audience: string;
  readonly store: BundleStore;
  private readonly signers: Signer[];
  readonly validityMs: number;
  readonly now: () => Date;
  private readonly guardOptions: GuardOptions;
  private readonly trustStore?: () => TrustStore;
  private readonly log?: (line: string) => void;
  private readonly keysBytes: Uint8Array;
  private readonly root?: RootRole;
  private queue: Promise<unknown> = Promise.resolve();
  /** "/v1/bundles/pins" → prepared response. Replaced as a whole on publish. */
  entries = new Map<string, Entry>();
  /** Version and validity of what is served, per type (for /metrics, /healthz and re-signing). */
  served: Served[] = [];
  /** Automatic re-signing after a failure waits until then (Unix ms), not to retry in a loop. */
  private resignRetryAt = new Map<string, number>();

  constructor(opts: ServiceOptions) {
    this.audience = opts.audience;
    this.store = opts.store;
    this.signers = opts.signers;
    this.validityMs = opts.validityMs;
    this.now = opts.now ?? (() => new Date());
    this.guardOptions = opts.guard ?? {};
    this.trustStore = opts.trustStore;
    this.log = opts.log;
    this.maxReportsBytes = opts.maxReportsLogBytes ?? MAX_REPORTS_LOG_BYTES;
    this.root = opts.root;
    this.keysBytes = keysDocument(this.signers.map((s) => s.publicKey));
    this.rebuild();
    this.loadLastPublish();
  }

  /** The last publish per type from the tail of publish.log, so /metrics has it after a restart. */
  private loadLastPublish(): void {
    let text: string;
    try {
      const size = statSync(this.store.publishLogPath).size;
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      const fd = openSync(this.store.publishLogPath, 'r');
      try {
        readSync(fd, buf, 0, length, size - length);
      } finally {
        closeSync(fd);
      }
      text = buf.toString('utf8');
    } catch {
      return; // no log yet
    }
    for (const l of text.split('\n')) {
      try {
        const line = JSON.parse(l) as Partial<PublishLogLine>;
        if (typeof line.type === 'string' && typeof line.time === 'string') this.lastPublish.set(line.type, { time: Math.floor(Date.parse(line.time) / 1000), ok: true, automatic: line.resigned === true });
      } catch {
        /* the first, cut line of the tail */
      }
    }
  }

  /** The GET /v1/keys body. */
  get keys(): Uint8Array {
    return this.keysBytes;
  }

  /** Problems worth a warning at start-up: stored bundles for another audience, a keyset without our key. */
  startupWarnings(): string[] {
    const w: string[] = [];
    for (const type of ['pins', 'trust-roots', 'keyset'] as const) {
      const cur = this.store.current(type);
      if (!cur) continue;
      try {
        const p = decodePayload(parseEnvelope(cur.bytes).payload, type);
        if (p.audience !== this.audience) w.push(`the stored ${type} bundle v${p.version} is for audience ${JSON.stringify(p.audience)}, not ${JSON.stringify(this.audience)}`);
      } catch (e) {
        w.push(`the stored ${type} bundle does not decode: ${describeError(e)}`);
      }
    }
    const ks = this.latestKeyset();
    if (ks) {
      const missing = this.signers.filter((s) => !ks.keys.some((k) => k.keyid === s.keyid));
      for (const s of missing) w.push(`signing key ${s.keyid} is not in keyset v${ks.version}: clients that rotated to it will refuse bundles signed by this key`);
      const ours = this.signers.filter((s) => ks.keys.some((k) => k.keyid === s.keyid)).length;
      if (ours < ks.threshold) w.push(`keyset v${ks.version} needs ${ks.threshold} signatures, this service signs with ${ours} of its keys`);
    }
    return w;
  }

  private rebuild(): void {
    const pins = this.store.current('pins')?.bytes;
    const trustRoots = this.store.current('trust-roots')?.bytes;
    const paths = publicPaths({ pins, trustRoots, keysets: this.store.keysetHistory(), keys: this.keysBytes });
    const entries = new Map<string, Entry>();
    for (const [p, bytes] of paths) entries.set(`/${p}`, makeEntry(bytes));
    this.entries = entries;
    this.served = [];
    for (const type of ['pins', 'trust-roots', 'keyset'] as const) {
      const cur = this.store.current(type);
      if (!cur) continue;
      try {
        const p = decodePayload(parseEnvelope(cur.bytes).payload, type);
        this.served.push({ type, version: p.version, issuedAt: p.issuedAt, expiresAt: p.expiresAt });
      } catch {
        /* reported by startupWarnings */
      }
    }
  }

  /**
   * When the served bundle of this type is re-signed: once half of its own validity has passed
   * (from the stored issuedAt and expiresAt, so a restart keeps the schedule). Undefined when it
   * will not be: nothing published, another audience, already expired, or a read-only store.
   */
  nextResignAt(type: PublishType): number | undefined {
    if (!this.store.writable) return undefined;
    const cur = this.served.find((x) => x.type === type);
    if (!cur) return undefined;
    const issued = Date.parse(cur.issuedAt);
    const expires = Date.parse(cur.expiresAt);
    if (expires <= this.now().getTime()) return undefined;
    return Math.max(issued + (expires - issued) / 2, this.resignRetryAt.get(type) ?? 0);
  }

  /**
   * Re-signs every type whose time has come (nextResignAt): the same content, a new version,
   * issuedAt now and a full validity, through the same durable publish path as an admin publish
   * (publish-log line `"resigned": true`). SPEC §6.1 steps 1-4.
   */
  resignDue(): Promise<{ type: PublishType; outcome: PublishOutcome }[]> {
    return this.serial(async () => {
      const done: { type: PublishType; outcome: PublishOutcome }[] = [];
      for (const type of ['pins', 'trust-roots'] as const) {
        const at = this.nextResignAt(type);
        if (at === undefined || at > this.now().getTime()) continue;
        const outcome = this.resign(type);
        if (!outcome.ok) this.resignRetryAt.set(type, this.now().getTime() + RESIGN_RETRY_MS);
        else this.resignRetryAt.delete(type);
        done.push({ type, outcome });
      }
      return done;
    });
  }

  private resign(type: PublishType): PublishOutcome {
    const cur = this.store.current(type)!;
    let payload: Payload;
    try {
      payload = decodePayload(parseEnvelope(cur.bytes).payload, type);
    } catch (e) {
      return { ok: false, status: 500, body: errorBody(e) };
    }
    if (payload.audience !== this.audience) return { ok: false, status: 409, body: { error: `the served ${type} bundle is for audience ${payload.audience}, not ${this.audience}: not re-signed`, code: 'RESIGN_REFUSED' } };
    // Same content, new version and validity: only the common fields change.
    const build = (common: Common): Payload => {
      const next = { ...payload, ...common } as Payload;
      decodePayload(encodePayload(next), type); // the clients' own validator, as for every publish
      return next;
    };
    return this.sign(type, build, { remote: 'resign' }, null, true);
  }

  metricsSnapshot(): MetricsSnapshot {
    const nextResign = new Map<string, number>();
    for (const type of ['pins', 'trust-roots'] as const) {
      const at = this.nextResignAt(type);
      if (at !== undefined) nextResign.set(type, at);
    }
    return {
      now: this.now(),
      served: this.served,
      lastPublish: this.lastPublish,
      nextResign,
      reportsReceived: this.reportsReceived,
      reportsDropped: this.reportsDropped,
      readOnly: !this.store.writable,
    };
  }

  versions(): Record<string, number | null> {
    return {
      pins: this.store.current('pins')?.version ?? null,
      'trust-roots': this.store.current('trust-roots')?.version ?? null,
      keyset: this.store.current('keyset')?.version ?? null,
    };
  }

  /** One publish at a time: the next waits for the previous to finish (or fail). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  publish(type: PublishType, body: Uint8Array, req: PublishRequest = {}): Promise<PublishOutcome> {
    return this.serial(() => (type === 'pins' ? this.publishPins(body, req) : this.publishTrustRoots(body, req)));
  }

  private async publishPins(body: Uint8Array, req: PublishRequest): Promise<PublishOutcome> {
    let pinSet: PinSet;
    const placeholder: Common = { audience: this.audience, version: this.store.floor('pins') + 1, ...validity(this.now(), this.validityMs) };
    // ?merge=1: the set the posted domains go into, read inside the publish queue (no other publish
    // lands in between) and checked before the guard spends probes or a version is reserved.
    let current: PinsPayload | undefined;
    try {
      pinSet = parsePinsJson(Buffer.from(body).toString('utf8'), 'request body');
      const posted = pinsPayload(pinSet, placeholder, 'request body'); // every check before the guard spends probes
      if (req.merge) {
        const refused = this.mergeBase();
        if ('error' in refused) return { ok: false, status: 409, body: refused.error };
        current = refused.current;
        mergePinsPayload(posted, current, 'request body'); // the merged set's limits, before a version is reserved
      }
    } catch (e) {
      return { ok: false, status: 400, body: errorBody(e) };
    }
    let guard: GuardResult | null = null;
    if (!req.force) {
      try {
        guard = await runGuard(pinSet, this.guardOptions);
      } catch (e) {
        if (e instanceof PinctlError) return { ok: false, status: 400, body: errorBody(e) };
        throw e;
      }
      if (!guard.ok) {
        const first = guard.failures[0]!;
        return {
          ok: false,
          status: 409,
          body: {
            error: `pre-publish guard: ${describeGuardFailure(first)}${guard.failures.length > 1 ? ` (and ${guard.failures.length - 1} more)` : ''}; nothing was signed`,
            code: 'GUARD_FAILED',
            hint: 'apps applying these pins would fail to connect; publish pins the servers serve today (plus backups), or add ?force=1 if the servers change first',
            failures: guard.failures,
          },
        };
      }
    }
    const outcome = this.sign('pins', (common) => mergePinsPayload(pinsPayload(pinSet, common, 'request body'), current, 'request body'), req, guard);
    // A merge says what it changed in each entry it replaced: a pin that was served and is not
    // in the request (added on the service by hand, say) is visible to the caller.
    if (outcome.ok && current) outcome.body.changes = entryChanges(current, pinSet);
    return outcome;
  }

  /**
   * What a merge builds on: the current pin set, only when it is the newest version this service
   * issued, for this audience, and not expired. Otherwise a merge would publish a one-domain set
   * (apps applying it drop every other domain), re-sign stale pins, or revive an expired set.
   */
  private mergeBase(): { current: PinsPayload } | { error: Record<string, unknown> } {
    const refuse = (why: string) => ({
      error: {
        error: `?merge=1 refused: ${why}; nothing was signed`,
        code: 'MERGE_REFUSED',
        hint: 'publish the WHOLE pin set (every domain apps pin) without ?merge=1 first; a merge only replaces domains of a current, unexpired set',
      },
    });
    const cur = this.store.current('pins');
    if (!cur) return refuse('there is no current pin set to merge into');
    const issued = this.store.newestIssued('pins');
    if (cur.version !== issued) return refuse(`the current pin set is version ${cur.version} but version ${issued} was issued (lost or damaged files)`);
    let current: PinsPayload;
    try {
      current = decodePayload(parseEnvelope(cur.bytes).payload, 'pins');
    } catch (e) {
      return refuse(`the current pin set cannot be read (${describeError(e)})`);
    }
    if (current.audience !== this.audience) return refuse(`the current pin set is for audience ${current.audience}, this service signs for ${this.audience}`);
    if (Date.parse(current.expiresAt) <= this.now().getTime()) return refuse(`the current pin set expired at ${current.expiresAt}`);
    return { current };
  }

  private async publishTrustRoots(body: Uint8Array, req: PublishRequest): Promise<PublishOutcome> {
    let roots;
    try {
      roots = trustRootsFromCertificates(body, 'request body');
      trustRootsPayload(roots, { audience: this.audience, version: this.store.floor('trust-roots') + 1, ...validity(this.now(), this.validityMs) }, 'request body');
    } catch (e) {
      return { ok: false, status: 400, body: errorBody(e) };
    }
    if (!req.force && this.trustStore) {
      const failures = checkTrustRoots(roots, this.trustStore(), this.now());
      if (failures.length > 0) {
        return {
          ok: false,
          status: 409,
          body: {
            error: `trust-roots guard: ${failures[0]!.message}${failures.length > 1 ? ` (and ${failures.length - 1} more)` : ''}; nothing was signed`,
            code: 'TRUST_ROOTS_GUARD_FAILED',
            hint: 'publish roots that are valid now and in the trust store serve was given (--ca-file); ?force=1 publishes anyway and is logged',
            failures,
          },
        };
      }
    }
    return this.sign('trust-roots', (common) => trustRootsPayload(roots, common, 'request body'), req, this.trustStore && !req.force ? { ok: true, checked: roots.length, failures: [] } : null);
  }

  /**
   * Reserve a version, sign, store; the version is spent only once the inputs were accepted.
   * The publish-log line is written durably before the bundle goes live (store.commit), so every
   * version ever served is in publish.log. A write that fails (ENOSPC, EROFS) is a 500 and
   * nothing goes live, now or after a restart.
   */
  private sign(type: PublishType, build: (c: Common) => Payload, req: PublishRequest, guard: GuardResult | null, automatic = false): PublishOutcome {
    if (!this.store.writable) return readOnlyOutcome(this.store);
    let version: number | undefined;
    let line: PublishLogLine;
    let common: Common;
    try {
      version = this.store.reserve(type);
      common = { audience: this.audience, version, ...validity(this.now(), this.validityMs) };
      const payload = build(common);
      const bytes = signPayload(payload, this.signers);
      line = {
        time: this.now().toISOString(),
        type,
        version,
        audience: this.audience,
        domains: payload.type === 'pins' ? payload.domains.map((d) => d.domain) : [],
        remote: req.remote ?? 'local',
        forced: Boolean(req.force),
        ...(type === 'pins' ? { merged: Boolean(req.merge) } : {}),
        ...(automatic ? { resigned: true } : {}),
        expiresAt: common.expiresAt,
        etag: etagOf(bytes),
        keyids: this.signers.map((s) => s.keyid),
        ...(payload.type === 'trust-roots' ? { roots: payload.roots.map((r) => r.name) } : {}),
      };
      const text = JSON.stringify(line);
      this.store.commit(type, version, bytes, () => this.store.appendDurably(this.store.publishLogPath, `${text}\n`));
      this.log?.(text);
    } catch (e) {
      if (version !== undefined) this.store.markFailed(type, version);
      this.record(type, false, automatic);
      return storeFailure(type, version, e);
    }
    this.rebuild();
    this.record(type, true, automatic);
    return {
      ok: true,
      status: 200,
      body: {
        type,
        version,
        audience: this.audience,
        issuedAt: common.issuedAt,
        expiresAt: common.expiresAt,
        etag: line.etag,
        forced: Boolean(req.force),
        ...(type === 'pins' ? { merged: Boolean(req.merge) } : {}),
        guard: guard ? { checked: guard.checked } : { skipped: true },
        ...(type === 'pins' ? { domains: line.domains } : {}),
        ...(type === 'trust-roots' ? { roots: line.roots } : {}),
      },
    };
  }

  private record(type: string, ok: boolean, automatic: boolean): void {
    this.lastPublish.set(type, { time: Math.floor(this.now().getTime() / 1000), ok, automatic });
  }

  /** The newest stored keyset payload (undefined before the first rotation). */
  latestKeyset(): KeysetPayload | undefined {
    const cur = this.store.current('keyset');
    if (!cur) return undefined;
    try {
      return decodePayload(parseEnvelope(cur.bytes).payload, 'keyset');
    } catch {
      return undefined;
    }
  }

  /**
   * The keys apps trust now: the newest stored keyset, or before any, what apps embed: this
   * service's keys at version 0, threshold 1 (SPEC §4).
   */
  trustedKeyset(): TrustedKeyset {
    const ks = this.latestKeyset();
    if (!ks) return { version: 0, threshold: 1, keys: new Map(this.signers.map((s) => [s.keyid, s.publicKey])) };
    return { version: ks.version, threshold: ks.threshold, keys: new Map(ks.keys.map((k) => [k.keyid, new Uint8Array(Buffer.from(k.publicKey, 'base64'))])) };
  }

  /**
   * A keyset signed offline (`pinctl bundle create --keyset`, signed by the old and the new keys)
   * is checked exactly as a client will check it (SPEC §5) before it is stored.
   */
  publishKeyset(body: Uint8Array, req: PublishRequest = {}): Promise<PublishOutcome> {
    return this.serial(async () => {
      let next: KeysetPayload;
      try {
        next = this.verifyNextKeyset(body);
      } catch (e) {
        const status = e instanceof EnvelopeError || !(e instanceof BundleError) ? 400 : 409;
        return { ok: false, status, body: { ...errorBody(e), hint: e instanceof PinctlError && e.hint && !(e instanceof SignatureError && !this.root) ? e.hint : this.keysetHint() } };
      }
      if (!req.force) {
        const missing = this.signers.filter((s) => !next.keys.some((k) => k.keyid === s.keyid));
        if (missing.length > 0) {
          return {
            ok: false,
            status: 409,
            body: {
              error: `keyset v${next.version} does not hold this service's signing key ${missing.map((s) => s.keyid).join(', ')}: clients that rotate to it would refuse every bundle signed afterwards`,
              code: 'KEYSET_WITHOUT_SIGNER',
              hint: 'keep the current key in the new keyset until serve runs with a new key, or add ?force=1 and restart serve with a key of the new keyset',
            },
          };
        }
        if (Date.parse(next.expiresAt) <= this.now().getTime()) {
          return { ok: false, status: 409, body: { error: `keyset v${next.version} expired at ${next.expiresAt}`, code: 'BUNDLE_EXPIRED', hint: 'sign it again with a later --expires-in' } };
        }
      }
      if (!this.store.writable) return readOnlyOutcome(this.store);
      const etag = etagOf(body);
      const line: PublishLogLine = {
        time: this.now().toISOString(),
        type: 'keyset',
        version: next.version,
        audience: this.audience,
        domains: [],
        remote: req.remote ?? 'local',
        forced: Boolean(req.force),
        expiresAt: next.expiresAt,
        etag,
        keyids: parseEnvelope(body).signatures.map((s) => s.keyid),
      };
      try {
        const text = JSON.stringify(line);
        this.store.commit('keyset', next.version, body, () => this.store.appendDurably(this.store.publishLogPath, `${text}\n`));
        this.log?.(text);
      } catch (e) {
        this.record('keyset', false, false);
        return storeFailure('keyset', next.version, e);
      }
      this.rebuild();
      this.record('keyset', true, false);
      const resigned = this.root ? this.resignForKeyset(next) : [];
      return {
        ok: true,
        status: 200,
        body: { type: 'keyset', version: next.version, audience: this.audience, threshold: next.threshold, keyids: next.keys.map((k) => k.keyid), etag, forced: Boolean(req.force), ...(this.root ? { resigned } : {}) },
      };
    });
  }

  /** SPEC §5 (1.0), or §7.3 against the configured root keys: exactly what an app will check. */
  private verifyNextKeyset(body: Uint8Array): KeysetPayload {
    if (!this.root) return new TrustedStore({ audience: this.audience, keyset: this.trustedKeyset() }).rotate(body).payload;
    const keysetVersion = this.latestKeyset()?.version ?? 0;
    return new TrustedStore({ audience: this.audience, root: this.root, keysetVersion }).rotate(body, this.now()).payload;
  }

  private keysetHint(): string {
    return this.root
      ? 'a keyset must be version (current + 1), for this audience, and signed by the root keys (pinctl bundle create --keyset NEW.pub.pem --key ROOT.key)'
      : 'a keyset must be version (current + 1), for this audience, and signed by the current keys and by the new keys (pinctl bundle create --keyset ... --key OLD --key NEW); a keyset signed by root keys (SPEC §7) needs serve --root-key';
  }

  /** SPEC §7.7 step 3: every served bundle the new keyset's keys did not sign is signed again now. */
  private resignForKeyset(ks: KeysetPayload): string[] {
    const trusted = { version: ks.version, threshold: ks.threshold, keys: new Map(ks.keys.map((k) => [k.keyid, new Uint8Array(Buffer.from(k.publicKey, 'base64'))])) };
    const notes: string[] = [];
    for (const type of ['pins', 'trust-roots'] as const) {
      const b = this.store.current(type);
      if (!b || signingKeys(parseEnvelope(b.bytes), trusted).size >= ks.threshold) continue;
      const outcome = this.resign(type);
      notes.push(outcome.ok ? `${type} re-signed with the keyset's key (SPEC §7.7 step 3)` : `${type} could not be re-signed: ${JSON.stringify(outcome.body)}`);
    }
    return notes;
  }

  /**
   * `--root-keyset FILE` at start-up (SPEC §7.7 step 3): store the root-signed keyset as the next
   * version (or accept the stored one again), then re-sign at once every served bundle its keys did
   * not sign, so recovering clients (§7.6) find bundles by the new key. Throws InputError (exit 2).
   */
  adoptRootKeyset(bytes: Uint8Array, file: string): Promise<string[]> {
    return this.serial(async () => {
      const ks = checkRootKeyset(bytes, { audience: this.audience, signers: this.signers, now: this.now(), file });
      if (this.root) this.checkRootSignatures(bytes, ks.version, file);
      const cur = this.store.current('keyset');
      const curVersion = this.latestKeyset()?.version ?? 0;
      const same = cur !== undefined && Buffer.compare(Buffer.from(cur.bytes), Buffer.from(bytes)) === 0;
      if (!same) {
        if (ks.version !== curVersion + 1) {
          throw new InputError('USAGE', `--root-keyset ${file}: keyset v${ks.version}, expected v${curVersion + 1} (the data directory holds keysets up to v${curVersion}; clients rotate one version at a time)`, {
            hint: `sign the keyset with --version ${curVersion + 1}`,
          });
        }
        if (!this.store.writable) throw new InputError('USAGE', `--root-keyset ${file}: the data directory is read-only; cannot store keyset v${ks.version}`);
        const line = { time: this.now().toISOString(), type: 'keyset', version: ks.version, audience: this.audience, domains: [], remote: 'root-keyset', forced: false, expiresAt: ks.expiresAt, etag: etagOf(bytes), keyids: parseEnvelope(bytes).signatures.map((x) => x.keyid) };
        this.store.commit('keyset', ks.version, bytes, () => this.store.appendDurably(this.store.publishLogPath, `${JSON.stringify(line)}\n`));
        this.rebuild();
      }
      const notes = same ? [] : [`keyset v${ks.version} stored and served at /v1/keyset/${ks.version}`];
      return [...notes, ...this.resignForKeyset(ks)];
    });
  }

  /** --root-keyset with --root-key: the root signatures are checked too (SPEC §7.3 steps 2–4). */
  private checkRootSignatures(bytes: Uint8Array, version: number, file: string): void {
    try {
      new TrustedStore({ audience: this.audience, root: this.root!, keysetVersion: version - 1 }).rotate(bytes, this.now());
    } catch (e) {
      throw new InputError('USAGE', `--root-keyset ${file}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: 'sign the keyset with the root keys given as --root-key (pinctl bundle create --keyset NEW.pub.pem --key ROOT.key)',
      });
    }
  }

  private reportsQueue: Promise<unknown> = Promise.resolve();

  /**
   * Append a pin-failure report as one JSON line (appends are queued, never interleaved). Returns
   * false when it was dropped: the log reached its cap (counted in bytes), or the store is read-only.
   */
  appendReport(report: unknown, remote: string): Promise<boolean> {
    const line = `${JSON.stringify({ receivedAt: this.now().toISOString(), remote, report })}\n`;
    const size = Buffer.byteLength(line, 'utf8');
    const next = this.reportsQueue.then(async () => {
      if (!this.store.writable) {
        this.reportsDropped.read_only++;
        return false;
      }
      // A global cap on the log: per-address rate limits alone do not stop many addresses filling the disk.
      this.reportsBytes ??= await this.reportsLogSize();
      // At the cap, look again: an operator who rotated the file (moved or truncated it) resumes logging.
      if (this.reportsBytes + size > this.maxReportsBytes) this.reportsBytes = await this.reportsLogSize();
      if (this.reportsBytes + size > this.maxReportsBytes) {
        this.reportsDropped.log_full++;
        return false;
      }
      this.reportsBytes += size;
      await appendFile(this.store.reportsLogPath, line, { mode: 0o600 });
      this.reportsReceived++;
      return true;
    });
    this.reportsQueue = next.catch(() => undefined);
    return next;
  }

  private reportsLogSize(): Promise<number> {
    return stat(this.store.reportsLogPath).then((s) => s.size, () => 0);
  }
}

/** 503 for every write while the data directory is read-only (start-up on a full or read-only disk). */
function readOnlyOutcome(store: BundleStore): PublishOutcome {
  return {
    ok: false,
    status: 503,
    body: {
      error: `the data directory ${store.dir} could not be written at start-up (${store.readOnlyReason}); this server only serves what is stored`,
      code: 'STORE_READ_ONLY',
      hint: 'free space on its file system or remount it read-write, then restart pinctl serve',
    },
  };
}

/** 500 when storing failed: nothing went live; the reserved version (if any) stays spent. */
function storeFailure(type: string, version: number | undefined, e: unknown): PublishOutcome {
  const code = (e as NodeJS.ErrnoException).code;
  return {
    ok: false,
    status: 500,
    body: {
      error: `${type}${version === undefined ? '' : ` v${version}`} could not be stored (${code ?? describeError(e)}); nothing was published`,
      code: 'STORE_WRITE_FAILED',
      hint: code === 'ENOSPC' || code === 'EDQUOT' ? "free space on the data directory's file system, then publish again" : code === 'EROFS' ? "the data directory's file system is read-only: remount it read-write, then publish again" : 'see the server log; then publish again',
    },
  };
}

/** Per posted domain: the pins added to and removed from the current entry (null: a new entry). */
function entryChanges(current: PinsPayload, posted: PinSet): { domain: string; added: string[]; removed: string[] | null }[] {
  return posted.domains.map((d) => {
    const now = new Set(d.pins.map((p) => p.spkiSha256));
    const before = current.domains.find((x) => x.domain.toLowerCase() === d.domain.toLowerCase());
    const was = new Set(before?.pins ?? []);
    return { domain: d.domain, added: [...now].filter((k) => !was.has(k)), removed: before ? [...was].filter((k) => !now.has(k)) : null };
  });
}
