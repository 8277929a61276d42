/**
 * PinEngine: the client side of docs/SPEC.md as a state machine, with every effect passed in
 * (transport, persistence, clock, report sink). TrustedStore holds the trust rules; the engine adds
 * keyset rotation over the network, the last good bundles, the baseline and the stale policy.
 * Runtime-neutral: the Node SDK and the React Native adapter both drive this one class.
 */
import { DEFAULT_MAX_BYTES, MAX_ROTATIONS, TrustedStore, type AppliedBundle, type ContentType, type StoreOptions } from '../../bundle/trusted-store.js';
import { embeddedKeyset, embeddedRootRole } from '../../bundle/keys.js';
import { FetchError, TrustExpiredError } from '../../bundle/errors.js';
import { InputError, PinctlError, describeError } from '../../errors.js';
import { PinTable, parseBaseline, type Baseline } from './pinset.js';
import type { PinReport } from './report.js';
import type { Download, Transport } from './transport.js';
import { serviceBase } from './url.js';

export type StalePolicy = 'enforce-last-good' | 'fail-open';

export interface EngineOptions {
  /** Service base URL (`https://pins.example.com`, or a static-hosting prefix); a URL ending in `/v1/bundles/pins` is accepted too. */
  url: string;
  /**
   * SPEC §7 roles mode: the app's offline root keys (PEM `PUBLIC KEY` or base64 of the 32 raw
   * bytes). They sign keysets only; the newest keyset names the keys that sign pins.
   */
  rootKeys?: (string | Uint8Array)[];
  /** SPEC 1.0: the app embeds the signing keys themselves. Give rootKeys or publicKeys. */
  publicKeys?: (string | Uint8Array)[];
  /** rootKeys: distinct root keys that must sign a keyset; publicKeys: distinct keys per bundle. Default 1. */
  threshold?: number;
  /** rootKeys only: when the embedded root keys stop being trusted, 'YYYY-MM-DD' or RFC 3339 (SPEC §7.5). */
  trustExpires?: string;
  audience: string;
  baseline?: Baseline;
  /** Whole-download deadline per request; default 10 s. */
  timeoutMs?: number;
  /** Response size cap, enforced while reading; default 1 MiB (SPEC §4.1). */
  maxBytes?: number;
  /** What an expired bundle means; default 'enforce-last-good'. */
  stalePolicy?: StalePolicy;
  /** enforce-last-good: how long after expiresAt the last good pins stay enforced; default 30 days. */
  graceMs?: number;
  /** Clock tolerance of SPEC §4.8; default 5 minutes. */
  skewMs?: number;
  now?: () => Date;
}

export interface EngineEffects {
  transport: Transport;
  /** Saves a verified bundle or keyset as the named last good one (`pins`, `trust-roots`, `keyset-N`). */
  persist(name: string, bytes: Uint8Array): Promise<void>;
  /** Deletes a stored bundle recovery dropped (SPEC §7.6); a missing one is not an error. */
  remove(name: string): Promise<void>;
  /** Where reports go (already throttled by the caller if it wants). */
  report(r: Omit<PinReport, 'audience' | 'time'>): void;
  /** Called when the pins or trust roots in force change. */
  changed?(): void;
  /** Names the storage in the OUTPUT_UNWRITABLE message. */
  storageName: string;
}

export interface RefreshResult {
  pins: 'applied' | 'unchanged';
  /** 'none': the service has no trust-root bundle (404) and none was applied before. */
  trustRoots: 'applied' | 'unchanged' | 'none';
  version: number;
  keysetVersion: number;
}

/** fresh: before expiresAt (+ skew); grace: expired but still enforced; lapsed: not enforced. */
export type Phase = 'fresh' | 'grace' | 'lapsed';
export interface BundleStatus {
  version: number;
  expiresAt: string;
  phase: Phase;
}
export interface ClientStatus {
  /** null: no bundle applied, the baseline is in force. */
  pins: BundleStatus | null;
  trustRoots: BundleStatus | null;
  keysetVersion: number;
  /** Roles mode: when the root role in force expires (null: the app set no trustExpires). */
  trustExpires?: string | null;
  /** Stored bundles that failed re-verification at start-up. */
  restoreErrors: string[];
}

