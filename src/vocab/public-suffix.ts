/**
 * Public Suffix List facts TrustKit enforces (parse_configuration.m, via Chromium's domain_registry
 * with private entries such as appspot.com): GetRegistryLength(name) == 0 means "an invalid
 * domain"; == length with includeSubdomains means "a domain suffix". The list ships inside the
 * tldts package: nothing is fetched at run time.
 */
import { parse } from 'tldts';
import { isIpLiteral } from './hostname.js';

export interface SuffixFacts {
  /** The name ends in a suffix the list knows (ICANN or private section). */
  knownSuffix: boolean;
  /** The name IS a public suffix (com, co.uk, appspot.com). */
  isSuffix: boolean;
}

export function suffixFacts(name: string): SuffixFacts {
  if (isIpLiteral(name) || !name.includes('.')) return { knownSuffix: false, isSuffix: false };
  const r = parse(name, { allowPrivateDomains: true });
  const known = r.isIcann === true || r.isPrivate === true;
  return { knownSuffix: known, isSuffix: known && r.publicSuffix === name };
}
