/**
 * TLS probing: one handshake to one address, bounded by a single deadline that covers connect,
 * handshake and chain read. The certificate check is switched off here on purpose: the prober only
 * collects what the server sent; src/core/chain.ts decides whether it is valid.
 */
import tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { ErrorCode, ProbeError } from '../errors.js';
import { formatAddress } from '../core/target.js';

export interface ProbeRequest {
  /** Name for SNI and messages. */
  host: string;
  port: number;
  /** Address to dial. */
  address: string;
  timeoutMs: number;
  /**
   * Read the certificates exactly as sent (order, duplicates, extras off the path), for one-shot
   * commands that report a reordered chain. It uses getPeerX509Certificate(), which leaks the
   * issuer certificates natively in Node 20 (about 4 KB a handshake): long-running callers (the
   * monitor, the service) leave this off and get the issuer-linked chain, which does not leak.
   */
  asSent?: boolean;
}

export interface ProbeSuccess {
  ok: true;
  address: string;
  /** DER of each distinct certificate the server sent, in the order sent (leaf first), at most MAX_CHAIN. */
  served: Uint8Array[];
  protocol: string | null;
  cipher: string | null;
  durationMs: number;
}

export interface ProbeFailure {
  ok: false;
  address: string;
  error: ProbeError;
  durationMs: number;
}

export type ProbeResult = ProbeSuccess | ProbeFailure;
export type Prober = (req: ProbeRequest) => Promise<ProbeResult>;

/** Longer chains than this are not real PKI. OpenSSL itself rejects a Certificate message > 100 KiB. */
export const MAX_CHAIN = 32;

let emptyStoreContext: tls.SecureContext | undefined;
/**
 * An empty CA list: Node then reports exactly the linked certificates the server sent, instead of
 * silently completing the chain from its own bundled roots. One context serves every probe.
 */
function context(): tls.SecureContext {
  emptyStoreContext ??= tls.createSecureContext({ ca: [] });
  return emptyStoreContext;
}