/** The argument of react-native-ssl-public-key-pinning's initializeSslPinning. */
export type ReactNativePinningOptions = Record<string, { includeSubdomains: boolean; publicKeyHashes: string[]; expirationDate?: string }>;

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_GRACE_MS = 30 * 24 * 60 * 60_000;
const PATHS: Record<ContentType, string> = { pins: '/v1/bundles/pins', 'trust-roots': '/v1/bundles/trust-roots' };

export class PinEngine {
  readonly url: string;
  readonly now: () => Date;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  private readonly store: TrustedStore;
  private readonly policy: StalePolicy;
  private readonly graceMs: number;
  private readonly baseline: PinTable;
  private readonly etags: Partial<Record<ContentType, string>> = {};
  private readonly tables = new WeakMap<object, PinTable>();
  private readonly rootSets = new WeakMap<object, Set<string>>();
  private readonly unsaved = new Map<string, Uint8Array>();
  private readonly lapsedReported = new Set<string>();
  private readonly restoreErrors: string[] = [];
  private inFlight?: Promise<RefreshResult>;

  constructor(
    opts: EngineOptions,
    private readonly fx: EngineEffects,
  ) {
    this.url = serviceBase(opts.url);
    if (typeof opts.audience !== 'string' || !opts.audience) throw new InputError('CONFIG_MALFORMED', 'audience: expected a non-empty string');
    this.policy = opts.stalePolicy ?? 'enforce-last-good';
    if (this.policy !== 'enforce-last-good' && this.policy !== 'fail-open') throw new InputError('CONFIG_MALFORMED', `stalePolicy: expected 'enforce-last-good' or 'fail-open'`);
    this.graceMs = atLeast(opts.graceMs, DEFAULT_GRACE_MS, 0, 'graceMs');
    this.timeoutMs = atLeast(opts.timeoutMs, DEFAULT_TIMEOUT_MS, 1, 'timeoutMs');
    this.maxBytes = atLeast(opts.maxBytes, DEFAULT_MAX_BYTES, 1, 'maxBytes');
    this.now = opts.now ?? (() => new Date());
    this.baseline = new PinTable(parseBaseline(opts.baseline));
    this.store = new TrustedStore({ audience: opts.audience, ...embeddedTrust(opts), maxBytes: this.maxBytes, skewMs: opts.skewMs });
  }

  get audience(): string {
    return this.store.audience;
  }

  /** The applied pins version; 0 before any bundle. */
  get version(): number {
    return this.store.current('pins')?.payload.version ?? 0;
  }

