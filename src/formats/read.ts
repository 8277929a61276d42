/**
 * readConfig: which pins does this shipped config enforce? The format is detected from the
 * content, not the file name, since configs get renamed when they are copied into apps.
 */
import { PinSet, Warning } from '../core/model.js';
import { InputError } from '../errors.js';
import { readJson } from './json.js';
import { isBinaryPlist, parsePlist, plistFromRoot } from './plist.js';
import { readAndroid } from './read-android.js';
import { findIos, findTrustkit, readIos, readTrustkit } from './read-apple.js';
import { MAX_XML_CHARS, parseXml } from './xml.js';

export type ConfigFormat = 'android' | 'ios' | 'trustkit' | 'json';

export interface ReadResult {
  format: ConfigFormat;
  pinSet: PinSet;
  /** What the file says that the PinSet model cannot (mixed expirations, unenforced pins, …). */
  warnings: Warning[];
}

const KINDS = 'network_security_config.xml, an NSAppTransportSecurity or TrustKit XML plist, or pinctl pins.json';

export function readConfig(text: string, source: string): ReadResult {
  if (text.length > MAX_XML_CHARS) {
    throw new InputError('TOO_LARGE', `${source}: expected a config file of at most ${MAX_XML_CHARS} characters, found ${text.length}`, {
      hint: 'pass the config file itself (network_security_config.xml, Info.plist, pins.json), not a bundle or archive',
    });
  }
  if (isBinaryPlist(text)) parsePlist(text, source); // throws, with the plutil command
  const body = text.replace(/^\uFEFF/, '');
  const first = body.trimStart()[0];
  if (first === undefined) {
    throw new InputError('CONFIG_MALFORMED', `${source}: expected ${KINDS}, found an empty file`, {
      hint: 'the file was truncated or not written; regenerate it with pinctl generate',
    });
  }
  if (first === '{' || first === '[') return { format: 'json', pinSet: readJson(body, source), warnings: [] };
  if (first === '<') return readXml(body, source);
  throw new InputError('CONFIG_UNSUPPORTED', `${source}: expected ${KINDS}, found ${sniff(body)}`, {
    hint: 'OkHttp (.kt) and React Native (.ts) configs are code and are not read back; check the pins.json generated with them',
  });
}

function sniff(text: string): string {
  if (/initializeSslPinning/.test(text)) return 'React Native code';
  if (/CertificatePinner/.test(text)) return 'OkHttp Kotlin code';
  return `text starting ${JSON.stringify(text.trimStart().slice(0, 20))}`;
}

function readXml(text: string, source: string): ReadResult {
  const { root } = parseXml(text, source);
  if (root.name === 'network-security-config') return { format: 'android', ...readAndroid(root, source) };
  if (root.name !== 'plist') {
    throw new InputError('CONFIG_UNSUPPORTED', `${source}: line ${root.line}: expected <network-security-config> or <plist>, found <${root.name}>`, {
      hint: `pinctl reads ${KINDS}`,
    });
  }
  const value = plistFromRoot(root, source);
  const ios = findIos(value);
  const trustkit = findTrustkit(value);
  if (ios && trustkit) {
    throw new InputError('CONFIG_UNSUPPORTED', `${source}: expected one pinning configuration, found both NSPinnedDomains and TrustKit's TSKConfiguration`, {
      hint: 'check them one at a time: copy each into its own plist',
    });
  }
  if (ios) return { format: 'ios', ...readIos(ios, source) };
  if (trustkit) return { format: 'trustkit', ...readTrustkit(trustkit, source) };
  throw new InputError('CONFIG_UNSUPPORTED', `${source}: expected NSAppTransportSecurity › NSPinnedDomains or TSKConfiguration › TSKPinnedDomains in the plist, found neither`, {
    hint: 'this plist configures no pinning',
  });
}
