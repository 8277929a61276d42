/** OkHttp CertificatePinner as a Kotlin source file. */
import { PinSet, Warning } from '../core/model.js';
import { describePin, kotlinEscape, oneLine } from './escape.js';
import { render } from './template.js';
import { uniquePins } from './validate.js';

/** OkHttp's "**." matches the domain itself and any number of labels below it ("*." exactly one, never the domain). */
export function okhttpPattern(domain: string, includeSubdomains: boolean): string {
  return includeSubdomains ? `**.${domain.toLowerCase()}` : domain.toLowerCase();
}

export function renderOkhttp(pinSet: PinSet, template: string): string {
  const pins = pinSet.domains.flatMap((d) =>
    uniquePins(d).map((p) => ({
      pattern: okhttpPattern(d.domain, d.includeSubdomains),
      pin: p.spkiSha256,
      comment: oneLine(describePin(p)),
    })),
  );
  return render(template, { expiration: pinSet.expiration, pins }, kotlinEscape);
}

export function okhttpWarnings(pinSet: PinSet): Warning[] {
  if (pinSet.expiration === null) return [];
  return [{
    code: 'okhttp-no-expiration',
    severity: 'info',
    message: `OkHttp's CertificatePinner has no expiration: the pin-set expiration ${pinSet.expiration} is not applied; the pins stay enforced until the app ships new ones`,
  }];
}