  /** Keyset rotation (SPEC §5), then pins, then trust roots (§4); concurrent calls share one refresh. */
  refresh(): Promise<RefreshResult> {
    this.inFlight ??= this.update().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** The base64 pins that apply to `host` now; empty when it is not pinned. */
  pinsFor(host: string): string[] {
    const t = this.now().getTime();
    const rule = this.activePins(t)?.lookup(host);
    if (!rule || (rule.expiresAt !== undefined && t >= rule.expiresAt)) return [];
    return [...rule.pins];
  }

  /** Listed root pins while a trust-root bundle is in force, else null. */
  trustRootPins(): ReadonlySet<string> | null {
    const t = this.now().getTime();
    const b = this.store.current('trust-roots');
    if (!b) return null;
    if (this.phase(b, t) === 'lapsed') return this.lapsed(b);
    let set = this.rootSets.get(b);
    if (!set) this.rootSets.set(b, (set = new Set(b.payload.roots.map((r) => r.spkiSha256))));
    return set;
  }

  /** The pins in force, for react-native-ssl-public-key-pinning (which has no trust-root check). */
  reactNativeConfig(): ReactNativePinningOptions {
    const t = this.now().getTime();
    const out: ReactNativePinningOptions = {};
    const b = this.store.current('pins');
    if (!b) {
      for (const r of this.baseline.rules) {
        if (r.expiresAt !== undefined && t >= r.expiresAt) continue;
        out[r.domain] = { includeSubdomains: r.includeSubdomains, publicKeyHashes: [...r.pins], ...(r.expiresAt !== undefined ? { expirationDate: day(r.expiresAt) } : {}) };
      }
      return out;
    }
    if (this.phase(b, t) === 'lapsed') {
      this.lapsed(b);
      return out;
    }
    // The native side cannot refresh, so hand it the date our own policy stops enforcing.
    const exp = Date.parse(b.payload.expiresAt);
    const until = this.policy === 'fail-open' ? exp : exp + this.graceMs;
    for (const d of b.payload.domains) {
      out[d.domain] = { includeSubdomains: d.includeSubdomains, publicKeyHashes: [...d.pins], ...(Number.isFinite(until) ? { expirationDate: day(until) } : {}) };
    }
    return out;
  }

  status(): ClientStatus {
    const t = this.now().getTime();
    const of = (b: AppliedBundle<ContentType> | undefined) => (b ? { version: b.payload.version, expiresAt: b.payload.expiresAt, phase: this.phase(b, t) } : null);
    const root = this.store.root;
    return {
      pins: of(this.store.current('pins')),
      trustRoots: of(this.store.current('trust-roots')),
      keysetVersion: this.store.keyset.version,
      ...(root ? { trustExpires: Number.isFinite(root.expiresAt) ? new Date(root.expiresAt).toISOString() : null } : {}),
      restoreErrors: [...this.restoreErrors],
    };
  }

  /** The bundle in force, for reports. */
  bundleInfo(type: ContentType = 'pins'): PinReport['bundle'] {
    return info(this.store.current(type));
  }

  /**
   * Start-up: replay the stored keyset chain from the embedded trust and restore each stored bundle
   * under the first keyset of that chain that verifies it (the one in force when it was applied).
   * Roles mode: a later keyset's recovery (SPEC §7.6) drops a bundle signed by a key it removed, and
   * its file is deleted, so it never comes back. The root's expiry is not checked while replaying:
   * the next refresh reports a freeze. `read` is synchronous: an asynchronous store is read in full first.
   */
  restore(read: (name: string) => Uint8Array | undefined): void {
    const pending = new Map<ContentType, Uint8Array>();
    const errors = new Map<ContentType, unknown>();
    for (const type of ['pins', 'trust-roots'] as const) {
      const bytes = read(type);
      if (bytes) pending.set(type, bytes);
    }
    const attempt = () => {
      for (const [type, bytes] of pending) {
        try {
          this.store.restore(type, bytes);
          pending.delete(type);
        } catch (e) {
          errors.set(type, e);
        }
      }
    };
    attempt();
    for (let v = 1; ; v++) {
      const bytes = read(`keyset-${v}`);
      if (!bytes) break;
      try {
        for (const type of this.store.rotate(bytes).dropped) void this.fx.remove(type).catch(() => {});
      } catch (e) {
        this.restoreErrors.push(`keyset-${v}: ${describeError(e)}`);
        break;
      }
      attempt();
    }
    for (const type of pending.keys()) this.restoreErrors.push(`${type}: ${describeError(errors.get(type))}`);
    if (this.store.current('pins') || this.store.current('trust-roots')) this.fx.changed?.();
  }

  private async update(): Promise<RefreshResult> {
    await this.flush().catch(() => {}); // retry an earlier failed save; a new failure surfaces below
    try {
      await this.rotate();
    } catch (e) {
      throw this.reportFreeze(e);
    }
    // Types recovery dropped (SPEC §7.6) have no bundle now, so both fetches below bring them again.
    const pins = (await this.fetchBundle('pins')) as RefreshResult['pins'];
    const trustRoots = await this.fetchBundle('trust-roots');
    return { pins, trustRoots, version: this.version, keysetVersion: this.store.keyset.version };
  }

  /** SPEC §5: follow keysets v+1, v+2, ... until 404 (or 403/410), at most MAX_ROTATIONS per refresh. */
  private async rotate(): Promise<void> {
    for (let i = 0; i < MAX_ROTATIONS; i++) {
      const next = this.store.keyset.version + 1;
      // SPEC §5.1: 404, 403 (S3 and other static hosts for a missing object) or 410 end the rotation.
      const r = await this.get(`/v1/keyset/${next}`, undefined, [403, 404, 410]);
      if (r.status === 404) return;
      if (r.status !== 200) throw new FetchError(`GET ${this.url}/v1/keyset/${next}: unexpected HTTP ${r.status}`);
      const { dropped } = this.store.rotate(r.body, this.now());
      await this.persist(`keyset-${next}`, r.body);
      for (const type of dropped) await this.drop(type);
    }
  }

  /** SPEC §7.6: a bundle recovery dropped is no longer in force, nor stored. */
  private async drop(type: ContentType): Promise<void> {
    delete this.etags[type];
    this.unsaved.delete(type);
    this.fx.changed?.();
    try {
      await this.fx.remove(type);
    } catch (e) {
      throw new PinctlError('OUTPUT_UNWRITABLE', `could not delete the dropped ${type} bundle in ${this.fx.storageName}: ${describeError(e)}`, { exitCode: 1, cause: e });
    }
  }

  /** SPEC §7.5: a frozen client says so through the report sink too (the throttle keeps it to one a minute). */
  private reportFreeze(e: unknown): unknown {
    if (e instanceof TrustExpiredError) this.fx.report({ type: 'trust-expired', bundle: info(this.store.current('pins')) });
    return e;
  }

  private async fetchBundle(type: ContentType): Promise<RefreshResult['trustRoots']> {
    try {
      return await this.fetchOne(type);
    } catch (e) {
      throw this.reportFreeze(e);
    }
  }

  private async fetchOne(type: ContentType): Promise<RefreshResult['trustRoots']> {
    const current = this.store.current(type);
    const r = await this.get(PATHS[type], current && this.etags[type], [403, 404, 410]);
    if (r.status === 304) {
      if (current) {
        this.store.assertFresh(type, this.now()); // a 304 forever is a freeze: report it once stale
        return 'unchanged';
      }
      throw new FetchError(`GET ${this.url}${PATHS[type]}: 304 Not Modified, but no ${type} bundle is applied`);
    }
    if (r.status === 404) {
      // SPEC §7.5: "no longer served" while the applied bundle has expired is a freeze, not "unchanged".
      if (current) this.store.assertFresh(type, this.now());
      // A 404 never removes an applied bundle: on plain http anyone on the path can forge one.
      if (type === 'trust-roots') return current ? 'unchanged' : 'none';
      throw new FetchError(`GET ${this.url}${PATHS[type]}: HTTP 404, no ${type} bundle is published`);
    }
    const { status } = this.store.verify(type, r.body, this.now());
    if (r.etag) this.etags[type] = r.etag;
    else delete this.etags[type];
    if (status === 'applied') {
      this.fx.changed?.();
      await this.persist(type, r.body);
    }
    return status;
  }

  private get(path: string, etag?: string, notFound?: number[]): Promise<Download> {
    return this.fx.transport(this.url + path, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes, etag, notFound });
  }

