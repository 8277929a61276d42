import { describe, expect, it } from 'vitest';
import { PinSet } from '../../src/core/model.js';
import { readConfig, renderConfig } from '../../src/formats/index.js';
import { multiDomainPinSet, pinOf } from './fixture.js';
import { inputError } from './helpers.js';

const LEAF = pinOf('leaf.pem');
const INTER = pinOf('intermediate.pem');
const ROOT = pinOf('root.pem');
const BACKUP = pinOf('backup.key');

/** Domain → [includeSubdomains, sorted distinct pins]: what every round trip must keep. */
function essence(pinSet: PinSet): Record<string, [boolean, string[]]> {
  return Object.fromEntries(pinSet.domains.map((d) => [d.domain, [d.includeSubdomains, [...new Set(d.pins.map((p) => p.spkiSha256))].sort()]]));
}

describe('round trips', () => {
  for (const expiration of ['2027-06-30', null]) {
    const pinSet = multiDomainPinSet(expiration);

    it(`android keeps domains, includeSubdomains, pins and expiration (${expiration})`, () => {
      const back = readConfig(renderConfig('android', pinSet).content, 'network_security_config.xml');
      expect(back.format).toBe('android');
      expect(essence(back.pinSet)).toEqual(essence(pinSet));
      expect(back.pinSet.expiration).toBe(expiration);
      expect(back.warnings).toEqual([]);
    });

    it(`trustkit keeps domains, includeSubdomains, pins and expiration (${expiration})`, () => {
      const back = readConfig(renderConfig('trustkit', pinSet).content, 'TrustKit.plist');
      expect(back.format).toBe('trustkit');
      expect(essence(back.pinSet)).toEqual(essence(pinSet));
      expect(back.pinSet.expiration).toBe(expiration);
    });

    it(`json is lossless (${expiration})`, () => {
      const back = readConfig(renderConfig('json', pinSet).content, 'pins.json');
      expect(back.format).toBe('json');
      expect(back.pinSet).toEqual(pinSet);
    });

    it(`ios keeps domains and includeSubdomains, and exactly the pins iOS enforces (${expiration})`, () => {
      const back = readConfig(renderConfig('ios', pinSet).content, 'NSAppTransportSecurity.plist');
      expect(back.format).toBe('ios');
      expect(back.pinSet.expiration).toBeNull();
      const expected = essence(pinSet);
      // The backup of rsa.pinctl.test (no leaf pin) is deliberately left out on iOS.
      expected['rsa.pinctl.test']![1] = expected['rsa.pinctl.test']![1].filter((p) => p !== pinOf('backup-rsa.key'));
      expect(essence(back.pinSet)).toEqual(expected);
      const api = back.pinSet.domains.find((d) => d.domain === 'api.pinctl.test')!;
      expect(api.pins.map((p) => [p.spkiSha256, p.role])).toEqual([[LEAF, 'leaf'], [BACKUP, 'leaf'], [INTER, 'intermediate']]);
    });
  }
});

describe('android reader', () => {
  const config = `<?xml version="1.0" encoding="utf-8"?>
<network-security-config xmlns:tools="http://schemas.android.com/tools">
  <base-config cleartextTrafficPermitted="false"><trust-anchors><certificates src="system"/></trust-anchors></base-config>
  <domain-config>
    <domain includeSubdomains="true">Example.COM</domain>
    <domain>www.example.net</domain>
    <pin-set expiration="2028-01-31">
      <pin digest="SHA-256">
        ${LEAF}
      </pin>
      <pin digest="sha-256">${INTER}</pin>
    </pin-set>
    <trust-anchors><certificates src="@raw/ca"/></trust-anchors>
    <domain-config>
      <domain includeSubdomains="false">api.example.com</domain>
    </domain-config>
    <domain-config>
      <domain>cdn.example.com</domain>
      <pin-set expiration="2028-01-31"><pin digest="SHA-256">${ROOT}</pin></pin-set>
    </domain-config>
  </domain-config>
  <domain-config cleartextTrafficPermitted="true"><domain>plain.example.org</domain></domain-config>
  <debug-overrides><trust-anchors><certificates src="user"/></trust-anchors></debug-overrides>
</network-security-config>
`;

  it('reads several domains per config, nested configs inheriting the pin-set, and skips unpinned ones', () => {
    const { format, pinSet, warnings } = readConfig(config, 'nsc.xml');
    expect(format).toBe('android');
    expect(warnings).toEqual([]);
    expect(pinSet.expiration).toBe('2028-01-31');
    expect(essence(pinSet)).toEqual({
      'example.com': [true, [LEAF, INTER].sort()],
      'www.example.net': [false, [LEAF, INTER].sort()],
      'api.example.com': [false, [LEAF, INTER].sort()],
      'cdn.example.com': [false, [ROOT]],
    });
    expect(pinSet.domains[0]!.pins[0]).toEqual({ spkiSha256: LEAF, role: 'leaf', subject: null, notAfter: null, source: 'nsc.xml' });
    expect(pinSet.domains.every((d) => d.endpoints.length === 0)).toBe(true);
  });

  it('folds different expirations into the earliest and says so', () => {
    const text = config.replace('<pin-set expiration="2028-01-31"><pin', '<pin-set expiration="2027-03-01"><pin');
    const { pinSet, warnings } = readConfig(text, 'nsc.xml');
    expect(pinSet.expiration).toBe('2027-03-01');
    expect(warnings.map((w) => w.code)).toEqual(['read-mixed-expiration']);
  });

  it('warns about an empty pin-set, which Android treats as no pinning', () => {
    const text = `<network-security-config><domain-config><domain>a.example</domain><pin-set/></domain-config>
      <domain-config><domain>b.example</domain><pin-set><pin digest="SHA-256">${LEAF}</pin></pin-set></domain-config></network-security-config>`;
    const { pinSet, warnings } = readConfig(text, 'nsc.xml');
    expect(pinSet.domains.map((d) => d.domain)).toEqual(['b.example']);
    expect(warnings.map((w) => [w.code, w.domain])).toEqual([['read-empty-pin-set', 'a.example']]);
  });

  it('rejects a domain listed twice, as Android does', () => {
    const text = `<network-security-config><domain-config><domain>a.example</domain><pin-set><pin digest="SHA-256">${LEAF}</pin></pin-set>
      <domain-config><domain>A.example</domain></domain-config></domain-config></network-security-config>`;
    expect(inputError(() => readConfig(text, 'nsc.xml'), 'CONFIG_MALFORMED').message).toMatch(/line 2: expected each domain once, found a\.example again/);
  });
});