export const probeTls: Prober = (req) =>
  new Promise((resolve) => {
    const started = performance.now();
    const where = `${req.host} at ${formatAddress(req.address, req.port)}`;
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    // Checked before the error is built: the 'close' that follows every finished probe would
    // otherwise construct (and capture a stack for) an error nobody reads.
    const fail = (code: ErrorCode, message: string, hint?: string) => {
      if (!settled) finish({ ok: false, address: req.address, error: new ProbeError(code, `${where}: ${message}`, { hint }), durationMs: performance.now() - started });
    };

    const socket = tls.connect({
      host: req.address,
      port: req.port,
      servername: isIP(req.host) ? undefined : req.host,
      secureContext: context(),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(
      () => fail('TIMEOUT', `no TLS handshake within ${req.timeoutMs} ms (${socket.connecting ? 'TCP connect' : 'handshake'} stalled)`, 'raise --timeout, or check a firewall drops the port'),
      req.timeoutMs,
    );
    socket.once('secureConnect', () => {
      const served = req.asSent ? servedAsSent(socket) : servedLinked(socket, `${req.host}|${req.address}|${req.port}`);
      if (served.length === 0) return fail('HANDSHAKE', 'the server sent no certificate');
      const cipher = socket.getCipher();
      finish({ ok: true, address: req.address, served, protocol: socket.getProtocol(), cipher: cipher?.standardName ?? cipher?.name ?? null, durationMs: performance.now() - started });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const [code, message, hint] = classify(e);
      fail(code, message, hint);
    });
    socket.once('close', () => fail('HANDSHAKE', 'the connection closed before the TLS handshake finished'));
  });

/**
 * getPeerX509Certificate() walks OpenSSL's peer chain as sent (`issuerCertificate` is the NEXT
 * certificate sent, not a verified issuer), so this is the served list in served order; a
 * certificate sent twice is kept once. src/core/chain.ts finds the path and reports a reordered
 * chain or certificates off it. Node 20 leaks each issuer certificate of this walk (it removes them
 * from the session's chain without freeing them): only for one-shot use.
 */
function servedAsSent(socket: tls.TLSSocket): Uint8Array[] {
  const served: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const c of sentX509(socket)) {
    if (served.length >= MAX_CHAIN) break;
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    served.push(new Uint8Array(c.raw));
  }
  return served;
}

/** Every certificate as sent (Node builds them all at once; Node 20 leaks each after the first). */
function sentX509(socket: tls.TLSSocket): X509Certificate[] {
  const sent: X509Certificate[] = [];
  for (let c = socket.getPeerX509Certificate(); c; c = c.issuerCertificate) sent.push(c);
  return sent;
}

/**
 * OpenSSL's own verification (against the empty store) says whether it found an issuer of the
 * leaf among the certificates sent. When it found none, the server almost always sent the leaf
 * alone, and getPeerX509Certificate() then costs ~20x less than getPeerCertificate(true) (which
 * re-decodes and converts every certificate) and leaks nothing: it leaks only the certificates
 * after the first. The hint only picks the cheaper call, never the result: when more than the
 * leaf did come (extra certificates that issue none of the others), the issuer links are made
 * here exactly as Node makes them, and the endpoint is remembered so that the (one-off, ~6 KB)
 * leak is not repeated at its next probe.
 */
const LEAF_ALONE = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT']);
const sentMore = new Set<string>();
const SENT_MORE_LIMIT = 100_000;

function servedLinked(socket: tls.TLSSocket, endpoint: string): Uint8Array[] {
  if (!LEAF_ALONE.has(String(socket.authorizationError)) || sentMore.has(endpoint)) return servedIssuerLinked(socket);
  const sent = sentX509(socket);
  if (sent.length > 1) {
    if (sentMore.size >= SENT_MORE_LIMIT) sentMore.clear();
    sentMore.add(endpoint);
  }
  return linkIssuers(sent).map((c) => new Uint8Array(c.raw));
}

/**
 * Node's issuer walk behind getPeerCertificate(true) (AddIssuerChainToObject), on the certificates
 * as sent: from the first, repeatedly take the first remaining certificate that issued the current
 * one (X509_check_issued, as Node does), and stop once the one taken was the last listed.
 */
export function linkIssuers(sent: X509Certificate[]): X509Certificate[] {
  const rest = sent.slice(1);
  const linked = sent.slice(0, 1);
  for (let cert = linked[0]; cert && linked.length < MAX_CHAIN; ) {
    const i = rest.findIndex((ca) => cert!.checkIssued(ca));
    if (i < 0) break;
    cert = rest.splice(i, 1)[0]!;
    linked.push(cert);
    if (i === rest.length) break;
  }
  return linked;
}

/**
 * getPeerCertificate(true): Node copies the peer chain (no leak; RSS stays flat over 30,000
 * handshakes, see `npm run bench`) and links each certificate to the one sent that names it as
 * issuer, so certificates off that path are left out and the order is the issuer order. Only `.raw`
 * and `.issuerCertificate` are read. A self-issued certificate is its own issuer: the walk stops
 * at the first certificate seen again. Node's walk also ends once it has taken the last-listed
 * certificate, so a root sent before its intermediate is left out (chain.ts completes it from the
 * trust store). The store behind the context is empty, so nothing is added that was not sent.
 */
function servedIssuerLinked(socket: tls.TLSSocket): Uint8Array[] {
  const served: Uint8Array[] = [];
  const seen = new Set<tls.DetailedPeerCertificate>();
  for (let c: tls.DetailedPeerCertificate | undefined = detailedPeerCertificate(socket); c?.raw && !seen.has(c) && served.length < MAX_CHAIN; c = c.issuerCertificate) {
    seen.add(c);
    served.push(new Uint8Array(c.raw));
  }
  return served;
}

type NativeTls = { getPeerCertificate?: (detailed: boolean) => tls.DetailedPeerCertificate | undefined };

/**
 * The native object behind getPeerCertificate(true), without the JavaScript pass that then parses
 * every subject, issuer and infoAccess string (10-20% of the call; only `.raw` is read here). The
 * public method when a Node version has no such handle method.
 */
function detailedPeerCertificate(socket: tls.TLSSocket): tls.DetailedPeerCertificate | undefined {
  const handle = (socket as unknown as { _handle?: NativeTls })._handle;
  return typeof handle?.getPeerCertificate === 'function' ? handle.getPeerCertificate(true) : socket.getPeerCertificate(true);
}

function classify(e: NodeJS.ErrnoException): [ErrorCode, string, string?] {
  const msg = e.message ?? String(e);
  switch (e.code) {
    case 'ECONNREFUSED':
      return ['REFUSED', 'connection refused', 'is the service listening on that port?'];
    case 'ETIMEDOUT':
      return ['TIMEOUT', 'TCP connect timed out'];
    case 'ECONNRESET':
      return ['HANDSHAKE', 'the connection was reset during the TLS handshake'];
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return ['NETWORK', `address unreachable (${e.code})`];
  }
  if (/wrong version number|packet length too long|unknown protocol|record layer failure|http request/i.test(msg)) {
    return ['NOT_TLS', 'the port does not speak TLS (plain HTTP or another protocol?)', 'check the port number'];
  }
  if (/excessive message size|cert length mismatch|certificate list too long/i.test(msg)) {
    return ['CHAIN_TOO_LONG', 'the server sent a certificate chain too large to be real (over 100 KiB)'];
  }
  const alert = /alert ([a-z ]+)|tlsv1 alert ([a-z ]+)|sslv3 alert ([a-z ]+)/i.exec(msg);
  if (alert) {
    const name = (alert[1] ?? alert[2] ?? alert[3] ?? '').trim();
    return ['TLS_ALERT', `the server ended the handshake with TLS alert "${name}"`, name.includes('unrecognized name') ? 'the server does not know this host name (SNI)' : undefined];
  }
  return ['HANDSHAKE', `TLS handshake failed: ${opensslReason(msg)}`];
}

/** "80FC…:error:0A00045C:SSL routines:fn:reason:../deps/….c:1601:" → "reason". */
function opensslReason(msg: string): string {
  const m = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)/.exec(msg);
  return (m ? m[1]! : msg.split('\n')[0]!).trim();
}
