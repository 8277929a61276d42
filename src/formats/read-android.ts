/**
 * Reads an Android Network Security Config the way the platform does: every <domain> of a
 * <domain-config>, nested domain-configs inheriting the parent's pin-set when they have none,
 * each domain at most once. base-config, debug-overrides and trust-anchors carry no pins here.
 */
import { DomainPins, Warning } from '../core/model.js';
import { InputError } from '../errors.js';
import { ReadOutput, anyPositionPins, checkDomain, checkPin, foldExpirations, where } from './read-common.js';
import { isDate } from './validate.js';
import { XmlElement, childElements, textContent } from './xml.js';

interface PinSetInfo {
  pins: string[];
  expiration: string | null;
  line: number;
}

function fail(source: string, el: XmlElement, message: string, hint?: string): never {
  throw new InputError('CONFIG_MALFORMED', `${where(source, el.line)}: ${message}`, {
    hint: hint ?? 'see https://developer.android.com/privacy-and-security/security-config',
  });
}

export function readAndroid(root: XmlElement, source: string): ReadOutput {
  const domains: DomainPins[] = [];
  const warnings: Warning[] = [];
  const seen = new Map<string, string>();
  const expirations = new Map<string, string | null>();

  const visit = (cfg: XmlElement, inherited: PinSetInfo | null): void => {
    const kids = childElements(cfg);
    const domainEls = kids.filter((k) => k.name === 'domain');
    if (domainEls.length === 0) fail(source, cfg, 'expected at least one <domain> in <domain-config>, found none');
    const pinSetEls = kids.filter((k) => k.name === 'pin-set');
    if (pinSetEls.length > 1) fail(source, pinSetEls[1]!, 'expected at most one <pin-set> per <domain-config>, found a second one');
    const pinSet = pinSetEls[0] ? readPinSet(pinSetEls[0], source, domainEls) : inherited;
    for (const el of domainEls) {
      const text = textContent(el);
      if (text === null) fail(source, el, 'expected a host name inside <domain>, found elements');
      const domain = checkDomain(text, seen, where(source, el.line));
      const inc = el.attrs.includeSubdomains;
      if (inc !== undefined && !/^(true|false)$/i.test(inc)) {
        fail(source, el, `expected includeSubdomains="true" or "false", found "${inc}"`);
      }
      if (!pinSet) continue; // a domain-config for cleartext or trust anchors only: not pinned
      if (pinSet.pins.length === 0) {
        warnings.push({ code: 'read-empty-pin-set', severity: 'warning', domain, message: `${where(source, pinSet.line)}: the <pin-set> has no <pin>, so Android does not pin ${domain}` });
        continue;
      }
      domains.push({ domain, includeSubdomains: inc?.toLowerCase() === 'true', pins: anyPositionPins(pinSet.pins, source), endpoints: [], expiration: pinSet.expiration });
      expirations.set(domain, pinSet.expiration);
    }
    for (const nested of kids.filter((k) => k.name === 'domain-config')) visit(nested, pinSet);
  };

  for (const el of childElements(root)) if (el.name === 'domain-config') visit(el, null);
  return { pinSet: { expiration: foldExpirations(expirations, source, warnings), domains }, warnings };
}

function readPinSet(el: XmlElement, source: string, domainEls: XmlElement[]): PinSetInfo {
  const exp = el.attrs.expiration;
  if (exp !== undefined && !isDate(exp.trim())) fail(source, el, `expected expiration="YYYY-MM-DD" on <pin-set>, found "${exp}"`);
  const label = domainEls.map((d) => (textContent(d) ?? '').trim()).join(', ');
  const pins: string[] = [];
  for (const pin of childElements(el)) {
    if (pin.name !== 'pin') continue;
    const digest = pin.attrs.digest;
    if (digest === undefined) fail(source, pin, 'expected digest="SHA-256" on <pin>, found no digest attribute');
    if (digest.toUpperCase() !== 'SHA-256') {
      fail(source, pin, `expected digest="SHA-256" (the only digest Android supports), found digest="${digest}"`, 'recompute the pin as base64(SHA-256(SPKI)): pinctl pins CERT.pem');
    }
    const text = textContent(pin);
    if (text === null) fail(source, pin, 'expected the base64 pin inside <pin>, found elements');
    const value = checkPin(text, label, where(source, pin.line));
    if (!pins.includes(value)) pins.push(value);
  }
  return { pins, expiration: exp === undefined ? null : exp.trim(), line: el.line };
}
