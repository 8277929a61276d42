/**
 * The HTTP edge of the signing service (SPEC §6) on node:http. GETs are answered from bytes and
 * headers prepared when a bundle is published (a Map lookup, then one write); everything that
 * decides (routing, ETags, auth, validation) lives in routes.ts and service.ts.
 */
import http, { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { PinService } from './service.js';
import { TokenBucketLimiter, rateLimitKey } from './rate-limit.js';
import { Entry, KEEP_ALIVE_SECONDS, bearerMatches, clientAddress, ifNoneMatchHits, pathOf, queryFlag, route, tokenDigest } from './routes.js';
import { installFastPath } from './fast-http.js';
import { healthOf, renderServiceMetrics } from './metrics.js';
import { dirname } from 'node:path';
import { formatCursor, parseCursor, readReportsLog } from './reports-log.js';

export const DEFAULT_MAX_REPORT_BYTES = 16 * 1024;
export const DEFAULT_MAX_PUBLISH_BYTES = 8 * 1024 * 1024;
export const DEFAULT_REPORTS_PER_MINUTE = 10;
/** Reports nested deeper than this are refused (400): serialising them again must not exhaust the stack. */
export const MAX_REPORT_DEPTH = 32;
/** GET /v1/reports answers at most this much of reports.log at a time (`more: true` then). */
export const REPORTS_PAGE_BYTES = 1024 * 1024;

/**
 * How deeply arrays and objects nest in a JSON text, counted without parsing it (strings and
 * their escapes skipped). A 16 KiB body can nest 8,000 levels deep.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
/** After a 413, read and discard at most this much more before dropping the connection. */
const DRAIN_LIMIT = 1024 * 1024;

export interface HttpOptions {
  service: PinService;
  adminToken: string;
  /** Per-client limiter for POST /v1/reports (default 10 per minute). */
  reportLimiter?: TokenBucketLimiter;
  maxReportBytes?: number;
  maxPublishBytes?: number;
  /** Unexpected errors (500s), e.g. to stderr. */
  onError?: (e: unknown) => void;
}

const NO_STORE = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}, head = false): void {
  const bytes = Buffer.from(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
  res.writeHead(status, { ...NO_STORE, 'Content-Length': String(bytes.length), ...extra });
  res.end(head ? undefined : bytes);
}

type Body = { ok: true; bytes: Buffer } | { ok: false; tooLarge: boolean };

/**
 * Reads a request body, refusing it as soon as it is known to exceed `limit` (declared or counted).
 * A client waiting on `Expect: 100-continue` is told to send only once the request got this far
 * (authorised, under the rate limit, not declared too large).
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Body> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ ok: false, tooLarge: true });
  if (/^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (b: Body) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onError);
      resolve(b);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) return finish({ ok: false, tooLarge: true });
      chunks.push(c);
    };
    const onEnd = () => finish({ ok: true, bytes: Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, tooLarge: false });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onError); // closed before 'end': the client went away
  });
}

/** 413, then discard what the client still sends (closing on unread data would reset the answer away). */
function tooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  let drained = 0;
  req.on('data', (c: Buffer) => {
    drained += c.length;
    if (drained > DRAIN_LIMIT) req.socket.destroy();
  });
  req.resume();
  sendJson(res, 413, { error: `request body is over the ${limit}-byte limit` }, { Connection: 'close' });
}

/** `GET /v1/reports?cursor=C`: reports.log lines after C (from the start without one), a page at a time. */
async function readReports(service: PinService, url: string | undefined): Promise<[number, unknown]> {
  const raw = new URL(url ?? '/', 'http://x').searchParams.get('cursor');
  const cursor = raw === null || raw === '' ? null : parseCursor(raw);
  if (raw && !cursor) return [400, { error: `expected ?cursor= as returned by the previous answer (INO.OFFSET.HEAD), found ${JSON.stringify(raw.slice(0, 80))}`, code: 'USAGE' }];
  const r = await readReportsLog(dirname(service.store.reportsLogPath), cursor, REPORTS_PAGE_BYTES);
  return [200, { cursor: r.cursor ? formatCursor(r.cursor) : null, reports: r.lines, skipped: r.skipped, more: r.more }];
}

