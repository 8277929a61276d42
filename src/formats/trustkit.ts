/** TrustKit (iOS) TSKConfiguration as an XML plist. */
import { PinSet, Warning } from '../core/model.js';
import { xmlCommentText, xmlEscape } from './escape.js';
import { flatView } from './view.js';
import { render } from './template.js';
import { uniquePins } from './validate.js';

export interface TrustkitOptions {
  reportUris?: string[];
  reportOnly?: boolean;
  trustAnchors?: { pem: string }[];
}

/**
 * TSKDisableDefaultReportUri is always true: TrustKit otherwise uploads every pin failure (bundle
 * id, device id, host, chain) to its authors' server. It is a per-domain key (parse_configuration.m).
 */
export function renderTrustkit(pinSet: PinSet, template: string, o: TrustkitOptions = {}): string {
  const reportUris = o.reportUris ?? [];
  const trustAnchors = (o.trustAnchors ?? []).map((a) => ({ pem: a.pem.trim() }));
  return render(template, {
    ...flatView(pinSet, xmlCommentText),
    enforce: !o.reportOnly,
    hasReportUris: reportUris.length > 0,
    reportUris,
    hasTrustAnchors: trustAnchors.length > 0,
    trustAnchors,
  }, xmlEscape);
}

/** TrustKit raises at start-up when an enforced domain has fewer than two distinct hashes. */
export function needsTwoPins(pinSet: PinSet, code: string, who: string): Warning[] {
  return pinSet.domains
    .filter((d) => uniquePins(d).length < 2)
    .map((d) => ({
      code,
      severity: 'danger' as const,
      domain: d.domain.toLowerCase(),
      message: `has only ${uniquePins(d).length} distinct pin; ${who} refuses to start with fewer than two per domain (it insists on a backup pin)`,
    }));
}

export function trustkitWarnings(pinSet: PinSet): Warning[] {
  return needsTwoPins(pinSet, 'trustkit-needs-two-pins', 'TrustKit');
}
