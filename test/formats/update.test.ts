/**
 * generate --update: golden files for every update case (UPDATE_GOLDEN=1 rewrites the after-files;
 * review them), and each element the update must keep named in its own test.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig, renderConfig } from '../../src/formats/index.js';
import { updateConfig, updateFormatOf } from '../../src/formats/update.js';
import { BACKUP, DIR, INTER, OLD_A, OLD_B, OLD_C, ROOT, generated, runCase } from './update-fixture.js';
import { inputError } from './helpers.js';

function golden(name: string, actual: string, ext: string): void {
  const path = join(DIR, name, `after.${ext}`);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  if (!existsSync(path)) throw new Error(`missing ${path}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

/** The exact text of the before-file from the line holding `from` through the line holding `to`. */
function block(text: string, from: string, to: string): string {
  const start = text.lastIndexOf('\n', text.indexOf(from)) + 1;
  const end = text.indexOf('\n', text.indexOf(to, text.indexOf(from)));
  return text.slice(start, end + 1);
}

const pinsOf = (text: string, domain: string) => readConfig(text, 'x').pinSet.domains.find((d) => d.domain === domain)?.pins.map((p) => p.spkiSha256);

describe.each([
  ['android-hand-written', 'xml', undefined],
  ['android-in-place', 'xml', undefined],
  ['android-crlf-bom', 'xml', undefined],
  ['info-plist', 'plist', undefined],
  ['info-plist-bare', 'plist', 'ios'],
  ['trustkit', 'plist', undefined],
  ['pins-json', 'json', undefined],
] as const)('update %s', (name, ext, wanted) => {
  it('matches its golden after-file', () => golden(name, runCase(name, wanted).after, ext));
  it('gives the generated domains exactly their new pins', () => {
    const { after } = runCase(name, wanted);
    expect(new Set(pinsOf(after, 'api.example.com'))).toEqual(new Set([INTER, ROOT]));
    // iOS leaves a backup out when no in-service leaf pin stands beside it (ios-backup-omitted).
    const ios = name.startsWith('info-plist');
    expect(new Set(pinsOf(after, 'new.example.com'))).toEqual(new Set(ios ? [INTER] : [INTER, BACKUP]));
  });
  it('is idempotent: updating the result again changes nothing', () => {
    const { after } = runCase(name, wanted);
    const format = updateFormatOf(after, 'after', wanted);
    expect(updateConfig(after, 'after', format, generated, renderConfig(format, generated).content).content).toBe(after);
  });
});

describe('android: what a hand-written network_security_config.xml keeps', () => {
  const { before, after, outcome } = runCase('android-hand-written');
  it('keeps <base-config> and its trust anchors byte for byte', () => expect(after).toContain(block(before, '<base-config', '</base-config>')));
  it('keeps the cleartext domain-config of 10.0.2.2 and its comment', () => {
    expect(after).toContain(block(before, '<!-- the emulator', '</domain-config>'));
  });
  it('keeps the hand-pinned pay.example.com domain-config, its expiration and its comment', () => {
    expect(after).toContain(block(before, '<!-- payments', '</domain-config>'));
    expect(pinsOf(after, 'pay.example.com')).toEqual([OLD_A, OLD_B]);
  });
  it('keeps cdn.example.com on its old pin-set when api.example.com moves out of their shared domain-config', () => {
    expect(pinsOf(after, 'cdn.example.com')).toEqual([OLD_C, OLD_A]);
    expect(outcome.replaced).toEqual(['api.example.com']);
    expect(outcome.added).toEqual(['new.example.com']);
  });
  it('keeps <debug-overrides>', () => expect(after).toContain(block(before, '<debug-overrides>', '</debug-overrides>')));
  it('keeps the file header comment and the two-space indentation', () => {
    expect(after.split('\n').slice(0, 2)).toEqual(before.split('\n').slice(0, 2));
    expect(after).toMatch(/\n  <domain-config>\n    <domain includeSubdomains="true">new\.example\.com<\/domain>\n    <pin-set expiration="2027-06-30">\n      <!--/);
  });
});

describe('android: a domain-config updated in place', () => {
  const { before, after } = runCase('android-in-place');
  it('keeps the domain-config attribute cleartextTrafficPermitted', () => expect(after).toContain('<domain-config cleartextTrafficPermitted="false">\n\t\t<domain includeSubdomains="false">api.example.com</domain>'));
  it('keeps the comment beside the pin-set', () => expect(after).toContain('\t\t<!-- rotated 2025-11: see ticket SEC-42 -->\n\t\t<pin-set expiration="2027-06-30">'));
  it('keeps its <trust-anchors>', () => expect(after).toContain(block(before, '<trust-anchors>', '</trust-anchors>')));
  it('keeps tab indentation in the new pin-set', () => expect(after).toContain(`\t\t\t<pin digest="SHA-256">${INTER}</pin>`));
  it('drops the old pins of the domain', () => expect(after).not.toContain(OLD_A));
});

