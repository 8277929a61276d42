/**
 * The format registry: one entry per format pinctl writes (id, file name, renderer, per-client
 * warnings, the reader that reads it back). `generate --help`, the default --out set and the
 * format table of docs/FORMATS.md come from here; adding a format is adding an entry.
 */
import { PinSet, Warning } from '../core/model.js';
import { renderAndroid } from './android.js';
import { expiringSoon, okhttpClientWarnings, privateCaWarnings, trustkitDomainWarnings } from './client-warnings.js';
import { renderExpo } from './expo.js';
import { flutterWarnings, renderFlutter } from './flutter.js';
import { iosWarnings, renderIos } from './ios.js';
import { renderJson } from './json.js';
import { okhttpWarnings, renderOkhttp } from './okhttp.js';
import { ConfigFormat } from './read.js';
import { reactNativeWarnings, renderReactNative } from './react-native.js';
import { TemplateLoader, loadTemplate as defaultLoader } from './templates.js';
import { renderTrustkit, trustkitWarnings } from './trustkit.js';

/** A certificate the app must trust: its Android raw resource name and its PEM text. */
export interface TrustAnchor {
  resource: string;
  pem: string;
}

export interface RenderOptions {
  loadTemplate?: TemplateLoader;
  /** Today, for "expiring soon". */
  now?: Date;
  /** TrustKit TSKReportUris. */
  reportUris?: string[];
  /** TrustKit TSKEnforcePinning false: report failures, let connections through (staged roll-out). */
  reportOnly?: boolean;
  trustAnchors?: TrustAnchor[];
  debugOverrides?: TrustAnchor[];
  /** Domains whose chain ends at a root outside the system store. */
  privateCaDomains?: string[];
  /** SPKI pin → SHA-256 (hex) of the certificate it was taken from (Flutter). */
  fingerprints?: ReadonlyMap<string, string>;
}

export interface FormatEntry {
  id: string;
  fileName: string;
  /** One line for help and docs. */
  summary: string;
  /** Written by `generate --out` when no --format is given. */
  inDefaultSet: boolean;
  template: string | null;
  render(pinSet: PinSet, template: string, options: RenderOptions): string;
  warnings(pinSet: PinSet, options: RenderOptions): Warning[];
  /** The reader `check`, `--update` and `--keep-pins-from` use for this file, or null (code). */
  reader: ConfigFormat | null;
}

const androidAnchors = (o: RenderOptions) => ({
  hasTrustAnchors: (o.trustAnchors ?? []).length > 0,
  trustAnchors: o.trustAnchors ?? [],
  hasDebugOverrides: (o.debugOverrides ?? []).length > 0,
  debugOverrides: o.debugOverrides ?? [],
});

const android: FormatEntry = {
  id: 'android',
  fileName: 'network_security_config.xml',
  summary: 'Android Network Security Config (res/xml); pins match any certificate of the chain',
  inDefaultSet: true,
  template: 'android.xml.tmpl',
  render: (p, t, o) => renderAndroid(p, t, androidAnchors(o)),
  warnings: (p, o) => [
    ...expiringSoon(p, o.now, 'Android', "the device's local time"),
    ...privateCaWarnings(
      o.privateCaDomains,
      (o.trustAnchors ?? []).length > 0,
      'Android',
      'add --trust-anchor ROOT.pem (written to res/raw/ and named in <trust-anchors>)',
    ),
  ],
  reader: 'android',
};

