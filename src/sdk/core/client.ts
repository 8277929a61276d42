/**
 * createClient: the runtime-neutral SDK (`pinctl/sdk/core`). Everything outside the trust rules
 * is passed in: `fetch` (default: the global one), `storage` (get/set strings: AsyncStorage,
 * MMKV, localStorage or a Map all fit), the clock and the report sink. No node: import, no Buffer.
 */
import { InputError } from '../../errors.js';
import { utf8Decode, utf8Encode } from '../../bundle/bytes.js';
import { PinEngine, type ClientStatus, type EngineOptions, type ReactNativePinningOptions, type RefreshResult } from './engine.js';
import { ReportThrottle, type PinReport } from './report.js';
import { fetchTransport, type FetchLike } from './transport.js';

/**
 * get resolves null for a missing key; set stores a string (a verified envelope, UTF-8 JSON);
 * remove (AsyncStorage's removeItem, MMKV's delete) deletes a bundle recovery dropped (SPEC §7.6).
 * Without remove, a dropped bundle is overwritten with an empty string, read back as missing.
 */
export interface KeyValueStorage {
  get(key: string): Promise<string | null> | string | null;
  set(key: string, value: string): Promise<void> | void;
  remove?(key: string): Promise<void> | void;
}

/** `rootKeys` (+ `threshold`, `trustExpires`): SPEC §7 roles mode; `publicKeys`: SPEC 1.0. */
export interface CoreClientOptions extends EngineOptions {
  storage: KeyValueStorage;
  /** Prefix of every storage key; default `pinctl:` (then `pinctl:pins`, `pinctl:keyset-1`, ...). */
  storagePrefix?: string;
  fetch?: FetchLike;
  onReport?: (report: PinReport) => void;
  /** Called after the pins in force changed (a bundle applied or restored). */
  onChange?: () => void;
}

export interface CoreClient {
  /** The normalised service base URL. */
  readonly url: string;
  /** The applied pins version; 0 before any bundle. */
  readonly version: number;
  /** Resolves once the stored last good bundles are restored (refresh waits for it). */
  ready(): Promise<void>;
  refresh(): Promise<RefreshResult>;
  pinsFor(host: string): string[];
  trustRootPins(): ReadonlySet<string> | null;
  reactNativeConfig(): ReactNativePinningOptions;
  status(): ClientStatus;
}

const MAX_STORED_KEYSETS = 1000;

export function createClient(opts: CoreClientOptions): CoreClient {
  if (opts === null || typeof opts !== 'object') throw new InputError('CONFIG_MALFORMED', 'createClient: expected an options object');
  const storage = opts.storage;
  if (!storage || typeof storage.get !== 'function' || typeof storage.set !== 'function') {
    throw new InputError('CONFIG_MALFORMED', 'storage: expected { get(key), set(key, value) } (AsyncStorage, MMKV or a Map-backed object)');
  }
  const fetchImpl = opts.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof fetchImpl !== 'function') throw new InputError('CONFIG_MALFORMED', 'fetch: this runtime has no global fetch; pass one');
  const prefix = opts.storagePrefix ?? 'pinctl:';
  const now = opts.now ?? (() => new Date());
  const throttle = new ReportThrottle(now, (r) => opts.onReport?.(r));
  const engine: PinEngine = new PinEngine(
    { ...opts, now },
    {
      transport: fetchTransport(fetchImpl),
      persist: async (name, bytes) => void (await storage.set(prefix + name, utf8Decode(bytes))),
      remove: async (name) => void (await (storage.remove ? storage.remove(prefix + name) : storage.set(prefix + name, ''))),
      report: (r) => throttle.send({ ...r, audience: engine.audience, time: now().toISOString() }),
      changed: opts.onChange,
      storageName: `storage (${prefix}*)`,
    },
  );
  const loaded = load(engine, storage, prefix);

  return {
    url: engine.url,
    get version() {
      return engine.version;
    },
    ready: () => loaded,
    refresh: () => loaded.then(() => engine.refresh()),
    pinsFor: (host) => engine.pinsFor(host),
    trustRootPins: () => engine.trustRootPins(),
    reactNativeConfig: () => engine.reactNativeConfig(),
    status: () => engine.status(),
  };
}

/** Reads every stored bundle and keyset first, then restores synchronously. Storage errors mean "nothing stored". */
async function load(engine: PinEngine, storage: KeyValueStorage, prefix: string): Promise<void> {
  const values = new Map<string, Uint8Array>();
  const read = async (name: string): Promise<boolean> => {
    let text: string | null;
    try {
      text = await storage.get(prefix + name);
    } catch {
      return false;
    }
    if (typeof text !== 'string' || text === '') return false; // '': dropped (SPEC §7.6) by a storage without remove
    values.set(name, utf8Encode(text));
    return true;
  };
  await read('pins');
  await read('trust-roots');
  for (let v = 1; v <= MAX_STORED_KEYSETS && (await read(`keyset-${v}`)); v++);
  engine.restore((name) => values.get(name));
}
