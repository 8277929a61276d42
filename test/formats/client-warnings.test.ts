/**
 * What real clients do with our files, each fact a test that fails when its warning is missing.
 * Sources: TrustKit parse_configuration.m (GetRegistryLength checks), OkHttp's CertificatePinner
 * (3.x ignores "**.", throws on IPv6 literals; "**." arrived in 4.3), Android lint PinSetExpiry
 * (10 days) and AOSP's Network Security Config (expiration compared with the device's local date).
 */
import { describe, expect, it } from 'vitest';
import { DomainPins, PinSet } from '../../src/core/model.js';
import { renderConfig } from '../../src/formats/index.js';
import { pinOf } from './fixture.js';

const pins = () => [
  { spkiSha256: pinOf('intermediate.pem'), role: 'intermediate' as const, subject: null, notAfter: null, source: 't' },
  { spkiSha256: pinOf('backup.key'), role: 'backup' as const, subject: null, notAfter: null, source: 't' },
];
const d = (domain: string, includeSubdomains = false): DomainPins => ({ domain, includeSubdomains, pins: pins(), endpoints: [] });
const set = (domains: DomainPins[], expiration: string | null = '2030-01-01'): PinSet => ({ expiration, domains });
const codes = (format: string, p: PinSet, now?: Date) =>
  renderConfig(format, p, { now }).warnings.map((w) => `${w.code}${w.domain ? `@${w.domain}` : ''}`);

describe('TrustKit parse_configuration.m: "TrustKit was initialized with an invalid domain" (GetRegistryLength == 0)', () => {
  it.each(['localhost', '127.0.0.1', '::1', 'api.internal', 'svc.local', 'intranet'])('%s', (name) => {
    expect(codes('trustkit', set([d(name)]))).toContain(`trustkit-invalid-domain@${name}`);
    // react-native-ssl-public-key-pinning initialises TrustKit on iOS: initialize() rejects, nothing is pinned.
    expect(codes('react-native', set([d(name)]))).toContain(`trustkit-invalid-domain@${name}`);
  });
  it('accepts names under an ICANN or private public suffix', () => {
    for (const name of ['api.example.com', 'api.example.co.uk', 'my-app.appspot.com']) {
      expect(codes('trustkit', set([d(name, true)])).filter((c) => c.startsWith('trustkit-'))).toEqual([]);
    }
  });
});

describe('TrustKit parse_configuration.m: "includeSubdomains for a domain suffix" (GetRegistryLength == length)', () => {
  it.each(['appspot.com', 'co.uk', 'com', 'github.io'])('%s with includeSubdomains', (name) => {
    const all = codes('trustkit', set([d(name, true)]));
    expect(all.some((c) => c === `trustkit-public-suffix@${name}` || c === `trustkit-invalid-domain@${name}`)).toBe(true);
  });
  it('appspot.com (the case TrustKit names) is a public suffix, refused only with includeSubdomains', () => {
    expect(codes('trustkit', set([d('appspot.com', true)]))).toContain('trustkit-public-suffix@appspot.com');
    expect(codes('trustkit', set([d('appspot.com', false)]))).not.toContain('trustkit-public-suffix@appspot.com');
  });
});

describe('OkHttp CertificatePinner', () => {
  it('3.x ignores "**." (3.13.1 lets a wrong pin through): okhttp-subdomains-need-4.3', () => {
    expect(codes('okhttp', set([d('api.example.com', true)]))).toContain('okhttp-subdomains-need-4.3@api.example.com');
    expect(codes('react-native', set([d('api.example.com', true)]))).toContain('okhttp-subdomains-need-4.3@api.example.com');
    expect(codes('okhttp', set([d('api.example.com', false)]))).not.toContain('okhttp-subdomains-need-4.3@api.example.com');
  });
  it('3.x throws on an IPv6 literal pattern: okhttp3-ipv6', () => {
    expect(codes('okhttp', set([d('2001:db8::1')]))).toContain('okhttp3-ipv6@2001:db8::1');
    expect(codes('react-native', set([d('2001:db8::1')]))).toContain('okhttp3-ipv6@2001:db8::1');
    expect(codes('okhttp', set([d('192.0.2.1')]))).not.toContain('okhttp3-ipv6@192.0.2.1');
  });
});

describe('expiring-soon (Android lint: pin-set expiration within 10 days)', () => {
  const now = new Date('2029-12-25T12:00:00Z');
  it('warns for Android, TrustKit and React Native 7 days before; not 30 days before', () => {
    for (const f of ['android', 'trustkit', 'react-native']) {
      expect(codes(f, set([d('api.example.com')], '2030-01-01'), now)).toContain('expiring-soon');
      expect(codes(f, set([d('api.example.com')], '2030-01-25'), now)).not.toContain('expiring-soon');
    }
  });
  it('says enforcement stops at 00:00 on the date: device-local for Android, UTC for TrustKit', () => {
    const msg = (f: string) => renderConfig(f, set([d('api.example.com')], '2030-01-01'), { now }).warnings.find((w) => w.code === 'expiring-soon')!.message;
    expect(msg('android')).toMatch(/00:00 on that date \(the device's local time\)/);
    expect(msg('trustkit')).toMatch(/00:00 on that date \(UTC\)/);
  });
  it('the written files say so too', () => {
    expect(renderConfig('android', set([d('api.example.com')])).content).toContain("at 00:00 on 2030-01-01, in the device's local time zone");
    expect(renderConfig('trustkit', set([d('api.example.com')])).content).toContain('at 00:00 UTC on 2030-01-01');
    expect(renderConfig('android', set([d('api.example.com')])).content).not.toMatch(/after 2030-01-01/);
  });
});

describe('private-ca-needs-trust-anchor', () => {
  it('warns for Android, iOS and TrustKit unless the anchor is written', () => {
    const p = set([d('api.example.com')]);
    for (const f of ['android', 'ios', 'trustkit']) {
      expect(renderConfig(f, p, { privateCaDomains: ['api.example.com'] }).warnings.map((w) => w.code)).toContain('private-ca-needs-trust-anchor');
      expect(codes(f, p)).not.toContain('private-ca-needs-trust-anchor@api.example.com');
    }
    const anchored = renderConfig('android', p, { privateCaDomains: ['api.example.com'], trustAnchors: [{ resource: 'pinctl_root', pem: 'x' }] });
    expect(anchored.warnings.map((w) => w.code)).not.toContain('private-ca-needs-trust-anchor');
    expect(anchored.content).toContain('<certificates src="@raw/pinctl_root" />');
  });
});

describe('TrustKit reporting', () => {
  it('always sets TSKDisableDefaultReportUri, per domain (parse_configuration.m reads it from the domain policy)', () => {
    const out = renderConfig('trustkit', set([d('a.example.com'), d('b.example.com')])).content;
    expect(out.match(/<key>TSKDisableDefaultReportUri<\/key>\n\t\t\t\t<true\/>/g)).toHaveLength(2);
  });
  it('--report-uri writes TSKReportUris; --report-only writes TSKEnforcePinning false', () => {
    const out = renderConfig('trustkit', set([d('a.example.com')]), { reportUris: ['https://r.example.com/p'], reportOnly: true }).content;
    expect(out).toContain('<key>TSKReportUris</key>\n\t\t\t\t<array>\n\t\t\t\t\t<string>https://r.example.com/p</string>');
    expect(out).toContain('<key>TSKEnforcePinning</key>\n\t\t\t\t<false/>');
  });
});
