/** A TypeScript module for react-native-ssl-public-key-pinning (OkHttp on Android, TrustKit on iOS). */
import { PinSet, Warning } from '../core/model.js';
import { jsEscape, oneLine } from './escape.js';
import { flatView } from './view.js';
import { render } from './template.js';
import { needsTwoPins } from './trustkit.js';

export function renderReactNative(pinSet: PinSet, template: string): string {
  return render(template, flatView(pinSet, oneLine), jsEscape);
}

export function reactNativeWarnings(pinSet: PinSet): Warning[] {
  return needsTwoPins(pinSet, 'react-native-needs-two-pins', 'the iOS side (TrustKit)');
}
