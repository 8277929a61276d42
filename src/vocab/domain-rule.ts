/**
 * Which rule governs a host (SPEC §3.1, and what Android's Network Security Config and TrustKit
 * do): the rule for the exact name, else the nearest parent whose rule includes subdomains. A
 * less specific rule never overrides a more specific one, even when the specific one does not
 * include subdomains.
 */
import { normalizeHostName } from './hostname.js';

export interface DomainRuleLike {
  domain: string;
  includeSubdomains: boolean;
}

export function ruleFor<R extends DomainRuleLike>(host: string, rules: Iterable<R>): R | undefined {
  const byName = new Map<string, R>();
  for (const r of rules) byName.set(normalizeHostName(r.domain), r);
  const name = normalizeHostName(host);
  const exact = byName.get(name);
  if (exact) return exact;
  for (let i = name.indexOf('.'); i !== -1; i = name.indexOf('.', i + 1)) {
    const parent = byName.get(name.slice(i + 1));
    if (parent?.includeSubdomains) return parent;
  }
  return undefined;
}
