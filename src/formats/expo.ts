/** An Expo config plugin that writes the Android Network Security Config and iOS NSPinnedDomains at prebuild. */
import { PinSet } from '../core/model.js';
import { iosPlan } from './ios.js';
import { render } from './template.js';

/** JSON is a JS expression once U+2028/2029 are escaped. */
function jsLiteral(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderExpo(pinSet: PinSet, template: string, androidXml: string, fileName: string): string {
  const pinnedDomains: Record<string, unknown> = {};
  for (const d of pinSet.domains) {
    const plan = iosPlan(d);
    if (plan.leaf.length === 0 && plan.ca.length === 0) continue;
    const ids = (pins: typeof plan.leaf) => pins.map((p) => ({ 'SPKI-SHA256-BASE64': p.spkiSha256 }));
    pinnedDomains[d.domain.toLowerCase()] = {
      NSIncludesSubdomains: d.includeSubdomains,
      ...(plan.leaf.length > 0 ? { NSPinnedLeafIdentities: ids(plan.leaf) } : {}),
      ...(plan.ca.length > 0 ? { NSPinnedCAIdentities: ids(plan.ca) } : {}),
    };
  }
  return render(
    template,
    { androidXml: jsLiteral(androidXml), pinnedDomains: jsLiteral(pinnedDomains), fileName },
    (s) => s,
  );
}
