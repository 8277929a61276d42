/**
 * What real clients do with the files we write, as warnings with stable codes. Each fact names its
 * source: TrustKit's parse_configuration.m, OkHttp's CertificatePinner, Android lint and AOSP's
 * Network Security Config.
 */
import { PinSet, Warning } from '../core/model.js';
import { isIpLiteral } from '../vocab/hostname.js';
import { suffixFacts } from '../vocab/public-suffix.js';
import { isIP } from 'node:net';

/** Android lint (PinSetExpiry) warns when a pin-set expires within 10 days. */
export const EXPIRING_SOON_DAYS = 10;

/**
 * parse_configuration.m raises "TrustKit was initialized with an invalid domain" when
 * GetRegistryLength(domain) == 0 (an IP address, localhost, a name with no public suffix such as
 * api.internal or svc.local), and "includeSubdomains for a domain suffix" when the name IS a
 * public suffix (appspot.com). With react-native-ssl-public-key-pinning, initialize() then
 * rejects on iOS and nothing is pinned.
 */
export function trustkitDomainWarnings(pinSet: PinSet, who: string): Warning[] {
  const out: Warning[] = [];
  for (const d of pinSet.domains) {
    const facts = suffixFacts(d.domain);
    if (isIpLiteral(d.domain) || !facts.knownSuffix) {
      const what = isIpLiteral(d.domain)
        ? 'an IP address'
        : d.domain.includes('.')
          ? 'a name with no public suffix'
          : 'a single-label name';
      out.push({
        code: 'trustkit-invalid-domain',
        severity: 'danger',
        domain: d.domain,
        message: `is ${what}: ${who} refuses it at start-up ("TrustKit was initialized with an invalid domain", parse_configuration.m), so on iOS nothing is pinned; use a name under a public suffix`,
      });
    } else if (d.includeSubdomains && facts.isSuffix) {
      out.push({
        code: 'trustkit-public-suffix',
        severity: 'danger',
        domain: d.domain,
        message: `is a public suffix: ${who} refuses includeSubdomains on it ("TrustKit was initialized with includeSubdomains for a domain suffix", parse_configuration.m); pin the app's own names instead`,
      });
    }
  }
  return out;
}

/** OkHttp before 4.3 ignores "**." patterns; OkHttp 3 throws on IPv6 literal patterns. */
export function okhttpClientWarnings(pinSet: PinSet, who: string): Warning[] {
  const out: Warning[] = [];
  for (const d of pinSet.domains) {
    if (d.includeSubdomains) {
      out.push({
        code: 'okhttp-subdomains-need-4.3',
        severity: 'warning',
        domain: d.domain,
        message: `${who} writes "**.${d.domain}": OkHttp before 4.3 ignores "**." patterns (on 3.13.1 a wrong pin still gets HTTP 200), so the subdomains are NOT pinned there; needs OkHttp 4.3+ (React Native 0.65+)`,
      });
    }
    if (isIP(d.domain) === 6) {
      out.push({
        code: 'okhttp3-ipv6',
        severity: 'warning',
        domain: d.domain,
        message: `is an IPv6 literal: OkHttp 3's CertificatePinner throws IllegalArgumentException on it; needs OkHttp 4`,
      });
    }
  }
  return out;
}

/**
 * Android lint's "expiring soon": an expiration less than 10 days away (or past). AOSP's
 * XmlConfigSource parses <pin-set expiration> with SimpleDateFormat("yyyy-MM-dd") in the default
 * (device) time zone, so enforcement stops at 00:00 local time on that date; TrustKit compares
 * TSKExpirationDate in UTC.
 */
export function expiringSoon(pinSet: PinSet, now: Date | undefined, who: string, zone: string): Warning[] {
  if (!now || pinSet.expiration === null) return [];
  const days = (Date.parse(`${pinSet.expiration}T00:00:00Z`) - now.getTime()) / 86_400_000;
  if (days >= EXPIRING_SOON_DAYS) return [];
  return [
    {
      code: 'expiring-soon',
      severity: 'warning',
      message: `the pin-set expiration ${pinSet.expiration} is ${days <= 0 ? 'already past' : `less than ${EXPIRING_SOON_DAYS} days away`}: ${who} stops enforcing the pins at 00:00 on that date (${zone})${who === 'Android' ? ', and Android lint flags it' : ''}`,
    },
  ];
}

/** A chain under a private CA validates on devices only when the app trusts that CA. */
export function privateCaWarnings(
  domains: readonly string[] | undefined,
  anchored: boolean,
  who: string,
  how: string,
): Warning[] {
  if (anchored || !domains) return [];
  return domains.map((domain) => ({
    code: 'private-ca-needs-trust-anchor',
    severity: 'warning' as const,
    domain,
    message: `is served under a private CA (its root is not in the system store): ${who} rejects the chain before pins are checked unless the app trusts it; ${how}`,
  }));
}
