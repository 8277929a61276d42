/**
 * Flutter's http_certificate_pinning: SHA-256 fingerprints of whole certificates in openssl's
 * "AB:CD:…" form, not SPKI pins. Only pins whose certificate was seen (the chain, not a backup key)
 * can be written; the rest are named in a warning.
 */
import { PinSet, Warning } from '../core/model.js';
import { describePin, jsEscape, oneLine } from './escape.js';
import { render } from './template.js';
import { uniquePins } from './validate.js';

/** "ab12…" (64 hex) → "AB:12:…", as `openssl x509 -noout -fingerprint -sha256` prints it. */
export function colonFingerprint(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(':');
}

function plan(pinSet: PinSet, fingerprints: ReadonlyMap<string, string> | undefined) {
  return pinSet.domains.map((d) => {
    const pins = uniquePins(d);
    const kept = pins.filter((p) => fingerprints?.has(p.spkiSha256));
    return { d, kept, dropped: pins.length - kept.length };
  });
}

export function renderFlutter(pinSet: PinSet, template: string, fingerprints?: ReadonlyMap<string, string>): string {
  const domains = plan(pinSet, fingerprints)
    .filter((x) => x.kept.length > 0)
    .map((x) => ({
      domain: x.d.domain.toLowerCase(),
      fingerprints: x.kept.map((p) => ({
        fingerprint: colonFingerprint(fingerprints!.get(p.spkiSha256)!),
        comment: oneLine(describePin(p)),
      })),
    }));
  return render(template, { domains, firstDomain: domains[0]?.domain ?? '' }, jsEscape);
}

export function flutterWarnings(pinSet: PinSet, fingerprints?: ReadonlyMap<string, string>): Warning[] {
  const out: Warning[] = [
    {
      code: 'flutter-certificate-fingerprints',
      severity: 'info',
      message:
        'http_certificate_pinning checks certificate SHA-256 fingerprints, not SPKI pins: renewing a pinned certificate breaks the app even with the same key; no expiration is applied',
    },
  ];
  for (const x of plan(pinSet, fingerprints)) {
    if (x.kept.length === 0) {
      out.push({
        code: 'flutter-domain-omitted',
        severity: 'danger',
        domain: x.d.domain,
        message:
          'left out: none of its pins comes from a certificate pinctl saw (backup keys have no certificate fingerprint), so Flutter will NOT pin it',
      });
    } else if (x.dropped > 0) {
      out.push({
        code: 'flutter-backup-omitted',
        severity: 'warning',
        domain: x.d.domain,
        message: `${x.dropped} pin(s) without a certificate (backup keys) left out: a certificate fingerprint cannot name a key`,
      });
    }
  }
  return out;
}
