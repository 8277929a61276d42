/**
 * Which resolver pinctl uses. `dns` (hosts file, then DNS queries on the event loop) runs any number
 * of lookups at once; `system` (getaddrinfo) asks the C library, which also knows mDNS, LDAP, NIS and
 * the like but runs on libuv's thread pool of 4: four lookups a silent DNS server holds stall every
 * other lookup, and healthy names fail at their deadline (issue 14 item 5).
 */
import { InputError } from '../errors.js';

export type ResolverMode = 'dns' | 'system';
export const RESOLVER_ENV = 'PINCTL_RESOLVER';

/** The sources of the `hosts:` line of nsswitch.conf, without `[STATUS=action]` items; null when absent. */
export function nsswitchHostSources(text: string): string[] | null {
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*hosts\s*:(.*)$/.exec(raw.replace(/#.*/, ''));
    if (m) return m[1]!.replace(/\[[^\]]*\]/g, ' ').trim().split(/\s+/).filter(Boolean);
  }
  return null;
}

/**
 * `dns` when the system would answer from the hosts file then DNS alone (`hosts: files dns`, `dns`,
 * `files`, or no nsswitch.conf at all, as on musl); any other source (mdns4_minimal, resolve, ldap,
 * myhostname, wins, ...) means only getaddrinfo resolves as the rest of the machine does.
 */
export function modeFromNsswitch(text: string | undefined): ResolverMode {
  if (text === undefined) return 'dns';
  const sources = nsswitchHostSources(text);
  if (sources === null) return 'dns'; // glibc's default for a missing line: dns, then files
  const plain = ['files', 'dns'];
  const order = sources.filter((s) => plain.includes(s));
  const sameOrder = order.join(' ') === plain.filter((s) => order.includes(s)).join(' ');
  return sources.length > 0 && order.length === sources.length && sameOrder ? 'dns' : 'system';
}

/** PINCTL_RESOLVER=dns|system|auto (unset = auto). */
export function modeFromEnv(value: string | undefined): ResolverMode | 'auto' {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'dns' || v === 'system') return v;
  throw new InputError('USAGE', `${RESOLVER_ENV} must be dns, system or auto, found "${value}"`, {
    hint: 'dns: hosts file then DNS queries, any number at once; system: getaddrinfo (mDNS, LDAP, ...), 4 at once',
  });
}
