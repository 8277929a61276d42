/** The config formats pinctl writes, their file names, and the safety notes each one needs. */
import { PinSet, Warning } from '../core/model.js';
import { renderAndroid } from './android.js';
import { iosWarnings, renderIos } from './ios.js';
import { renderJson } from './json.js';
import { okhttpWarnings, renderOkhttp } from './okhttp.js';
import { reactNativeWarnings, renderReactNative } from './react-native.js';
import { TemplateLoader, loadTemplate as defaultLoader } from './templates.js';
import { renderTrustkit, trustkitWarnings } from './trustkit.js';
import { assertWritable } from './validate.js';

export type Format = 'android' | 'ios' | 'okhttp' | 'trustkit' | 'react-native' | 'json';

export const FORMATS: readonly Format[] = ['android', 'ios', 'okhttp', 'trustkit', 'react-native', 'json'];

export interface RenderedConfig {
  fileName: string;
  content: string;
  warnings: Warning[];
}

const FILE_NAMES: Record<Format, string> = {
  android: 'network_security_config.xml',
  ios: 'NSAppTransportSecurity.plist',
  okhttp: 'CertificatePinning.kt',
  trustkit: 'TrustKit.plist',
  'react-native': 'sslPinning.ts',
  json: 'pins.json',
};

/** Template file (under templates/) of each templated format; JSON is JSON.stringify. */
export const TEMPLATE_FILES: Record<Exclude<Format, 'json'>, string> = {
  android: 'android.xml.tmpl',
  ios: 'ios.plist.tmpl',
  okhttp: 'okhttp.kt.tmpl',
  trustkit: 'trustkit.plist.tmpl',
  'react-native': 'react-native.ts.tmpl',
};

export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

export function fileNameFor(format: Format): string {
  return FILE_NAMES[format];
}

/** Format-specific safety notes for this pin set (the generator's own lints are separate). */
export function warningsFor(format: Format, pinSet: PinSet): Warning[] {
  switch (format) {
    case 'ios': return iosWarnings(pinSet);
    case 'okhttp': return okhttpWarnings(pinSet);
    case 'trustkit': return trustkitWarnings(pinSet);
    case 'react-native': return reactNativeWarnings(pinSet);
    case 'android':
    case 'json':
      return [];
  }
}

export function renderConfig(format: Format, pinSet: PinSet, loadTemplate: TemplateLoader = defaultLoader): RenderedConfig {
  assertWritable(pinSet);
  const content = format === 'json' ? renderJson(pinSet) : renderTemplated(format, pinSet, loadTemplate(TEMPLATE_FILES[format]));
  return { fileName: fileNameFor(format), content, warnings: warningsFor(format, pinSet) };
}

function renderTemplated(format: Exclude<Format, 'json'>, pinSet: PinSet, template: string): string {
  switch (format) {
    case 'android': return renderAndroid(pinSet, template);
    case 'ios': return renderIos(pinSet, template);
    case 'okhttp': return renderOkhttp(pinSet, template);
    case 'trustkit': return renderTrustkit(pinSet, template);
    case 'react-native': return renderReactNative(pinSet, template);
  }
}

export { renderAndroid, renderIos, renderJson, renderOkhttp, renderReactNative, renderTrustkit };
export { loadTemplate } from './templates.js';
export { readConfig } from './read.js';
export type { ConfigFormat, ReadResult } from './read.js';
