/** The view most templates render: per domain, its distinct pins with a one-line description. */
import { PinSet } from '../core/model.js';
import { describePin } from './escape.js';
import { uniquePins } from './validate.js';

export function flatView(pinSet: PinSet, comment: (text: string) => string) {
  return {
    expiration: pinSet.expiration,
    domains: pinSet.domains.map((d) => ({
      domain: d.domain.toLowerCase(),
      includeSubdomains: d.includeSubdomains,
      pins: uniquePins(d).map((p) => ({ pin: p.spkiSha256, comment: comment(describePin(p)) })),
    })),
  };
}
