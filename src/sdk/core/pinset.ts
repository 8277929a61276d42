/** Which pins apply to a host (SPEC §3.1), for bundle domains and the app's shipped baseline. */
import { InputError } from '../../errors.js';
import { isPinValue } from '../../bundle/payload.js';
import { domainIndex } from '../../bundle/payload-rules.js';
import { DomainIndex } from '../../bundle/domain-index.js';

/** Accepts `sha256/<b64>` (OkHttp, HPKP style) as well as the bare form; returns the bare pin or null. */
export function normalizePin(value: string): string | null {
  const v = value.trim().replace(/^sha256\//i, '');
  return isPinValue(v) ? v : null;
}

export interface BaselineDomain {
  /** Default false. */
  includeSubdomains?: boolean;
  /** At least two distinct base64 SPKI SHA-256 pins (a `sha256/` prefix is accepted). */
  pins: string[];
  /** `YYYY-MM-DD` or RFC 3339: from then on this domain's baseline pins are not enforced. */
  expirationDate?: string;
}

/** Pins the app ships, used until a signed bundle has been applied: domain → rule. */
export type Baseline = Record<string, BaselineDomain>;

export interface DomainRule {
  domain: string;
  includeSubdomains: boolean;
  pins: string[];
  /** ms since the epoch; baseline rules only */
  expiresAt?: number;
}

const LABEL = '(?!-)[a-z0-9-]{1,63}(?<!-)';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Lower case, no trailing dot, no IPv6 brackets: the form domains are compared in. */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

export function parseBaseline(baseline: Baseline | undefined): DomainRule[] {
  return Object.entries(baseline ?? {}).map(([name, d]) => {
    const domain = normalizeHost(name);
    const where = `baseline[${JSON.stringify(name)}]`;
    if (!HOSTNAME.test(domain)) throw new InputError('CONFIG_MALFORMED', `${where}: expected a host name without wildcard`);
    const pins = (Array.isArray(d?.pins) ? d.pins : []).map((p) => {
      const pin = typeof p === 'string' ? normalizePin(p) : null;
      if (!pin) throw new InputError('CONFIG_MALFORMED', `${where}.pins: expected base64 SHA-256 pins, found ${JSON.stringify(p)}`);
      return pin;
    });
    // SPEC §3.1 asks bundles for a backup pin; a baseline without one bricks on the first key change.
    if (new Set(pins).size < 2) throw new InputError('CONFIG_MALFORMED', `${where}.pins: expected at least two distinct pins (one a backup)`);
    let expiresAt: number | undefined;
    if (d.expirationDate !== undefined) {
      expiresAt = Date.parse(d.expirationDate);
      if (Number.isNaN(expiresAt)) throw new InputError('CONFIG_MALFORMED', `${where}.expirationDate: expected YYYY-MM-DD, found ${JSON.stringify(d.expirationDate)}`);
    }
    return { domain, includeSubdomains: d.includeSubdomains === true, pins: [...new Set(pins)], expiresAt };
  });
}

/** Lookup by suffix: the longest covering domain wins, whatever less specific rules say. */
export class PinTable {
  private readonly byDomain: { get(name: string): DomainRule | undefined };

  constructor(readonly rules: readonly DomainRule[]) {
    // A bundle's domains come with the table its reader made while checking each domain once.
    this.byDomain = domainIndex(rules) ?? DomainIndex.of(rules);
  }

  lookup(host: string): DomainRule | undefined {
    const name = normalizeHost(host);
    const exact = this.byDomain.get(name);
    if (exact) return exact;
    for (let i = name.indexOf('.'); i !== -1; i = name.indexOf('.', i + 1)) {
      const rule = this.byDomain.get(name.slice(i + 1));
      if (rule?.includeSubdomains) return rule;
    }
    return undefined;
  }
}