  private async persist(name: string, bytes: Uint8Array): Promise<void> {
    this.unsaved.set(name, bytes);
    await this.flush();
  }

  private async flush(): Promise<void> {
    for (const [name, bytes] of this.unsaved) {
      try {
        await this.fx.persist(name, bytes);
        this.unsaved.delete(name);
      } catch (e) {
        throw new PinctlError('OUTPUT_UNWRITABLE', `could not save ${name} in ${this.fx.storageName}: ${describeError(e)}; it is in force until restart only`, { exitCode: 1, cause: e });
      }
    }
  }

  private phase(b: AppliedBundle<ContentType>, t: number): Phase {
    const exp = Date.parse(b.payload.expiresAt);
    if (t < exp + this.store.skewMs) return 'fresh';
    return this.policy === 'enforce-last-good' && t < exp + this.graceMs ? 'grace' : 'lapsed';
  }

  private activePins(t: number): PinTable | null {
    const b = this.store.current('pins');
    if (!b) return this.baseline;
    if (this.phase(b, t) === 'lapsed') return this.lapsed(b);
    let table = this.tables.get(b);
    if (!table) this.tables.set(b, (table = new PinTable(b.payload.domains)));
    return table;
  }

  /** Falling back to platform trust is reported once per bundle version. */
  private lapsed(b: AppliedBundle<ContentType>): null {
    const key = `${b.type}:${b.payload.version}`;
    if (!this.lapsedReported.has(key)) {
      this.lapsedReported.add(key);
      this.fx.report({ type: 'stale-bundle', bundle: info(b) });
    }
    return null;
  }
}

