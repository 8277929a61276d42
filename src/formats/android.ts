/** Android Network Security Config (res/xml/network_security_config.xml). */
import { PinSet } from '../core/model.js';
import { xmlCommentText, xmlEscape, describePin } from './escape.js';
import { render } from './template.js';
import { uniquePins } from './validate.js';

export function renderAndroid(pinSet: PinSet, template: string): string {
  const view = {
    expiration: pinSet.expiration,
    domains: pinSet.domains.map((d) => ({
      domain: d.domain.toLowerCase(),
      includeSubdomains: d.includeSubdomains,
      // Android checks every pin against the whole chain, so backups simply sit beside the others.
      pins: uniquePins(d).map((p) => ({ pin: p.spkiSha256, comment: xmlCommentText(describePin(p)) })),
    })),
  };
  return render(template, view, xmlEscape);
}
