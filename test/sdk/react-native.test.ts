/**
 * pinctl/sdk/react-native: the TrustKit/OkHttp rules before initializeSslPinning, applyPins against a
 * fake native library that records its argument and validates it as the native sides do, the
 * XMLHttpRequest fetch, and an end-to-end run on Node against a real `pinctl serve`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from '../../cli/commands/serve.js';
import { tlsServer } from '../helpers/servers.js';
import { NOW, PIN, keyPair, pinsJson, tempDir, testIO } from '../service/helpers.js';
import type { PinningOptions } from 'react-native-ssl-public-key-pinning/lib/typescript/src/types.js';
import {
  TooLargeError,
  applyPins,
  createClient,
  pinningOptions,
  storageFrom,
  xhrFetch,
  type PinningLibrary,
} from '../../src/sdk/react-native/index.js';

/** What TrustKit (iOS) and OkHttp's CertificatePinner (Android) would throw on, written from their docs. */
const SUFFIXES = new Set(['com', 'uk', 'co.uk', 'github.io', 'test']);
function nativeValidation(options: PinningOptions): void {
  for (const [domain, d] of Object.entries(options)) {
    if (/^[\d.]+$|:/.test(domain)) throw new Error(`${domain}: TrustKit does not pin IP addresses`);
    if (!domain.includes('.') || SUFFIXES.has(domain)) throw new Error(`${domain}: TrustKit refuses a public suffix`);
    if (new Set(d.publicKeyHashes).size < 2) throw new Error(`${domain}: TrustKit requires at least two pins`);
    for (const h of d.publicKeyHashes) if (Buffer.from(h, 'base64').length !== 32 || Buffer.from(h, 'base64').toString('base64') !== h) throw new Error(`${domain}: bad pin ${h}`);
    if (d.expirationDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(d.expirationDate)) throw new Error(`${domain}: expirationDate is yyyy-MM-dd`);
  }
}
function fakeLibrary() {
  const calls: ({ op: 'initialize'; options: PinningOptions } | { op: 'disable' })[] = [];
  const lib: PinningLibrary = {
    initializeSslPinning: async (options) => {
      nativeValidation(options);
      calls.push({ op: 'initialize', options: structuredClone(options) });
    },
    disableSslPinning: async () => void calls.push({ op: 'disable' }),
  };
  return { lib, calls };
}

describe('TrustKit rules before the call', () => {
  it('leaves out IP addresses, local names, public suffixes, single pins; keeps the rest', () => {
    const two = { includeSubdomains: false, publicKeyHashes: [PIN.leaf, PIN.backup] };
    const { options, skipped } = pinningOptions({
      'api.example.com': two,
      '127.0.0.1': two,
      '::1': two,
      localhost: two,
      'printer.local': two,
      'co.uk': two,
      'github.io': two,
      'me.github.io': two,
      'one.example.com': { includeSubdomains: true, publicKeyHashes: [PIN.leaf, PIN.leaf] },
    });
    expect(Object.keys(options)).toEqual(['api.example.com', 'me.github.io']);
    expect(Object.fromEntries(skipped.map((s) => [s.domain, s.reason]))).toEqual({
      '127.0.0.1': 'ip-address',
      '::1': 'ip-address',
      localhost: 'local-name',
      'printer.local': 'local-name',
      'co.uk': 'public-suffix',
      'github.io': 'public-suffix',
      'one.example.com': 'too-few-pins',
    });
    expect(() => nativeValidation(options)).not.toThrow();
  });
});

