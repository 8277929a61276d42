/**
 * PinClient, the Node adapter over the runtime-neutral PinEngine (src/sdk/core): files for the
 * last good bundles, node:http(s) downloads, report POSTs, and https.Agent / undici dispatcher
 * enforcement. Every trust rule and the state machine live in the core.
 */
import type https from 'node:https';
import type { Agent as UndiciAgent } from 'undici';
import '../bundle/node-primitives.js';
import { InputError } from '../errors.js';
import { PinEngine, type ClientStatus, type EngineOptions, type ReactNativePinningOptions, type RefreshResult } from './core/engine.js';
import { BundleStorage } from './storage.js';
import { download } from './download.js';
import { Reporter, type PinReport } from './report.js';
import { PinningDispatcher, PinningHttpsAgent } from './agents.js';
import type { Enforcer } from './enforce.js';

export { DEFAULT_GRACE_MS, DEFAULT_TIMEOUT_MS } from './core/engine.js';
export type { BundleStatus, ClientStatus, Phase, ReactNativePinningOptions, RefreshResult, StalePolicy } from './core/engine.js';

/** The engine's options (service, keys, policy, clock: src/sdk/core/engine.ts) and the Node adapter's own. */
export interface PinClientOptions extends EngineOptions {
  /** Where the last good bundles and the trusted keyset chain are kept. */
  storageDir: string;
  /** POST failure reports: `true` for `${url}/v1/reports`, or a URL. Default off. */
  reportUri?: string | boolean;
  onReport?: (report: PinReport) => void;
}

export class PinClient {
  /** The normalised service base URL. */
  readonly url: string;
  private readonly engine: PinEngine;
  private readonly storage: BundleStorage;
  private readonly reporter: Reporter;
  private readonly enforcer: Enforcer;
  private readonly watchers = new Set<WeakRef<{ dropIdle(): void }>>();
  private generation = 0;

  constructor(opts: PinClientOptions) {
    if (typeof opts.storageDir !== 'string' || !opts.storageDir) throw new InputError('CONFIG_MALFORMED', 'storageDir: expected a directory path');
    const now = opts.now ?? (() => new Date());
    let storage: BundleStorage | undefined;
    this.engine = new PinEngine(
      { ...opts, now },
      {
        transport: (url, o) => download(new URL(url), o),
        persist: (name, bytes) => storage!.write(name, bytes),
        remove: (name) => storage!.remove(name),
        report: (r) => this.reporter.send({ ...r, audience: this.engine.audience, time: now().toISOString() }),
        changed: () => this.changed(),
        storageName: opts.storageDir,
      },
    );
    this.url = this.engine.url;
    this.storage = storage = new BundleStorage(opts.storageDir, this.engine.maxBytes);
    const reportUri = opts.reportUri === true ? new URL(`${this.url}/v1/reports`) : typeof opts.reportUri === 'string' ? new URL(opts.reportUri) : undefined;
    this.reporter = new Reporter(reportUri, opts.onReport, now);
    this.enforcer = {
      generation: () => this.generation,
      pinsFor: (host) => this.engine.pinsFor(host),
      trustRootPins: () => this.engine.trustRootPins(),
      report: (r) => this.reporter.send({ ...r, bundle: this.engine.bundleInfo('pins'), audience: this.engine.audience, time: now().toISOString() }),
      watch: (agent) => void this.watchers.add(new WeakRef(agent)),
    };
    this.engine.restore((name) => this.storage.read(name));
  }

  /** The applied pins version; 0 before any bundle. */
  get version(): number {
    return this.engine.version;
  }

  /**
   * Keyset rotation (SPEC §5), then pins, then trust roots (§4). Resolves when each was applied or
   * is unchanged; rejects with the typed error of the first failure, keeping the last good bundle.
   */
  refresh(): Promise<RefreshResult> {
    return this.engine.refresh();
  }

  /** The base64 pins that apply to `host` now; empty when it is not pinned. */
  pinsFor(host: string): string[] {
    return this.engine.pinsFor(host);
  }

  /** A Node https.Agent enforcing the pins and trust roots in force. Create once and reuse. */
  httpsAgent(options?: https.AgentOptions): https.Agent {
    return new PinningHttpsAgent(this.enforcer, options);
  }

  /** An undici dispatcher for `fetch(url, { dispatcher })` with the same checks. */
  dispatcher(options?: UndiciAgent.Options): PinningDispatcher {
    return new PinningDispatcher(this.enforcer, options);
  }

  /** The pins in force, for react-native-ssl-public-key-pinning (which has no trust-root check). */
  reactNativeConfig(): ReactNativePinningOptions {
    return this.engine.reactNativeConfig();
  }

  status(): ClientStatus {
    return this.engine.status();
  }

  private changed(): void {
    this.generation++;
    for (const ref of this.watchers) {
      const agent = ref.deref();
      if (agent) agent.dropIdle();
      else this.watchers.delete(ref);
    }
  }
}
