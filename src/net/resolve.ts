/** Name resolution: every A and AAAA address of a name, as the operating system resolves it. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ProbeError } from '../errors.js';

export type Resolver = (host: string) => Promise<string[]>;
type Lookup = (host: string, opts: { all: true; verbatim: true }) => Promise<{ address: string }[]>;

/** The lookup function is injectable so tests can fail DNS without sending a query anywhere. */
export function makeResolver(lookupFn: Lookup = lookup as Lookup): Resolver {
  return async (host) => {
    if (isIP(host)) return [host];
    try {
      const found = await lookupFn(host, { all: true, verbatim: true });
      if (found.length === 0) throw Object.assign(new Error('no address'), { code: 'ENODATA' });
      return [...new Set(found.map((a) => a.address))];
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new ProbeError('DNS', `${host}: DNS lookup failed (${code})`, {
        hint: 'check the name, or dial an address directly with --resolve HOST:PORT:ADDRESS',
      });
    }
  };
}

export const resolveAll: Resolver = makeResolver();