describe('xhrFetch', () => {
  class FakeXhr {
    static last: FakeXhr;
    headers: Record<string, string> = {};
    aborted = false;
    responseType = '';
    timeout = 0;
    status = 0;
    response: unknown = null;
    responseURL = '';
    onprogress: ((e: { loaded: number }) => void) | null = null;
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    ontimeout: (() => void) | null = null;
    url = '';
    constructor() {
      FakeXhr.last = this;
    }
    open(_m: string, url: string) {
      this.url = url;
    }
    setRequestHeader(k: string, v: string) {
      this.headers[k] = v;
    }
    getResponseHeader(n: string) {
      return n === 'etag' ? '"e1"' : null;
    }
    abort() {
      this.aborted = true;
    }
    send() {}
  }
  const fetch = xhrFetch({ maxBytes: 100, timeoutMs: 1000, XMLHttpRequest: FakeXhr });
  const init = { method: 'GET' as const, headers: { accept: 'application/json' }, redirect: 'manual' as const };

  it('aborts once the progress passes the cap', async () => {
    const p = fetch('https://pins.example.com/v1/bundles/pins', init);
    FakeXhr.last.onprogress!({ loaded: 101 });
    await expect(p).rejects.toBeInstanceOf(TooLargeError);
    expect(FakeXhr.last.aborted).toBe(true);
  });
  it('answers status, headers, body; a changed responseURL is a redirect', async () => {
    const p = fetch('https://pins.example.com/v1/bundles/pins', init);
    Object.assign(FakeXhr.last, { status: 200, response: new Uint8Array([1, 2]).buffer, responseURL: 'https://elsewhere.example.com/' });
    FakeXhr.last.onload!();
    const r = await p;
    expect([r.status, r.redirected, r.headers.get('etag'), new Uint8Array(await r.arrayBuffer())]).toEqual([200, true, '"e1"', new Uint8Array([1, 2])]);
    expect(FakeXhr.last.headers).toEqual({ accept: 'application/json' });
    expect(FakeXhr.last.timeout).toBe(1000);
  });
});

describe('end to end against pinctl serve', () => {
  const TOKEN = 'test-admin-token-0123456789abcdef';
  let tls: Awaited<ReturnType<typeof tlsServer>>;
  let serve: Awaited<ReturnType<typeof startServe>>;
  const k = keyPair();
  beforeAll(async () => {
    tls = await tlsServer('chain.pem', 'leaf.key');
    const opts = { listen: '127.0.0.1:0', key: [k.key], data: tempDir(), audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min' };
    serve = await startServe(opts, testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } }));
    const body = pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: tls.port, addresses: ['127.0.0.1'] }] }]);
    const r = await fetch(`${serve.url}/v1/bundles/pins`, { method: 'POST', body, headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
  });
  afterAll(async () => {
    await serve?.stop();
    await tls?.close();
  });

  it('refresh, applyPins, unchanged on the second call, disabled once the pins lapse', async () => {
    const items = new Map<string, string>();
    const asyncStorage = { getItem: async (key: string) => items.get(key) ?? null, setItem: async (key: string, v: string) => void items.set(key, v) };
    let clock = NOW; // the clock testIO gives the service
    const client = createClient({ url: serve.url, publicKeys: [k.publicKey], audience: 'com.example.app', storage: storageFrom(asyncStorage), stalePolicy: 'fail-open', now: () => clock });
    await expect(client.refresh()).resolves.toMatchObject({ pins: 'applied', version: 1 });
    const { lib, calls } = fakeLibrary();
    const first = await applyPins(client, lib);
    expect(first).toMatchObject({ action: 'applied', domains: ['api.pinctl.test'], skipped: [] });
    expect(calls).toHaveLength(1);
    const applied = calls[0]!.op === 'initialize' ? calls[0]!.options : {};
    expect(applied['api.pinctl.test']).toMatchObject({ includeSubdomains: false, publicKeyHashes: [PIN.intermediate, PIN.backup] });
    expect(applied['api.pinctl.test']!.expirationDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((await applyPins(client, lib)).action).toBe('unchanged');
    expect(items.has('pinctl:pins')).toBe(true);

    clock = new Date(clock.getTime() + 8 * 24 * 3600_000); // past expiresIn 7d: fail-open drops the pins
    expect(await applyPins(client, lib)).toMatchObject({ action: 'disabled', domains: [] });
    expect(calls.at(-1)).toEqual({ op: 'disable' });
  });

  it('MMKV-shaped storage restores the last good bundle in a new client', async () => {
    const values = new Map<string, string>();
    const mmkv = { getString: (key: string) => values.get(key), set: (key: string, v: string) => void values.set(key, v) };
    const opts = { url: serve.url, publicKeys: [k.publicKey], audience: 'com.example.app', storage: storageFrom(mmkv), now: () => NOW };
    await createClient(opts).refresh();
    const again = createClient(opts);
    await again.ready();
    expect(again.version).toBe(1);
    expect(again.pinsFor('api.pinctl.test')).toEqual([PIN.intermediate, PIN.backup]);
  });
});