/**
 * The embedded trust: SPEC §7 root role (`rootKeys`, root `threshold`, `trustExpires`), or SPEC 1.0
 * signing keys (`publicKeys`) at keyset version 0 with a threshold of distinct signers.
 */
export function embeddedTrust(opts: Pick<EngineOptions, 'rootKeys' | 'publicKeys' | 'threshold' | 'trustExpires'>): Pick<StoreOptions, 'keyset' | 'root'> {
  if (opts.rootKeys && opts.publicKeys) throw new InputError('CONFIG_MALFORMED', 'give rootKeys (SPEC §7 roles) or publicKeys (SPEC 1.0), not both');
  const roles = opts.rootKeys !== undefined;
  const name = roles ? 'rootKeys' : 'publicKeys';
  const list = opts.rootKeys ?? opts.publicKeys;
  if (!Array.isArray(list) || list.length === 0) throw new InputError('CONFIG_MALFORMED', `${name}: expected at least one Ed25519 public key`);
  if (!roles && opts.trustExpires !== undefined) {
    throw new InputError('CONFIG_MALFORMED', 'trustExpires: only with rootKeys (SPEC §7); publicKeys are SPEC 1.0 signing keys');
  }
  const keyset = embeddedKeyset(list);
  const t = opts.threshold ?? 1;
  if (!Number.isSafeInteger(t) || t < 1 || t > keyset.keys.size) {
    throw new InputError('CONFIG_MALFORMED', `threshold: expected an integer from 1 to ${keyset.keys.size} (the distinct ${name} given), found ${String(opts.threshold)}`);
  }
  if (!roles) return { keyset: { ...keyset, threshold: t } };
  return { root: embeddedRootRole(list, t, parseTrustExpires(opts.trustExpires)) };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** 'YYYY-MM-DD' (midnight UTC that day) or RFC 3339; absent: the root never expires (not recommended). */
export function parseTrustExpires(v: string | undefined): number {
  if (v === undefined) return Infinity;
  const t = typeof v === 'string' && (DAY.test(v) || RFC3339.test(v)) ? Date.parse(v) : NaN;
  if (Number.isNaN(t) || (DAY.test(v) && new Date(t).toISOString().slice(0, 10) !== v)) {
    throw new InputError('CONFIG_MALFORMED', `trustExpires: expected 'YYYY-MM-DD' or an RFC 3339 time such as 2027-06-01T00:00:00Z, found ${JSON.stringify(v)}`);
  }
  return t;
}

function info(b: AppliedBundle<ContentType> | undefined): PinReport['bundle'] {
  return b && { type: b.type, version: b.payload.version, expiresAt: b.payload.expiresAt };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function atLeast(v: number | undefined, dflt: number, min: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min) throw new InputError('CONFIG_MALFORMED', `${name}: expected a number ≥ ${min}`);
  return v;
}
