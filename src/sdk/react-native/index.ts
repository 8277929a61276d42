/**
 * pinctl/sdk/react-native: the core client for React Native (Hermes), with storage adapters for
 * AsyncStorage and MMKV, an XMLHttpRequest fetch that stops at the size cap, and applyPins(),
 * which hands the pins in force to react-native-ssl-public-key-pinning (OkHttp on Android,
 * TrustKit on iOS). The native module is passed in, so this file runs (and is tested) anywhere.
 */
// The package's own types file: its index.d.ts loads react-native's global types (setTimeout: number).
import type { PinningOptions } from 'react-native-ssl-public-key-pinning/lib/typescript/src/types.js';
import { FetchError, TooLargeError } from '../../bundle/errors.js';
import type { CoreClient, KeyValueStorage } from '../core/client.js';
import type { FetchLike, FetchResponseLike } from '../core/transport.js';
import { pinningOptions, type SkippedDomain } from './rules.js';

export * from '../core/index.js';
export { pinningOptions, unpinnableReason, type SkippedDomain } from './rules.js';

/** The two functions of react-native-ssl-public-key-pinning applyPins calls (pass the module). */
export interface PinningLibrary {
  initializeSslPinning(options: PinningOptions): Promise<void>;
  disableSslPinning(): Promise<void>;
}

/** @react-native-async-storage/async-storage's shape. */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
}
/** react-native-mmkv's shape (v2 and v3). */
export interface MmkvLike {
  getString(key: string): string | undefined;
  set(key: string, value: string): void;
}

/** A storage for createClient from AsyncStorage or an MMKV instance. */
export function storageFrom(store: AsyncStorageLike | MmkvLike): KeyValueStorage {
  if ('getItem' in store) return { get: (k) => store.getItem(k), set: (k, v) => store.setItem(k, v) };
  return { get: (k) => store.getString(k) ?? null, set: (k, v) => store.set(k, v) };
}

export interface ApplyResult {
  /** applied: initializeSslPinning was called; disabled: disableSslPinning; unchanged: same pins as the last call. */
  action: 'applied' | 'disabled' | 'unchanged';
  domains: string[];
  skipped: SkippedDomain[];
}

const lastApplied = new WeakMap<object, string>();

/**
 * Hands the pins in force to the native library: after `ready()`, after each refresh, and when the
 * app comes to the foreground (pins can lapse while it sleeps). Domains TrustKit would reject are
 * left out and listed in `skipped`; no pins in force (lapsed, or none shipped) disables pinning.
 */
export async function applyPins(client: Pick<CoreClient, 'reactNativeConfig'>, lib: PinningLibrary): Promise<ApplyResult> {
  const { options, skipped } = pinningOptions(client.reactNativeConfig());
  const domains = Object.keys(options);
  const key = JSON.stringify(options);
  if (lastApplied.get(lib) === key) return { action: 'unchanged', domains, skipped };
  if (domains.length === 0) await lib.disableSslPinning();
  else await lib.initializeSslPinning(options);
  lastApplied.set(lib, key);
  return { action: domains.length === 0 ? 'disabled' : 'applied', domains, skipped };
}

interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  abort(): void;
  send(): void;
  responseType: string;
  timeout: number;
  status: number;
  response: unknown;
  responseURL?: string;
  onprogress: ((e: { loaded: number }) => void) | null;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  ontimeout: (() => void) | null;
}

/**
 * A FetchLike over XMLHttpRequest: React Native's fetch buffers the whole body before it
 * resolves, XMLHttpRequest reports progress, so the download is aborted as soon as it passes
 * `maxBytes` (the core checks the cap again on the bytes received).
 */
export function xhrFetch(opts: { maxBytes: number; timeoutMs?: number; XMLHttpRequest?: new () => XhrLike }): FetchLike {
  return (url, init) =>
    new Promise<FetchResponseLike>((resolve, reject) => {
      const Xhr = opts.XMLHttpRequest ?? (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
      if (!Xhr) return reject(new FetchError(`GET ${url}: this runtime has no XMLHttpRequest`));
      const xhr = new Xhr();
      xhr.open('GET', url);
      for (const [k, v] of Object.entries(init.headers)) xhr.setRequestHeader(k, v);
      xhr.responseType = 'arraybuffer';
      if (opts.timeoutMs) xhr.timeout = opts.timeoutMs;
      xhr.onprogress = (e) => {
        if (e.loaded <= opts.maxBytes) return;
        xhr.abort();
        reject(new TooLargeError(`GET ${url}: the response exceeds the ${opts.maxBytes}-byte limit; the download was aborted`));
      };
      xhr.onerror = () => reject(new FetchError(`GET ${url}: network error`));
      xhr.ontimeout = () => reject(new FetchError(`GET ${url}: no complete answer within ${opts.timeoutMs} ms`));
      xhr.onload = () => {
        const body = xhr.response instanceof ArrayBuffer ? xhr.response : new ArrayBuffer(0);
        resolve({
          status: xhr.status,
          redirected: typeof xhr.responseURL === 'string' && xhr.responseURL !== '' && xhr.responseURL !== url,
          headers: { get: (n) => xhr.getResponseHeader(n) },
          arrayBuffer: () => Promise.resolve(body),
        });
      };
      const signal = init.signal as { addEventListener?(t: 'abort', f: () => void): void } | undefined;
      signal?.addEventListener?.('abort', () => xhr.abort());
      xhr.send();
    });
}
