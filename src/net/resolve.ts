/** Name resolution: every A and AAAA address of a name, as the operating system resolves it. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ProbeError } from '../errors.js';

export type Resolver = (host: string) => Promise<string[]>;

export const resolveAll: Resolver = async (host) => {
  if (isIP(host)) return [host];
  try {
    const found = await lookup(host, { all: true, verbatim: true });
    return [...new Set(found.map((a) => a.address))];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ProbeError('DNS', `${host}: DNS lookup failed (${code})`, {
      hint: 'check the name, or dial an address directly with --resolve HOST:PORT:ADDRESS',
    });
  }
};
