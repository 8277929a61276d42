/** Android Network Security Config (res/xml/network_security_config.xml). */
import { PinSet } from '../core/model.js';
import { xmlCommentText, xmlEscape } from './escape.js';
import { render } from './template.js';
import { flatView } from './view.js';

export interface AndroidExtras {
  hasTrustAnchors: boolean;
  trustAnchors: { resource: string }[];
  hasDebugOverrides: boolean;
  debugOverrides: { resource: string }[];
}

const NONE: AndroidExtras = { hasTrustAnchors: false, trustAnchors: [], hasDebugOverrides: false, debugOverrides: [] };

export function renderAndroid(pinSet: PinSet, template: string, extras: AndroidExtras = NONE): string {
  // Android checks every pin against the whole chain, so backups simply sit beside the others.
  return render(template, { ...flatView(pinSet, xmlCommentText), ...extras }, xmlEscape);
}