export function createHandler(opts: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { service } = opts;
  const admin = tokenDigest(opts.adminToken);
  const limiter = opts.reportLimiter ?? TokenBucketLimiter.perMinute(DEFAULT_REPORTS_PER_MINUTE);
  const maxReport = opts.maxReportBytes ?? DEFAULT_MAX_REPORT_BYTES;
  const maxPublish = opts.maxPublishBytes ?? DEFAULT_MAX_PUBLISH_BYTES;

  const slow = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = pathOf(req.url);
    const r = route(method, path);
    const head = method === 'HEAD';
    switch (r.kind) {
      case 'get':
        return sendJson(res, 404, { error: `nothing published yet at ${path}` }, {}, head);
      case 'health': {
        const h = healthOf(service.served, service.now(), service.validityMs);
        const body = {
          status: h.ok ? 'ok' : 'expiring',
          audience: service.audience,
          versions: service.versions(),
          expires: Object.fromEntries(service.served.map((x) => [x.type, x.expiresAt])),
          writable: service.store.writable,
          ...(h.ok ? {} : { problems: h.problems }),
        };
        return sendJson(res, h.ok ? 200 : 503, body, {}, head);
      }
      case 'metrics': {
        const text = Buffer.from(renderServiceMetrics(service.metricsSnapshot()), 'utf8');
        const type = 'text/plain; version=0.0.4; charset=utf-8';
        res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': String(text.length) });
        return void res.end(head ? undefined : text);
      }
      case 'not-found':
        return sendJson(res, 404, { error: `no such resource: ${path}` }, {}, head);
      case 'method-not-allowed':
        return sendJson(res, 405, { error: `${method} is not allowed on ${path}` }, { Allow: r.allow }, head);
      case 'report': {
        const remote = clientAddress(req.socket.remoteAddress);
        const taken = limiter.take(rateLimitKey(remote));
        if (!taken.ok) {
          service.reportsDropped.rate_limited++;
          req.resume();
          return sendJson(res, 429, { error: 'too many reports from this address', retryAfterSeconds: taken.retryAfterSeconds }, { 'Retry-After': String(taken.retryAfterSeconds), Connection: 'close' });
        }
        const body = await readBody(req, res, maxReport);
        if (!body.ok) return body.tooLarge ? tooLarge(req, res, maxReport) : undefined;
        const text = body.bytes.toString('utf8');
        if (jsonNestingDepth(text) > MAX_REPORT_DEPTH) {
          return sendJson(res, 400, { error: `expected a JSON object nested at most ${MAX_REPORT_DEPTH} levels deep`, code: 'REPORT_TOO_DEEP' });
        }
        let report: unknown;
        try {
          report = JSON.parse(text);
        } catch {
          return sendJson(res, 400, { error: 'expected a JSON object' });
        }
        if (typeof report !== 'object' || report === null || Array.isArray(report)) return sendJson(res, 400, { error: 'expected a JSON object' });
        if (!service.store.writable) {
          service.reportsDropped.read_only++;
          return sendJson(res, 503, { error: 'reports are not accepted: the data directory is read-only for this server', code: 'STORE_READ_ONLY' });
        }
        await service.appendReport(report, remote);
        return sendJson(res, 202, { status: 'accepted' });
      }
      case 'reports-read': {
        if (!bearerMatches(req.headers.authorization, admin)) {
          return sendJson(res, 401, { error: 'expected the admin token: Authorization: Bearer TOKEN' }, { 'WWW-Authenticate': 'Bearer realm="pinctl"', Connection: 'close' });
        }
        return sendJson(res, ...(await readReports(service, req.url)), {}, head);
      }
      case 'publish':
      case 'publish-keyset': {
        if (!bearerMatches(req.headers.authorization, admin)) {
          req.resume();
          return sendJson(res, 401, { error: 'expected the admin token: Authorization: Bearer TOKEN' }, { 'WWW-Authenticate': 'Bearer realm="pinctl"', Connection: 'close' });
        }
        const body = await readBody(req, res, maxPublish);
        if (!body.ok) return body.tooLarge ? tooLarge(req, res, maxPublish) : undefined;
        const request = { force: queryFlag(req.url, 'force'), merge: queryFlag(req.url, 'merge'), remote: clientAddress(req.socket.remoteAddress) };
        if (request.merge && !(r.kind === 'publish' && r.type === 'pins')) {
          return sendJson(res, 400, { error: '?merge=1 applies to POST /v1/bundles/pins only; trust roots and keysets are published whole', code: 'USAGE' });
        }
        const outcome = r.kind === 'publish' ? await service.publish(r.type, body.bytes, request) : await service.publishKeyset(body.bytes, request);
        return sendJson(res, outcome.status, outcome.body);
      }
    }
  };

  return (req, res) => {
    const method = req.method;
    if (method === 'GET' || method === 'HEAD') {
      // Fast path: a published resource is one Map lookup away.
      const entry = service.entries.get(pathOf(req.url));
      if (entry !== undefined) {
        if (ifNoneMatchHits(req.headers['if-none-match'], entry.etag)) {
          res.writeHead(304, entry.headers304);
          res.end();
        } else {
          res.writeHead(200, entry.headers200);
          res.end(method === 'HEAD' ? undefined : entry.body);
        }
        return;
      }
    }
    slow(req, res).catch((e) => {
      opts.onError?.(e);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error (see the server log)' });
      else res.destroy();
    });
  };
}

