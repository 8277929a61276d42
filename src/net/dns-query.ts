/**
 * A and AAAA queries with c-ares (node:dns Resolver): UDP on the event loop, no thread pool, so any
 * number run at once and a silent server costs each lookup its deadline and nothing more.
 *
 * What c-ares does and does not do here: it reads `nameserver` and `options timeout/attempts/rotate`
 * from /etc/resolv.conf when a channel is made (one per lookup, so edits apply to the next lookup);
 * Node's Resolver queries the name as given: no `search` domains, no `ndots` (resolve.ts sends
 * dotless names to getaddrinfo for that reason).
 */
import { Resolver as Channel } from 'node:dns/promises';
import { ProbeError } from '../errors.js';

export interface DnsQueryOptions {
  /** The lookup's whole deadline: shared between the servers, then the queries are cancelled. */
  timeoutMs?: number;
  /** `host:port` of the DNS servers; default: /etc/resolv.conf's, as Node reads it. */
  servers?: string[];
}

/** Every A then every AAAA address of `host`, both asked at once; what answered by the deadline counts. */
export async function queryAddresses(host: string, opts: DnsQueryOptions = {}): Promise<string[]> {
  const servers = opts.servers ?? new Channel().getServers();
  const channel = new Channel(channelOptions(opts.timeoutMs, servers.length));
  if (opts.servers) channel.setServers(opts.servers);
  // c-ares's own timeout can overrun a little (backoff, several servers): cancel() is the bound.
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => channel.cancel(), opts.timeoutMs);
  try {
    const [a, aaaa] = await Promise.allSettled([channel.resolve4(host), channel.resolve6(host)]);
    const found = [...(a.status === 'fulfilled' ? a.value : []), ...(aaaa.status === 'fulfilled' ? aaaa.value : [])];
    if (found.length > 0) return [...new Set(found)];
    throw dnsError(host, worstCode(a, aaaa), opts.timeoutMs, servers);
  } finally {
    clearTimeout(timer);
  }
}

/** One try per server, the deadline split between them, so a second server is asked in time. */
function channelOptions(timeoutMs: number | undefined, servers: number): { timeout?: number; tries?: number } {
  if (timeoutMs === undefined) return {}; // resolv.conf's options (or c-ares's defaults) apply
  return { timeout: Math.max(50, Math.floor(timeoutMs / Math.max(1, servers))), tries: 1 };
}

/** Which failure to report when neither A nor AAAA gave an address: the most telling one. */
const PRIORITY = ['ENOTFOUND', 'ESERVFAIL', 'EREFUSED', 'ECONNREFUSED', 'ETIMEOUT', 'ECANCELLED', 'ENODATA'];

function worstCode(...results: PromiseSettledResult<unknown>[]): string {
  const code = (r: PromiseSettledResult<unknown>) =>
    r.status === 'rejected' ? ((r.reason as NodeJS.ErrnoException).code ?? 'error') : 'ENODATA';
  const codes = results.map(code);
  const rank = (c: string) => (PRIORITY.includes(c) ? PRIORITY.indexOf(c) : PRIORITY.length);
  return codes.sort((x, y) => rank(x) - rank(y))[0]!;
}

const DIAL = 'or dial an address directly: --resolve HOST:PORT:ADDRESS (`addresses:` in a monitor config)';

const HINTS: Record<string, string> = {
  ENOTFOUND: `the name does not exist (NXDOMAIN): check its spelling, ${DIAL}`,
  ENODATA: `the name exists but has no A or AAAA record: check the DNS zone, ${DIAL}`,
  ESERVFAIL:
    'the DNS server could not answer for this name (SERVFAIL: often a DNSSEC failure or an unreachable ' +
    `authoritative server); \`dig NAME\` shows more, ${DIAL}`,
  ETIMEOUT: `no DNS server answered in time: check the nameservers in /etc/resolv.conf are reachable, ${DIAL}`,
  EREFUSED: `the DNS server refused the query (REFUSED): is it a resolver that serves this machine? ${DIAL}`,
};

function dnsError(host: string, code: string, timeoutMs: number | undefined, servers: string[]): ProbeError {
  const where = servers.length ? servers.join(', ') : 'none configured';
  if ((code === 'ETIMEOUT' || code === 'ECANCELLED') && timeoutMs !== undefined) {
    return new ProbeError('DNS', `${host}: DNS lookup failed (no answer within ${timeoutMs} ms)`, {
      hint: `no DNS server answered (asked ${where}): check the nameservers in /etc/resolv.conf are reachable, ${DIAL}`,
    });
  }
  if (code === 'ECONNREFUSED') {
    return new ProbeError('DNS', `${host}: DNS lookup failed (ECONNREFUSED)`, {
      hint: `nothing answers DNS at ${where} (connection refused): check /etc/resolv.conf, ${DIAL}`,
    });
  }
  const hint = HINTS[code] ?? `check the name, ${DIAL}`;
  return new ProbeError('DNS', `${host}: DNS lookup failed (${code})`, { hint });
}
