/** Name resolution: every A and AAAA address of a name, as the operating system resolves it. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ProbeError } from '../errors.js';

export interface ResolveOptions {
  /**
   * Give up after this long. getaddrinfo has no deadline of its own (a silent resolver costs the
   * resolver's timeout × attempts, ~10 s or more), so callers bound it with the probe's deadline.
   */
  timeoutMs?: number;
}

export type Resolver = (host: string, opts?: ResolveOptions) => Promise<string[]>;
type Lookup = (host: string, opts: { all: true; verbatim: true }) => Promise<{ address: string }[]>;

/** The lookup function is injectable so tests can fail DNS without sending a query anywhere. */
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
          hint: 'check the resolvers in /etc/resolv.conf answer, or dial an address directly with --resolve HOST:PORT:ADDRESS',
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

export const resolveAll: Resolver = makeResolver();
