/**
 * Name resolution: every A and AAAA address of a name. Two modes (resolver-mode.ts):
 * - `dns`: the hosts file, then `localhost`, then A and AAAA queries with c-ares (dns-query.ts) on
 *   the event loop, so lookups run with the caller's concurrency, each bounded by its deadline.
 * - `system`: getaddrinfo, for machines whose name service is more than hosts file + DNS. It runs on
 *   libuv's 4-thread pool and cannot be cancelled: a deadline only stops the wait (issue 14 item 5).
 * `auto` (the default) picks `dns` when /etc/nsswitch.conf's hosts line is `files dns` or absent.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ProbeError } from '../errors.js';
import { queryAddresses } from './dns-query.js';
import { HostsFile, hostsKey } from './hosts-file.js';
import { RESOLVER_ENV, ResolverMode, modeFromEnv, modeFromNsswitch } from './resolver-mode.js';

export interface ResolveOptions {
  /** Give up after this long: the probe's deadline. */
  timeoutMs?: number;
}

export type Resolver = (host: string, opts?: ResolveOptions) => Promise<string[]>;
type Lookup = (host: string, opts: { all: true; verbatim: true }) => Promise<{ address: string }[]>;

/** The `system` mode: getaddrinfo. The lookup function is injectable so tests can fail DNS without a query. */
export function makeResolver(lookupFn: Lookup = lookup as Lookup): Resolver {
  return async (host, opts = {}) => {
    if (isIP(host)) return [host];
    try {
      const found = await withDeadline(lookupFn(host, { all: true, verbatim: true }), opts.timeoutMs);
      if (found.length === 0) throw Object.assign(new Error('no address'), { code: 'ENODATA' });
      return [...new Set(found.map((a) => a.address))];
    } catch (e) {
      if (e instanceof DeadlineError) {
        throw new ProbeError('DNS', `${host}: DNS lookup failed (no answer within ${opts.timeoutMs} ms)`, {
          hint: 'check the resolvers in /etc/resolv.conf answer, ' +
            'or dial an address directly with --resolve HOST:PORT:ADDRESS',
        });
      }
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new ProbeError('DNS', `${host}: DNS lookup failed (${code})`, {
        hint: 'check the name, or dial an address directly with --resolve HOST:PORT:ADDRESS',
      });
    }
  };
}

class DeadlineError extends Error {}

function withDeadline<T>(p: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError()), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface DnsResolverOptions {
  /** Default /etc/hosts. */
  hostsPath?: string;
  /** `host:port` of the DNS servers; default: those of /etc/resolv.conf. */
  servers?: string[];
  /** Resolves dotless names (getaddrinfo applies resolv.conf's search domains; c-ares does not). */
  system?: Resolver;
}

/** The `dns` mode: hosts file, `localhost`, then DNS; no thread pool except for dotless names. */
export function makeDnsResolver(opts: DnsResolverOptions = {}): Resolver {
  const hosts = new HostsFile(opts.hostsPath);
  const system = opts.system ?? makeResolver();
  return async (host, ro = {}) => {
    if (isIP(host)) return [host];
    const listed = hosts.lookup(host);
    if (listed) return [...listed];
    const key = hostsKey(host);
    // RFC 6761 §6.3: never asked of DNS. IPv4 only, as a machine without IPv6 would fail ::1.
    if (key === 'localhost' || key.endsWith('.localhost')) return ['127.0.0.1'];
    if (!key.includes('.')) return system(host, ro);
    return queryAddresses(host, { timeoutMs: ro.timeoutMs, servers: opts.servers });
  };
}

export interface DefaultResolverOptions {
  /** Reads PINCTL_RESOLVER=dns|system|auto. */
  env?: Record<string, string | undefined>;
  /** Default /etc/nsswitch.conf. */
  nsswitchPath?: string;
}

/** The mode from PINCTL_RESOLVER, else from nsswitch.conf; decided at the first lookup. */
export function defaultResolver(opts: DefaultResolverOptions = {}): Resolver {
  let chosen: Resolver | undefined;
  return async (host, ro) => {
    chosen ??= pick(opts); // a bad PINCTL_RESOLVER throws here, an InputError naming the variable
    return chosen(host, ro);
  };
}

function pick(opts: DefaultResolverOptions): Resolver {
  return resolverMode(opts) === 'dns' ? makeDnsResolver() : makeResolver();
}

/** PINCTL_RESOLVER when set to dns or system, else what nsswitch.conf's hosts line allows. */
export function resolverMode(opts: DefaultResolverOptions = {}): ResolverMode {
  const mode = modeFromEnv(opts.env?.[RESOLVER_ENV]);
  return mode !== 'auto' ? mode : modeFromNsswitch(readIfPresent(opts.nsswitchPath ?? '/etc/nsswitch.conf'));
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** What every command uses unless given another: the machine's resolver as nsswitch.conf describes it. */
export const resolveAll: Resolver = defaultResolver();
