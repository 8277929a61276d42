import { describe, expect, it } from 'vitest';
import { DomainPins, Pin, PinRole, PinSet } from '../../src/core/model.js';
import { FORMATS, fileNameFor, isFormat, readConfig, renderConfig, warningsFor } from '../../src/formats/index.js';
import { okhttpPattern } from '../../src/formats/okhttp.js';
import { pinOf } from './fixture.js';
import { inputError } from './helpers.js';

const pin = (file: string, role: PinRole): Pin => ({ spkiSha256: pinOf(file), role, subject: null, notAfter: null, source: file });
const domain = (name: string, pins: Pin[], includeSubdomains = false): DomainPins => ({ domain: name, includeSubdomains, pins, endpoints: [] });
const set = (domains: DomainPins[], expiration: string | null = null): PinSet => ({ expiration, domains });
const codes = (format: Parameters<typeof warningsFor>[0], p: PinSet) => renderConfig(format, p).warnings.map((w) => `${w.code}${w.domain ? `@${w.domain}` : ''}`);

describe('format list', () => {
  it('names every format and its file', () => {
    expect(FORMATS).toEqual(['android', 'ios', 'okhttp', 'trustkit', 'react-native', 'json', 'flutter', 'expo']);
    expect(FORMATS.map(fileNameFor)).toEqual(['network_security_config.xml', 'NSAppTransportSecurity.plist', 'CertificatePinning.kt', 'TrustKit.plist', 'sslPinning.ts', 'pins.json', 'pinning.dart', 'withPinctlPinning.js']);
    expect(isFormat('ios')).toBe(true);
    expect(isFormat('xml')).toBe(false);
  });

  it('uses the template loader it is given', () => {
    const seen: string[] = [];
    const out = renderConfig('android', set([domain('a.example', [pin('leaf.pem', 'leaf')])]), (name) => {
      seen.push(name);
      return 'custom {{#domains}}{{domain}}{{/domains}}';
    });
    expect(seen).toEqual(['android.xml.tmpl']);
    expect(out.content).toBe('custom a.example');
  });
});

describe('iOS rules', () => {
  it('puts leaf and backup pins in leaf identities and CA pins in CA identities; warns when both are present', () => {
    const p = set([domain('a.example', [pin('leaf.pem', 'leaf'), pin('root.pem', 'root'), pin('backup.key', 'backup')])]);
    const back = readConfig(renderConfig('ios', p).content, 'x').pinSet.domains[0]!;
    expect(back.pins.map((x) => [x.spkiSha256, x.role])).toEqual([
      [pinOf('leaf.pem'), 'leaf'],
      [pinOf('backup.key'), 'leaf'],
      [pinOf('root.pem'), 'intermediate'],
    ]);
    expect(codes('ios', p)).toEqual(['ios-leaf-and-ca@a.example']);
  });

  it('omits keys whose list would be empty, with no warning for a leaf-only domain', () => {
    const p = set([domain('a.example', [pin('leaf.pem', 'leaf'), pin('backup.key', 'backup')])]);
    const content = renderConfig('ios', p).content;
    expect(content).not.toContain('NSPinnedCAIdentities');
    expect(codes('ios', p)).toEqual([]);
  });

  it('leaves backups out when no leaf pin is there to match today', () => {
    const p = set([domain('a.example', [pin('intermediate.pem', 'intermediate'), pin('backup.key', 'backup')])]);
    const content = renderConfig('ios', p).content;
    expect(content).not.toContain('NSPinnedLeafIdentities');
    expect(content).not.toContain(pinOf('backup.key'));
    expect(codes('ios', p)).toEqual(['ios-backup-omitted@a.example']);
  });

  it('drops a domain that has only backups, loudly', () => {
    const p = set([domain('a.example', [pin('backup.key', 'backup')]), domain('b.example', [pin('leaf.pem', 'leaf')])]);
    const content = renderConfig('ios', p).content;
    expect(content).not.toContain('a.example');
    expect(codes('ios', p)).toEqual(['ios-backup-omitted@a.example', 'ios-domain-omitted@a.example']);
    expect(renderConfig('ios', p).warnings.find((w) => w.code === 'ios-domain-omitted')!.severity).toBe('danger');
  });

  it('notes that iOS ignores the expiration', () => {
    const p = set([domain('a.example', [pin('leaf.pem', 'leaf')])], '2027-01-01');
    expect(codes('ios', p)).toEqual(['ios-no-expiration']);
    expect(renderConfig('ios', p).content).not.toContain('2027-01-01');
  });
});

