/**
 * The pure half of the HTTP interface (SPEC §6): which route a request names, ETags and
 * conditional requests, the admin token check, and the table of public paths → bytes that both
 * `pinctl serve` and `pinctl publish --out` are built from (so they serve identical bytes).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { BundleType } from '../bundle/types.js';

export const CACHE_CONTROL = 'public, max-age=60';
export const CONTENT_TYPE = 'application/json';

export type PublishType = Exclude<BundleType, 'keyset'>;

export type Route =
  | { kind: 'get'; path: string }
  | { kind: 'health' }
  | { kind: 'metrics' }
  | { kind: 'publish'; type: PublishType }
  | { kind: 'publish-keyset' }
  | { kind: 'report' }
  | { kind: 'reports-read' }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allow: string };

const KEYSET_VERSION = /^\/v1\/keyset\/([1-9]\d{0,15})$/;

/** Method + path (no query) → what to do. GET also answers HEAD. */
export function route(method: string, path: string): Route {
  const read = method === 'GET' || method === 'HEAD';
  const post = method === 'POST';
  switch (path) {
    case '/v1/bundles/pins':
    case '/v1/bundles/trust-roots':
      if (read) return { kind: 'get', path };
      if (post) return { kind: 'publish', type: path === '/v1/bundles/pins' ? 'pins' : 'trust-roots' };
      return { kind: 'method-not-allowed', allow: 'GET, HEAD, POST' };
    case '/v1/keyset':
      if (read) return { kind: 'get', path };
      if (post) return { kind: 'publish-keyset' };
      return { kind: 'method-not-allowed', allow: 'GET, HEAD, POST' };
    case '/v1/keys':
      return read ? { kind: 'get', path } : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
    case '/healthz':
      return read ? { kind: 'health' } : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
    case '/metrics':
      return read ? { kind: 'metrics' } : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
    case '/v1/reports':
      if (read) return { kind: 'reports-read' }; // the admin's read of reports.log (monitor reportsFrom: { url })
      return post ? { kind: 'report' } : { kind: 'method-not-allowed', allow: 'GET, HEAD, POST' };
  }
  if (KEYSET_VERSION.test(path)) return read ? { kind: 'get', path } : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
  return { kind: 'not-found' };
}

/** "/v1/bundles/pins?x=1" → "/v1/bundles/pins". */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function queryFlag(url: string | undefined, name: string): boolean {
  if (!url) return false;
  const q = url.indexOf('?');
  if (q === -1) return false;
  const v = new URLSearchParams(url.slice(q + 1)).get(name);
  return v !== null && ['1', 'true', 'yes', ''].includes(v.toLowerCase());
}

/** Quoted lowercase hex SHA-256 of the body: a strong validator. */
export function etagOf(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('hex')}"`;
}

/** RFC 9110 §13.1.2: weak comparison, `*`, and lists. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const h = header.trim();
  if (h === '*') return true;
  const weak = (t: string) => (t.startsWith('W/') ? t.slice(2) : t);
  const want = weak(etag);
  return h.split(',').some((t) => weak(t.trim()) === want);
}

/** A GET response prepared once per published bundle: the fast path only looks it up. */
export interface Entry {
  body: Buffer;
  etag: string;
  headers200: Record<string, string>;
  headers304: Record<string, string>;
  /** Status line and headers, CRLF-terminated, without Date and the blank line (raw fast path). */
  raw: { ok: Buffer; okClose: Buffer; notModified: Buffer; notModifiedClose: Buffer };
}

export const KEEP_ALIVE_SECONDS = 5;

function rawHead(status: string, headers: Record<string, string>, close: boolean): Buffer {
  const lines = [`HTTP/1.1 ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), close ? 'Connection: close' : `Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_SECONDS}`];
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

export function makeEntry(bytes: Uint8Array): Entry {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const etag = etagOf(body);
  const headers200 = { 'Content-Type': CONTENT_TYPE, 'Content-Length': String(body.length), ETag: etag, 'Cache-Control': CACHE_CONTROL, 'X-Content-Type-Options': 'nosniff' };
  const headers304 = { ETag: etag, 'Cache-Control': CACHE_CONTROL };
  return {
    body,
    etag,
    headers200,
    headers304,
    raw: {
      ok: rawHead('200 OK', headers200, false),
      okClose: rawHead('200 OK', headers200, true),
      notModified: rawHead('304 Not Modified', headers304, false),
      notModifiedClose: rawHead('304 Not Modified', headers304, true),
    },
  };
}

/** SHA-256 of the token: both sides are hashed, so timingSafeEqual always compares 32 bytes. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** `Authorization: Bearer TOKEN` against the expected digest, in constant time. */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = tokenDigest(m ? m[1]! : '');
  return timingSafeEqual(given, expected) && m !== null;
}

/** Public path (without the leading slash) → bytes, as served and as written by publish --out. */
export interface PublicSources {
  pins?: Uint8Array;
  trustRoots?: Uint8Array;
  /** Every keyset, any order; the highest version is also the latest. */
  keysets: { version: number; bytes: Uint8Array }[];
  keys?: Uint8Array;
}

export function publicPaths(src: PublicSources): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  if (src.pins) out.set('v1/bundles/pins', src.pins);
  if (src.trustRoots) out.set('v1/bundles/trust-roots', src.trustRoots);
  const keysets = [...src.keysets].sort((a, b) => a.version - b.version);
  for (const k of keysets) out.set(`v1/keyset/${k.version}`, k.bytes);
  if (keysets.length > 0) out.set('v1/keyset', keysets[keysets.length - 1]!.bytes);
  if (src.keys) out.set('v1/keys', src.keys);
  return out;
}

export function clientAddress(remote: string | undefined): string {
  if (!remote) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}
