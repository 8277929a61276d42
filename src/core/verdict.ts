/**
 * Would a platform accept this chain with these pins? Pure: the same rules `pinctl check`, the
 * monitor and the SDK apply. Android, OkHttp, TrustKit and pinctl bundles accept when any pin
 * matches any certificate of the verified chain; iOS NSPinnedDomains requires a leaf identity to
 * match the leaf AND a CA identity to match a CA certificate when both lists are present.
 */
import { shortName } from './certificate.js';
import { ChainReport, isoDate } from './chain.js';
import { DomainPins } from './model.js';

export type Semantics = 'any' | 'ios';

export interface Verdict {
  pass: boolean;
  /** Pins no longer enforced because the pin-set expired (Android, TrustKit): passes, with a note. */
  pinsExpired: boolean;
  matched: string[];
  reasons: string[];
  notes: string[];
}

export interface VerdictOptions {
  semantics: Semantics;
  expiration: string | null;
  now: Date;
  /** Also fail when a certificate whose key is pinned expires within this many days. */
  warnDays?: number;
}

const DAY = 86_400_000;

export function evaluate(domain: DomainPins, chain: ChainReport, opts: VerdictOptions): Verdict {
  const reasons: string[] = [];
  const notes: string[] = [];
  if (!chain.valid) reasons.push(`the platform would reject the chain before pins are checked: ${chain.problems.map((p) => p.message).join('; ')}`);
  const chainPins = chain.entries.map((e) => e.cert.spkiSha256);
  const pinSet = new Set(domain.pins.map((p) => p.spkiSha256));
  const matched = chainPins.filter((p) => pinSet.has(p));
  // Android and TrustKit stop enforcing on the expiration day itself (the date is read as midnight).
  const pinsExpired = opts.semantics === 'any' && opts.expiration !== null && opts.expiration <= isoDate(opts.now);
  if (pinsExpired) {
    notes.push(`the pin-set expired on ${opts.expiration}: apps no longer enforce these pins`);
  } else if (opts.semantics === 'ios') {
    const leafPins = new Set(domain.pins.filter((p) => p.role === 'leaf' || p.role === 'backup').map((p) => p.spkiSha256));
    const caPins = new Set(domain.pins.filter((p) => p.role === 'intermediate' || p.role === 'root').map((p) => p.spkiSha256));
    if (leafPins.size > 0 && !leafPins.has(chainPins[0]!)) reasons.push(`the leaf key ${chainPins[0]} is not among NSPinnedLeafIdentities`);
    if (caPins.size > 0 && !chainPins.slice(1).some((p) => caPins.has(p))) reasons.push('no CA certificate of the chain is among NSPinnedCAIdentities');
  } else if (matched.length === 0) {
    reasons.push(`no pin matches the chain (chain keys: ${chainPins.join(', ')})`);
  }
  if (opts.warnDays !== undefined) {
    for (const e of chain.entries) {
      if (!pinSet.has(e.cert.spkiSha256)) continue;
      const days = Math.floor((e.cert.notAfter.getTime() - opts.now.getTime()) / DAY);
      if (days < opts.warnDays) {
        reasons.push(`the pinned ${e.position} "${shortName(e.cert)}" expires in ${days} day(s) (${isoDate(e.cert.notAfter)}), within --warn-days ${opts.warnDays}`);
      }
    }
  }
  return { pass: reasons.length === 0, pinsExpired, matched, reasons, notes };
}
