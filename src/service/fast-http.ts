/**
 * The raw fast path in front of node:http. Published GET/HEAD responses are prepared bytes, and
 * node:http's per-request machinery costs more than the rest of the request; so each connection
 * starts here: simple, complete, body-less `GET`/`HEAD` requests for a published path are answered
 * straight from the prepared bytes. The first request that is anything else (a POST, a body, an
 * unknown path, HTTP/1.0, an odd header, a head over 8 KiB, `Expect`, `Upgrade`) is handed, with
 * every byte from its first one on, to node:http for the rest of the connection.
 *
 * Only requests whose boundaries are beyond doubt are consumed here: no Content-Length other than
 * 0, no Transfer-Encoding, CRLF line ends only, token header names, printable values. Anything
 * ambiguous goes to node:http untouched, so the two parsers can never disagree on where a request
 * ends (no request smuggling between them).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Entry, ifNoneMatchHits } from './routes.js';

export interface FastRequest {
  method: 'GET' | 'HEAD';
  /** Path without the query. */
  path: string;
  ifNoneMatch?: string;
  close: boolean;
}

const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
const HEADER = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$/;
export const MAX_FAST_HEAD = 8 * 1024;

/** A request head (without the final CRLF CRLF), or null when node:http must handle it. Pure. */
export function parseFastRequest(head: string): FastRequest | null {
  const lines = head.split('\r\n');
  const first = REQUEST_LINE.exec(lines[0]!);
  if (!first) return null;
  let host = false;
  let close = false;
  let ifNoneMatch: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const m = HEADER.exec(lines[i]!);
    if (!m) return null; // obs-fold, bare CR or LF, control characters, obs-text
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    switch (name) {
      case 'host':
        if (host) return null;
        host = true;
        break;
      case 'content-length':
        if (value !== '0') return null;
        break;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return null;
      case 'connection':
        for (const t of value.toLowerCase().split(',')) {
          const token = t.trim();
          if (token === 'close') close = true;
          else if (token === 'upgrade') return null;
        }
        break;
      case 'if-none-match':
        ifNoneMatch = ifNoneMatch === undefined ? value : `${ifNoneMatch}, ${value}`;
        break;
    }
  }
  if (!host) return null; // HTTP/1.1 requires Host; node:http answers 400
  const target = first[2]!;
  const q = target.indexOf('?');
  return { method: first[1] as 'GET' | 'HEAD', path: q === -1 ? target : target.slice(0, q), ifNoneMatch, close };
}

let dateSecond = -1;
let dateLine = Buffer.alloc(0);
/** "Date: …\r\n\r\n", rebuilt once a second. */
function dateAndEnd(): Buffer {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = Buffer.from(`Date: ${new Date(second * 1000).toUTCString()}\r\n\r\n`, 'latin1');
  }
  return dateLine;
}

/** The full response bytes for a fast request. */
export function fastResponse(entry: Entry, req: FastRequest): Buffer {
  if (ifNoneMatchHits(req.ifNoneMatch, entry.etag)) return Buffer.concat([req.close ? entry.raw.notModifiedClose : entry.raw.notModified, dateAndEnd()]);
  const head = req.close ? entry.raw.okClose : entry.raw.ok;
  return req.method === 'HEAD' ? Buffer.concat([head, dateAndEnd()]) : Buffer.concat([head, dateAndEnd(), entry.body]);
}

export interface FastPathOptions {
  lookup: (path: string) => Entry | undefined;
  /** Idle time between requests before the connection is closed. */
  keepAliveMs: number;
  /** Longest time a request head may take to arrive. */
  headersTimeoutMs: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Puts the fast path in front of `server`'s own connection handling. Returns the set of sockets
 * still in the fast phase (for shutdown); handed-off sockets belong to node:http from then on.
 */
export function installFastPath(server: Server, opts: FastPathOptions): Set<Socket> {
  const httpListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const fastSockets = new Set<Socket>();

  server.on('connection', (socket: Socket) => {
    fastSockets.add(socket);
    socket.setNoDelay(true);
    const onTimeout = () => socket.destroy();
    const onError = () => socket.destroy();
    socket.setTimeout(opts.keepAliveMs, onTimeout);
    socket.on('error', onError);
    let buf: Buffer | null = null;
    let headSince = 0;

    const handOff = (from: number) => {
      socket.off('data', onData);
      socket.off('drain', onDrain);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      socket.setTimeout(0);
      fastSockets.delete(socket);
      socket.pause();
      const rest = buf === null ? null : buf.subarray(from);
      buf = null;
      if (rest !== null && rest.length > 0) socket.unshift(rest);
      for (const l of httpListeners) l.call(server, socket);
      socket.resume();
    };
    /** Answers at most this much per turn: a pipelining client that never reads must not make the
     * server build thousands of responses in memory before backpressure is even looked at. */
    const TURN_BUDGET = 256 * 1024;
    let waiting = false;
    const resumeLater = () => {
      if (waiting) return;
      waiting = true;
      socket.pause();
      const go = () => {
        waiting = false;
        socket.resume();
        pump();
      };
      if (socket.writableNeedDrain) socket.once('drain', go);
      else setImmediate(go);
    };
    const onDrain = () => socket.resume();
    const onData = (chunk: Buffer) => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      if (!waiting) pump();
    };
    const pump = () => {
      if (buf === null || socket.destroyed) return;
      let off = 0;
      let close = false;
      let budgetHit = false;
      let bytes = 0;
      const out: Buffer[] = [];
      while (off < buf.length) {
        if (bytes >= TURN_BUDGET) {
          budgetHit = true;
          break;
        }
        const end = buf.indexOf(CRLFCRLF, off);
        if (end === -1 ? buf.length - off > MAX_FAST_HEAD : end - off > MAX_FAST_HEAD) {
          flush(out);
          return handOff(off);
        }
        if (end === -1) break;
        const req = parseFastRequest(buf.toString('latin1', off, end));
        const entry = req === null ? undefined : opts.lookup(req.path);
        if (req === null || entry === undefined) {
          flush(out);
          return handOff(off);
        }
        const res = fastResponse(entry, req);
        out.push(res);
        bytes += res.length;
        off = end + 4;
        if (req.close) {
          close = true;
          break;
        }
      }
      flush(out);
      if (close) {
        socket.off('data', onData);
        buf = null;
        socket.end();
        return;
      }
      buf = off >= buf.length ? null : buf.subarray(off);
      if (buf === null) headSince = 0;
      else if (headSince === 0) headSince = Date.now();
      else if (Date.now() - headSince > opts.headersTimeoutMs) socket.destroy();
      // A client that pipelines without reading gets no more answers until it reads.
      if (budgetHit) resumeLater();
      else if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', onDrain);
      }
    };
    const flush = (out: Buffer[]) => {
      if (out.length === 1) socket.write(out[0]!);
      else if (out.length > 1) socket.write(Buffer.concat(out));
    };
    socket.on('data', onData);
  });
  return fastSockets;
}
