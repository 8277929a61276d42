/**
 * A real DNS server on 127.0.0.1 over UDP, hand-encoded (RFC 1035 §4), for resolver tests that must
 * not leave the machine: each question is answered with addresses, an error rcode, or never.
 */
import { createSocket, Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
export type QType = 'A' | 'AAAA' | 'other';
/** addresses of the asked type (others ignored), an rcode, or 'silent' (the query is dropped). */
export type Answer = string[] | { rcode: number } | 'silent';

export interface Query {
  name: string;
  type: QType;
  at: number;
}

export interface DnsServer {
  host: string;
  port: number;
  /** `host:port` for Resolver.setServers / the resolver's `servers` option. */
  address: string;
  queries: Query[];
  close(): Promise<void>;
}

/** Starts the server; `answer` is called per question with the lower-cased name. */
export function dnsServer(
  answer: (name: string, type: QType) => Answer,
  opts: { host?: string; port?: number } = {},
): Promise<DnsServer> {
  const host = opts.host ?? '127.0.0.1';
  // A large receive buffer: hundreds of queries arrive in one burst before the event loop reads them.
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
  const queries: Query[] = [];
  socket.on('message', (msg, peer) => {
    const q = parseQuery(msg);
    if (!q) return;
    queries.push({ name: q.name, type: q.type, at: performance.now() });
    const a = answer(q.name.toLowerCase(), q.type);
    if (a === 'silent') return;
    socket.send(encodeResponse(msg, q, a), peer.port, peer.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, host, () => {
      const port = socket.address().port;
      const address = isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
      resolve({ host, port, address, queries, close: () => closeSocket(socket) });
    });
  });
}

function closeSocket(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

interface Question {
  name: string;
  type: QType;
  /** Byte offset just after the question (type and class included). */
  end: number;
}

function parseQuery(msg: Buffer): Question | null {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  if (i + 5 > msg.length) return null;
  const qtype = msg.readUInt16BE(i + 1);
  return { name: labels.join('.'), type: qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : 'other', end: i + 5 };
}

function encodeResponse(query: Buffer, q: Question, a: Answer): Buffer {
  const rcode = Array.isArray(a) ? RCODE.NOERROR : (a as { rcode: number }).rcode;
  const ofType = (x: string) => (q.type === 'A' ? isIPv4(x) : q.type === 'AAAA' && isIPv6(x));
  const rdatas = Array.isArray(a) ? a.filter(ofType).map(rdata) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR, RD echoed, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdatas.length, 6);
  const answers = rdatas.map((d) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(q.type === 'A' ? 1 : 28, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6); // TTL
    rr.writeUInt16BE(d.length, 10);
    return Buffer.concat([rr, d]);
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

function rdata(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = address.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