export interface RunningServer {
  server: http.Server | https.Server;
  host: string;
  port: number;
  url: string;
  /** HTTPS only: serve this certificate and key to new connections (existing ones keep theirs). */
  reloadTls(tls: TlsFiles): void;
  /** Stop accepting, finish in-flight requests, drop idle keep-alive connections. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /**
   * Published GET responses by path: when given, simple GET/HEAD requests for them are answered
   * by the raw fast path (fast-http.ts) before node:http parses anything.
   */
  fastPath?: (path: string) => Entry | undefined;
  /** Serve HTTPS with this certificate chain and key (PEM). The raw fast path is HTTP only. */
  tls?: TlsFiles;
}

export interface TlsFiles {
  cert: Uint8Array;
  key: Uint8Array;
}

const KEEP_ALIVE_MS = KEEP_ALIVE_SECONDS * 1000;
const HEADERS_TIMEOUT_MS = 15_000;

/** Listen on host:port (0 = any free port). */
export function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, opts: ListenOptions = {}): Promise<RunningServer> {
  const base = { requestTimeout: 30_000, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS };
  // The fast path reads raw request bytes off TCP sockets, which under TLS are ciphertext.
  const server = opts.tls ? https.createServer({ ...base, cert: Buffer.from(opts.tls.cert), key: Buffer.from(opts.tls.key) }, handler) : http.createServer(base, handler);
  if (opts.tls) server.on('tlsClientError', () => {}); // a failed handshake is the client's problem
  // `Expect: 100-continue` (curl sends it for larger bodies): the handler sends 100 only when it
  // reads the body, so a refused request (401, 413, 429) is answered before the body is sent.
  server.on('checkContinue', handler);
  const fastSockets = opts.fastPath && !opts.tls ? installFastPath(server, { lookup: opts.fastPath, keepAliveMs: KEEP_ALIVE_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS }) : new Set<Socket>();
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      let closing: Promise<void> | null = null;
      resolve({
        server,
        host: a.address,
        port: a.port,
        url: `${opts.tls ? 'https' : 'http'}://${shown}:${a.port}`,
        reloadTls: (files) => {
          if (!(server instanceof https.Server)) throw new Error('reloadTls: this server speaks plain HTTP');
          server.setSecureContext({ cert: Buffer.from(files.cert), key: Buffer.from(files.key) });
        },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            // Fast-path connections are idle between requests (answers are written at once).
            for (const s of fastSockets) s.end();
            // In-flight requests get a moment to finish, then every connection goes.
            const t = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, 2_000);
            t.unref();
          })),
      });
    });
  });
}
