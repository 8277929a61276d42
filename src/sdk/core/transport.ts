/**
 * Bounded GET of a bundle through any fetch-like function (global fetch on Node 20, React Native
 * and browsers). Trust comes from the signature, not the transport; the size cap (SPEC §4.1) is
 * checked on Content-Length, while streaming where the response has a readable body, and on the
 * bytes received.
 */
import { FetchError, TooLargeError } from '../../bundle/errors.js';

export type Download = { status: 200; body: Uint8Array; etag?: string } | { status: 304 } | { status: 404 };

export interface DownloadOptions {
  timeoutMs: number;
  maxBytes: number;
  etag?: string;
  /** Statuses that mean "nothing here" (reported as 404); default 404 and 410. */
  notFound?: number[];
}

/** A GET, however it is made: the Node SDK passes its own (node:http), the core a FetchLike. */
export type Transport = (url: string, opts: DownloadOptions) => Promise<Download>;

interface ReaderLike {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}
export interface FetchResponseLike {
  status: number;
  redirected?: boolean;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
  body?: { getReader(): ReaderLike } | null;
}
export interface FetchInit {
  method: 'GET';
  headers: Record<string, string>;
  redirect: 'manual';
  signal?: unknown;
}
/** What the core needs of `fetch`. */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponseLike>;

export function fetchTransport(fetchImpl: FetchLike): Transport {
  return (url, opts) => {
    const Abort = (globalThis as { AbortController?: new () => { signal: unknown; abort(): void } }).AbortController;
    const controller = Abort ? new Abort() : undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller?.abort();
        reject(new FetchError(`GET ${url}: no complete answer within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
    });
    const work = get(fetchImpl, url, opts, controller?.signal);
    work.catch(() => {}); // the deadline may have settled first
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  };
}

async function get(fetchImpl: FetchLike, url: string, opts: DownloadOptions, signal: unknown): Promise<Download> {
  const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
  if (opts.etag) headers['if-none-match'] = opts.etag;
  let res: FetchResponseLike;
  try {
    res = await fetchImpl(url, { method: 'GET', headers, redirect: 'manual', ...(signal ? { signal } : {}) });
  } catch (e) {
    if (e instanceof FetchError || e instanceof TooLargeError) throw e;
    throw new FetchError(`GET ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const status = res.status;
  if (status === 304) return { status: 304 };
  if ((opts.notFound ?? [404, 410]).includes(status)) return { status: 404 };
  if (status !== 200 || res.redirected) {
    const redirect = res.redirected || (status >= 300 && status < 400) || status === 0;
    throw new FetchError(`GET ${url}: HTTP ${status}${res.redirected ? ' after a redirect' : ''}`, redirect ? 'redirects are not followed: give the final URL' : undefined);
  }
  if (Number(res.headers.get('content-length')) > opts.maxBytes) throw tooLarge(url, opts.maxBytes);
  const body = await readCapped(res, url, opts.maxBytes);
  const etag = res.headers.get('etag');
  return { status: 200, body, ...(etag ? { etag } : {}) };
}

async function readCapped(res: FetchResponseLike, url: string, max: number): Promise<Uint8Array> {
  const reader = res.body && typeof res.body.getReader === 'function' ? res.body.getReader() : null;
  if (!reader) {
    // No streaming (React Native's fetch): the body is already in memory, the cap still decides.
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > max) throw tooLarge(url, max);
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value) continue;
    total += value.length;
    if (total > max) {
      reader.cancel().catch(() => {});
      throw tooLarge(url, max);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function tooLarge(url: string, max: number): TooLargeError {
  return new TooLargeError(`GET ${url}: the response exceeds the ${max}-byte limit; the download was aborted`);
}