const REGISTRY_LIST: FormatEntry[] = [
  android,
  {
    id: 'ios',
    fileName: 'NSAppTransportSecurity.plist',
    summary: 'iOS 14+ App Transport Security NSPinnedDomains, to merge into Info.plist (or --update it)',
    inDefaultSet: true,
    template: 'ios.plist.tmpl',
    render: (p, t) => renderIos(p, t),
    warnings: (p, o) => [
      ...iosWarnings(p),
      ...privateCaWarnings(
        o.privateCaDomains,
        false,
        'iOS',
        'install the root on managed devices (a configuration profile); ATS has no per-app trust anchors',
      ),
    ],
    reader: 'ios',
  },
  {
    id: 'okhttp',
    fileName: 'CertificatePinning.kt',
    summary: 'OkHttp CertificatePinner (Kotlin); no expiration',
    inDefaultSet: true,
    template: 'okhttp.kt.tmpl',
    render: (p, t) => renderOkhttp(p, t),
    warnings: (p) => [...okhttpWarnings(p), ...okhttpClientWarnings(p, 'OkHttp')],
    reader: null,
  },
  {
    id: 'trustkit',
    fileName: 'TrustKit.plist',
    summary: 'TrustKit (iOS) TSKConfiguration; default report URI disabled, --report-uri, --report-only',
    inDefaultSet: true,
    template: 'trustkit.plist.tmpl',
    render: (p, t, o) => renderTrustkit(p, t, o),
    warnings: (p, o) => [
      ...trustkitWarnings(p),
      ...trustkitDomainWarnings(p, 'TrustKit'),
      ...expiringSoon(p, o.now, 'TrustKit', 'UTC'),
      ...privateCaWarnings(
        o.privateCaDomains,
        (o.trustAnchors ?? []).length > 0,
        'TrustKit',
        'add --trust-anchor ROOT.pem (TSKAdditionalTrustAnchors, honoured by DEBUG builds only)',
      ),
    ],
    reader: 'trustkit',
  },
  {
    id: 'react-native',
    fileName: 'sslPinning.ts',
    summary: 'react-native-ssl-public-key-pinning (OkHttp on Android, TrustKit on iOS)',
    inDefaultSet: true,
    template: 'react-native.ts.tmpl',
    render: (p, t) => renderReactNative(p, t),
    warnings: (p, o) => [
      ...reactNativeWarnings(p),
      ...trustkitDomainWarnings(p, 'the iOS side (TrustKit)'),
      ...okhttpClientWarnings(p, 'the Android side (OkHttp)'),
      ...expiringSoon(p, o.now, 'react-native-ssl-public-key-pinning', 'UTC on iOS'),
    ],
    reader: null,
  },
  {
    id: 'json',
    fileName: 'pins.json',
    summary: 'pinctl.pins.v1, lossless; input of bundle create and the signing service',
    inDefaultSet: true,
    template: null,
    render: (p) => renderJson(p),
    warnings: () => [],
    reader: 'json',
  },
  {
    id: 'flutter',
    fileName: 'pinning.dart',
    summary: 'Flutter http_certificate_pinning: certificate SHA-256 fingerprints, NOT SPKI pins',
    inDefaultSet: false,
    template: 'flutter.dart.tmpl',
    render: (p, t, o) => renderFlutter(p, t, o.fingerprints),
    warnings: (p, o) => flutterWarnings(p, o.fingerprints),
    reader: null,
  },
  {
    id: 'expo',
    fileName: 'withPinctlPinning.js',
    summary: 'Expo config plugin: writes the Android config and iOS NSPinnedDomains at prebuild',
    inDefaultSet: false,
    template: 'expo.plugin.js.tmpl',
    render: (p, t, o) => {
      const load = o.loadTemplate ?? defaultLoader;
      return renderExpo(p, t, android.render(p, load(android.template!), o), 'withPinctlPinning.js');
    },
    warnings: (p, o) => [...iosWarnings(p), ...android.warnings(p, o)],
    reader: null,
  },
];

export const REGISTRY: readonly FormatEntry[] = REGISTRY_LIST;

export function formatEntry(id: string): FormatEntry | undefined {
  return REGISTRY.find((e) => e.id === id);
}

/** The format table of docs/FORMATS.md (a test keeps the doc equal to this). */
export function formatsTableMarkdown(): string {
  const rows = REGISTRY.map(
    (e) =>
      `| \`${e.id}\` | \`${e.fileName}\` | ${e.summary} | ${e.inDefaultSet ? 'yes' : 'no'} | ${e.reader ? 'yes' : 'no (code)'} |`,
  );
  return [
    '| `--format` | File | What it is | In the default `--out` set | Read back by `check` and `--update` |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