describe('other format rules', () => {
  // Names under a public suffix: TrustKit refuses others (see client-warnings.test.ts).
  const two = set([domain('a.example.com', [pin('leaf.pem', 'leaf'), pin('backup.key', 'backup')], true)], '2027-01-01');
  const one = set([domain('a.example.com', [pin('leaf.pem', 'leaf'), pin('leaf.pem', 'leaf')])]);

  it('OkHttp: "**." for subdomains, and an info note when an expiration is set', () => {
    expect(okhttpPattern('Api.Example.com', true)).toBe('**.api.example.com');
    expect(okhttpPattern('api.example.com', false)).toBe('api.example.com');
    expect(codes('okhttp', two)).toEqual(['okhttp-no-expiration', 'okhttp-subdomains-need-4.3@a.example.com']);
    expect(codes('okhttp', one)).toEqual([]);
    expect(renderConfig('okhttp', one).content).toMatch(/has no expiration/);
  });

  it('TrustKit and React Native: danger below two distinct pins', () => {
    expect(codes('trustkit', one)).toEqual(['trustkit-needs-two-pins@a.example.com']);
    expect(codes('react-native', one)).toEqual(['react-native-needs-two-pins@a.example.com']);
    expect(codes('trustkit', two)).toEqual([]);
    expect(codes('react-native', two)).toEqual(['okhttp-subdomains-need-4.3@a.example.com']);
  });

  it('omits expiration fields when there is none', () => {
    expect(renderConfig('android', one).content).toContain('<pin-set>');
    expect(renderConfig('trustkit', one).content).not.toContain('TSKExpirationDate');
    expect(renderConfig('react-native', one).content).not.toContain('expirationDate');
    expect(renderConfig('react-native', two).content).toContain("expirationDate: '2027-01-01',");
  });

  it('writes each distinct pin once, and lowercases domains', () => {
    const p = set([domain('API.Example.COM', [pin('leaf.pem', 'leaf'), pin('leaf.pem', 'backup'), pin('root.pem', 'root')])]);
    for (const f of ['android', 'trustkit', 'okhttp', 'react-native'] as const) {
      const content = renderConfig(f, p).content;
      expect(content.split(pinOf('leaf.pem')).length - 1, f).toBe(1);
      expect(content, f).toContain('api.example.com');
      expect(content, f).not.toContain('API.Example.COM');
    }
    expect(JSON.parse(renderConfig('json', p).content).domains[0].pins).toHaveLength(3);
  });
});

describe('writers refuse pin sets that would ship broken', () => {
  const ok = () => domain('a.example', [pin('leaf.pem', 'leaf')]);
  it.each(FORMATS)('%s', (format) => {
    inputError(() => renderConfig(format, set([])), 'NO_PINS');
    inputError(() => renderConfig(format, set([domain('a.example', [])])), 'NO_PINS');
    inputError(() => renderConfig(format, set([ok(), { ...ok(), domain: 'A.EXAMPLE' }])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([{ ...ok(), domain: '*.example.com' }])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([{ ...ok(), domain: 'example.com:443' }])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([{ ...ok(), domain: 'a"><x' }])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([domain('a.example', [{ ...pin('leaf.pem', 'leaf'), spkiSha256: 'sha256/abc' }])])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([domain('a.example', [{ ...pin('leaf.pem', 'leaf'), role: 'ca' as PinRole }])])), 'CONFIG_MALFORMED');
    inputError(() => renderConfig(format, set([ok()], '2027-02-30')), 'CONFIG_MALFORMED');
  });
});
