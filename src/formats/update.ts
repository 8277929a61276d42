/**
 * generate --update FILE: the app's existing config is changed for the generated domains only.
 * The format comes from the file. Before anything is written the result is read back: every
 * generated domain must hold exactly its new pins, and every other domain exactly what it held.
 */
import { PinSet } from '../core/model.js';
import { InputError } from '../errors.js';
import { readJson, renderJson } from './json.js';
import { ConfigFormat, readConfig } from './read.js';
import { restoreShape, shapeOf } from './splice.js';
import { updateAndroid } from './update-android.js';
import { updatePlist } from './update-plist.js';
import { findIos, findTrustkit } from './read-apple.js';
import { parseXml } from './xml.js';
import { parsePlist, plistFromRoot } from './plist.js';

export interface UpdateOutcome {
  format: ConfigFormat;
  content: string;
  /** Generated domains the file already had (their entries were replaced). */
  replaced: string[];
  /** Generated domains new to the file. */
  added: string[];
  /** What else changed that a reviewer should know (pins.json's one expiration). */
  notes: string[];
}

const PLIST_PATHS = {
  ios: ['NSAppTransportSecurity', 'NSPinnedDomains'],
  trustkit: ['TSKConfiguration', 'TSKPinnedDomains'],
} as const;

/** Which format an existing file is; `wanted` (from --format) decides for a plist that pins nothing yet. */
export function updateFormatOf(text: string, source: string, wanted?: string): ConfigFormat {
  const body = shapeOf(text).body;
  const first = body.trimStart()[0];
  let format: ConfigFormat | null = null;
  if (first === '{') format = 'json';
  else if (first === '<') {
    const { root } = parseXml(body, source);
    if (root.name === 'network-security-config') format = 'android';
    else if (root.name === 'plist') {
      const value = plistFromRoot(root, source);
      format = findTrustkit(value)
        ? 'trustkit'
        : findIos(value)
          ? 'ios'
          : wanted === 'trustkit' || wanted === 'ios'
            ? wanted
            : null;
      if (!format) {
        throw new InputError('USAGE', `${source}: the plist pins nothing yet, so its format cannot be taken from it`, {
          hint: 'say which to add: --format ios (NSAppTransportSecurity › NSPinnedDomains) or --format trustkit (TSKConfiguration)',
        });
      }
    }
  }
  if (!format) {
    throw new InputError(
      'CONFIG_UNSUPPORTED',
      `${source}: expected network_security_config.xml, an Info.plist, a TrustKit plist or pins.json to update, found something else`,
      {
        hint: 'OkHttp, React Native, Flutter and Expo outputs are code: regenerate them with --out instead',
      },
    );
  }
  if (wanted && wanted !== format) {
    throw new InputError('USAGE', `--format ${wanted}: ${source} is a ${format} config`, {
      hint: 'drop --format: with --update the format is taken from the file',
    });
  }
  return format;
}

/** `rendered` is the fresh config of `format` for `pinSet` (the generated domains only). */
export function updateConfig(
  text: string,
  source: string,
  format: ConfigFormat,
  pinSet: PinSet,
  rendered: string,
): UpdateOutcome {
  const before = readBefore(text, source, format); // refuses a malformed file before any edit
  const shape = shapeOf(text);
  let result: { content: string; replaced: string[]; added: string[]; notes?: string[] };
  if (format === 'json') result = updateJson(shape.body, source, pinSet);
  else if (format === 'android') result = updateAndroid(shape.body, source, rendered);
  else result = updatePlist(shape.body, source, rendered, PLIST_PATHS[format]);
  const content = restoreShape(result.content, shape);
  verify(before.pinSet, readConfig(content, source).pinSet, readConfig(rendered, 'rendered').pinSet, source);
  return { format, content, replaced: result.replaced, added: result.added, notes: result.notes ?? [] };
}

function readBefore(text: string, source: string, format: ConfigFormat): { pinSet: PinSet } {
  if (format === 'ios' || format === 'trustkit') {
    const value = parsePlist(text, source);
    if (!(format === 'ios' ? findIos(value) : findTrustkit(value)))
      return { pinSet: { expiration: null, domains: [] } };
  }
  return readConfig(text, source);
}

function updateJson(
  body: string,
  source: string,
  pinSet: PinSet,
): { content: string; replaced: string[]; added: string[]; notes: string[] } {
  const old = readJson(body, source);
  const indent = /\n([ \t]+)"/.exec(body)?.[1] ?? 2;
  const fresh = new Map(pinSet.domains.map((d) => [d.domain, d]));
  const replaced = old.domains.filter((d) => fresh.has(d.domain)).map((d) => d.domain);
  const domains = [
    ...old.domains.map((d) => fresh.get(d.domain) ?? d),
    ...pinSet.domains.filter((d) => !replaced.includes(d.domain)),
  ];
  const added = pinSet.domains.filter((d) => !replaced.includes(d.domain)).map((d) => d.domain);
  // pinctl.pins.v1 has one expiration for the whole set: the new one applies to every domain.
  const notes =
    old.expiration !== pinSet.expiration && domains.length > pinSet.domains.length
      ? [
          `the set's one expiration changes from ${old.expiration ?? 'none'} to ${pinSet.expiration ?? 'none'}, for the other domains too`,
        ]
      : [];
  return { content: renderJson({ expiration: pinSet.expiration, domains }, indent), replaced, added, notes };
}

function pinsOf(set: PinSet, domain: string): string {
  const d = set.domains.find((x) => x.domain === domain);
  return d
    ? `${d.includeSubdomains}:${[...new Set(d.pins.map((p) => `${p.role === 'intermediate' ? 'ca' : 'any'}/${p.spkiSha256}`))].sort().join(',')}`
    : 'absent';
}

function verify(before: PinSet, after: PinSet, wanted: PinSet, source: string): void {
  const generated = new Set(wanted.domains.map((d) => d.domain));
  const problems: string[] = [];
  for (const d of wanted.domains)
    if (pinsOf(after, d.domain) !== pinsOf(wanted, d.domain)) problems.push(`${d.domain} does not hold the new pins`);
  for (const d of before.domains) {
    if (!generated.has(d.domain) && pinsOf(after, d.domain) !== pinsOf(before, d.domain))
      problems.push(`${d.domain} would change`);
  }
  if (problems.length > 0) {
    throw new InputError(
      'CONFIG_UNSUPPORTED',
      `${source}: the in-place update was not written: read back, ${problems.join('; ')}`,
      {
        hint: 'the file has a layout pinctl cannot edit safely; generate with --out and merge by hand',
      },
    );
  }
}