describe('plist readers', () => {
  const plist = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">${body}</plist>`;

  it('reads an Info.plist with other ATS keys; CA identities become intermediate pins', () => {
    const text = plist(`<dict><key>CFBundleName</key><string>App</string><key>NSAppTransportSecurity</key><dict>
      <key>NSAllowsArbitraryLoads</key><false/><key>NSPinnedDomains</key><dict><key>example.com</key><dict>
      <key>NSPinnedCAIdentities</key><array><dict><key>SPKI-SHA256-BASE64</key><string>${ROOT}</string></dict></array>
      </dict></dict></dict></dict>`);
    const { format, pinSet } = readConfig(text, 'Info.plist');
    expect(format).toBe('ios');
    expect(pinSet).toEqual({ expiration: null, domains: [{ domain: 'example.com', includeSubdomains: false, pins: [{ spkiSha256: ROOT, role: 'intermediate', subject: null, notAfter: null, source: 'Info.plist' }], endpoints: [] }] });
  });

  it('reads TrustKit with TSKPinnedDomains at the root, and flags unenforced pinning', () => {
    const text = plist(`<dict><key>TSKPinnedDomains</key><dict><key>example.com</key><dict>
      <key>TSKEnforcePinning</key><false/><key>TSKIncludeSubdomains</key><true/>
      <key>TSKPublicKeyHashes</key><array><string>${LEAF}</string><string>${BACKUP}</string></array></dict></dict></dict>`);
    const { format, pinSet, warnings } = readConfig(text, 'tk.plist');
    expect(format).toBe('trustkit');
    expect(essence(pinSet)).toEqual({ 'example.com': [true, [LEAF, BACKUP].sort()] });
    expect(pinSet.expiration).toBeNull();
    expect(warnings.map((w) => w.code)).toEqual(['read-not-enforced']);
  });

  it('refuses a plist with both pinning configurations, or with none', () => {
    const both = plist(`<dict><key>NSAppTransportSecurity</key><dict><key>NSPinnedDomains</key><dict/></dict>
      <key>TSKConfiguration</key><dict><key>TSKPinnedDomains</key><dict/></dict></dict>`);
    expect(inputError(() => readConfig(both, 'Info.plist'), 'CONFIG_UNSUPPORTED').message).toMatch(/found both/);
    expect(inputError(() => readConfig(plist('<dict><key>CFBundleName</key><string>x</string></dict>'), 'Info.plist'), 'CONFIG_UNSUPPORTED').message).toMatch(/found neither/);
  });
});

describe('format detection', () => {
  it('names code formats it cannot read back', () => {
    const kt = renderConfig('okhttp', multiDomainPinSet(null)).content;
    const err = inputError(() => readConfig(kt, 'CertificatePinning.kt'), 'CONFIG_UNSUPPORTED');
    expect(err.message).toMatch(/OkHttp Kotlin code/);
    expect(err.hint).toMatch(/pins\.json/);
    const ts = renderConfig('react-native', multiDomainPinSet(null)).content;
    expect(inputError(() => readConfig(ts, 'sslPinning.ts'), 'CONFIG_UNSUPPORTED').message).toMatch(/React Native code/);
  });

  it('accepts a byte-order mark and CRLF line ends', () => {
    const text = `\uFEFF${renderConfig('android', multiDomainPinSet(null)).content.replace(/\n/g, '\r\n')}`;
    expect(readConfig(text, 'nsc.xml').pinSet.domains).toHaveLength(4);
  });
});