describe('android: byte-order mark and CRLF', () => {
  const { after } = runCase('android-crlf-bom');
  it('keeps the BOM and writes every line with CRLF', () => {
    expect(after.startsWith('\uFEFF<?xml')).toBe(true);
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
  });
});

describe('Info.plist: what NSAppTransportSecurity updates keep', () => {
  const { before, after } = runCase('info-plist');
  it('keeps CFBundleName, UILaunchStoryboardName and the comment', () => {
    expect(after).toContain('    <key>CFBundleName</key>\n    <string>Example</string>\n    <!-- release builds only load https -->');
    expect(after).toContain('    <key>UILaunchStoryboardName</key>\n    <string>LaunchScreen</string>');
  });
  it('keeps NSAllowsArbitraryLoads inside NSAppTransportSecurity', () => expect(after).toContain('<key>NSAllowsArbitraryLoads</key>\n        <false/>'));
  it('keeps other.example.com and its leaf identity', () => {
    expect(after).toContain(block(before, '<key>other.example.com</key>', `<string>${OLD_A}</string>`));
  });
  it('replaces API.example.com (matched case-insensitively) and keeps four-space indentation', () => {
    expect(after).not.toContain('API.example.com');
    expect(after).toContain(`\n            <key>api.example.com</key>\n            <dict>\n                <key>NSIncludesSubdomains</key>`);
  });
});

describe('Info.plist without NSAppTransportSecurity (--format ios)', () => {
  const { before, after, outcome } = runCase('info-plist-bare', 'ios');
  it('keeps CFBundleIdentifier and CFBundleVersion', () => expect(after).toContain(block(before, '<key>CFBundleIdentifier', '<string>42</string>')));
  it('adds NSAppTransportSecurity at the end of the top dict, tab-indented', () => {
    expect(after).toContain('\t<string>42</string>\n\t<key>NSAppTransportSecurity</key>\n\t<dict>\n\t\t<key>NSPinnedDomains</key>');
    expect(outcome.added).toEqual(['api.example.com', 'new.example.com']);
  });
  it('refuses to guess between ios and trustkit without --format', () => {
    expect(inputError(() => runCase('info-plist-bare'), 'USAGE').hint).toMatch(/--format ios .* or --format trustkit/);
  });
});

describe('TrustKit: what TSKConfiguration updates keep', () => {
  const { before, after } = runCase('trustkit');
  it('keeps the global TSKSwizzleNetworkDelegates true', () => expect(after).toContain('<key>TSKSwizzleNetworkDelegates</key>\n\t\t<true/>'));
  it('keeps legacy.example.com with its report URI', () => expect(after).toContain(block(before, '<key>legacy.example.com</key>', '</dict>')));
  it('writes TSKDisableDefaultReportUri for the updated domain', () => {
    const api = after.slice(after.indexOf('<key>api.example.com</key>'));
    expect(api.slice(0, api.indexOf('</dict>'))).toContain('<key>TSKDisableDefaultReportUri</key>\n\t\t\t\t<true/>');
  });
});

describe('pins.json', () => {
  const { after, outcome } = runCase('pins-json');
  it('keeps legacy.example.com, its roles, sources and endpoint', () => {
    const legacy = JSON.parse(after).domains[0];
    expect(legacy.domain).toBe('legacy.example.com');
    expect(legacy.pins.map((p: { role: string }) => p.role)).toEqual(['intermediate', 'backup']);
    expect(legacy.endpoints).toEqual([{ host: 'legacy.example.com', port: 8443, addresses: ['203.0.113.7'] }]);
  });
  it('keeps the four-space indentation', () => expect(after).toMatch(/^\{\n {4}"format"/));
  it('says that the one expiration of the set changed', () => expect(outcome.notes[0]).toMatch(/2026-12-31 to 2027-06-30/));
});

describe('android: --trust-anchor and --debug-overrides with --update', () => {
  const before = readFileSync(join(DIR, 'android-hand-written', 'before.xml'), 'utf8');
  const anchors = [{ resource: 'pinctl_root', pem: 'x' }];
  const rendered = renderConfig('android', generated, { trustAnchors: anchors, debugOverrides: anchors }).content;
  const after = updateConfig(before, 'nsc.xml', 'android', generated, rendered).content;
  it('adds <trust-anchors> to the generated domain-configs', () => {
    const api = after.slice(after.indexOf('>api.example.com</domain>'));
    expect(api.slice(0, api.indexOf('</domain-config>'))).toContain('<trust-anchors>\n      <certificates src="@raw/pinctl_root" />\n    </trust-anchors>');
  });
  it('keeps the app\'s own debug-overrides certificates and adds the new one beside them', () => {
    expect(after).toContain('  <debug-overrides>\n    <trust-anchors>\n      <certificates src="user" />\n      <certificates src="@raw/pinctl_root" />\n    </trust-anchors>');
  });
  it('does not add it twice', () => {
    expect(updateConfig(after, 'nsc.xml', 'android', generated, rendered).content).toBe(after);
  });
});
