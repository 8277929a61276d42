/** A TypeScript module for react-native-ssl-public-key-pinning (OkHttp on Android, TrustKit on iOS). */
import { PinSet, Warning } from '../core/model.js';
import { describePin, jsEscape, oneLine } from './escape.js';
import { render } from './template.js';
import { needsTwoPins } from './trustkit.js';
import { uniquePins } from './validate.js';

export function renderReactNative(pinSet: PinSet, template: string): string {
  const view = {
    expiration: pinSet.expiration,
    domains: pinSet.domains.map((d) => ({
      domain: d.domain.toLowerCase(),
      includeSubdomains: d.includeSubdomains,
      pins: uniquePins(d).map((p) => ({ pin: p.spkiSha256, comment: oneLine(describePin(p)) })),
    })),
  };
  return render(template, view, jsEscape);
}

export function reactNativeWarnings(pinSet: PinSet): Warning[] {
  return needsTwoPins(pinSet, 'react-native-needs-two-pins', 'the iOS side (TrustKit)');
}
